import { domainToASCII, domainToUnicode } from "node:url";
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
// Zero-width spaces and joiners, soft hyphens, bidi controls, variation selectors: invisible, so
// `al\u200bice` would look like `alice`.
const invisiblePattern = /[\p{Cf}\p{Default_Ignorable_Code_Point}]/u;

/**
 * Scripts a local part may mix: one of these groups (plus digits and punctuation, which belong to
 * none). A Cyrillic `а` among Latin letters is the classic look-alike; Japanese mixes three scripts.
 */
const scriptGroups: RegExp[][] = [
  [/\p{Script=Latin}/u],
  [/\p{Script=Cyrillic}/u],
  [/\p{Script=Greek}/u],
  [/\p{Script=Han}/u, /\p{Script=Hiragana}/u, /\p{Script=Katakana}/u],
  [/\p{Script=Han}/u, /\p{Script=Hangul}/u],
  [/\p{Script=Arabic}/u],
  [/\p{Script=Hebrew}/u],
  [/\p{Script=Devanagari}/u],
  [/\p{Script=Thai}/u],
  [/\p{Script=Armenian}/u],
  [/\p{Script=Georgian}/u],
];

/** Whether the letters of `text` all belong to one of the {@link scriptGroups}. */
function isSingleScript(text: string): boolean {
  const letters = [...text].filter((c) => /\p{L}/u.test(c));
  return letters.length === 0 || scriptGroups.some((group) => letters.every((c) => group.some((script) => script.test(c))));
}

function invalid(message: string): ConnectError {
  return apiError("validation_failed", message, { metadata: { field: "email" } });
}

/**
 * The canonical form of a user's email: trimmed, Unicode NFKC (fullwidth `ＡＬＩＣＥ` is `alice`),
 * lower-cased, the domain mapped by IDNA (UTS #46, Node's WHATWG URL implementation) and kept in its
 * Unicode form. Throws `validation_failed` (never echoing the input) when it is not a plausible
 * address: invisible or format characters anywhere, a local part mixing scripts (Latin with a
 * Cyrillic look-alike), one `@`, a local part of at most 64 characters without spaces, quotes or
 * leading/trailing/double dots, a domain IDNA refuses or of fewer than two labels of letters, digits
 * and inner hyphens, and more than 254 characters overall.
 */
export function normalizeEmail(raw: string): string {
  const trimmed = raw.trim();
  if (invisiblePattern.test(trimmed)) throw invalid("Email address must not contain invisible characters");
  const email = trimmed.normalize("NFKC").toLowerCase();
  if (email === "") throw invalid("Email address is required");
  if ([...email].length > maxEmailLength) throw invalid(`Email address must be at most ${maxEmailLength} characters`);
  if (controlPattern.test(email) || invisiblePattern.test(email)) throw invalid("Email address is invalid");

  const at = email.lastIndexOf("@");
  const local = email.slice(0, at);
  if (!isSingleScript(local)) throw invalid("Email address must not mix scripts before the @");
  const ascii = at > 0 ? domainToASCII(email.slice(at + 1)) : "";
  const domain = ascii === "" ? email.slice(at + 1) : domainToUnicode(ascii);
  const labels = ascii === "" ? [] : domain.split(".");
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
  return `${local}@${domain}`;
}
