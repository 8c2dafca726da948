import type { ConnectError } from "@connectrpc/connect";
import { apiError } from "../errors/catalogue.js";

/** Longest address accepted, in characters (RFC 5321's path limit minus the angle brackets). */
export const maxEmailLength = 254;

/** Longest local part (before the `@`), in characters (RFC 5321 §4.5.3.1.1). */
export const maxEmailLocalLength = 64;

// Pragmatic rather than RFC 5322: no quoted local parts, comments or IP literals, which no real sign-up
// needs and which make "the same address" ambiguous. Non-ASCII is allowed (internationalised addresses).
const localPattern = /^[^\s@"(),:;<>[\\\]]+$/u;
const labelPattern = /^[\p{L}\p{N}](?:[\p{L}\p{N}-]*[\p{L}\p{N}])?$/u;
// eslint-disable-next-line no-control-regex -- the point is to find control characters
const controlPattern = /[\u0000-\u001f\u007f-\u009f]/u;

function invalid(message: string): ConnectError {
  return apiError("validation_failed", message, { metadata: { field: "email" } });
}

/**
 * The canonical form of a user's email: trimmed, Unicode NFC, lower-cased. Throws `validation_failed`
 * (never echoing the input) when it is not a plausible address: one `@`, a local part of at most 64
 * characters without spaces, quotes or leading/trailing/double dots, a domain of at least two labels
 * of letters, digits and inner hyphens, and at most 254 characters overall.
 */
export function normalizeEmail(raw: string): string {
  const email = raw.trim().normalize("NFC").toLowerCase();
  if (email === "") throw invalid("Email address is required");
  if ([...email].length > maxEmailLength) throw invalid(`Email address must be at most ${maxEmailLength} characters`);
  if (controlPattern.test(email)) throw invalid("Email address is invalid");

  const at = email.lastIndexOf("@");
  const local = email.slice(0, at);
  const domain = email.slice(at + 1);
  const labels = domain.split(".");
  const valid =
    at > 0 &&
    [...local].length <= maxEmailLocalLength &&
    localPattern.test(local) &&
    !local.startsWith(".") &&
    !local.endsWith(".") &&
    !local.includes("..") &&
    labels.length >= 2 &&
    labels.every((label) => label.length <= 63 && labelPattern.test(label)) &&
    // A top-level domain is never all digits; this refuses bare IPv4 addresses.
    !/^\d+$/.test(labels[labels.length - 1] ?? "");
  if (!valid) throw invalid("Email address is invalid");
  return email;
}
