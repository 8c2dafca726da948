import { connect } from "node:net";
import { Code, createClient } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AuthService } from "../../gen/helios/auth/v1/auth_pb.js";
import { backends, startTestServer, type TestServer } from "../support/server.js";
import {
  createSecretLedger,
  postFrom,
  rpcFailure,
  strongPassword,
  uniqueEmail,
  type RestResponse,
  type SessionJson,
} from "./support/auth-api.js";

const limits = { signUp: 3, signIn: 4, refresh: 3, window: 60 };

/** Asserts a REST 429 over_request_rate_limit with a Retry-After within the window. */
function expectLimited(res: RestResponse): void {
  expect(res.status).toBe(429);
  expect(res.body).toEqual({ error: "over_request_rate_limit", message: "Too many requests" });
  const retryAfter = Number(res.headers.get("retry-after"));
  expect(Number.isInteger(retryAfter)).toBe(true);
  expect(retryAfter).toBeGreaterThanOrEqual(1);
  expect(retryAfter).toBeLessThanOrEqual(2 * limits.window);
}

describe.each(backends)("rate limits on %s storage", (backend) => {
  let server: TestServer;
  const ledger = createSecretLedger();
  // Each test speaks from its own loopback addresses, so budgets never mix between tests.
  const post = (ip: string, path: string, body: unknown) => postFrom(ip, server.url, path, body);
  const signUpFrom = async (ip: string, email = uniqueEmail("limited"), password = strongPassword()) => {
    ledger.add(password);
    const res = await post(ip, "/auth/v1/signup", { email, password });
    if (res.status === 200) ledger.addSession(res.body as SessionJson);
    return res;
  };
  let spareAddress = 0;
  /** A user signed up from an address of its own, so the sign-up budget of the test's addresses stays whole. */
  const newUser = async (): Promise<{ email: string; password: string; session: SessionJson }> => {
    const [email, password] = [uniqueEmail("limited"), strongPassword()];
    const res = await signUpFrom(`127.0.3.${++spareAddress}`, email, password);
    expect(res.status).toBe(200);
    return { email, password, session: res.body as SessionJson };
  };

  beforeAll(async () => {
    server = await startTestServer(backend, [
      "--signup-rate-limit", String(limits.signUp),
      "--signin-rate-limit", String(limits.signIn),
      "--refresh-rate-limit", String(limits.refresh),
      "--rate-limit-window", String(limits.window),
    ]);
  });
  afterAll(() => server?.close());

  it("limits sign-ups per client IP with 429 and Retry-After", async () => {
    for (let i = 0; i < limits.signUp; i++) expect((await signUpFrom("127.0.0.2")).status).toBe(200);
    expectLimited(await signUpFrom("127.0.0.2"));
    expect((await signUpFrom("127.0.0.3")).status).toBe(200);
  });

  it("limits sign-ins per client IP, on a budget separate from refreshes", async () => {
    const user = await newUser();
    for (let i = 0; i < limits.signIn; i++) {
      expect((await post("127.0.0.4", "/auth/v1/token", { email: uniqueEmail("guess"), password: "wrong-password" })).status).toBe(400);
    }
    expectLimited(await post("127.0.0.4", "/auth/v1/token", { email: user.email, password: user.password }));
    expectLimited(await post("127.0.0.4", "/auth/v1/token?grant_type=password", { email: user.email, password: user.password }));
    const refreshed = await post("127.0.0.4", "/auth/v1/token?grant_type=refresh_token", { refresh_token: user.session.refresh_token });
    expect(refreshed.status).toBe(200);
    ledger.addSession(refreshed.body as SessionJson);
  });

  it("counts wrong passwords per account and source: a stranger spending them does not lock the user out", async () => {
    const victim = await newUser();
    for (let i = 0; i < limits.signIn; i++) {
      expect((await post("127.0.1.1", "/auth/v1/token", { email: victim.email.toUpperCase(), password: "wrong-password" })).status).toBe(400);
    }
    expectLimited(await post("127.0.1.1", "/auth/v1/token", { email: victim.email, password: victim.password }));
    // The user, elsewhere, signs in; successes spend no failure budget.
    for (let i = 0; i < 2; i++) {
      const own = await post("127.0.1.50", "/auth/v1/token", { email: victim.email, password: victim.password });
      expect(own.status).toBe(200);
      ledger.addSession(own.body as SessionJson);
    }
  });

  it("backs off an account guessed at from many sources, but still hears a correct password from a fresh one", async () => {
    const [victim, bystander] = [await newUser(), await newUser()];
    const accountBudget = limits.signIn * 10;
    const wrong = (ip: string) => post(ip, "/auth/v1/token", { email: victim.email, password: "wrong-password" });
    const right = (ip: string) => post(ip, "/auth/v1/token", { email: victim.email, password: victim.password });
    for (let i = 0; i < accountBudget; i++) expect((await wrong(`127.0.2.${i + 1}`)).status).toBe(400);
    // Spent: a source that failed on the account is refused, even with the right password.
    expectLimited(await right("127.0.2.1"));
    expectLimited(await wrong("127.0.2.2"));
    // A fresh source is heard: the right password signs in...
    const fresh = await right("127.0.2.200");
    expect(fresh.status).toBe(200);
    ledger.addSession(fresh.body as SessionJson);
    // ...and a wrong one is checked once, after which that source waits too.
    expect((await wrong("127.0.2.201")).status).toBe(400);
    expectLimited(await wrong("127.0.2.201"));
    // Other accounts are untouched.
    const other = await post("127.0.2.1", "/auth/v1/token", { email: bystander.email, password: bystander.password });
    expect(other.status).toBe(200);
    ledger.addSession(other.body as SessionJson);
  });

  it("limits refreshes per client IP, on a budget separate from sign-ins", async () => {
    const user = await newUser();
    let token = user.session.refresh_token;
    for (let i = 0; i < limits.refresh; i++) {
      const res = await post("127.0.0.7", "/auth/v1/refresh", { refresh_token: token });
      expect(res.status).toBe(200);
      ledger.addSession(res.body as SessionJson);
      token = (res.body as SessionJson).refresh_token;
    }
    expectLimited(await post("127.0.0.7", "/auth/v1/refresh", { refresh_token: token }));
    expectLimited(await post("127.0.0.7", "/auth/v1/token?grant_type=refresh_token", { refresh_token: token }));
    const signIn = await post("127.0.0.7", "/auth/v1/token", { email: user.email, password: user.password });
    expect(signIn.status).toBe(200);
    ledger.addSession(signIn.body as SessionJson);
    // The refused refreshes consumed nothing: the token still rotates from another address.
    expect((await post("127.0.0.8", "/auth/v1/refresh", { refresh_token: token })).status).toBe(200);
  });

  it.each([
    ["connect", "127.0.2.1"],
    ["grpc", "127.0.2.2"],
  ] as const)("answers over %s with resource_exhausted, reason over_request_rate_limit and retry-after", async (protocol, ip) => {
    const { hostname, port } = new URL(server.url);
    const transport =
      protocol === "connect"
        ? createConnectTransport({ baseUrl: server.url, httpVersion: "1.1", nodeOptions: { localAddress: ip } })
        : createGrpcTransport({
            baseUrl: server.url,
            nodeOptions: { createConnection: () => connect({ host: hostname, port: Number(port), localAddress: ip }) },
          });
    const client = createClient(AuthService, transport);
    for (let i = 0; i < limits.signUp; i++) {
      const password = strongPassword();
      ledger.add(password);
      const session = await client.signUp({ email: uniqueEmail("rpc"), password });
      ledger.add(session.accessToken, session.refreshToken);
    }
    const failure = await client.signUp({ email: uniqueEmail("rpc"), password: strongPassword() }).then(
      () => expect.fail("expected a rate limit"),
      rpcFailure,
    );
    expect(failure).toMatchObject({ code: Code.ResourceExhausted, reason: "over_request_rate_limit" });
    expect(Number(failure.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
  });

  it("never logs passwords or tokens", () => {
    ledger.expectNoneIn(server.logs());
  });
});

describe.each(backends)("rate limits by default on %s storage", (backend) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer(backend);
  });
  afterAll(() => server?.close());

  it("are on without any flag: the 31st sign-in within a minute from one address gets 429", async () => {
    const attempt = () => postFrom("127.0.0.9", server.url, "/auth/v1/token", { email: "not-an-email", password: "x" });
    const statuses: number[] = [];
    for (let i = 0; i < 30; i++) statuses.push((await attempt()).status);
    expect(new Set(statuses)).toEqual(new Set([400]));
    expectLimited(await attempt());
  });
});
