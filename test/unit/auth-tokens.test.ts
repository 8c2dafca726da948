import { createHmac, createPublicKey, generateKeyPairSync, randomBytes, sign as signBytes, type KeyObject } from "node:crypto";
import { ConnectError } from "@connectrpc/connect";
import { decodeProtectedHeader, importJWK, jwtVerify } from "jose";
import { describe, expect, it } from "vitest";
import { ErrorInfoSchema } from "../../gen/google/rpc/error_details_pb.js";
import { ConfigError } from "../../src/config/config.js";
import { reasonOf, type Reason } from "../../src/errors/catalogue.js";
import {
  createTokenIssuer,
  defaultClockSkewSeconds,
  keyIdOf,
  principalFromClaims,
  type AccessTokenSubject,
  type TokenIssuer,
  type TokenIssuerConfig,
} from "../../src/auth/tokens.js";
import { publicJwkOf, type AsymmetricAlgorithm, type AsymmetricKeyRing, type JwtAlgorithm } from "../../src/auth/signing-keys.js";

const secret = randomBytes(32).toString("base64url");
const otherSecret = randomBytes(32).toString("base64url");
const start = Date.UTC(2030, 0, 1);
const hour = 3600;

const config: TokenIssuerConfig = {
  jwtSecret: secret,
  jwtPreviousSecrets: [],
  issuer: "heliosdb-nano",
  audience: "authenticated",
  tokenExpirySeconds: hour,
};

const subject: AccessTokenSubject = {
  userId: "user-abc-123",
  email: "developer@example.com",
  tenantId: "tenant-xyz",
  scopes: ["read", "write"],
  sessionId: "session-1",
  userMetadata: { name: "Dev" },
  appMetadata: { plan: "pro" },
};

function clock(at = start) {
  const state = { now: at };
  return { state, now: () => state.now };
}

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");

/** An HMAC-signed compact JWS built by hand, so tests control every header and claim. */
function hmacJws(header: Record<string, unknown>, payload: Record<string, unknown>, key: string | Buffer = secret, alg = "sha256"): string {
  const input = `${b64(header)}.${b64(payload)}`;
  return `${input}.${createHmac(alg, key).update(input).digest("base64url")}`;
}

function pairOf(alg: AsymmetricAlgorithm): { privateKey: KeyObject; publicKey: KeyObject } {
  return alg === "ES256" ? generateKeyPairSync("ec", { namedCurve: "P-256" }) : generateKeyPairSync("rsa", { modulusLength: 2048 });
}

function ringOf(alg: AsymmetricAlgorithm, current: { privateKey: KeyObject }, previous: AsymmetricKeyRing["previous"] = []): AsymmetricKeyRing {
  return { current: { alg, privateKey: current.privateKey, publicKey: createPublicKey(current.privateKey) }, previous };
}

/**
 * One signing algorithm under test: its issuer configuration, the kid of its key, and a forger
 * that signs hand-built tokens the way that algorithm does, with its key or with another one.
 */
interface Fixture {
  alg: JwtAlgorithm;
  config: TokenIssuerConfig;
  /** A configuration of the same algorithm with another key. */
  other: TokenIssuerConfig;
  kid: string;
  forge(header: Record<string, unknown>, payload: Record<string, unknown>, withOtherKey?: boolean): string;
}

function hmacFixture(): Fixture {
  return {
    alg: "HS256",
    config,
    other: { ...config, jwtSecret: otherSecret },
    kid: keyIdOf(secret),
    forge: (header, payload, withOtherKey = false) => hmacJws(header, payload, withOtherKey ? otherSecret : secret),
  };
}

function asymmetricFixture(alg: AsymmetricAlgorithm): Fixture {
  const ours = pairOf(alg);
  const theirs = pairOf(alg);
  const signature = (input: string, key: KeyObject) =>
    signBytes("sha256", Buffer.from(input), alg === "ES256" ? { key, dsaEncoding: "ieee-p1363" } : key).toString("base64url");
  return {
    alg,
    config: { ...config, jwtAlgorithm: alg, keyRing: ringOf(alg, ours) },
    other: { ...config, jwtAlgorithm: alg, keyRing: ringOf(alg, theirs) },
    kid: publicJwkOf(ours.publicKey, alg).kid,
    forge(header, payload, withOtherKey = false) {
      const input = `${b64(header)}.${b64(payload)}`;
      return `${input}.${signature(input, withOtherKey ? theirs.privateKey : ours.privateKey)}`;
    },
  };
}

const fixtures: Fixture[] = [hmacFixture(), asymmetricFixture("ES256"), asymmetricFixture("RS256")];

