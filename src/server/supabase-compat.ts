import type { NodeServerRequest, NodeServerResponse } from "./node-types.js";

// What Supabase's auth-js needs beyond the guide's REST contract. auth-js marks every request with
// `X-Supabase-Api-Version`; only such requests get these adjustments, so the guide's shapes stay
// exactly as documented for everyone else.

/** The header in which Supabase clients (auth-js) ask for, and GoTrue declares, an API version. */
export const supabaseApiVersionHeader = "x-supabase-api-version";

/** The GoTrue API version we speak: its error bodies carry the reason as `code`. */
export const supabaseApiVersion = "2024-01-01";

/** True when the request asks for GoTrue API version 2024-01-01 or later. */
export function isSupabaseClient(req: NodeServerRequest): boolean {
  const requested = req.headers[supabaseApiVersionHeader];
  if (typeof requested !== "string" || !/^\d{4}-\d{2}-\d{2}$/.test(requested)) return false;
  return !Number.isNaN(Date.parse(requested)) && requested >= supabaseApiVersion;
}

/**
 * Answers a Supabase client in the API version it asked for, as GoTrue does: the response declares
 * 2024-01-01, and its error bodies add GoTrue's `code` (see {@link supabaseErrorFields}).
 */
export function negotiateSupabaseApiVersion(req: NodeServerRequest, res: NodeServerResponse): void {
  if (isSupabaseClient(req)) res.setHeader(supabaseApiVersionHeader, supabaseApiVersion);
}

/** The fields an error body adds for a response that declared a Supabase API version: `code`, the reason. */
export function supabaseErrorFields(res: NodeServerResponse, reason: string): { code?: string } {
  return res.getHeader(supabaseApiVersionHeader) === supabaseApiVersion ? { code: reason } : {};
}

/**
 * Body fields auth-js always sends to sign-up, sign-in and user updates, which mean nothing here when
 * empty: the captcha envelope (`gotrue_meta_security: {}`) and the PKCE challenge of the implicit
 * flow (`null`). User metadata (`data`) is a field of its own.
 */
const goTrueEnvelopeFields = ["gotrue_meta_security", "code_challenge", "code_challenge_method"];

function isEmpty(value: unknown): boolean {
  if (value === null || value === undefined || value === "") return true;
  if (typeof value !== "object" || Array.isArray(value)) return false;
  return Object.values(value).every(isEmpty);
}

/**
 * Drops the empty GoTrue envelope fields from the REST body of a Supabase client, so that the strict
 * request decoding accepts what auth-js sends. Non-empty ones (a captcha token, a PKCE challenge)
 * stay, and are refused as unknown fields: those features do not exist here.
 */
export function withoutGoTrueEnvelope(req: NodeServerRequest, body: Record<string, unknown>): Record<string, unknown> {
  if (!isSupabaseClient(req)) return body;
  const kept = { ...body };
  for (const name of goTrueEnvelopeFields) if (name in kept && isEmpty(kept[name])) delete kept[name];
  return kept;
}
