import { ConnectError } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { ErrorInfoSchema } from "../../gen/google/rpc/error_details_pb.js";
import { reasonOf } from "../../src/errors/catalogue.js";
import { commonPasswords } from "../../src/auth/common-passwords.js";
import { assertPasswordPolicy, checkPasswordPolicy } from "../../src/auth/password-policy.js";

describe("checkPasswordPolicy", () => {
  it("accepts the guide's password and other reasonable ones", () => {
    expect(checkPasswordPolicy("secure-password-123")).toEqual([]);
    expect(checkPasswordPolicy("correct horse battery staple")).toEqual([]);
    expect(checkPasswordPolicy("é".repeat(512))).toEqual([]); // exactly 1024 bytes
  });

  it("requires at least 8 characters, counted as code points", () => {
    expect(checkPasswordPolicy("")).toEqual(["length", "characters"]);
    expect(checkPasswordPolicy("Tr0ub4d")).toEqual(["length"]);
    expect(checkPasswordPolicy("Tr0ub4d&")).toEqual([]);
    // 7 emoji are 14 UTF-16 units but 7 characters.
    expect(checkPasswordPolicy("🦊".repeat(7))).toEqual(["length"]);
    expect(checkPasswordPolicy("🦊".repeat(8))).toEqual([]);
  });

  it("allows at most 1024 UTF-8 bytes", () => {
    expect(checkPasswordPolicy("a".repeat(1024))).toEqual([]);
    expect(checkPasswordPolicy("a".repeat(1025))).toEqual(["length"]);
    expect(checkPasswordPolicy("é".repeat(513))).toEqual(["length"]); // 513 characters, 1026 bytes
  });

  it("refuses the most common passwords, ignoring case", () => {
    expect(checkPasswordPolicy("password123")).toEqual(["pwned"]);
    expect(checkPasswordPolicy("PassWord123")).toEqual(["pwned"]);
    expect(checkPasswordPolicy("12345678")).toEqual(["pwned"]);
    expect(checkPasswordPolicy("qwerty")).toEqual(["length", "pwned"]);
  });

  it("refuses passwords of nothing but whitespace", () => {
    expect(checkPasswordPolicy(" ".repeat(12))).toEqual(["characters"]);
    expect(checkPasswordPolicy("\t \n \u00a0 \u2003  ")).toEqual(["characters"]);
    expect(checkPasswordPolicy("   ")).toEqual(["length", "characters"]);
    expect(checkPasswordPolicy("  spaced out  ")).toEqual([]);
  });

  it("ships a list of at least 200 lower-case common passwords", () => {
    expect(commonPasswords.size).toBeGreaterThanOrEqual(200);
    for (const entry of commonPasswords) expect(entry).toBe(entry.toLowerCase());
  });
});

describe("assertPasswordPolicy", () => {
  it("passes acceptable passwords", () => {
    expect(() => assertPasswordPolicy("secure-password-123")).not.toThrow();
  });

  it("throws weak_password with the reasons, never echoing the password", () => {
    const password = "Password1";
    let caught: unknown;
    try {
      assertPasswordPolicy(password);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ConnectError);
    const error = caught as ConnectError;
    expect(reasonOf(error)).toBe("weak_password");
    expect(error.rawMessage).toMatch(/^Password is too weak: /);
    expect(error.rawMessage).not.toContain(password);
    expect(error.findDetails(ErrorInfoSchema)[0]?.metadata).toEqual({ reasons: "pwned" });
  });

  it("lists several reasons", () => {
    try {
      assertPasswordPolicy("  ");
      expect.unreachable();
    } catch (error) {
      expect((error as ConnectError).findDetails(ErrorInfoSchema)[0]?.metadata).toEqual({ reasons: "length,characters" });
    }
  });
});