function without(object: Record<string, unknown>, key: string): Record<string, unknown> {
  return Object.fromEntries(Object.entries(object).filter(([name]) => name !== key));
}

const nowSeconds = Math.floor(start / 1000);
const validPayload = {
  sub: "user-abc-123",
  email: "developer@example.com",
  role: "authenticated",
  tenant_id: "tenant-xyz",
  scopes: ["read"],
  session_id: "session-1",
  iat: nowSeconds,
  exp: nowSeconds + hour,
  iss: "heliosdb-nano",
  aud: "authenticated",
  jti: "jti-1",
};

async function rejectionOf(promise: Promise<unknown>): Promise<ConnectError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof ConnectError) return error;
    throw error;
  }
  throw new Error("expected a rejection");
}

describe.each(fixtures)("$alg", (fixture) => {
  const { forge } = fixture;
  const validHeader = { alg: fixture.alg, typ: "JWT", kid: fixture.kid };
  const issuer = (overrides: Partial<TokenIssuerConfig> = {}, now = clock().now): TokenIssuer =>
    createTokenIssuer({ ...fixture.config, ...overrides }, { now });

  async function expectRejected(token: string, reason: Reason, verifier = issuer()): Promise<void> {
    const error = await rejectionOf(verifier.verify(token));
    expect(reasonOf(error)).toBe(reason);
    expect(error.rawMessage).toBe(reason === "token_expired" ? "Token has expired" : "Token is invalid");
    if (token !== "") {
      expect(error.message).not.toContain(token);
      for (const info of error.findDetails(ErrorInfoSchema)) expect(JSON.stringify(info.metadata)).not.toContain(token);
    }
  }

  describe("sign", () => {
    it(`issues a ${fixture.alg} JWT with the documented claims, typ and kid`, async () => {
      const tokens = issuer();
      const { token, claims, expiresIn } = await tokens.sign(subject);
      expect(tokens.algorithm).toBe(fixture.alg);
      expect(decodeProtectedHeader(token)).toEqual({ alg: fixture.alg, typ: "JWT", kid: fixture.kid });
      expect(expiresIn).toBe(hour);
      expect(claims).toEqual({
        sub: "user-abc-123",
        email: "developer@example.com",
        role: "authenticated",
        tenant_id: "tenant-xyz",
        scopes: ["read", "write"],
        session_id: "session-1",
        iat: nowSeconds,
        exp: nowSeconds + hour,
        iss: "heliosdb-nano",
        aud: "authenticated",
        jti: expect.stringMatching(/^[0-9a-f-]{36}$/),
        user_metadata: { name: "Dev" },
        app_metadata: { plan: "pro" },
      });
      expect(await tokens.verify(token)).toEqual(claims);
    });

    it("gives every token its own jti", async () => {
      const tokens = issuer();
      const [a, b] = await Promise.all([tokens.sign(subject), tokens.sign(subject)]);
      expect(a.claims.jti).not.toBe(b.claims.jti);
    });

    it("maps claims to a user principal", async () => {
      const { claims } = await issuer().sign(subject);
      expect(principalFromClaims(claims)).toEqual({
        kind: "user",
        id: "user-abc-123",
        email: "developer@example.com",
        role: "authenticated",
        tenantId: "tenant-xyz",
        scopes: ["read", "write"],
        sessionId: "session-1",
      });
    });
  });

  describe("verify", () => {
    it("accepts a hand-built token equal to what sign produces", async () => {
      expect((await issuer().verify(forge(validHeader, validPayload))).sub).toBe("user-abc-123");
    });

    it("accepts a token without metadata claims (signed before they existed) as empty metadata", async () => {
      const claims = await issuer().verify(forge(validHeader, validPayload));
      expect([claims.user_metadata, claims.app_metadata]).toEqual([{}, {}]);
    });

    it("refuses a tampered payload or signature", async () => {
      const { token } = await issuer().sign(subject);
      const [header, payload, signature] = token.split(".") as [string, string, string];
      const claims = JSON.parse(Buffer.from(payload, "base64url").toString()) as Record<string, unknown>;
      await expectRejected(`${header}.${b64({ ...claims, scopes: ["read", "write", "admin"] })}.${signature}`, "invalid_token");
      await expectRejected(`${header}.${b64({ ...claims, tenant_id: "other" })}.${signature}`, "invalid_token");
      await expectRejected(`${header}.${b64({ ...claims, app_metadata: { role: "admin" } })}.${signature}`, "invalid_token");
      const flipped = signature.startsWith("A") ? `B${signature.slice(1)}` : `A${signature.slice(1)}`;
      await expectRejected(`${header}.${payload}.${flipped}`, "invalid_token");
      await expectRejected(`${header}.${payload}.`, "invalid_token");
    });

    it(`refuses alg none and every algorithm but ${fixture.alg}`, async () => {
      await expectRejected(`${b64({ ...validHeader, alg: "none" })}.${b64(validPayload)}.`, "invalid_token");
      await expectRejected(`${b64({ ...validHeader, alg: "None" })}.${b64(validPayload)}.`, "invalid_token");
      await expectRejected(hmacJws({ ...validHeader, alg: "HS512" }, validPayload, secret, "sha512"), "invalid_token");
      await expectRejected(hmacJws({ ...validHeader, alg: "HS384" }, validPayload, secret, "sha384"), "invalid_token");
      for (const alg of ["HS256", "ES256", "RS256", "PS256", "EdDSA"].filter((name) => name !== fixture.alg)) {
        await expectRejected(forge({ ...validHeader, alg }, validPayload), "invalid_token");
        await expectRejected(hmacJws({ ...validHeader, alg }, validPayload), "invalid_token");
      }
    });

    it.runIf(fixture.alg !== "HS256")("refuses HS256 tokens signed with its public key (algorithm confusion)", async () => {
      const publicKey = fixture.config.keyRing?.current.publicKey as KeyObject;
      const pem = publicKey.export({ format: "pem", type: "spki" }).toString();
      const der = publicKey.export({ format: "der", type: "spki" });
      const jwk = JSON.stringify(publicKey.export({ format: "jwk" }));
      for (const key of [pem, der, jwk, pem.trim()]) {
        await expectRejected(hmacJws({ ...validHeader, alg: "HS256" }, validPayload, key), "invalid_token");
      }
      // Nor does the HS256 secret the server still holds (for refresh tokens) verify anything.
      await expectRejected(hmacJws({ alg: "HS256", typ: "JWT", kid: keyIdOf(secret) }, validPayload, secret), "invalid_token");
    });

    it("refuses a token signed with another key", async () => {
      const { token } = await createTokenIssuer(fixture.other, { now: clock().now }).sign(subject);
      await expectRejected(token, "invalid_token");
      // Same kid as ours, wrong key.
      await expectRejected(forge(validHeader, validPayload, true), "invalid_token");
    });

    it("refuses a wrong audience or issuer", async () => {
      await expectRejected((await issuer({ audience: "someone-else" }).sign(subject)).token, "invalid_token");
      await expectRejected((await issuer({ issuer: "https://evil.example" }).sign(subject)).token, "invalid_token");
      await expectRejected(forge(validHeader, { ...validPayload, aud: ["other"] }), "invalid_token");
    });

    it("refuses an iat or nbf in the future beyond the clock skew, tolerating less", async () => {
      await expectRejected(forge(validHeader, { ...validPayload, iat: nowSeconds + 120, exp: nowSeconds + 2 * hour }), "invalid_token");
      await expectRejected(forge(validHeader, { ...validPayload, nbf: nowSeconds + 120 }), "invalid_token");
      const verifier = issuer();
      const within = nowSeconds + defaultClockSkewSeconds - 1;
      expect(await verifier.verify(forge(validHeader, { ...validPayload, iat: within }))).toBeTruthy();
      expect(await verifier.verify(forge(validHeader, { ...validPayload, nbf: within }))).toBeTruthy();
    });

    it("answers token_expired after exp plus the skew, and not before", async () => {
      const time = clock();
      const tokens = issuer({}, time.now);
      const { token } = await tokens.sign(subject);
      time.state.now = start + (hour + defaultClockSkewSeconds - 1) * 1000;
      expect((await tokens.verify(token)).sub).toBe("user-abc-123");
      time.state.now = start + (hour + defaultClockSkewSeconds + 1) * 1000;
      await expectRejected(token, "token_expired", tokens);
    });

    it("answers invalid_token, not token_expired, for an expired token with a bad signature", async () => {
      const expired = { ...validPayload, iat: nowSeconds - 2 * hour, exp: nowSeconds - hour };
      await expectRejected(forge(validHeader, expired), "token_expired");
      await expectRejected(forge(validHeader, expired, true), "invalid_token");
    });

    it("requires exp, iat, sub, jti and session_id", async () => {
      for (const claim of ["exp", "iat", "sub", "jti", "session_id"]) {
        await expectRejected(forge(validHeader, without(validPayload, claim)), "invalid_token");
      }
    });

    it("refuses claims of the wrong type or value", async () => {
      for (const change of [
        { role: "service_role" },
        { scopes: ["read", "superuser"] },
        { scopes: "read" },
        { tenant_id: "" },
        { sub: 42 },
        { exp: String(nowSeconds + hour) },
        { exp: nowSeconds - 1, iat: nowSeconds },
        { user_metadata: ["a"] },
        { app_metadata: "admin" },
        { app_metadata: null },
      ]) {
        await expectRejected(forge(validHeader, { ...validPayload, ...change }), "invalid_token");
      }
    });

    it("refuses headers that point at or embed keys, or demand extensions", async () => {
      for (const extra of [
        { jku: "https://evil.example/jwks.json" },
        { x5u: "https://evil.example/cert.pem" },
        { jwk: { kty: "oct", k: Buffer.from(secret).toString("base64url") } },
        { x5c: ["MIIB"] },
        { crit: ["exp"], exp: 1 },
        { crit: ["b64"], b64: true },
      ]) {
        await expectRejected(forge({ ...validHeader, ...extra }, validPayload), "invalid_token");
      }
    });

    it("pins typ and requires a known kid", async () => {
      await expectRejected(forge({ ...validHeader, typ: "at+jwt" }, validPayload), "invalid_token");
      await expectRejected(forge(without(validHeader, "typ"), validPayload), "invalid_token");
      await expectRejected(forge(without(validHeader, "kid"), validPayload), "invalid_token");
      await expectRejected(forge({ ...validHeader, kid: "0123456789abcdef" }, validPayload), "invalid_token");
      await expectRejected(forge({ ...validHeader, kid: 7 }, validPayload), "invalid_token");
    });

    it("refuses malformed and oversized tokens", async () => {
      for (const junk of ["", "abc", "a.b", "a.b.c", "a.b.c.d", `${b64(validHeader)}.not-json.sig`, "x".repeat(9000)]) {
        await expectRejected(junk, "invalid_token");
      }
    });
  });
});

