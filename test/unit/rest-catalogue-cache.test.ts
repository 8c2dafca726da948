import { describe, expect, it } from "vitest";
import type { Principal } from "../../src/auth/principal.js";
import type { QueryRequest } from "../../src/query/executor.js";
import type { QueryResult } from "../../src/query/result-encoding.js";
import { createCatalogueCache } from "../../src/rest/schema-catalogue.js";

const principal = (scopes: Principal["scopes"]): Principal => ({ kind: "user", id: "u", role: "authenticated", tenantId: "t", scopes });

/** An executor answering a catalogue with one table named after the load's number. */
function countingExecutor() {
  const loads: QueryRequest[] = [];
  let release: (() => void) | undefined;
  let hold = false;
  return {
    loads,
    holdNext: () => {
      hold = true;
    },
    release: () => release?.(),
    async execute(request: QueryRequest): Promise<QueryResult> {
      loads.push(request);
      const name = `t${loads.length}`;
      if (hold) {
        hold = false;
        await new Promise<void>((resolve) => (release = resolve));
      }
      const catalogue = [{ name, kind: "table", comment: null, insertable: true, updatable: true, deletable: true, columns: [], keys: [] }];
      return { columns: [], rows: [{ catalogue }], row_count: 1, command: "SELECT", truncated: false };
    },
  };
}

const names = async (promise: Promise<{ tables: ReadonlyMap<string, unknown> }>) => [...(await promise).tables.keys()];

describe("/rest catalogue cache", () => {
  it("keeps one catalogue per role, reads it as the caller, and forgets it on schema changes", async () => {
    const executor = countingExecutor();
    let clock = 0;
    const cache = createCatalogueCache({ executor, ttlMs: 1000, now: () => clock });
    expect(await names(cache.get(principal(["read", "write"]), undefined))).toEqual(["t1"]);
    expect(await names(cache.get(principal(["read"]), undefined))).toEqual(["t1"]);
    expect(await names(cache.get(principal(["admin"]), undefined))).toEqual(["t2"]);
    expect(executor.loads.map((load) => [load.readOnly, load.principal.scopes])).toEqual([[true, ["read", "write"]], [true, ["admin"]]]);
    cache.forget();
    clock = 10;
    expect(await names(cache.get(principal(["read"]), undefined))).toEqual(["t3"]);
  });

  it("reloads a stale catalogue, serving the old one meanwhile, and waits once it is too old", async () => {
    const executor = countingExecutor();
    let clock = 0;
    const cache = createCatalogueCache({ executor, ttlMs: 1000, now: () => clock });
    const user = principal(["read"]);
    expect(await names(cache.get(user, undefined))).toEqual(["t1"]);
    clock = 1500;
    executor.holdNext();
    expect(await names(cache.get(user, undefined))).toEqual(["t1"]);
    expect(await names(cache.get(user, undefined))).toEqual(["t1"]);
    expect(executor.loads).toHaveLength(2);
    executor.release();
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(await names(cache.get(user, undefined))).toEqual(["t2"]);
    clock = 5000;
    expect(await names(cache.get(user, undefined))).toEqual(["t3"]);
  });

  it("does not keep a reload that began before a schema change", async () => {
    const executor = countingExecutor();
    let clock = 0;
    const cache = createCatalogueCache({ executor, ttlMs: 1000, now: () => clock });
    const user = principal(["read"]);
    await cache.get(user, undefined);
    clock = 1500;
    executor.holdNext();
    await cache.get(user, undefined);
    cache.forget();
    executor.release();
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(await names(cache.get(user, undefined))).toEqual(["t3"]);
  });
});
