import { ConnectError } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { reasonOf } from "../../src/errors/catalogue.js";
import { normalizeEmail } from "../../src/auth/email.js";

function rejection(raw: string): ConnectError {
  try {
    normalizeEmail(raw);
  } catch (error) {
    if (error instanceof ConnectError) return error;
    throw error;
  }
  throw new Error(`accepted ${JSON.stringify(raw)}`);
}

describe("normalizeEmail", () => {
  it("trims and lower-cases", () => {
    expect(normalizeEmail("  Developer@Example.COM\n")).toBe("developer@example.com");
    expect(normalizeEmail("developer@example.com")).toBe("developer@example.com");
  });

  it("accepts ordinary and internationalised addresses", () => {
    for (const email of [
      "a.b+tag@sub.example.co",
      "o'brien@example.ie",
      "jürgen@bücher.de",
      "1234@example.com",
    ]) {
      expect(normalizeEmail(email)).toBe(email);
    }
  });

  it("normalises Unicode to NFC so one address has one form", () => {
    expect(normalizeEmail("jo\u0301se@example.com")).toBe("j\u00f3se@example.com");
  });

  it("gives look-alikes one form (NFKC, IDNA) or refuses them (invisible characters, mixed scripts)", () => {
    expect(normalizeEmail("\uff21\uff2c\uff29\uff23\uff25@acme.com")).toBe("alice@acme.com");
    expect(normalizeEmail("alice@\uff41\uff43\uff4d\uff45.com")).toBe("alice@acme.com");
    expect(normalizeEmail("user_1-x@xn--bcher-kva.example")).toBe("user_1-x@bücher.example");
    expect(normalizeEmail("user_1-x@BÜCHER.example")).toBe("user_1-x@bücher.example");
    for (const raw of ["al\u200bice@acme.com", "alice\u00ad@acme.com", "alice@ac\u200dme.com", "\u202ealice@acme.com"]) {
      expect(() => normalizeEmail(raw), JSON.stringify(raw)).toThrow("Email address must not contain invisible characters");
    }
    expect(() => normalizeEmail("\u0430lice@acme.com")).toThrow("Email address must not mix scripts before the @");
    // One script, or Japanese's three, is fine.
    expect(normalizeEmail("\u0430\u043b\u0438\u0441\u0430@acme.com")).toBe("\u0430\u043b\u0438\u0441\u0430@acme.com");
    expect(normalizeEmail("\u3072\u3089\u30ab\u30bf\u6f22@example.jp")).toBe("\u3072\u3089\u30ab\u30bf\u6f22@example.jp");
  });

  it("refuses implausible addresses with validation_failed", () => {
    for (const raw of [
      "",
      "   ",
      "no-at-sign",
      "@example.com",
      "user@",
      "user@localhost",
      "user@@example.com",
      "us@er@example.com",
      "a b@example.com",
      "user@exa mple.com",
      ".user@example.com",
      "user.@example.com",
      "us..er@example.com",
      "user@-example.com",
      "user@example-.com",
      "user@example..com",
      "user@.example.com",
      "user@1.2.3.4",
      "user@[1.2.3.4]",
      '"quoted"@example.com',
      "us<er>@example.com",
      "user\u0000@example.com",
      "user@exa_mple.com",
    ]) {
      expect(reasonOf(rejection(raw)), raw).toBe("validation_failed");
    }
  });

  it("limits the local part to 64 and the address to 254 characters", () => {
    expect(normalizeEmail(`${"a".repeat(64)}@example.com`)).toHaveLength(76);
    expect(reasonOf(rejection(`${"a".repeat(65)}@example.com`))).toBe("validation_failed");
    const domain = `${"d".repeat(63)}.${"e".repeat(63)}.${"f".repeat(63)}.${"g".repeat(6)}.com`;
    const fits = `${"a".repeat(254 - domain.length - 1)}@${domain}`;
    expect(fits).toHaveLength(254);
    expect(normalizeEmail(fits)).toBe(fits);
    expect(reasonOf(rejection(`a${fits}`))).toBe("validation_failed");
  });

  it("never echoes the input in the error", () => {
    const error = rejection("Secret Person <leak@example.com>");
    expect(error.rawMessage).not.toContain("leak");
  });
});
