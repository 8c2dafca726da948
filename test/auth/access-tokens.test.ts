import { createPublicKey, generateKeyPairSync, randomUUID, type KeyObject } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { SignJWT, type JWTPayload } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { publicJwkOf } from "../../src/auth/signing-keys.js";
import { keyIdOf } from "../../src/auth/tokens.js";
import { testJwtSecret } from "../support/jwt-secret.js";
import { backends, startTestServer, type TestServer } from "../support/server.js";
import {
  authApi,
  createSecretLedger,
  expectFailure,
  expectOk,
  generousLimits,
  jwtPayload,
  protocols,
  rest,
  signUpUser,
  type AuthApi,
  type SessionJson,
  type TestUser,
} from "./support/auth-api.js";

// The shared test secret: on external storage every instance must use it (query roles are cluster-wide).
const secret = testJwtSecret;
const previousSecret = "access-token-suite-previous-secret-0123456789-xyz";
const strangerSecret = "a-secret-this-server-has-never-heard-of-0123456789";

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");

/** A key that signs test tokens: an HMAC secret, or an EC private key. */
type TestKey = string | KeyObject;

/**
 * How the server under test signs: HS256 with the shared secret (previous secret accepted), or
 * ES256 with a key pair (previous public key accepted). Forgeries are made with its kind of key.
 */
interface Signing {
  alg: "HS256" | "ES256";
  flags: string[];
  key: TestKey;
  previousKey: TestKey;
  strangerKey: TestKey;
}

const ecKey = () => generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey;
const pem = (key: KeyObject) => key.export({ format: "pem", type: key.type === "private" ? "pkcs8" : "spki" }).toString();
const kidOf = (key: TestKey) => (typeof key === "string" ? keyIdOf(key) : publicJwkOf(createPublicKey(key), "ES256").kid);

const es256 = { key: ecKey(), previousKey: ecKey(), strangerKey: ecKey() };
const signings: Signing[] = [
  {
    alg: "HS256",
    flags: ["--jwt-secret", secret, "--jwt-previous-secrets", previousSecret],
    key: secret,
    previousKey: previousSecret,
    strangerKey: strangerSecret,
  },
  {
    alg: "ES256",
    flags: [
      "--jwt-secret",
      secret,
      "--jwt-algorithm",
      "ES256",
      `--jwt-private-key=${pem(es256.key)}`,
      `--jwt-previous-public-keys=${pem(createPublicKey(es256.previousKey))}`,
    ],
    ...es256,
  },
];

