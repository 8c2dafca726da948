import { createHmac, randomBytes } from "node:crypto";
import { ConnectError } from "@connectrpc/connect";
import { decodeProtectedHeader } from "jose";
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
};

function clock(at = start) {
  const state = { now: at };
  return { state, now: () => state.now };
}

function issuer(overrides: Partial<TokenIssuerConfig> = {}, now = clock().now): TokenIssuer {
  return createTokenIssuer({ ...config, ...overrides }, { now });
}

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");

/** Builds a compact JWS by hand, so tests control every header and claim. */
function forge(header: Record<string, unknown>, payload: Record<string, unknown>, key = secret, alg = "sha256"): string {
  const input = `${b64(header)}.${b64(payload)}`;
  return `${input}.${createHmac(alg, key).update(input).digest("base64url")}`;
}

function without(object: Record<string, unknown>, key: string): Record<string, unknown> {
  return Object.fromEntries(Object.entries(object).filter(([name]) => name !== key));
}

const nowSeconds = Math.floor(start / 1000);
const validHeader = { alg: "HS256", typ: "JWT", kid: keyIdOf(secret) };
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
  it("issues an HS256 JWT with the documented claims, typ and kid", async () => {
    const tokens = issuer();
    const { token, claims, expiresIn } = await tokens.sign(subject);
    expect(decodeProtectedHeader(token)).toEqual({ alg: "HS256", typ: "JWT", kid: tokens.kid });
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
    });
    expect(await tokens.verify(token)).toEqual(claims);
  });

  it("gives every token its own jti", async () => {
    const tokens = issuer();
    const [a, b] = await Promise.all([tokens.sign(subject), tokens.sign(subject)]);
    expect(a.claims.jti).not.toBe(b.claims.jti);
  });

  it("derives a short, stable kid that is not the secret", () => {
    const kid = keyIdOf(secret);
    expect(kid).toMatch(/^[0-9a-f]{16}$/);
    expect(keyIdOf(secret)).toBe(kid);
    expect(keyIdOf(otherSecret)).not.toBe(kid);
    expect(secret).not.toContain(kid);
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

  it("refuses a tampered payload or signature", async () => {
    const { token } = await issuer().sign(subject);
    const [header, payload, signature] = token.split(".") as [string, string, string];
    const claims = JSON.parse(Buffer.from(payload, "base64url").toString()) as Record<string, unknown>;
    await expectRejected(`${header}.${b64({ ...claims, scopes: ["read", "write", "admin"] })}.${signature}`, "invalid_token");
    await expectRejected(`${header}.${b64({ ...claims, tenant_id: "other" })}.${signature}`, "invalid_token");
    const flipped = signature.startsWith("A") ? `B${signature.slice(1)}` : `A${signature.slice(1)}`;
    await expectRejected(`${header}.${payload}.${flipped}`, "invalid_token");
    await expectRejected(`${header}.${payload}.`, "invalid_token");
  });

  it("refuses alg none and every algorithm but HS256", async () => {
    await expectRejected(`${b64({ ...validHeader, alg: "none" })}.${b64(validPayload)}.`, "invalid_token");
    await expectRejected(`${b64({ ...validHeader, alg: "None" })}.${b64(validPayload)}.`, "invalid_token");
    await expectRejected(forge({ ...validHeader, alg: "HS512" }, validPayload, secret, "sha512"), "invalid_token");
    await expectRejected(forge({ ...validHeader, alg: "HS384" }, validPayload, secret, "sha384"), "invalid_token");
    await expectRejected(forge({ ...validHeader, alg: "RS256" }, validPayload), "invalid_token");
  });

  it("refuses a token signed with another key", async () => {
    const { token } = await issuer({ jwtSecret: otherSecret }).sign(subject);
    await expectRejected(token, "invalid_token");
    // Same kid as ours, wrong key.
    await expectRejected(forge(validHeader, validPayload, otherSecret), "invalid_token");
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
    await expectRejected(forge(validHeader, expired, otherSecret), "invalid_token");
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
  });

  it("refuses malformed and oversized tokens", async () => {
    for (const junk of ["", "abc", "a.b", "a.b.c", "a.b.c.d", `${b64(validHeader)}.not-json.sig`, "x".repeat(9000)]) {
      await expectRejected(junk, "invalid_token");
    }
  });
});

describe("key rotation", () => {
  it("verifies tokens of a previous secret by their kid, and signs only with the current one", async () => {
    const before = issuer({ jwtSecret: otherSecret });
    const old = await before.sign(subject);
    const after = issuer({ jwtSecret: secret, jwtPreviousSecrets: [otherSecret] });
    expect(after.kid).toBe(keyIdOf(secret));
    expect(after.verificationKids).toEqual([keyIdOf(secret), keyIdOf(otherSecret)]);
    expect(decodeProtectedHeader(old.token).kid).toBe(keyIdOf(otherSecret));
    expect((await after.verify(old.token)).jti).toBe(old.claims.jti);

    const fresh = await after.sign(subject);
    expect(decodeProtectedHeader(fresh.token).kid).toBe(keyIdOf(secret));
    // The old instance does not know the new key.
    await expectRejected(fresh.token, "invalid_token", before);
  });

  it("stops accepting a secret once it is dropped", async () => {
    const old = await issuer({ jwtSecret: otherSecret }).sign(subject);
    await expectRejected(old.token, "invalid_token", issuer({ jwtSecret: secret, jwtPreviousSecrets: [] }));
  });
});

describe("configuration", () => {
  it("refuses missing and short secrets", () => {
    expect(() => issuer({ jwtSecret: undefined })).toThrow(ConfigError);
    expect(() => issuer({ jwtSecret: "x".repeat(31) })).toThrow(ConfigError);
    expect(() => issuer({ jwtPreviousSecrets: ["short"] })).toThrow(ConfigError);
    expect(() => issuer({ jwtSecret: "x".repeat(32) })).not.toThrow();
  });

  it("never puts a secret into its errors", () => {
    const short = "tiny-but-secret";
    try {
      issuer({ jwtSecret: short });
      expect.unreachable();
    } catch (error) {
      expect(String(error)).not.toContain(short);
    }
  });
});
