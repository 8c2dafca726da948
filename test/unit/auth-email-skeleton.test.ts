import { describe, expect, it } from "vitest";
import { normalizeEmail } from "../../src/auth/email.js";
import { emailSkeleton, skeleton } from "../../src/auth/email-skeleton.js";

/** The skeleton of what sign-up stores for `raw`. */
const skeletonOf = (raw: string) => emailSkeleton(normalizeEmail(raw));

describe("skeleton (UTS #39)", () => {
  it("maps look-alikes from other scripts to one prototype", () => {
    // Cyrillic ѕ о р һ і е, each one letter: one script, so normalizeEmail lets it through.
    expect(skeleton("\u0455\u043e\u0440\u04bb\u0456\u0435")).toBe(skeleton("sophie"));
    // Greek ι ν ο.
    expect(skeleton("\u03b9\u03bd\u03bf")).toBe(skeleton("ivo"));
    expect(skeleton("\u03b1")).toBe("a");
  });

  it("maps look-alike sequences within Latin, as the standard does", () => {
    expect(skeleton("m")).toBe("rn");
    expect(skeleton("malice")).toBe(skeleton("rnalice"));
    expect(skeleton("bi11")).toBe(skeleton("bill"));
  });

  it("is NFD on both sides, so composed and decomposed forms agree and accents still count", () => {
    expect(skeleton("jos\u00e9")).toBe(skeleton("jose\u0301"));
    expect(skeleton("jos\u00e9")).toBe("jose\u0301");
    expect(skeleton("jos\u00e9")).not.toBe(skeleton("jose"));
  });

  it("keeps different addresses apart", () => {
    for (const [a, b] of [
      ["sophie", "sophia"],
      ["alice", "alicia"],
      // A real Cyrillic name is not a look-alike of a Latin one.
      ["\u0430\u043b\u0438\u0441\u0430", "anuca"],
      ["o", "0"],
    ] as const) {
      expect(skeleton(a), `${a} / ${b}`).not.toBe(skeleton(b));
    }
  });
});

describe("emailSkeleton", () => {
  it("gives the look-alikes of an address its skeleton, in the local part and the domain", () => {
    const alice = skeletonOf("alice@acme.com");
    // A whole-script Cyrillic local part and a Greek alpha in the domain: normalizeEmail accepts
    // both (one script before the @; a domain may mix).
    expect(skeletonOf("\u0455\u043e\u0440\u04bb\u0456\u0435@acme.com")).toBe(skeletonOf("sophie@acme.com"));
    expect(skeletonOf("alice@\u03b1cme.com")).toBe(alice);
    expect(skeletonOf("alice@\u0391CME.com")).toBe(alice);
    expect(skeletonOf("\u0399\u039d\u039f@acme.com")).toBe(skeletonOf("ivo@acme.com"));
    expect(skeletonOf("\uff21\uff2c\uff29\uff23\uff25@acme.com")).toBe(alice);
    expect(skeletonOf("rnalice@acme.com")).toBe(skeletonOf("malice@acme.com"));
  });

  it("tells addresses apart that differ by more than a look-alike", () => {
    expect(skeletonOf("alice@acme.com")).not.toBe(skeletonOf("alice@acme.co"));
    expect(skeletonOf("alice@acme.com")).not.toBe(skeletonOf("alice.b@acme.com"));
    expect(skeletonOf("alice+x@acme.com")).not.toBe(skeletonOf("alice@acme.com"));
  });
});
