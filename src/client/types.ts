import type { JsonObject, JsonValue } from "@bufbuild/protobuf";

export type { JsonObject, JsonValue };

/** What a user's token allows: read (SELECT), write (+ INSERT/UPDATE/DELETE), admin (+ DDL, other tenants). */
export type UserScope = "read" | "write" | "admin";

/** An account, as its owner sees it. */
export interface HeliosUser {
  id: string;
  email: string;
  /** Always "authenticated" for users. */
  role: string;
  tenantId: string;
  scopes: UserScope[];
  createdAt: Date | undefined;
  lastSignInAt: Date | undefined;
  /** The user's own metadata (set at sign-up and by {@link HeliosClient.updateUser}). */
  userMetadata: JsonObject;
  /** Administrators' metadata about the user; read-only here. */
  appMetadata: JsonObject;
}

/** A live session of the signed-in user, as {@link HeliosClient.listSessions} lists it. */
export interface HeliosSessionInfo {
  id: string;
  createdAt: Date | undefined;
  /** Unset when never refreshed. */
  refreshedAt: Date | undefined;
  /** As sent when the session signed in. */
  userAgent: string;
  ip: string;
  /** True for this client's session. */
  current: boolean;
}

/** Options of {@link HeliosClient.signUp}. */
export interface SignUpOptions extends CallOptions {
  /** The new user's `user_metadata`: a JSON object of at most 2048 bytes. */
  data?: JsonObject;
}

/** What {@link HeliosClient.updateUser} changes; absent fields stay as they are. */
export interface UserUpdate {
  /** A new password; ends every other session of the user. */
  password?: string;
  /** Needed with a new password unless this session signed in within the server's reauthentication window. */
  currentPassword?: string;
  /** Merged into `user_metadata` key by key; a null value removes its key. */
  data?: JsonObject;
}

/** A signed-in session: what sign-up, sign-in and every refresh return. */
export interface HeliosSession {
  /** The JWT sent as `Authorization: Bearer`. */
  accessToken: string;
  /** Always "bearer". */
  tokenType: string;
  /** Lifetime of the access token in seconds. */
  expiresIn: number;
  /** Expiry of the access token in Unix seconds (the server's clock). */
  expiresAt: number;
  /** Single use: every refresh rotates it. */
  refreshToken: string;
  user: HeliosUser;
}

/** Which sessions {@link HeliosClient.signOut} revokes: this one, all of the user's, or all others. */
export type SignOutScope = "local" | "global" | "others";

/** One result column. */
export interface QueryColumn {
  name: string;
  /** PostgreSQL type name, such as "int4" or "timestamptz". */
  type: string;
}

/** The result of one statement; rows are objects keyed by column, or arrays in array mode. */
export interface QueryResult<Row extends JsonValue = JsonObject> {
  columns: QueryColumn[];
  rows: Row[];
  /** Rows returned, or affected by INSERT, UPDATE or DELETE. */
  rowCount: number;
  /** The command tag, such as "SELECT" or "INSERT". */
  command: string;
  /** True when the result was cut at the server's row cap. */
  truncated: boolean;
  /** What the server says about the statement: the kind of table DDL made, keys without tenant_id. */
  notices: string[];
}

/** Per-call options. */
export interface CallOptions {
  signal?: AbortSignal;
  /** Deadline of this call in milliseconds. */
  timeoutMs?: number;
}

/** Options of {@link HeliosClient.query}. */
export interface QueryOptions extends CallOptions {
  /** Run in a read-only transaction (the `ReadQuery` RPC), whatever the token's scopes. */
  readOnly?: boolean;
  /** Rows as arrays instead of objects (for duplicate column names). */
  arrayMode?: boolean;
  /** Address another tenant (`X-Tenant-ID`); admins only. */
  tenantId?: string;
}

/** The typed client of HeliosDB Nano's AuthService and QueryService. */
export interface HeliosClient {
  /** Creates an account and keeps its first session. */
  signUp(email: string, password: string, options?: SignUpOptions): Promise<HeliosSession>;
  /** Signs in with a password and keeps the session. */
  signIn(email: string, password: string, options?: CallOptions): Promise<HeliosSession>;
  /**
   * Rotates the refresh token now. Concurrent callers (and automatic refreshes) share one request:
   * there is never more than one refresh in flight.
   */
  refresh(): Promise<HeliosSession>;
  /** Revokes sessions on the server; forgets the local one unless `scope` is "others". */
  signOut(scope?: SignOutScope, options?: CallOptions): Promise<void>;
  /** The signed-in user, as the server knows it now. */
  getUser(options?: CallOptions): Promise<HeliosUser>;
  /** Changes the signed-in user's password and/or metadata; returns the user after the change. */
  updateUser(changes: UserUpdate, options?: CallOptions): Promise<HeliosUser>;
  /** The signed-in user's live sessions, newest first. */
  listSessions(options?: CallOptions): Promise<HeliosSessionInfo[]>;
  /** Ends one of the signed-in user's sessions (this one too: it is then forgotten here). */
  endSession(sessionId: string, options?: CallOptions): Promise<void>;
  /** Runs one SQL statement with `$1..$n` parameters as the signed-in user (or the API key). */
  query<Row extends JsonValue = JsonObject>(
    sql: string,
    params?: readonly JsonValue[],
    options?: QueryOptions,
  ): Promise<QueryResult<Row>>;
  /** The current session, if any. */
  readonly session: HeliosSession | undefined;
  /** Replaces the session (e.g. one restored from storage), or forgets it with `undefined`. */
  setSession(session: HeliosSession | undefined): void;
  /** Releases the transport's connections (Node HTTP/2 sessions); the client is unusable afterwards. */
  close(): void;
}
