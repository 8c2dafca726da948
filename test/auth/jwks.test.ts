import { createHmac, createPublicKey, generateKeyPairSync, sign as signBytes, type JsonWebKey, type KeyObject } from "node:crypto";
import { stat } from "node:fs/promises";
import { join } from "node:path";
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify, type JWK } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { keyRingFileName } from "../../src/config/jwt-keys.js";
import { createScratchDatabase, externalDatabaseUrl, freshDataDir, removeDataDir, type ScratchDatabase } from "../support/postgres.js";
import { backends, startTestServer, type Backend, type TestServer } from "../support/server.js";
import { generousLimits, rest, strongPassword, uniqueEmail, type SessionJson } from "./support/auth-api.js";

const jwksPath = "/auth/v1/.well-known/jwks.json";
const external = await externalDatabaseUrl();

const pemOf = (key: KeyObject) => key.export({ format: "pem", type: key.type === "private" ? "pkcs8" : "spki" }).toString();
const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");

async function signUp(server: TestServer): Promise<SessionJson> {
  const res = await rest(server.url, "POST", "/auth/v1/signup", { body: { email: uniqueEmail("jwks"), password: strongPassword() } });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body as SessionJson;
}

const getUser = (server: TestServer, token: string) => rest(server.url, "GET", "/auth/v1/user", { headers: { authorization: `Bearer ${token}` } });

/** How a foreign service verifies our tokens: our JWKS URL, our issuer and audience, no secret. */
async function verifyAsForeignService(server: TestServer, token: string) {
  const jwks = createRemoteJWKSet(new URL(`${server.url}${jwksPath}`));
  return jwtVerify(token, jwks, { issuer: "heliosdb-nano", audience: "authenticated", algorithms: ["ES256", "RS256"] });
}

/** A token exactly like `token` but re-signed: with `key` (ECDSA P-256) or, given a string or buffer, HMAC-SHA256. */
function resign(token: string, header: Record<string, unknown>, key: KeyObject | string | Buffer): string {
  const payload = token.split(".")[1] as string;
  const input = `${b64(header)}.${payload}`;
  const signature =
    typeof key === "string" || Buffer.isBuffer(key)
      ? createHmac("sha256", key).update(input).digest("base64url")
      : signBytes("sha256", Buffer.from(input), { key, dsaEncoding: "ieee-p1363" }).toString("base64url");
  return `${input}.${signature}`;
}

describe.each(backends)("the JWKS under HS256 (the default) on %s storage", (backend) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer(backend, generousLimits);
  });
  afterAll(() => server?.close());

  it("publishes no key, since the secret must stay secret, with cache headers", async () => {
    const res = await rest(server.url, "GET", jwksPath);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ keys: [] });
    expect(res.headers.get("cache-control")).toMatch(/max-age=\d+/);
    expect(decodeProtectedHeader((await signUp(server)).access_token).alg).toBe("HS256");
  });
});

/** The flags of an ES256 server on `backend`: embedded generates its key, external is given one. */
function es256Flags(backend: Backend, privateKey: KeyObject): string[] {
  return ["--jwt-algorithm", "ES256", ...(backend === "external" ? [`--jwt-private-key=${pemOf(privateKey)}`] : []), ...generousLimits];
}

describe.each(backends)("ES256 tokens on %s storage", (backend) => {
  let server: TestServer;
  const given = generateKeyPairSync("ec", { namedCurve: "P-256" });
  beforeAll(async () => {
    server = await startTestServer(backend, es256Flags(backend, given.privateKey));
  });
  afterAll(() => server?.close());

  it("are verified by a foreign service through the JWKS with jose, holding no secret", async () => {
    const session = await signUp(server);
    const header = decodeProtectedHeader(session.access_token);
    expect(header).toMatchObject({ alg: "ES256", typ: "JWT" });
    const { payload, protectedHeader } = await verifyAsForeignService(server, session.access_token);
    expect(payload).toMatchObject({ sub: session.user.id, email: session.user.email, role: "authenticated" });
    expect(protectedHeader.kid).toBe(header.kid);

    const jwks = (await rest(server.url, "GET", jwksPath)).body as { keys: JWK[] };
    expect(jwks.keys).toEqual([{ kty: "EC", kid: header.kid, alg: "ES256", use: "sig", crv: "P-256", x: expect.any(String), y: expect.any(String) }]);
    // The server's own checks accept it too.
    expect((await getUser(server, session.access_token)).status).toBe(200);
  });

  it("refuses an unknown kid, another key under our kid, and HS256 signed with our public key", async () => {
    const session = await signUp(server);
    const { kid } = decodeProtectedHeader(session.access_token);
    const [jwk] = ((await rest(server.url, "GET", jwksPath)).body as { keys: JWK[] }).keys;
    const ours = createPublicKey({ key: jwk as JsonWebKey, format: "jwk" });
    const stranger = generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey;
    const forgeries = [
      resign(session.access_token, { alg: "ES256", typ: "JWT", kid: "unknown-kid" }, stranger),
      resign(session.access_token, { alg: "ES256", typ: "JWT", kid }, stranger),
      resign(session.access_token, { alg: "HS256", typ: "JWT", kid }, pemOf(ours)),
      resign(session.access_token, { alg: "HS256", typ: "JWT", kid }, ours.export({ format: "der", type: "spki" })),
      resign(session.access_token, { alg: "HS256", typ: "JWT", kid }, JSON.stringify(jwk)),
    ];
    for (const forged of forgeries) {
      const res = await getUser(server, forged);
      expect(res.status).toBe(401);
      expect(res.body).toMatchObject({ error: "invalid_token", message: "Token is invalid" });
      await expect(verifyAsForeignService(server, forged)).rejects.toThrow();
    }
    // Nothing changed: the genuine token still works.
    expect((await getUser(server, session.access_token)).status).toBe(200);
  });

  it("answers a flood of JWKS requests with one cacheable answer, as cheaply as /health", async () => {
    const first = await rest(server.url, "GET", jwksPath);
    expect(first.headers.get("cache-control")).toMatch(/^public, max-age=\d+/);
    const flood = async (path: string) => {
      const started = performance.now();
      const answers = await Promise.all(
        Array.from({ length: 300 }, () => fetch(`${server.url}${path}`).then(async (res) => [res.status, await res.text()] as const)),
      );
      return { took: performance.now() - started, answers };
    };
    const health = await flood("/health");
    const jwks = await flood(jwksPath);
    console.info(`300 concurrent requests on ${backend}: /health ${health.took.toFixed(0)} ms, JWKS ${jwks.took.toFixed(0)} ms`);
    expect(new Set(jwks.answers.map(([status]) => status))).toEqual(new Set([200]));
    expect(new Set(jwks.answers.map(([, body]) => body))).toEqual(new Set([JSON.stringify(first.body)]));
    // No database, no crypto: about what answering /health costs (generous, the machine is shared).
    expect(jwks.took).toBeLessThan(health.took * 3 + 1000);
  });
});