describe("sign (HS256 kid)", () => {
  it("derives a short, stable kid that is not the secret", () => {
    const kid = keyIdOf(secret);
    expect(kid).toMatch(/^[0-9a-f]{16}$/);
    expect(keyIdOf(secret)).toBe(kid);
    expect(keyIdOf(otherSecret)).not.toBe(kid);
    expect(secret).not.toContain(kid);
  });
});

function hmacIssuer(overrides: Partial<TokenIssuerConfig> = {}, now = clock().now): TokenIssuer {
  return createTokenIssuer({ ...config, ...overrides }, { now });
}

async function expectRefused(token: string, reason: Reason, verifier: TokenIssuer): Promise<void> {
  const error = await rejectionOf(verifier.verify(token));
  expect(reasonOf(error)).toBe(reason);
}

describe("key rotation", () => {
  it("verifies tokens of a previous secret by their kid, and signs only with the current one", async () => {
    const before = hmacIssuer({ jwtSecret: otherSecret });
    const old = await before.sign(subject);
    const after = hmacIssuer({ jwtSecret: secret, jwtPreviousSecrets: [otherSecret] });
    expect(after.kid).toBe(keyIdOf(secret));
    expect(after.verificationKids).toEqual([keyIdOf(secret), keyIdOf(otherSecret)]);
    expect(decodeProtectedHeader(old.token).kid).toBe(keyIdOf(otherSecret));
    expect((await after.verify(old.token)).jti).toBe(old.claims.jti);

    const fresh = await after.sign(subject);
    expect(decodeProtectedHeader(fresh.token).kid).toBe(keyIdOf(secret));
    // The old instance does not know the new key.
    await expectRefused(fresh.token, "invalid_token", before);
  });

  it("stops accepting a secret once it is dropped", async () => {
    const old = await hmacIssuer({ jwtSecret: otherSecret }).sign(subject);
    await expectRefused(old.token, "invalid_token", hmacIssuer({ jwtSecret: secret, jwtPreviousSecrets: [] }));
  });
});

