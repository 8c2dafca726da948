import { Code } from "@connectrpc/connect";
import { HeliosError, type HeliosErrorReason } from "./helios-error.js";
import type { HeliosSession } from "./types.js";

/** Options of {@link createSessionKeeper}. */
export interface SessionKeeperOptions {
  /** Exchanges a refresh token for a new session (the Refresh RPC). */
  refresh(refreshToken: string): Promise<HeliosSession>;
  /**
   * Refresh before a call once less than this fraction of the token's lifetime remains; 0 refreshes
   * only when the server answers `token_expired`. Default 0.1.
   */
  refreshMargin?: number;
  /** Called when the server changes the session (sign-in, refresh, sign-out), e.g. to persist it. */
  onSessionChange?(session: HeliosSession | undefined): void;
  /** Clock in milliseconds; default `Date.now`. */
  now?: () => number;
}

/** Keeps the session and its access token fresh. */
export interface SessionKeeper {
  current(): HeliosSession | undefined;
  /** Stores a session just received from the server (`receivedAt` now) or restored from elsewhere. */
  set(session: HeliosSession | undefined, source: "server" | "restored"): void;
  /**
   * The access token to send now: refreshed first when it is about to expire (or joins the refresh in
   * flight).
   */
  freshToken(): Promise<string | undefined>;
  /**
   * Called after the server refused `staleToken` as expired: refreshes, unless another call already
   * replaced that token, and returns the token to retry with.
   */
  renew(staleToken: string): Promise<string>;
  /** Refreshes now; joins the refresh in flight if there is one. */
  refresh(): Promise<HeliosSession>;
}

/** Refresh failures that mean the session is over: sign in again. */
const sessionEndingReasons: ReadonlySet<HeliosErrorReason> = new Set([
  "invalid_refresh_token",
  "refresh_token_reused",
  "session_revoked",
  "user_banned",
]);

/**
 * When a session received at `receivedAt` (local ms) expires, on the local clock. `exp` counts whole
 * seconds, so the token lives between `expires_in - 1` and `expires_in` seconds from receipt; within
 * that window `expires_at` says exactly when, if the clocks agree. Clamping to the window keeps a
 * client whose clock is off from refreshing too late, or in a loop.
 */
function localExpiry(session: HeliosSession, receivedAt: number): number {
  const latest = receivedAt + session.expiresIn * 1000;
  const earliest = latest - 1000;
  return Math.min(latest, Math.max(earliest, session.expiresAt * 1000));
}

/**
 * Creates a {@link SessionKeeper}. Expiry is tracked on the local clock from `expires_in` at receipt
 * (see {@link localExpiry}), so a client whose clock differs from the server's still refreshes in
 * time. At most one refresh is in flight: refresh tokens are single-use, and two concurrent rotations
 * of one token would look like token theft to the server.
 */
export function createSessionKeeper(options: SessionKeeperOptions): SessionKeeper {
  const now = options.now ?? Date.now;
  const margin = options.refreshMargin ?? 0.1;
  if (!(margin >= 0 && margin < 1)) throw new RangeError("refreshMargin must be in [0, 1)");
  let session: HeliosSession | undefined;
  /** Local time (ms) at which the access token expires. */
  let expiresAtMs = 0;
  let inFlight: Promise<HeliosSession> | undefined;

  function set(next: HeliosSession | undefined, source: "server" | "restored"): void {
    session = next;
    expiresAtMs = next === undefined ? 0 : source === "server" ? localExpiry(next, now()) : next.expiresAt * 1000;
    if (source === "server") options.onSessionChange?.(next);
  }

  function refreshDue(): boolean {
    if (!session || margin === 0) return false;
    const lifetimeMs = Math.max(session.expiresIn, 0) * 1000;
    return expiresAtMs - now() <= lifetimeMs * margin;
  }

  function refresh(): Promise<HeliosSession> {
    inFlight ??= (async () => {
      const used = session;
      if (!used) throw new HeliosError("unauthorized", Code.Unauthenticated, "No session to refresh: sign in first");
      try {
        const next = await options.refresh(used.refreshToken);
        // A sign-in or sign-out while the refresh was in flight wins over its result.
        if (session === used) set(next, "server");
        return next;
      } catch (error) {
        const failure = HeliosError.from(error);
        if (session === used && sessionEndingReasons.has(failure.reason)) set(undefined, "server");
        throw failure;
      }
    })().finally(() => {
      inFlight = undefined;
    });
    return inFlight;
  }

  return {
    current: () => session,
    set,
    async freshToken() {
      if (inFlight || refreshDue()) {
        try {
          await refresh();
        } catch (error) {
          // An early refresh that failed (say, offline) leaves a token that is still good to use.
          if (!session || expiresAtMs <= now()) throw error;
        }
      }
      return session?.accessToken;
    },
    async renew(staleToken) {
      if (inFlight) await inFlight;
      if (session && session.accessToken !== staleToken) return session.accessToken;
      return (await refresh()).accessToken;
    },
    refresh,
  };
}
