import { ConnectError, type HandlerContext } from "@connectrpc/connect";
import { principalOf, type Principal } from "../auth/principal.js";
import { apiError, reasonOf } from "../errors/catalogue.js";
import type { QueryExecutor } from "../query/executor.js";
import type { JsonValue } from "../query/result-encoding.js";
import { sendError, sendJson } from "../server/http-response.js";
import type { NodeServerRequest, NodeServerResponse } from "../server/node-types.js";
import { bodyTooLarge, readBody } from "../server/read-body.js";
import { noteRequestReason } from "../server/request-observer.js";
import type { HttpRoute } from "../server/request-handler.js";
import { toCsv } from "./csv.js";
import { parsePreferences } from "./preferences.js";
import { restError, restFailureAnswer } from "./rest-errors.js";
import { restMethod, type RestOperation } from "./rest-methods.js";
import { buildRestOpenApi } from "./rest-openapi.js";
import type { CatalogueCache } from "./schema-catalogue.js";
import { singularMarker, translate, type RestMethod, type RestRequest, type TranslateLimits } from "./translate.js";

/** Bounds of the `/rest` route. */
export interface RestLimits extends TranslateLimits {
  /** Longest query string accepted, in bytes (`--rest-max-query-bytes`). */
  maxQueryBytes: number;
  /** Largest request body accepted, in bytes (`--max-body-bytes`). */
  maxBodyBytes: number;
}

/** Options of {@link createRestRoute}. */
export interface RestRouteOptions {
  executor: Pick<QueryExecutor, "execute">;
  catalogue: CatalogueCache;
  limits: RestLimits;
}

/** The answer of a served request, written once the interceptors return. */
interface Answer {
  status: number;
  headers: Record<string, string>;
  body?: string;
  contentType?: string;
}

type Format = "json" | "object" | "csv";

const prefix = "/rest/v1";

/** The format an `Accept` header asks for: the first one offered that `/rest` can produce. */
function acceptedFormat(accept: string | null): Format {
  if (accept === null || accept.trim() === "") return "json";
  for (const entry of accept.split(",")) {
    const type = entry.split(";", 1)[0]?.trim().toLowerCase() ?? "";
    if (type === "application/json" || type === "*/*" || type === "application/*") return "json";
    if (type === "application/vnd.pgrst.object+json" || type === "application/vnd.pgrst.object") return "object";
    if (type === "text/csv" || type === "text/*") return "csv";
  }
  throw restError("rest_not_acceptable", `None of these media types are available: ${accept}`);
}

/** A `Range: a-b` request header (items), as offset and limit. */
function requestedRange(header: string | null): RestRequest["range"] {
  if (header === null) return undefined;
  const match = /^(?:items=)?(\d{1,15})-(\d{0,15})$/.exec(header.trim());
  if (!match) throw restError("rest_bad_range", "Requested range not satisfiable", { details: `"${header}" is not a range like 0-9` });
  const offset = Number(match[1]);
  if (match[2] === "" || match[2] === undefined) return { offset };
  const last = Number(match[2]);
  if (last < offset) throw restError("rest_bad_range", "Requested range not satisfiable", { details: `The range ${header} ends before it starts` });
  return { offset, limit: last - offset + 1 };
}

function checkProfile(context: HandlerContext, writing: boolean): void {
  const profile = context.requestHeader.get(writing ? "content-profile" : "accept-profile");
  if (profile !== null && profile !== "public") {
    throw restError("rest_bad_schema", "The schema must be one of the following: public", {
      details: `The schema '${profile}' is not exposed`,
    });
  }
}

async function readJson(req: NodeServerRequest, maxBytes: number): Promise<unknown> {
  const contentType = String(req.headers["content-type"] ?? "").split(";")[0]?.trim().toLowerCase() ?? "";
  if (contentType !== "" && contentType !== "application/json" && !contentType.endsWith("+json")) {
    throw apiError("unsupported_media_type");
  }
  const body = await readBody(req, maxBytes);
  if (body === "too_large") throw bodyTooLarge(maxBytes);
  if (body.length === 0) return undefined;
  try {
    return JSON.parse(body.toString("utf8")) as unknown;
  } catch (error) {
    throw restError("rest_bad_body", "Empty or invalid json", { details: error instanceof Error ? error.message : undefined });
  }
}

