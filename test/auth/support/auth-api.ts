import { randomBytes } from "node:crypto";
import { request } from "node:http";
import { toJson, type DescMessage, type MessageShape } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient, type Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { expect } from "vitest";
import { ErrorInfoSchema } from "../../../gen/google/rpc/error_details_pb.js";
import { AuthService, SessionSchema, UserSchema } from "../../../gen/helios/auth/v1/auth_pb.js";
import { catalogue, type Reason } from "../../../src/errors/catalogue.js";

/** The three ways clients reach AuthService. */
export type Protocol = "rest" | "connect" | "grpc";

/** Every protocol, for `describe.each`. */
export const protocols: Protocol[] = ["rest", "connect", "grpc"];

/** Rate limits high enough that suites sending many requests from 127.0.0.1 never meet them. */
export const generousLimits = ["--signup-rate-limit", "100000", "--signin-rate-limit", "100000", "--refresh-rate-limit", "100000"];

/** The `user` object of the API, as JSON. */
export interface UserJson {
  id: string;
  email: string;
  role: string;
  tenant_id: string;
  scopes: string[];
  created_at: string;
  last_sign_in_at?: string;
  user_metadata: Record<string, unknown>;
  app_metadata: Record<string, unknown>;
}

/** A session response, as JSON. */
export interface SessionJson {
  access_token: string;
  token_type: string;
  expires_in: number;
  expires_at: number;
  refresh_token: string;
  user: UserJson;
}

/** A failed call, whatever the protocol. */
export interface Failure {
  reason: string;
  message: string;
  /** REST: the HTTP status. */
  status?: number;
  /** RPC: the Connect/gRPC code. */
  code?: Code;
  /** REST: the JSON body minus `error` and `message`; RPC: the ErrorInfo metadata. */
  details: Record<string, unknown>;
  /** REST: response headers; RPC: the error's metadata (headers and trailers). */
  headers: Headers;
}

/** The outcome of one call. */
export type Result<T> = { ok: true; value: T; headers: Headers } | { ok: false; error: Failure };

/** Fields of POST /auth/v1/token (TokenRequest). */
export interface TokenBody {
  grant_type?: string;
  email?: string;
  password?: string;
  refresh_token?: string;
}

/** AuthService through one protocol, with REST-shaped (snake_case JSON) results. */
export interface AuthApi {
  readonly protocol: Protocol;
  signUp(email: string, password: string): Promise<Result<SessionJson>>;
  /** `query` only matters on REST (e.g. `grant_type=refresh_token` as in the guide). */
  token(body: TokenBody, query?: string): Promise<Result<SessionJson>>;
  refresh(refreshToken: string): Promise<Result<SessionJson>>;
  logout(accessToken: string | undefined, scope?: string): Promise<Result<void>>;
  /** Without a token, the call carries no credentials at all. */
  getUser(accessToken: string | undefined): Promise<Result<UserJson>>;
}

/** Creates an {@link AuthApi} for `protocol` against the server at `baseUrl`. */
export function authApi(protocol: Protocol, baseUrl: string): AuthApi {
  return protocol === "rest" ? restApi(baseUrl) : rpcApi(protocol, baseUrl);
}

/** A raw REST response: status, headers and parsed JSON body (undefined when empty). */
export interface RestResponse {
  status: number;
  headers: Headers;
  body: unknown;
}

