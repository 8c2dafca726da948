import { apiError } from "../errors/catalogue.js";
import { commonPasswords } from "./common-passwords.js";

/** Fewest characters (Unicode code points) a password may have. */
export const minPasswordChars = 8;

/** Most UTF-8 bytes a password may have; bounds the work one sign-up or sign-in can cause. */
export const maxPasswordBytes = 1024;

/**
 * Why a password was refused. The names follow Supabase Auth's `weak_password.reasons` so that its
 * clients understand them: `length` (too short or too long), `characters` (nothing but whitespace),
 * `pwned` (one of the most common passwords).
 */
export type PasswordPolicyReason = "length" | "characters" | "pwned";

/** One failed rule: its reason and a sentence for humans. */
export interface PasswordPolicyViolation {
  reason: PasswordPolicyReason;
  message: string;
}

/** Every rule `password` breaks, in a stable order; empty when it is acceptable. */
export function passwordPolicyViolations(password: string): PasswordPolicyViolation[] {
  const violations: PasswordPolicyViolation[] = [];
  const bytes = Buffer.byteLength(password, "utf8");
  if (bytes > maxPasswordBytes) {
    violations.push({ reason: "length", message: `Password should be at most ${maxPasswordBytes} bytes.` });
  } else if ([...password].length < minPasswordChars) {
    violations.push({ reason: "length", message: `Password should be at least ${minPasswordChars} characters.` });
  }
  if (password.trim() === "") {
    violations.push({ reason: "characters", message: "Password should not consist only of whitespace." });
  }
  // Only look up passwords of a length the list can hold; keeps huge inputs out of normalize().
  if (bytes <= 64 && commonPasswords.has(password.normalize("NFKC").toLowerCase())) {
    violations.push({ reason: "pwned", message: "Password is one of the most commonly used passwords." });
  }
  return violations;
}

/** The reasons `password` is refused (see {@link PasswordPolicyReason}); empty when it is acceptable. */
export function checkPasswordPolicy(password: string): PasswordPolicyReason[] {
  return [...new Set(passwordPolicyViolations(password).map((v) => v.reason))];
}

/**
 * Throws `weak_password` when `password` breaks a rule. The message lists the failed rules and the
 * ErrorInfo metadata carries `reasons` as a comma-separated list. The password itself never appears.
 */
export function assertPasswordPolicy(password: string): void {
  const violations = passwordPolicyViolations(password);
  if (violations.length === 0) return;
  const reasons = [...new Set(violations.map((v) => v.reason))];
  throw apiError("weak_password", `Password is too weak: ${violations.map((v) => v.message).join(" ")}`, {
    metadata: { reasons: reasons.join(",") },
  });
}