describe.each(backends.flatMap((backend) => signings.map((signing) => ({ backend, signing }))))(
  "access tokens on $backend storage, signed $signing.alg",
  ({ backend, signing }) => {
    let server: TestServer;
    let user: TestUser;
    /** The claims of a real, valid token: forgeries start from these. */
    let claims: JWTPayload;
    const ledger = createSecretLedger();
    const now = () => Math.floor(Date.now() / 1000);

    /** Signs `payload` with the server's algorithm (or `alg`) under `key`, with `header` on top of alg/typ/kid. */
    async function sign(
      payload: JWTPayload,
      options: { key?: TestKey; kid?: string; alg?: string; header?: Record<string, unknown> } = {},
    ): Promise<string> {
      const key = options.key ?? signing.key;
      return new SignJWT(payload)
        .setProtectedHeader({ alg: options.alg ?? (typeof key === "string" ? "HS256" : "ES256"), typ: "JWT", kid: options.kid ?? kidOf(key), ...options.header })
        .sign(typeof key === "string" ? Buffer.from(key) : key);
    }

    beforeAll(async () => {
      server = await startTestServer(backend, [...signing.flags, ...generousLimits]);
      user = await signUpUser(authApi("rest", server.url), "bearer");
      ledger.addUser(user);
      claims = jwtPayload(user.session.access_token);
    });
    afterAll(() => server?.close());

    describe.each(protocols)("over %s", (protocol) => {
      let api: AuthApi;
      beforeAll(() => {
        api = authApi(protocol, server.url);
      });

      it("accepts the server's own token", async () => {
        expect(expectOk(await api.getUser(user.session.access_token)).id).toBe(user.session.user.id);
      });

      it("accepts a token signed with a previous key (key rotation)", async () => {
        const token = await sign({ ...claims, jti: randomUUID() }, { key: signing.previousKey });
        expect(expectOk(await api.getUser(token)).id).toBe(user.session.user.id);
      });

      const forgeries: Array<[string, () => Promise<string>]> = [
        ["garbage", async () => "not.a.jwt"],
        ["a tampered payload", async () => {
          const [header, , signature] = user.session.access_token.split(".");
          return `${header}.${b64({ ...claims, scopes: ["read", "write", "admin"] })}.${signature}`;
        }],
        ["a tampered signature", async () => {
          const token = user.session.access_token;
          return `${token.slice(0, -2)}${token.endsWith("AA") ? "BB" : "AA"}`;
        }],
        ["alg none", async () => `${b64({ alg: "none", typ: "JWT", kid: kidOf(signing.key) })}.${b64(claims)}.`],
        ["alg HS512 under the server's secret", async () => sign(claims, { alg: "HS512", key: secret, kid: kidOf(signing.key) })],
        ["a wrong key under the server's kid", async () => sign(claims, { key: signing.strangerKey, kid: kidOf(signing.key) })],
        ["a wrong key under its own kid", async () => sign(claims, { key: signing.strangerKey })],
        ["no kid", async () => sign(claims, { header: { kid: undefined } })],
        ["a wrong audience", async () => sign({ ...claims, aud: "service_role" })],
        ["a wrong issuer", async () => sign({ ...claims, iss: "https://evil.example.com" })],
        ["an iat in the future", async () => sign({ ...claims, iat: now() + 600, exp: now() + 3600 })],
        ["an nbf in the future", async () => sign({ ...claims, nbf: now() + 600 })],
        ["a jku header", async () => sign(claims, { header: { jku: "https://evil.example.com/jwks.json" } })],
        ["an embedded jwk", async () => sign(claims, { header: { jwk: { kty: "oct", k: Buffer.from(secret).toString("base64url") } } })],
        ["no exp", async () => sign({ ...claims, exp: undefined })],
        ["no jti", async () => sign({ ...claims, jti: undefined })],
        ["an unknown scope", async () => sign({ ...claims, scopes: ["root"] })],
        ["a session_id that is no UUID", async () => sign({ ...claims, session_id: "1 or 1=1" })],
        ["a sub that is no UUID", async () => sign({ ...claims, sub: "user-abc-123" })],
        ["another typ", async () => sign(claims, { header: { typ: "at+jwt" } })],
        ...(typeof signing.key === "string"
          ? []
          : ([
              // The HS256 secret still derives refresh tokens; under ES256 it verifies nothing.
              ["HS256 under the server's secret and kid", async () => sign(claims, { alg: "HS256", key: secret, kid: kidOf(signing.key) })],
              // Algorithm confusion: the public key (which anyone may fetch) used as an HMAC secret.
              ["HS256 signed with the server's public key", async () =>
                sign(claims, { alg: "HS256", key: pem(createPublicKey(signing.key as KeyObject)), kid: kidOf(signing.key) })],
              ["an embedded public jwk of the signer", async () =>
                sign(claims, { key: signing.strangerKey, header: { jwk: createPublicKey(signing.strangerKey as KeyObject).export({ format: "jwk" }) } })],
            ] as Array<[string, () => Promise<string>]>)),
      ];

      it.each(forgeries)("refuses %s with 401 invalid_token", async (_name, forge) => {
        expectFailure(await api.getUser(await forge()), "invalid_token", "Token is invalid");
      });

      it("refuses an expired token with 401 token_expired", async () => {
        const token = await sign({ ...claims, iat: now() - 7200, exp: now() - 3600 });
        expectFailure(await api.getUser(token), "token_expired", "Token has expired");
      });

      it("refuses a well-signed token of a session that does not exist with 401 session_revoked", async () => {
        const token = await sign({ ...claims, session_id: randomUUID() });
        expectFailure(await api.getUser(token), "session_revoked");
      });

      it("answers a call without credentials with 401 unauthorized", async () => {
        expectFailure(await api.getUser(undefined), "unauthorized", "Missing authorization header");
      });
    });

    it("reads Authorization the same way on every path: scheme case-insensitive, other schemes refused", async () => {
      const get = (authorization: string) => rest(server.url, "GET", "/auth/v1/user", { headers: { authorization } });
      expect((await get(`bearer ${user.session.access_token}`)).status).toBe(200);
      expect((await get(`BEARER ${user.session.access_token}`)).status).toBe(200);
      for (const header of [`Basic ${Buffer.from("a:b").toString("base64")}`, "Bearer", `Token ${user.session.access_token}`]) {
        const res = await get(header);
        expect(res).toMatchObject({ status: 401, body: { error: "invalid_token" } });
      }
    });

    it("refuses a forged bearer even on public methods (401 invalid_token)", async () => {
      const forged = await sign(claims, { key: signing.strangerKey });
      const res = await rest(server.url, "POST", "/auth/v1/token", {
        body: { email: user.email, password: user.password },
        headers: { authorization: `Bearer ${forged}` },
      });
      expect(res).toMatchObject({ status: 401, body: { error: "invalid_token" } });
    });

    it("refuses an API key until API keys exist with 401 invalid_api_key", async () => {
      const res = await rest(server.url, "GET", "/auth/v1/user", { headers: { "x-api-key": "hk_live_whatever" } });
      expect(res).toMatchObject({ status: 401, body: { error: "invalid_api_key" } });
    });

    it("never logs passwords or tokens", () => {
      ledger.expectNoneIn(server.logs());
    });
  },
);