/** Sends a REST request with fetch and parses the JSON answer. */
export async function rest(
  baseUrl: string,
  method: "GET" | "POST",
  path: string,
  options: { body?: unknown; headers?: Record<string, string> } = {},
): Promise<RestResponse> {
  const res = await fetch(`${baseUrl}${path}`, {
    method,
    headers: { ...(options.body === undefined ? {} : { "content-type": "application/json" }), ...options.headers },
    body: options.body === undefined ? undefined : JSON.stringify(options.body),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text === "" ? undefined : (JSON.parse(text) as unknown) };
}

/**
 * POSTs JSON from a chosen loopback source address (127.0.0.x), so one test can act as several
 * client IPs. fetch cannot pick its source address; node:http can.
 */
export function postFrom(localAddress: string, baseUrl: string, path: string, body: unknown): Promise<RestResponse> {
  const url = new URL(path, baseUrl);
  const payload = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      { method: "POST", localAddress, headers: { "content-type": "application/json", "content-length": Buffer.byteLength(payload) } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (chunk: Buffer) => chunks.push(chunk));
        res.on("end", () => {
          const headers = new Headers();
          for (const [name, value] of Object.entries(res.headers)) if (typeof value === "string") headers.set(name, value);
          const text = Buffer.concat(chunks).toString("utf8");
          resolve({ status: res.statusCode ?? 0, headers, body: text === "" ? undefined : (JSON.parse(text) as unknown) });
        });
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end(payload);
  });
}

function restResult<T>(res: RestResponse): Result<T> {
  if (res.status === 200 || res.status === 204) return { ok: true, value: res.body as T, headers: res.headers };
  const { error, message, ...details } = (res.body ?? {}) as Record<string, unknown>;
  return {
    ok: false,
    error: { reason: String(error), message: String(message), status: res.status, details, headers: res.headers },
  };
}

function restApi(baseUrl: string): AuthApi {
  const bearer = (token: string | undefined): Record<string, string> =>
    token === undefined ? {} : { authorization: `Bearer ${token}` };
  return {
    protocol: "rest",
    signUp: async (email, password) => restResult(await rest(baseUrl, "POST", "/auth/v1/signup", { body: { email, password } })),
    token: async (body, query) =>
      restResult(await rest(baseUrl, "POST", `/auth/v1/token${query ? `?${query}` : ""}`, { body })),
    refresh: async (refreshToken) =>
      restResult(await rest(baseUrl, "POST", "/auth/v1/refresh", { body: { refresh_token: refreshToken } })),
    logout: async (accessToken, scope) =>
      restResult(
        await rest(baseUrl, "POST", `/auth/v1/logout${scope === undefined ? "" : `?scope=${scope}`}`, {
          headers: bearer(accessToken),
        }),
      ),
    getUser: async (accessToken) => restResult(await rest(baseUrl, "GET", "/auth/v1/user", { headers: bearer(accessToken) })),
  };
}

/** A transport of `protocol` ("connect": Connect JSON over HTTP/1.1, "grpc": gRPC over h2c). */
export function rpcTransport(protocol: Exclude<Protocol, "rest">, baseUrl: string): Transport {
  return protocol === "connect" ? createConnectTransport({ baseUrl, httpVersion: "1.1" }) : createGrpcTransport({ baseUrl });
}

/** The reason, message, code, metadata and headers of an RPC error. */
export function rpcFailure(error: unknown): Failure {
  const connectError = ConnectError.from(error);
  const info = connectError.findDetails(ErrorInfoSchema)[0];
  return {
    reason: info?.reason ?? `code:${Code[connectError.code]}`,
    message: connectError.rawMessage,
    code: connectError.code,
    details: { ...info?.metadata },
    headers: connectError.metadata,
  };
}

function rpcApi(protocol: Exclude<Protocol, "rest">, baseUrl: string): AuthApi {
  const client = createClient(AuthService, rpcTransport(protocol, baseUrl));
  const bearer = (token: string | undefined) => ({
    headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
  });
  async function call<D extends DescMessage, T>(
    schema: D | undefined,
    send: (options: { onHeader: (h: Headers) => void }) => Promise<MessageShape<D>>,
  ): Promise<Result<T>> {
    let headers = new Headers();
    try {
      const message = await send({ onHeader: (h) => (headers = h) });
      const value = schema ? (toJson(schema, message, { alwaysEmitImplicit: true }) as T) : (undefined as T);
      return { ok: true, value, headers };
    } catch (error) {
      return { ok: false, error: rpcFailure(error) };
    }
  }
  return {
    protocol,
    signUp: (email, password) => call(SessionSchema, (o) => client.signUp({ email, password }, o)),
    token: (body) =>
      call(SessionSchema, (o) =>
        client.token(
          {
            grantType: body.grant_type ?? "",
            email: body.email ?? "",
            password: body.password ?? "",
            refreshToken: body.refresh_token ?? "",
          },
          o,
        ),
      ),
    refresh: (refreshToken) => call(SessionSchema, (o) => client.refresh({ refreshToken }, o)),
    logout: (accessToken, scope) =>
      call(undefined, (o) => client.logout({ scope: scope ?? "" }, { ...bearer(accessToken), ...o })),
    getUser: (accessToken) => call(UserSchema, (o) => client.getUser({}, { ...bearer(accessToken), ...o })),
  };
}

