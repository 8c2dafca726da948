import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { adminRest, cliKey } from "../admin/support/admin-api.js";
import { backends, startTestServer, type TestServer } from "../support/server.js";
import { generousLimits, rest, strongPassword, uniqueEmail, type RestResponse, type SessionJson } from "./support/auth-api.js";

/** Expects `res` to be a success no cache may keep. */
function expectUncacheable(res: RestResponse, what: string): void {
  expect(res.status, `${what}: ${JSON.stringify(res.body)}`).toBeLessThan(300);
  expect({ what, cacheControl: res.headers.get("cache-control"), pragma: res.headers.get("pragma") }).toEqual({
    what,
    cacheControl: "no-store",
    pragma: "no-cache",
  });
}

describe.each(backends)("answers carrying credentials are never cached, on %s storage", (backend) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer(backend, generousLimits);
  });
  afterAll(() => server?.close());

  it("sign-up, sign-in, refresh, key creation and the caller's user carry Cache-Control: no-store and Pragma: no-cache", async () => {
    const { url } = server;
    const email = uniqueEmail("nostore");
    const password = strongPassword();
    const signedUp = await rest(url, "POST", "/auth/v1/signup", { body: { email, password } });
    expectUncacheable(signedUp, "signup");
    const signedIn = await rest(url, "POST", "/auth/v1/token", { body: { email, password } });
    expectUncacheable(signedIn, "token");
    const session = signedIn.body as SessionJson;
    const refreshed = await rest(url, "POST", "/auth/v1/token?grant_type=refresh_token", { body: { refresh_token: session.refresh_token } });
    expectUncacheable(refreshed, "refresh");
    const user = await rest(url, "GET", "/auth/v1/user", { headers: { authorization: `Bearer ${session.access_token}` } });
    expectUncacheable(user, "user");
    const admin = adminRest(url, await cliKey(server, "admin"));
    const created = await admin.call("POST", "/admin/v1/keys", { name: "web", scopes: ["signup"] });
    expectUncacheable(created, "key creation");
    expect((created.body as { key?: string }).key).toMatch(/^hdb_/);
  });
});