describe("ES256 key pairs kept in the data directory (embedded)", () => {
  const dataDir = freshDataDir("jwks");
  let server: TestServer | undefined;
  afterAll(async () => {
    await server?.close();
    await removeDataDir(dataDir);
  });
  const start = async (flags: string[]) => {
    await server?.close();
    server = await startTestServer("embedded", ["--data-dir", dataDir, ...flags, ...generousLimits]);
    return server;
  };

  it("are generated once, owner-only, survive restarts, and a switch to RS256 keeps the old key verifying", async () => {
    const first = await start(["--jwt-algorithm", "ES256"]);
    const session = await signUp(first);
    const { kid } = decodeProtectedHeader(session.access_token);
    expect(((await stat(join(dataDir, keyRingFileName))).mode & 0o777).toString(8)).toBe("600");

    const again = await start(["--jwt-algorithm", "ES256"]);
    expect(decodeProtectedHeader((await signUp(again)).access_token).kid).toBe(kid);
    expect((await getUser(again, session.access_token)).status).toBe(200);

    const switched = await start(["--jwt-algorithm", "RS256"]);
    const fresh = await signUp(switched);
    expect(decodeProtectedHeader(fresh.access_token)).toMatchObject({ alg: "RS256" });
    const kids = ((await rest(switched.url, "GET", jwksPath)).body as { keys: JWK[] }).keys.map((key) => [key.kid, key.alg]);
    expect(kids).toEqual([
      [decodeProtectedHeader(fresh.access_token).kid, "RS256"],
      [kid, "ES256"],
    ]);
    expect((await getUser(switched, session.access_token)).status).toBe(200);
    await verifyAsForeignService(switched, session.access_token);
    await verifyAsForeignService(switched, fresh.access_token);
  }, 120_000);
});

describe.skipIf(!external)("ES256 key rotation by configuration (external)", () => {
  let scratch: ScratchDatabase;
  let server: TestServer | undefined;
  beforeAll(async () => {
    scratch = await createScratchDatabase(external as string);
  });
  afterAll(async () => {
    await server?.close();
    await scratch?.drop();
  });
  const start = async (flags: string[]) => {
    await server?.close();
    server = await startTestServer("external", ["--database-url", scratch.url, "--jwt-algorithm", "ES256", ...flags, ...generousLimits]);
    return server;
  };

  it("needs a configured key: a shared database has no private place for one", async () => {
    await expect(startTestServer("external", ["--database-url", scratch.url, "--jwt-algorithm", "ES256"])).rejects.toThrow(/--jwt-private-key/);
  });

  it("keeps a previous public key verifying while configured, and refuses its tokens once it is retired", async () => {
    const old = generateKeyPairSync("ec", { namedCurve: "P-256" });
    const next = generateKeyPairSync("ec", { namedCurve: "P-256" });
    const before = await start([`--jwt-private-key=${pemOf(old.privateKey)}`]);
    const session = await signUp(before);

    const rotated = await start([`--jwt-private-key=${pemOf(next.privateKey)}`, `--jwt-previous-public-keys=${pemOf(old.publicKey)}`]);
    expect((await getUser(rotated, session.access_token)).status).toBe(200);
    await verifyAsForeignService(rotated, session.access_token);
    expect(((await rest(rotated.url, "GET", jwksPath)).body as { keys: JWK[] }).keys).toHaveLength(2);

    const retired = await start([`--jwt-private-key=${pemOf(next.privateKey)}`]);
    const res = await getUser(retired, session.access_token);
    expect(res.status).toBe(401);
    expect(res.body).toMatchObject({ error: "invalid_token" });
    await expect(verifyAsForeignService(retired, session.access_token)).rejects.toThrow();
  }, 120_000);

  it("refuses keys that do not fit the algorithm", async () => {
    const rsa = generateKeyPairSync("rsa", { modulusLength: 2048 });
    await expect(start([`--jwt-private-key=${pemOf(rsa.privateKey)}`])).rejects.toThrow(/EC P-256/);
    await expect(start(["--jwt-private-key=-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----"])).rejects.toThrow(/not a valid PEM key/);
    await expect(start(["--jwt-private-key", "/nonexistent/key.pem"])).rejects.toThrow(/cannot read \/nonexistent\/key.pem/);
    server = undefined;
  });
});