/** Asserts that `result` succeeded and returns its value. */
export function expectOk<T>(result: Result<T>): T {
  if (!result.ok) expect.fail(`expected success, got ${result.error.reason}: ${result.error.message}`);
  return result.value;
}

/**
 * Asserts that `result` failed with `reason`, and with the catalogue's HTTP status (REST) or code
 * (RPC) for it; returns the failure.
 */
export function expectFailure(result: Result<unknown>, reason: Reason, message?: string): Failure {
  if (result.ok) expect.fail(`expected ${reason}, got success`);
  const failure = result.error;
  expect(failure.reason).toBe(reason);
  if (failure.status !== undefined) expect(failure.status).toBe(catalogue[reason].status);
  if (failure.code !== undefined) expect(failure.code).toBe(catalogue[reason].code);
  if (message !== undefined) expect(failure.message).toBe(message);
  return failure;
}

/** A fresh address for one test's user. */
export function uniqueEmail(label = "user"): string {
  return `${label}-${randomBytes(5).toString("hex")}@example.com`;
}

/** A password that satisfies the policy, different on every call. */
export function strongPassword(): string {
  return `pw-${randomBytes(9).toString("base64url")}`;
}

/** Decodes the payload of a JWT without verifying it. */
export function jwtPayload(token: string): Record<string, unknown> {
  const part = token.split(".")[1] ?? "";
  return JSON.parse(Buffer.from(part, "base64url").toString("utf8")) as Record<string, unknown>;
}

/** A user signed up for a test, with the secrets the test must never find in logs. */
export interface TestUser {
  email: string;
  password: string;
  session: SessionJson;
}

/** Signs a fresh user up through `api`. */
export async function signUpUser(api: AuthApi, label = "user"): Promise<TestUser> {
  const email = uniqueEmail(label);
  const password = strongPassword();
  const session = expectOk(await api.signUp(email, password));
  return { email, password, session };
}

/**
 * Collects the passwords and tokens a suite handled, to assert at the end that the server's logs hold
 * none of them.
 */
export interface SecretLedger {
  add(...secrets: Array<string | undefined>): void;
  /** Adds the password and the session's tokens. */
  addUser(user: TestUser): void;
  addSession(session: SessionJson): void;
  /** Asserts that `logs` contains none of the secrets (nor the refresh tokens' base64 bytes in hex). */
  expectNoneIn(logs: string): void;
  readonly size: number;
}

/** Creates a {@link SecretLedger}. */
export function createSecretLedger(): SecretLedger {
  const secrets = new Set<string>();
  const ledger: SecretLedger = {
    add(...values) {
      for (const value of values) if (value) secrets.add(value);
    },
    addUser(user) {
      ledger.add(user.password);
      ledger.addSession(user.session);
    },
    addSession(session) {
      ledger.add(session.access_token, session.refresh_token);
      // A JWT's signature alone would identify it too.
      ledger.add(session.access_token.split(".")[2]);
    },
    expectNoneIn(logs) {
      expect(logs.length).toBeGreaterThan(0);
      const leaked = [...secrets].filter((secret) => logs.includes(secret));
      expect(leaked).toEqual([]);
    },
    get size() {
      return secrets.size;
    },
  };
  return ledger;
}
