import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { member } from "../support/members.js";
import { backends } from "../support/server.js";
import { startRestWorld, type RestWorld } from "./support/rest-world.js";

/**
 * Tries every way out of the caller's tenant that the REST syntax offers. acme's member must see
 * and change acme's rows only; globex's rows, read as the schema owner, must never move.
 */
describe.each(backends)("tenant escapes through /rest/v1 on %s storage", (backend) => {
  let world: RestWorld;
  let globexBefore: unknown;
  const globexRows = () => world.owner.query("SELECT * FROM orders WHERE tenant_id = 'globex' ORDER BY id").then((res) => res.rows);
  const get = (path: string, headers: Record<string, string> = {}) => world.rest(world.acme, "GET", path, { headers });
  const tenantsIn = (rows: unknown) => new Set((rows as { tenant_id?: string }[]).map((row) => row.tenant_id));

  beforeAll(async () => {
    world = await startRestWorld(backend);
    await world.sql(world.globex, "INSERT INTO items (name) VALUES ('globex-item')");
    globexBefore = await globexRows();
  });
  afterAll(() => world?.close());

  it.each([
    "/orders?tenant_id=eq.globex",
    "/orders?tenant_id=neq.acme",
    "/orders?or=(tenant_id.eq.globex,tenant_id.eq.acme)&tenant_id=neq.acme",
    "/orders?id=eq.4",
    "/orders?select=tenant_id::text&tenant_id=like.*glob*",
    "/orders?data->>color=eq.gold",
    "/orders?tags=cs.{secret}",
    "/orders?not.and=(tenant_id.eq.acme)",
    "/customers?select=name,orders(item)&orders.tenant_id=eq.globex&name=eq.Cy",
    "/orders?item=eq.widget&or=(id.eq.4,tenant_id.eq.globex)",
  ])("finds nothing of globex's with %s", async (path) => {
    const res = await get(path);
    expect(res.status, res.text).toBe(200);
    expect(res.json).toEqual([]);
  });

  it("orders, counts and embeds only the caller's rows", async () => {
    const ordered = await get("/orders?select=id,tenant_id&order=tenant_id.desc,id", { prefer: "count=exact" });
    expect((ordered.json as { id: number }[]).map((row) => row.id)).toEqual([1, 2, 3]);
    expect(ordered.headers.get("content-range")).toBe("0-2/3");
    for (const count of ["planned", "estimated"]) {
      const estimated = await get("/orders?select=id", { prefer: `count=${count}` });
      expect(estimated.headers.get("content-range")).toBe("0-2/3");
    }
    const embedded = await get("/customers?select=name,tenant_id,orders(item,tenant_id)");
    expect(tenantsIn(embedded.json)).toEqual(new Set(["acme"]));
    for (const customer of embedded.json as { orders: unknown[] }[]) expect(tenantsIn(customer.orders)).toEqual(new Set(["acme"]));
    const inner = await get("/customers?select=name,orders!inner(item)&orders.item=eq.widget");
    expect(inner.json).toEqual([]);
  });

  it("embeds nothing of another tenant's row that a foreign key points at", async () => {
    // Foreign-key checks run as the table owner, so an order may name globex's customer 3...
    const created = await world.rest(world.acme, "POST", "/orders?select=id,customers(name,city)", {
      body: { id: 10, customer_id: 3, item: "probe" },
      headers: { prefer: "return=representation" },
    });
    expect(created.status, created.text).toBe(201);
    // ...yet that customer stays invisible through every embedding.
    expect(created.json).toEqual([{ id: 10, customers: null }]);
    expect((await get("/orders?select=id,...customers(name)&id=eq.10")).json).toEqual([{ id: 10, name: null }]);
    expect((await get("/orders?select=id,customers!inner(name)&id=eq.10")).json).toEqual([]);
    await world.rest(world.acme, "DELETE", "/orders?id=eq.10");
  });

  it("cannot write into, move to or upsert over another tenant", async () => {
    const smuggled = await world.rest(world.acme, "POST", "/orders", { body: { id: 11, tenant_id: "globex", item: "smuggled" } });
    expect(smuggled.status, smuggled.text).toBe(403);
    expect(smuggled.json).toMatchObject({ code: "42501" });
    const moved = await world.rest(world.acme, "PATCH", "/orders?id=eq.1", { body: { tenant_id: "globex" } });
    expect(moved.status).toBe(403);
    expect(moved.json).toMatchObject({ code: "42501" });
    const merged = await world.rest(world.acme, "POST", "/orders?on_conflict=id", {
      body: { id: 4, item: "hijacked", amount: 0 },
      headers: { prefer: "resolution=merge-duplicates" },
    });
    expect(merged.status, merged.text).toBe(403);
    const ignored = await world.rest(world.acme, "POST", "/orders", {
      body: { id: 4, item: "hijacked" },
      headers: { prefer: "resolution=ignore-duplicates,return=representation" },
    });
    expect(ignored.json).toEqual([]);
    const bulk = await world.rest(world.acme, "POST", "/orders", { body: [{ id: 12, item: "fine", tenant_id: "acme" }, { id: 13, item: "bad", tenant_id: "globex" }] });
    expect(bulk.status, bulk.text).toBe(403);
    expect(await world.sql(world.acme, "SELECT id FROM orders WHERE id IN (11, 12, 13)")).toEqual([]);
    expect(await globexRows()).toEqual(globexBefore);
  });

  it("lets writes without filters touch only the caller's rows", async () => {
    const patched = await world.rest(world.acme, "PATCH", "/orders", { body: { note: "everything" }, headers: { prefer: "return=representation" } });
    expect(patched.status).toBe(200);
    expect(tenantsIn(patched.json)).toEqual(new Set(["acme"]));
    const deleted = await world.rest(world.acme, "DELETE", "/items", { headers: { prefer: "return=representation" } });
    expect(deleted.status).toBe(200);
    expect((await world.owner.query("SELECT name FROM items WHERE tenant_id = 'globex'")).rows).toEqual([{ name: "globex-item" }]);
    expect(await globexRows()).toEqual(globexBefore);
  });

  it("keeps non-admins out of X-Tenant-ID and confines admins to the tenant they name", async () => {
    const refused = await get("/orders", { "x-tenant-id": "globex" });
    expect(refused.status).toBe(403);
    const scoped = await world.rest(world.acmeAdmin, "GET", "/orders?select=id,tenant_id", { headers: { "x-tenant-id": "globex" } });
    expect(scoped.json).toEqual([{ id: 4, tenant_id: "globex" }]);
    const all = await world.rest(world.acmeAdmin, "GET", "/orders?select=tenant_id");
    expect(tenantsIn(all.json)).toEqual(new Set(["acme", "globex"]));
  });

  it.each([
    ["/auth.users", 404, "PGRST205"],
    ["/users", 404, "PGRST205"],
    ["/refresh_tokens", 404, "PGRST205"],
    ["/pg_authid", 404, "PGRST205"],
    ["/orders?select=id,users(*)", 400, "PGRST200"],
    ["/orders?select=%22id%22;drop table orders--", 400, "PGRST100"],
    ["/orders?order=id;drop table orders", 400, "42703"],
    ["/orders?select=id::text);drop table orders;--", 400, "PGRST100"],
    ["/orders?id=eq.1)%20or%20(1=1", 400, "22P02"],
    ["/rpc/set_config", 404, "PGRST202"],
    ["/rpc/pg_sleep", 404, "PGRST202"],
  ])("answers %s with %i %s, touching nothing", async (path, status, code) => {
    const res = await world.rest(world.acme, path.startsWith("/rpc") ? "POST" : "GET", path, path.startsWith("/rpc") ? { body: {} } : {});
    expect(res.status, res.text).toBe(status);
    expect(res.json).toMatchObject({ code });
    expect((await world.owner.query("SELECT count(*)::int AS n FROM orders")).rows).toEqual([{ n: 4 }]);
  });

  it("treats a value with SQL in it as a value", async () => {
    const res = await get("/orders?item=eq.'; DELETE FROM orders; --");
    expect(res.json).toEqual([]);
    expect((await world.owner.query("SELECT count(*)::int AS n FROM orders")).rows).toEqual([{ n: 4 }]);
  });

  it("answers a table hidden from the role exactly like a missing one", async () => {
    await world.owner.query("CREATE TABLE secrets (id int PRIMARY KEY, tenant_id text NOT NULL DEFAULT 'x')");
    await world.owner.query("REVOKE ALL ON secrets FROM helios_user");
    const hidden = await get("/secrets");
    const missing = await get("/nonexistent_secrets");
    expect(hidden.status).toBe(404);
    expect(hidden.json).toEqual({ ...(missing.json as object), message: "Could not find the table 'public.secrets' in the schema cache" });
  });
  it("keeps each user of a tenant to its own rows of an owned table (owner_id)", async () => {
    await world.sql(world.acmeAdmin, "CREATE TABLE notes (id serial PRIMARY KEY, tenant_id text NOT NULL, owner_id uuid NOT NULL, body text)");
    const colleague = await member(world.server, world.owner, "acme", ["read", "write"]);
    const mine = await world.rest(world.acme, "POST", "/notes", { body: { body: "mine" }, headers: { prefer: "return=representation" } });
    expect(mine.status, mine.text).toBe(201);
    const [note] = mine.json as { id: number; owner_id: string }[];
    const theirs = await world.rest(colleague, "POST", "/notes", { body: { body: "theirs" } });
    expect(theirs.status, theirs.text).toBe(201);

    const seen = await world.rest(colleague, "GET", "/notes?select=body");
    expect(seen.json).toEqual([{ body: "theirs" }]);
    const patched = await world.rest(colleague, "PATCH", `/notes?id=eq.${note?.id}`, { body: { body: "stolen" } });
    expect(patched.status, patched.text).toBe(204);
    const deleted = await world.rest(colleague, "DELETE", "/notes");
    expect(deleted.status, deleted.text).toBe(204);
    const claimed = await world.rest(colleague, "POST", "/notes", { body: { body: "forged", owner_id: note?.owner_id } });
    expect(claimed.status).toBe(403);
    const moved = await world.rest(world.acme, "PATCH", `/notes?id=eq.${note?.id}`, { body: { owner_id: "00000000-0000-0000-0000-000000000000" } });
    expect(moved.status).toBe(403);

    const stored = await world.owner.query("SELECT body FROM notes ORDER BY id");
    expect(stored.rows).toEqual([{ body: "mine" }]);
    expect((await world.rest(world.globex, "GET", "/notes")).json).toEqual([]);
    expect((await world.rest(world.acmeAdmin, "GET", "/notes?select=body")).json).toEqual([{ body: "mine" }]);
  });
});