describe("configuration", () => {
  it("refuses missing and short secrets", () => {
    expect(() => hmacIssuer({ jwtSecret: undefined })).toThrow(ConfigError);
    expect(() => hmacIssuer({ jwtSecret: "x".repeat(31) })).toThrow(ConfigError);
    expect(() => hmacIssuer({ jwtPreviousSecrets: ["short"] })).toThrow(ConfigError);
    expect(() => hmacIssuer({ jwtSecret: "x".repeat(32) })).not.toThrow();
  });

  it("never puts a secret into its errors", () => {
    const short = "tiny-but-secret";
    try {
      hmacIssuer({ jwtSecret: short });
      expect.unreachable();
    } catch (error) {
      expect(String(error)).not.toContain(short);
    }
  });
});

describe.each(["ES256", "RS256"] as const)("%s key pairs", (alg) => {
  const old = pairOf(alg);
  const fresh = pairOf(alg);
  const rotated = (retiredAt: Date | undefined, now: () => number) =>
    createTokenIssuer(
      { ...config, jwtAlgorithm: alg, keyRing: ringOf(alg, fresh, [{ alg, publicKey: old.publicKey, retiredAt }]) },
      { now },
    );

  it("publishes the public keys with kid, alg and use, which verify its tokens in jose", async () => {
    const tokens = createTokenIssuer({ ...config, jwtAlgorithm: alg, keyRing: ringOf(alg, old) }, { now: clock().now });
    const [jwk, ...others] = tokens.publicKeys();
    expect(others).toEqual([]);
    expect(jwk).toMatchObject({ kid: tokens.kid, alg, use: "sig", kty: alg === "ES256" ? "EC" : "RSA" });
    expect(JSON.stringify(jwk)).not.toMatch(/"d"|"p"|"q"/);
    const { token } = await tokens.sign(subject);
    const { payload } = await jwtVerify(token, await importJWK({ ...jwk }, alg), { currentDate: new Date(start) });
    expect(payload.sub).toBe(subject.userId);
  });

  it("keeps verifying a retired key's tokens until they expire, then refuses the key altogether", async () => {
    const time = clock();
    const before = createTokenIssuer({ ...config, jwtAlgorithm: alg, keyRing: ringOf(alg, old) }, { now: time.now });
    const signedBefore = await before.sign(subject);
    // Whoever kept the old private key can mint tokens that would outlive it.
    const longLived = await createTokenIssuer(
      { ...config, tokenExpirySeconds: 30 * 24 * hour, jwtAlgorithm: alg, keyRing: ringOf(alg, old) },
      { now: time.now },
    ).sign(subject);
    const after = rotated(new Date(start), time.now);
    expect(after.kid).not.toBe(before.kid);
    expect(after.publicKeys().map((key) => key.kid)).toEqual([after.kid, before.kid]);
    expect((await after.verify(signedBefore.token)).jti).toBe(signedBefore.claims.jti);
    expect(decodeProtectedHeader((await after.sign(subject)).token).kid).toBe(after.kid);

    time.state.now = start + (hour + defaultClockSkewSeconds - 1) * 1000;
    expect((await after.verify(longLived.token)).jti).toBe(longLived.claims.jti);
    // A cache of verified tokens (the bearer check's) may trust it only that long, not until its exp.
    expect((await after.verifyUntil(longLived.token)).trustedUntil).toBe(start + (hour + defaultClockSkewSeconds) * 1000);
    const own = await after.sign(subject);
    expect((await after.verifyUntil(own.token)).trustedUntil).toBe(own.claims.exp * 1000);
    time.state.now = start + (hour + defaultClockSkewSeconds) * 1000;
    await expectRefused(longLived.token, "invalid_token", after);
    expect(after.publicKeys().map((key) => key.kid)).toEqual([after.kid]);
  });

  it("keeps a configured previous key (no retirement time) for as long as it is configured", async () => {
    const time = clock();
    const signed = await createTokenIssuer({ ...config, jwtAlgorithm: alg, keyRing: ringOf(alg, old) }, { now: time.now }).sign(subject);
    const after = rotated(undefined, time.now);
    expect((await after.verify(signed.token)).sub).toBe(subject.userId);
    await expectRefused(signed.token, "invalid_token", createTokenIssuer({ ...config, jwtAlgorithm: alg, keyRing: ringOf(alg, fresh) }, { now: time.now }));
  });

  it("refuses a key of the wrong kind or size, and a missing key pair", () => {
    const wrong = alg === "ES256" ? pairOf("RS256") : generateKeyPairSync("ec", { namedCurve: "P-384" });
    expect(() => createTokenIssuer({ ...config, jwtAlgorithm: alg, keyRing: ringOf(alg, wrong) })).toThrow(ConfigError);
    expect(() => createTokenIssuer({ ...config, jwtAlgorithm: alg })).toThrow(ConfigError);
    if (alg === "RS256") {
      const small = generateKeyPairSync("rsa", { modulusLength: 1024 });
      expect(() => createTokenIssuer({ ...config, jwtAlgorithm: alg, keyRing: ringOf(alg, small) })).toThrow(/2048 bits/);
    }
  });
});

it("publishes no key under HS256", () => {
  expect(hmacIssuer().publicKeys()).toEqual([]);
});
