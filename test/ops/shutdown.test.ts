import { existsSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freshDataDir, removeDataDir } from "../support/postgres.js";
import { bearer, sample, signUp } from "./support/api.js";
import { startChildServer, type ChildServer } from "./support/child-server.js";
import { rawRequest, type RawOutcome } from "./support/raw-http.js";
import { pollUntil } from "./support/wait.js";

/** The request ids of the request lines a server logged. */
function loggedRequestIds(output: string): Set<string> {
  const ids = new Set<string>();
  for (const line of output.split("\n")) {
    try {
      const entry = JSON.parse(line) as { msg?: unknown; reqId?: unknown };
      if (entry.msg === "request" && typeof entry.reqId === "string") ids.add(entry.reqId);
    } catch {
      // Not a log line.
    }
  }
  return ids;
}

describe("SIGTERM under load (embedded storage, child process)", () => {
  let dataDir: string;
  let server: ChildServer | undefined;
  beforeAll(() => {
    dataDir = freshDataDir("shutdown");
  });
  afterAll(async () => {
    await server?.stop("SIGKILL");
    await removeDataDir(dataDir);
  });

  it("stops taking work, finishes every request in flight, then stops PostgreSQL cleanly", async () => {
    server = await startChildServer(["--data-dir", dataDir, "--shutdown-timeout", "20", "--signup-rate-limit", "0", "--log-level", "debug"]);
    const { url } = server;
    const user = await signUp(url);
    const auth = bearer(user.session.access_token);

    // Slow requests, each holding a query connection for 3 s, in flight when SIGTERM arrives.
    const slow = Array.from({ length: 8 }, (_, i) =>
      rawRequest(url, "/api/v1/query", { headers: { ...auth, "x-request-id": `slow-${i}` }, body: { sql: "select pg_sleep(3) as slept" } }),
    );
    // And a steady load of short requests on fresh connections, until the port closes.
    let stopping = false;
    const load: Array<{ id: string; outcome: RawOutcome }> = [];
    const loops = Array.from({ length: 8 }, async (_, worker) => {
      for (let i = 0; i < 5000 && !stopping; i++) {
        const id = `load-${worker}-${i}`;
        const outcome = await rawRequest(url, "/auth/v1/user", { headers: { ...auth, "x-request-id": id } });
        load.push({ id, outcome });
        if (outcome.kind === "error" && outcome.code === "ECONNREFUSED") return;
      }
    });

    const inFlight = await pollUntil(async () => {
      const res = await fetch(`${url}/metrics`);
      return sample(await res.text(), "helios_requests_in_flight") >= 8 + 1;
    }, 10_000, 20);
    expect(inFlight, "the slow requests never were in flight together").toBeDefined();
    expect(await pollUntil(() => load.length >= 50, 2000), "the load did not get going").toBeDefined();
    const signalled = performance.now();
    const exited = server.stop("SIGTERM");

    const slowOutcomes = await Promise.all(slow);
    for (const outcome of slowOutcomes) {
      expect(outcome.kind === "response" && outcome.status, JSON.stringify(outcome)).toBe(200);
    }
    const { code, signal } = await exited;
    stopping = true;
    await Promise.all(loops);
    const shutdownMs = performance.now() - signalled;
    expect({ code, signal }).toEqual({ code: 0, signal: null });

    // Every request the server saw was answered in full; the rest never reached it (connection refused).
    const seen = loggedRequestIds(server.output());
    const failedInFlight = load.filter(({ id, outcome }) => (outcome.kind === "error" ? seen.has(id) : outcome.status !== 200));
    expect(failedInFlight).toEqual([]);
    const answered = load.filter(({ outcome }) => outcome.kind === "response").length;
    const afterSignal = load.filter(({ outcome }) => outcome.kind === "error").length;
    console.info(
      `SIGTERM: ${slowOutcomes.length} slow requests in flight all answered 200; ${answered} load requests answered 200, ` +
        `${afterSignal} refused after the port closed, 0 failed in flight; exit after ${shutdownMs.toFixed(0)} ms`,
    );

    expect(server.output()).toContain("embedded PostgreSQL stopped");
    expect(existsSync(join(dataDir, "pg", "postmaster.pid"))).toBe(false);
    const after = await rawRequest(url, "/health");
    expect(after).toMatchObject({ kind: "error", code: "ECONNREFUSED" });
  });
});