describe.each(backends)("short-lived tokens on %s storage", (backend) => {
  let server: TestServer;
  const ledger = createSecretLedger();
  beforeAll(async () => {
    server = await startTestServer(backend, [
      // iat is whole seconds, so a token lives between expiry - 1 and expiry seconds: 3 leaves room.
      "--token-expiry", "3", "--jwt-clock-skew", "0", "--refresh-token-expiry", "4", ...generousLimits,
    ]);
  });
  afterAll(() => server?.close());

  it("expire access tokens after --token-expiry (401 token_expired) and refresh tokens after --refresh-token-expiry", async () => {
    const api = authApi("rest", server.url);
    const user = await signUpUser(api, "short");
    ledger.addUser(user);
    expect(user.session).toMatchObject({ expires_in: 3 });
    expect(user.session.expires_at - Number(jwtPayload(user.session.access_token).iat)).toBe(3);
    expectOk(await api.getUser(user.session.access_token));

    await sleep(4100);
    for (const protocol of protocols) {
      expectFailure(await authApi(protocol, server.url).getUser(user.session.access_token), "token_expired", "Token has expired");
    }
    // The refresh token (4 s) has expired too.
    expectFailure(await api.refresh(user.session.refresh_token), "invalid_refresh_token");

    // Clients still attach the expired token when they sign in again or refresh: that is no error.
    const expired = { authorization: `Bearer ${user.session.access_token}` };
    const again = await rest(server.url, "POST", "/auth/v1/token", {
      body: { email: user.email, password: user.password },
      headers: expired,
    });
    expect(again.status).toBe(200);
    const session = again.body as SessionJson;
    ledger.addSession(session);
    const refreshed = await rest(server.url, "POST", "/auth/v1/refresh", {
      body: { refresh_token: session.refresh_token },
      headers: expired,
    });
    expect(refreshed.status).toBe(200);
    ledger.addSession(refreshed.body as SessionJson);
    expectOk(await api.getUser((refreshed.body as SessionJson).access_token));
  });

  it("never logs passwords or tokens", () => {
    ledger.expectNoneIn(server.logs());
  });
});