/** `Location` of an inserted row, by its primary key: `/t?id=eq.5`. */
function location(table: string, primaryKey: string[], row: Record<string, JsonValue> | undefined): string | undefined {
  if (!row || primaryKey.length === 0) return undefined;
  const params = new URLSearchParams();
  for (const name of primaryKey) params.set(name, `eq.${String(row[name])}`);
  return `/${encodeURIComponent(table)}?${params.toString()}`;
}

/**
 * Creates the `/rest/v1` route. Every request runs through the server's interceptors (credentials,
 * error boundary, request scope: see {@link InProcessCall}), is translated into one parameterised
 * statement against the catalogue of the caller's role, and runs through the query executor with
 * the caller's role, claims, RLS policies, timeout, row cap and concurrency cap. Failures answer in
 * PostgREST's shape, except credential, scope and capacity failures, which keep the catalogue's.
 */
export function createRestRoute(options: RestRouteOptions): HttpRoute {
  const { executor, catalogue, limits } = options;

  async function serveTable(context: HandlerContext, req: NodeServerRequest, table: string, method: RestMethod, url: URL): Promise<Answer> {
    const principal = principalOf(context);
    const reading = method === "GET" || method === "HEAD";
    checkProfile(context, !reading);
    if (Buffer.byteLength(url.search) > limits.maxQueryBytes) {
      throw restError("rest_limit_exceeded", `The query string is longer than ${limits.maxQueryBytes} bytes (--rest-max-query-bytes)`);
    }
    const format = acceptedFormat(context.requestHeader.get("accept"));
    const request: RestRequest = {
      method,
      table,
      query: url.searchParams,
      prefer: parsePreferences(context.requestHeader.get("prefer") ?? undefined),
      singular: format === "object",
      range: reading ? requestedRange(context.requestHeader.get("range")) : undefined,
    };
    if (method === "POST" || method === "PATCH") request.body = await readJson(req, limits.maxBodyBytes);
    const tenantOverride = context.requestHeader.get("x-tenant-id") ?? undefined;
    const translation = translate(request, await catalogue.get(principal, tenantOverride), limits);
    const row = await run(principal, translation.sql, translation.params, translation.readOnly, tenantOverride);
    const page = Number(row.page ?? 0);
    const total = row.total === null || row.total === undefined ? undefined : Number(row.total);
    const body = typeof row.body === "string" ? row.body : undefined;
    const headers: Record<string, string> = {};
    if (translation.applied.length > 0) headers["preference-applied"] = translation.applied.join(", ");
    if (request.singular && page !== 1) {
      throw restError("rest_not_one_row", "Cannot coerce the result to a single JSON object", { details: `The result contains ${page} rows` });
    }

    if (reading) {
      const { offset } = translation;
      if (total !== undefined && page === 0 && offset > 0 && offset >= total) {
        throw restError("rest_bad_range", "Requested range not satisfiable", {
          details: `An offset of ${offset} was given, but there are only ${total} rows.`,
          headers: { "content-range": `*/${total}` },
        });
      }
      headers["content-range"] = `${page > 0 ? `${offset}-${offset + page - 1}` : "*"}/${total ?? "*"}`;
      const partial = total !== undefined && (offset > 0 || offset + page < total);
      return { status: partial ? 206 : 200, headers, ...encodeBody(format, body ?? "[]", translation.columns) };
    }

    if (total !== undefined) headers["content-range"] = `*/${total}`;
    const returned = request.prefer.return ?? "minimal";
    if (returned === "headers-only" && method === "POST") {
      const first = body === undefined ? undefined : (JSON.parse(body) as Record<string, JsonValue>[])[0];
      const where = location(table, translation.primaryKey, first);
      if (where !== undefined) headers.location = where;
    }
    if (returned !== "representation") return { status: method === "POST" ? 201 : 204, headers };
    return { status: method === "POST" ? 201 : 200, headers, ...encodeBody(format, body ?? "[]", translation.columns) };
  }

  /** Runs one statement through the executor; its one row carries total, page and body. */
  async function run(
    principal: Principal,
    sql: string,
    params: JsonValue[],
    readOnly: boolean,
    tenantOverride: string | undefined,
  ): Promise<Record<string, JsonValue>> {
    try {
      const result = await executor.execute({ principal, sql, params, readOnly, tenantOverride });
      return (result.rows[0] as Record<string, JsonValue> | undefined) ?? {};
    } catch (error) {
      const failure = ConnectError.from(error);
      const marker = reasonOf(failure) === "sql_error" ? failure.rawMessage.indexOf(singularMarker) : -1;
      if (marker < 0) throw failure;
      const count = Number.parseInt(failure.rawMessage.slice(marker + singularMarker.length), 10);
      throw restError("rest_not_one_row", "Cannot coerce the result to a single JSON object", { details: `The result contains ${count} rows` });
    }
  }

  async function serveDescription(context: HandlerContext, url: URL): Promise<Answer> {
    const principal = principalOf(context);
    checkProfile(context, false);
    const described = await catalogue.get(principal, context.requestHeader.get("x-tenant-id") ?? undefined);
    const document = buildRestOpenApi(described, { basePath: prefix, host: context.requestHeader.get("host") ?? url.host });
    return { status: 200, headers: {}, body: JSON.stringify(document), contentType: "application/openapi+json; charset=utf-8" };
  }

  function write(res: NodeServerResponse, answer: Answer, head: boolean): void {
    const headers: Record<string, string> = { ...answer.headers };
    if (answer.body !== undefined) {
      headers["content-type"] = answer.contentType ?? "application/json; charset=utf-8";
      headers["content-length"] = String(Buffer.byteLength(answer.body));
    }
    res.writeHead(answer.status, headers);
    if (head || answer.body === undefined) res.end();
    else res.end(answer.body);
  }

  function fail(res: NodeServerResponse, error: ConnectError): void {
    const headers: Record<string, string> = {};
    for (const [name, value] of error.metadata) headers[name] = value;
    const answer = restFailureAnswer(error);
    if (answer.shape === "postgrest") sendJson(res, answer.status, answer.body, headers);
    else sendError(res, answer.reason, answer.message, { headers });
  }

  return {
    route(req, res, path, call) {
      if (path !== prefix && !path.startsWith(`${prefix}/`)) return undefined;
      const url = new URL(req.url ?? "/", "http://localhost");
      const segments = path.slice(prefix.length).split("/").filter((segment) => segment !== "");
      const method = (req.method ?? "GET").toUpperCase();
      const head = method === "HEAD";
      let operation: RestOperation;
      let work: (context: HandlerContext) => Promise<Answer>;
      let allowed: string;
      if (segments.length === 0) {
        allowed = "GET, HEAD";
        operation = "Describe";
        work = (context) => serveDescription(context, url);
      } else if (segments[0] === "rpc" && segments.length === 2) {
        allowed = "GET, HEAD, POST";
        operation = "CallFunction";
        const name = decodeURIComponent(segments[1] ?? "");
        work = async (context) => {
          principalOf(context);
          throw restError("rest_function_not_found", `Could not find the function public.${name} without parameters in the schema cache`, {
            details: `Searched for the function public.${name} without parameters or with a single unnamed json/jsonb parameter, but no matches were found in the schema cache.`,
            hint: "Functions cannot be created through this service",
          });
        };
      } else if (segments.length === 1) {
        allowed = "GET, HEAD, POST, PATCH, DELETE";
        const table = decodeURIComponent(segments[0] ?? "");
        const verbs: Record<string, RestOperation> = { GET: "Read", HEAD: "Read", POST: "Insert", PATCH: "Update", DELETE: "Delete" };
        operation = verbs[method] ?? "Read";
        work = (context) => serveTable(context, req, table, method as RestMethod, url);
      } else {
        return undefined;
      }
      if (!allowed.split(", ").includes(method)) {
        return () => {
          noteRequestReason("method_not_allowed");
          sendError(res, "method_not_allowed", `Method ${method} is not allowed; use ${allowed}`, { headers: { allow: allowed } });
        };
      }
      return async () => {
        try {
          write(res, await call(req, res, restMethod[operation], work), head);
        } catch (error) {
          fail(res, ConnectError.from(error));
        }
      };
    },
  };
}

function encodeBody(format: "json" | "object" | "csv", json: string, columns: string[]): Pick<Answer, "body" | "contentType"> {
  if (format === "object") {
    // The answer holds exactly one row here: json_agg's "[row]" without its brackets.
    return { body: json.slice(1, -1), contentType: "application/vnd.pgrst.object+json; charset=utf-8" };
  }
  if (format === "csv") return { body: toCsv(columns, JSON.parse(json) as Record<string, JsonValue>[]), contentType: "text/csv; charset=utf-8" };
  return { body: json };
}
