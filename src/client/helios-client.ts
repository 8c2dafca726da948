import { fromJson, toJson, type JsonValue } from "@bufbuild/protobuf";
import { timestampDate, ValueSchema, type Timestamp } from "@bufbuild/protobuf/wkt";
import { Code, createClient, type Transport } from "@connectrpc/connect";
import { decodeJwt } from "jose";
import { AuthService, type Session, type SessionInfo, type User } from "../../gen/helios/auth/v1/auth_pb.js";
import { QueryService, type QueryResponse } from "../../gen/helios/query/v1/query_pb.js";
import { HeliosError, type HeliosErrorReason } from "./helios-error.js";
import { createSessionKeeper } from "./session-keeper.js";
import type {
  CallOptions,
  HeliosClient,
  HeliosSession,
  HeliosSessionInfo,
  HeliosUser,
  QueryOptions,
  QueryResult,
  SignUpOptions,
  UserScope,
} from "./types.js";

/** Options of every HeliosDB Nano client, whatever its transport. */
export interface HeliosClientCoreOptions {
  /** A session to start with, e.g. one persisted by {@link HeliosClientCoreOptions.onSessionChange}. */
  session?: HeliosSession;
  /**
   * An API key, sent as `X-API-Key` on calls without a session and on sign-up, sign-in and refresh
   * (a publishable key there).
   */
  apiKey?: string;
  /**
   * Refresh the access token before a call once less than this fraction of its lifetime remains
   * (default 0.1: six minutes of an hour); 0 refreshes only when the server answers `token_expired`.
   * Either way a call refused with `token_expired` is retried once after a refresh.
   */
  refreshMargin?: number;
  /** Called when the server changes the session (sign-in, refresh, sign-out), e.g. to persist it. */
  onSessionChange?(session: HeliosSession | undefined): void;
  /** Clock in milliseconds; default `Date.now`. */
  now?: () => number;
  /** Releases the transport's resources; called by {@link HeliosClient.close}. */
  closeTransport?(): void;
}

function date(timestamp: Timestamp | undefined): Date | undefined {
  return timestamp ? timestampDate(timestamp) : undefined;
}

function userOf(user: User | undefined): HeliosUser {
  if (!user) throw new HeliosError("internal_error", Code.Internal, "The server answered without a user");
  return {
    id: user.id,
    email: user.email,
    role: user.role,
    tenantId: user.tenantId,
    scopes: user.scopes as UserScope[],
    createdAt: date(user.createdAt),
    lastSignInAt: date(user.lastSignInAt),
    userMetadata: user.userMetadata ?? {},
    appMetadata: user.appMetadata ?? {},
  };
}

function sessionInfoOf(info: SessionInfo): HeliosSessionInfo {
  return {
    id: info.id,
    createdAt: date(info.createdAt),
    refreshedAt: date(info.refreshedAt),
    userAgent: info.userAgent,
    ip: info.ip,
    current: info.current,
  };
}

function sessionOf(session: Session): HeliosSession {
  return {
    accessToken: session.accessToken,
    tokenType: session.tokenType,
    expiresIn: session.expiresIn,
    expiresAt: session.expiresAt,
    refreshToken: session.refreshToken,
    user: userOf(session.user),
  };
}

function resultOf<Row extends JsonValue>(response: QueryResponse): QueryResult<Row> {
  return {
    columns: response.columns.map(({ name, type }) => ({ name, type })),
    rows: response.rows.map((row) => toJson(ValueSchema, row) as Row),
    rowCount: response.rowCount,
    command: response.command,
    truncated: response.truncated,
    notices: [...response.notices],
  };
}

/** The `session_id` claim of an access token (read, not verified: the server verifies). */
function sessionIdOf(accessToken: string): unknown {
  try {
    return decodeJwt(accessToken).session_id;
  } catch {
    return undefined;
  }
}

/** Failures of sign-out that mean the session is over on the server already. */
const sessionGoneReasons: ReadonlySet<HeliosErrorReason> = new Set([
  "session_revoked",
  "invalid_token",
  "invalid_refresh_token",
  "refresh_token_reused",
  "user_banned",
]);

/** Runs `call`, turning whatever it throws into a {@link HeliosError}. */
async function guarded<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    throw HeliosError.from(error);
  }
}

/**
 * Creates a client over any Connect `Transport` (Connect, gRPC or gRPC-Web; Node or browser). This
 * is the core that `createHeliosClient` of the Node and web entries wrap with a transport.
 */
