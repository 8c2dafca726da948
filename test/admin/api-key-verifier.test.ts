import { ConnectError } from "@connectrpc/connect";
import { describe, expect, it, vi } from "vitest";
import { apiKeyIdOf, generateApiKey, hashApiKey, parseApiKeyId } from "../../src/auth/api-key-format.js";
import type { ApiKeyLookup, ApiKeyStore } from "../../src/auth/api-key-store.js";
import { createApiKeyVerifier } from "../../src/auth/api-key-verifier.js";
import { reasonOf } from "../../src/errors/catalogue.js";

/** A verifier over an in-memory store and a hand-driven clock. */
function setup(overrides: Partial<ApiKeyLookup> = {}) {
  const generated = generateApiKey();
  const clock = { t: 0 };
  const row: ApiKeyLookup = {
    id: generated.id,
    tenantId: "acme",
    scopes: ["read"],
    hash: generated.hash,
    revoked: false,
    expiresInMs: null,
    touchDue: true,
    ...overrides,
  };
  const store = {
    lookup: vi.fn<ApiKeyStore["lookup"]>(async (id) => (id === row.id ? { ...row } : undefined)),
    touch: vi.fn<ApiKeyStore["touch"]>(async () => undefined),
  };
  const verifier = createApiKeyVerifier({ store, logger: { warn: () => undefined }, now: () => clock.t });
  return { key: generated.key, row, store, clock, verifier };
}

const reason = (promise: Promise<unknown>) =>
  promise.then(
    () => "ok",
    (error: unknown) => (error instanceof ConnectError ? reasonOf(error) : String(error)),
  );

describe("API key format", () => {
  it("generates hdb_<id>_<secret> keys whose id and hash can be recovered", () => {
    const { id, key, hash } = generateApiKey();
    expect(key).toMatch(/^hdb_[a-z0-9]{8}_[A-Za-z0-9_-]{43}$/);
    expect(apiKeyIdOf(key)).toBe(id);
    expect(hashApiKey(key).equals(hash)).toBe(true);
    expect(parseApiKeyId(`hdb_${id}`)).toBe(id);
    expect(parseApiKeyId(id)).toBe(id);
    for (const junk of ["", "hdb_", "HDB_abcdefgh", "abc", `${key}x`, "hdb_abcdefgh_short"]) expect(apiKeyIdOf(junk)).toBeUndefined();
    expect(new Set(Array.from({ length: 50 }, () => generateApiKey().id)).size).toBe(50);
  });
});

describe("API key verifier", () => {
  it("returns the key's principal and records its use once per load", async () => {
    const { key, row, store, verifier } = setup();
    expect(await verifier.verify(key)).toEqual({ kind: "api_key", id: row.id, role: "authenticated", tenantId: "acme", scopes: ["read"] });
    await verifier.verify(key);
    expect(store.lookup).toHaveBeenCalledTimes(1);
    expect(store.touch).toHaveBeenCalledTimes(1);
  });

  it("refuses malformed keys without reading storage, and wrong secrets of a real id", async () => {
    const { key, store, verifier } = setup();
    expect(await reason(verifier.verify("not-a-key"))).toBe("invalid_api_key");
    expect(store.lookup).not.toHaveBeenCalled();
    expect(await reason(verifier.verify(`${key.slice(0, 13)}${"A".repeat(43)}`))).toBe("invalid_api_key");
  });

  it("re-reads a live key after 1 s, so revocations elsewhere show within that bound", async () => {
    const { key, row, store, clock, verifier } = setup();
    await verifier.verify(key);
    row.revoked = true;
    clock.t = 999;
    expect(await reason(verifier.verify(key))).toBe("ok");
    clock.t = 1000;
    expect(await reason(verifier.verify(key))).toBe("invalid_api_key");
    clock.t = 1e9;
    expect(await reason(verifier.verify(key))).toBe("invalid_api_key");
    expect(store.lookup).toHaveBeenCalledTimes(2);
  });

  it("takes a key revoked in this process out of service at once", async () => {
    const { key, row, verifier } = setup();
    await verifier.verify(key);
    verifier.revoked(row.id);
    expect(await reason(verifier.verify(key))).toBe("invalid_api_key");
  });

  it("expires a key at its deadline without reading storage again", async () => {
    const { key, store, clock, verifier } = setup({ expiresInMs: 500, touchDue: false });
    clock.t = 499;
    expect(await reason(verifier.verify(key))).toBe("ok");
    clock.t = 999;
    expect(await reason(verifier.verify(key))).toBe("invalid_api_key");
    expect(store.lookup).toHaveBeenCalledTimes(1);
    expect(store.touch).not.toHaveBeenCalled();
  });
});
