import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import {
  childRefreshToken,
  hashRefreshToken,
  isWellFormedRefreshToken,
  newRefreshToken,
  refreshTokenHashesEqual,
  refreshTokenLength,
} from "../../src/auth/refresh-tokens.js";

describe("refresh tokens", () => {
  it("are 256 random bits in base64url, stored as their SHA-256", () => {
    const { token, hash } = newRefreshToken();
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(refreshTokenLength).toBe(43);
    expect(Buffer.from(token, "base64url")).toHaveLength(32);
    expect(hash).toBeInstanceOf(Buffer);
    expect(hash).toHaveLength(32);
    expect(hash.equals(createHash("sha256").update(token).digest())).toBe(true);
    expect(hash.toString("hex")).not.toContain(Buffer.from(token, "base64url").toString("hex"));
  });

  it("are unique", () => {
    const tokens = new Set(Array.from({ length: 1000 }, () => newRefreshToken().token));
    expect(tokens.size).toBe(1000);
  });

  it("hash deterministically", () => {
    const { token, hash } = newRefreshToken();
    expect(hashRefreshToken(token).equals(hash)).toBe(true);
    expect(hashRefreshToken(`${token.slice(0, -1)}x`).equals(hash)).toBe(false);
  });

  it("are recognised by shape before any lookup", () => {
    expect(isWellFormedRefreshToken(newRefreshToken().token)).toBe(true);
    for (const junk of ["", "short", "a".repeat(42), "a".repeat(44), `${"a".repeat(42)}=`, `${"a".repeat(42)}+`, 42, null, undefined]) {
      expect(isWellFormedRefreshToken(junk)).toBe(false);
    }
  });

  it("compare hashes in constant time, refusing different lengths", () => {
    const { hash } = newRefreshToken();
    expect(refreshTokenHashesEqual(hash, Buffer.from(hash))).toBe(true);
    expect(refreshTokenHashesEqual(hash, newRefreshToken().hash)).toBe(false);
    expect(refreshTokenHashesEqual(hash, hash.subarray(0, 16))).toBe(false);
  });
});

describe("child refresh tokens", () => {
  const secret = "a-secret-that-is-long-enough-for-hs256-0123";

  it("are well formed, deterministic per parent and secret, and unrelated to the parent", () => {
    const parent = newRefreshToken().token;
    const child = childRefreshToken(parent, secret);
    expect(isWellFormedRefreshToken(child.token)).toBe(true);
    expect(child.hash.equals(hashRefreshToken(child.token))).toBe(true);
    expect(childRefreshToken(parent, secret).token).toBe(child.token);
    expect(child.token).not.toBe(parent);
    expect(childRefreshToken(parent, `${secret}x`).token).not.toBe(child.token);
    expect(childRefreshToken(newRefreshToken().token, secret).token).not.toBe(child.token);
  });
});