export function createHeliosClientWithTransport(transport: Transport, options: HeliosClientCoreOptions = {}): HeliosClient {
  const auth = createClient(AuthService, transport);
  const queries = createClient(QueryService, transport);
  const keyHeader: Record<string, string> = options.apiKey ? { "x-api-key": options.apiKey } : {};
  const keeper = createSessionKeeper({
    refreshMargin: options.refreshMargin,
    onSessionChange: options.onSessionChange,
    now: options.now,
    refresh: async (refreshToken) => sessionOf(await auth.refresh({ refreshToken }, { headers: keyHeader })),
  });
  if (options.session) keeper.set(options.session, "restored");

  const credentials = (token: string | undefined): Record<string, string> =>
    token === undefined ? keyHeader : { authorization: `Bearer ${token}` };

  /**
   * Runs a call that needs credentials with a fresh token; when the server still answers
   * `token_expired` (a clock jump, a token that expired in flight), refreshes and retries once.
   */
  async function authenticated<T>(call: (headers: Record<string, string>) => Promise<T>): Promise<T> {
    const token = await keeper.freshToken();
    try {
      return await call(credentials(token));
    } catch (error) {
      const failure = HeliosError.from(error);
      if (failure.reason !== "token_expired" || token === undefined) throw failure;
      const renewed = await keeper.renew(token);
      return guarded(() => call(credentials(renewed)));
    }
  }

  async function startSession(call: () => Promise<Session>): Promise<HeliosSession> {
    const session = sessionOf(await guarded(call));
    keeper.set(session, "server");
    return session;
  }

  return {
    signUp: (email, password, { data, ...callOptions }: SignUpOptions = {}) =>
      startSession(() => auth.signUp({ email, password, data }, { ...callOptions, headers: keyHeader })),
    signIn: (email, password, callOptions: CallOptions = {}) =>
      startSession(() => auth.token({ grantType: "password", email, password }, { ...callOptions, headers: keyHeader })),
    refresh: () => keeper.refresh(),
    async signOut(scope = "local", callOptions: CallOptions = {}) {
      if (!keeper.current()) return;
      try {
        await authenticated((headers) => auth.logout({ scope }, { ...callOptions, headers }));
      } catch (error) {
        // A session the server no longer honours is signed out already; forget it here too.
        if (!sessionGoneReasons.has(HeliosError.from(error).reason)) throw error;
      }
      if (scope !== "others") keeper.set(undefined, "server");
    },
    getUser: (callOptions: CallOptions = {}) =>
      authenticated(async (headers) => userOf(await auth.getUser({}, { ...callOptions, headers }))),
    async updateUser(changes, callOptions: CallOptions = {}) {
      const request = { password: changes.password ?? "", currentPassword: changes.currentPassword ?? "", data: changes.data };
      const user = await authenticated(async (headers) => userOf(await auth.updateUser(request, { ...callOptions, headers })));
      const current = keeper.current();
      if (current) keeper.set({ ...current, user }, "server");
      return user;
    },
    listSessions: (callOptions: CallOptions = {}) =>
      authenticated(async (headers) => (await auth.listSessions({}, { ...callOptions, headers })).sessions.map(sessionInfoOf)),
    async endSession(sessionId, callOptions: CallOptions = {}) {
      const current = keeper.current();
      await authenticated((headers) => auth.endSession({ id: sessionId }, { ...callOptions, headers }));
      if (current && sessionIdOf(current.accessToken) === sessionId) keeper.set(undefined, "server");
    },
    query<Row extends JsonValue>(sql: string, params: readonly JsonValue[] = [], queryOptions: QueryOptions = {}) {
      const { readOnly = false, arrayMode = false, tenantId, ...callOptions } = queryOptions;
      const request = { sql, params: params.map((param) => fromJson(ValueSchema, param)), arrayMode };
      const rpc = readOnly ? queries.readQuery : queries.query;
      return authenticated(async (headers) => {
        const tenant: Record<string, string> = tenantId === undefined ? {} : { "x-tenant-id": tenantId };
        return resultOf<Row>(await rpc(request, { ...callOptions, headers: { ...headers, ...tenant } }));
      });
    },
    get session() {
      return keeper.current();
    },
    setSession: (session) => keeper.set(session, "restored"),
    close: () => options.closeTransport?.(),
  };
}
