import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { backends } from "../support/server.js";
import { startRestWorld, type RestWorld } from "./support/rest-world.js";

/** The `/rest` syntax, statuses and headers over plain HTTP (curl's view), on both storages. */
describe.each(backends)("/rest/v1 over HTTP on %s storage", (backend) => {
  let world: RestWorld;
  beforeAll(async () => {
    world = await startRestWorld(backend, ["--row-cap", "50", "--rest-max-in-list", "20", "--rest-max-depth", "3"]);
  });
  afterAll(() => world?.close());
  const get = (path: string, headers: Record<string, string> = {}) => world.rest(world.acme, "GET", path, { headers });
  const ids = async (path: string) => {
    const res = await get(path);
    expect(res.status, res.text).toBe(200);
    return (res.json as { id: number }[]).map((row) => row.id);
  };

  it("answers the guide's curl example", async () => {
    const res = await get("/orders?select=id,item&amount=gt.6&order=id.desc&limit=5");
    expect(res.status, res.text).toBe(200);
    expect(res.json).toEqual([{ id: 2, item: "rocket" }, { id: 1, item: "anvil" }]);
    expect(res.headers.get("content-range")).toBe("0-1/*");
    expect(res.headers.get("content-type")).toMatch(/^application\/json/);
  });

  it("selects columns, renames, casts and JSON paths", async () => {
    const res = await get("/orders?select=ref:id,amount::text,data->color,color:data->>color,w:data->size->w&id=eq.1");
    expect(res.json).toEqual([{ ref: 1, amount: "10", color: "black", w: 3 }]);
    const star = await get("/orders?id=eq.3");
    expect(star.json).toEqual([
      { id: 3, tenant_id: "acme", customer_id: 2, item: "glue", amount: 5, tags: [], data: null, note: "sticky" },
    ]);
  });

  it.each([
    ["id=eq.2", [2]],
    ["id=neq.2", [1, 3]],
    ["amount=gte.10", [1, 2]],
    ["amount=lt.10", [3]],
    ["amount=lte.10", [1, 3]],
    ["item=like.*o*", [2]],
    ["item=ilike.A*", [1]],
    ["item=match.^g", [3]],
    ["item=imatch.^ROCK", [2]],
    ["id=in.(1,3)", [1, 3]],
    ["note=in.(\"fragile, handle with care\",sticky)", [1, 3]],
    ["note=is.null", [2]],
    ["note=not.is.null", [1, 3]],
    ["note=isdistinct.sticky", [1, 2]],
    ["tags=cs.{heavy}", [1]],
    ["tags=cd.{fast,heavy,x}", [2, 3]],
    ["tags=ov.{fast,iron}", [1, 2]],
    ["data=cs.{\"color\":\"red\"}", [2]],
    ["data->>color=eq.black", [1]],
    ["data->size->>w=eq.3", [1]],
    ["item=not.eq.anvil", [2, 3]],
    ["item=like(any).{a*,g*}", [1, 3]],
    ["item=like(all).{*o*,r*}", [2]],
    ["note=fts.fragile", [1]],
    ["note=plfts(english).handle care", [1]],
    ["note=phfts.handle with care", [1]],
    ["note=wfts.sticky or fragile", [1, 3]],
    ["or=(id.eq.1,amount.lt.6)", [1, 3]],
    ["or=(id.eq.1,and(amount.gt.6,item.eq.rocket))", [1, 2]],
    ["not.or=(id.eq.1,id.eq.2)", [3]],
    ["and=(amount.gt.1,or(item.eq.glue,item.eq.anvil))&id=neq.1", [3]],
    ["id=gt.0&id=lt.3", [1, 2]],
  ])("filters %s", async (filter, expected) => {
    expect(await ids(`/orders?select=id&order=id&${filter}`)).toEqual(expected);
  });

  it("orders, limits and offsets, with nulls placement", async () => {
    expect(await ids("/orders?order=note.desc.nullsfirst,id")).toEqual([2, 3, 1]);
    expect(await ids("/orders?order=note.asc.nullslast")).toEqual([1, 3, 2]);
    expect(await ids("/orders?order=data->>color.desc")).toEqual([3, 2, 1]);
    const page = await get("/orders?select=id&order=id&limit=1&offset=1");
    expect(page.json).toEqual([{ id: 2 }]);
    expect(page.headers.get("content-range")).toBe("1-1/*");
  });

  it("pages with the Range header and counts with Prefer", async () => {
    const res = await get("/orders?select=id&order=id", { range: "1-5", "range-unit": "items", prefer: "count=exact" });
    expect(res.status).toBe(206);
    expect(res.json).toEqual([{ id: 2 }, { id: 3 }]);
    expect(res.headers.get("content-range")).toBe("1-2/3");
    expect(res.headers.get("preference-applied")).toBe("count=exact");
    const all = await get("/orders?select=id", { prefer: "count=exact" });
    expect(all.status).toBe(200);
    expect(all.headers.get("content-range")).toBe("0-2/3");
    for (const count of ["planned", "estimated"]) {
      const estimated = await get("/orders?select=id", { prefer: `count=${count}` });
      expect(estimated.status).toBe(200);
      expect(estimated.headers.get("content-range")).toMatch(/^0-2\/\d+$/);
    }
    const countOnly = await get("/orders?limit=0", { prefer: "count=exact" });
    expect(countOnly.json).toEqual([]);
    expect(countOnly.headers.get("content-range")).toBe("*/3");
    const beyond = await get("/orders?offset=10", { prefer: "count=exact" });
    expect(beyond.status).toBe(416);
    expect(beyond.json).toMatchObject({ code: "PGRST103" });
    expect(beyond.headers.get("content-range")).toBe("*/3");
    const inverted = await get("/orders", { range: "5-1" });
    expect(inverted.status).toBe(416);
    expect(inverted.json).toMatchObject({ code: "PGRST103" });
  });

  it("caps every answer at the row cap", async () => {
    await world.sql(world.acme, "INSERT INTO items (name) SELECT 'cap-' || g FROM generate_series(1, 60) g");
    const res = await get("/items?select=id&name=like.cap-*", { prefer: "count=exact" });
    expect((res.json as unknown[]).length).toBe(50);
    expect(res.status).toBe(206);
    expect(res.headers.get("content-range")).toBe("0-49/60");
    await world.sql(world.acme, "DELETE FROM items WHERE name LIKE 'cap-%'");
  });

  it("embeds to-one as an object and to-many as an array, nested, filtered and hinted", async () => {
    const res = await get("/orders?select=id,customer:customers(name,city)&order=id");
    expect(res.json).toEqual([
      { id: 1, customer: { name: "Ada", city: "London" } },
      { id: 2, customer: { name: "Ada", city: "London" } },
      { id: 3, customer: { name: "Bob", city: "Paris" } },
    ]);
    const many = await get("/customers?select=name,orders(id,item)&orders.order=id.desc&order=id");
    expect(many.json).toEqual([
      { name: "Ada", orders: [{ id: 2, item: "rocket" }, { id: 1, item: "anvil" }] },
      { name: "Bob", orders: [{ id: 3, item: "glue" }] },
    ]);
    const nested = await get("/customers?select=name,orders(item,customers(name))&id=eq.2");
    expect(nested.json).toEqual([{ name: "Bob", orders: [{ item: "glue", customers: { name: "Bob" } }] }]);
    const filtered = await get("/customers?select=name,orders(item)&orders.amount=gt.20&order=id");
    expect(filtered.json).toEqual([{ name: "Ada", orders: [{ item: "rocket" }] }, { name: "Bob", orders: [] }]);
    const inner = await get("/customers?select=name,orders!inner(item)&orders.amount=gt.20");
    expect(inner.json).toEqual([{ name: "Ada", orders: [{ item: "rocket" }] }]);
    const limited = await get("/customers?select=name,orders(id)&orders.limit=1&orders.order=id&id=eq.1");
    expect(limited.json).toEqual([{ name: "Ada", orders: [{ id: 1 }] }]);
    const hinted = await get("/orders?select=id,customers!orders_customer_id_fkey(name)&id=eq.3");
    expect(hinted.json).toEqual([{ id: 3, customers: { name: "Bob" } }]);
    const byColumn = await get("/orders?select=id,customer_id(name)&id=eq.3");
    expect(byColumn.json).toEqual([{ id: 3, customer_id: { name: "Bob" } }]);
    const spread = await get("/orders?select=id,...customers(customer_name:name)&id=eq.3");
    expect(spread.json).toEqual([{ id: 3, customer_name: "Bob" }]);
    const orFilter = await get("/customers?select=name,orders(id)&orders.or=(id.eq.1,id.eq.3)&order=id");
    expect(orFilter.json).toEqual([{ name: "Ada", orders: [{ id: 1 }] }, { name: "Bob", orders: [{ id: 3 }] }]);
    const ordered = await get("/orders?select=id,customers(name)&order=customers(name).desc,id");
    expect((ordered.json as { id: number }[]).map((row) => row.id)).toEqual([3, 1, 2]);
  });

  it("answers unknown relationships with PGRST200", async () => {
    const res = await get("/orders?select=id,items(*)");
    expect(res.status).toBe(400);
    expect(res.json).toMatchObject({ code: "PGRST200", details: expect.any(String), hint: expect.any(String) });
  });

  it("answers one object for the object media type, or 406 PGRST116", async () => {
    const one = await get("/orders?select=id,item&id=eq.1", { accept: "application/vnd.pgrst.object+json" });
    expect(one.status).toBe(200);
    expect(one.json).toEqual({ id: 1, item: "anvil" });
    expect(one.headers.get("content-type")).toMatch(/^application\/vnd\.pgrst\.object\+json/);
    for (const filter of ["id=gt.0", "id=eq.99"]) {
      const res = await get(`/orders?${filter}`, { accept: "application/vnd.pgrst.object+json" });
      expect(res.status).toBe(406);
      expect(res.json).toMatchObject({ code: "PGRST116", message: "Cannot coerce the result to a single JSON object" });
    }
  });

  it("answers CSV", async () => {
    const res = await get("/orders?select=id,item,note,tags&order=id", { accept: "text/csv" });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/csv/);
    expect(res.text).toBe('id,item,note,tags\n1,anvil,"fragile, handle with care","[""heavy"",""iron""]"\n2,rocket,,"[""fast""]"\n3,glue,sticky,[]');
    const empty = await get("/orders?select=id,item&id=eq.99", { accept: "text/csv" });
    expect(empty.text).toBe("id,item");
    const refused = await get("/orders", { accept: "application/xml" });
    expect(refused.status).toBe(406);
    expect(refused.json).toMatchObject({ code: "PGRST107" });
  });

  it("answers HEAD with the headers of GET and no body", async () => {
    const res = await world.rest(world.acme, "HEAD", "/orders?select=id", { headers: { prefer: "count=exact" } });
    expect(res.status).toBe(200);
    expect(res.text).toBe("");
    expect(res.headers.get("content-range")).toBe("0-2/3");
  });

  it("inserts, in bulk, with columns=, defaults and each return preference", async () => {
    const minimal = await world.rest(world.acme, "POST", "/items", { body: { name: "bolt", qty: 3 } });
    expect(minimal.status).toBe(201);
    expect(minimal.text).toBe("");
    const located = await world.rest(world.acme, "POST", "/items", { body: { name: "nut" }, headers: { prefer: "return=headers-only" } });
    expect(located.status).toBe(201);
    expect(located.headers.get("location")).toMatch(/^\/items\?id=eq\.\d+$/);
    expect(located.headers.get("preference-applied")).toBe("return=headers-only");
    const bulk = await world.rest(world.acme, "POST", "/items?columns=name,label&select=name,qty,label,tenant_id", {
      body: [{ name: "washer", label: "L", ignored: true }, { name: "screw" }],
      headers: { prefer: "return=representation" },
    });
    expect(bulk.status, bulk.text).toBe(201);
    expect(bulk.json).toEqual([
      { name: "washer", qty: 1, label: "L", tenant_id: "acme" },
      { name: "screw", qty: 1, label: null, tenant_id: "acme" },
    ]);
    const defaults = await world.rest(world.acme, "POST", "/items?columns=name,qty,label&select=name,qty,label", {
      body: [{ name: "rivet", qty: 2 }, { name: "pin", label: "x" }],
      headers: { prefer: "return=representation,missing=default" },
    });
    expect(defaults.status, defaults.text).toBe(201);
    expect(defaults.json).toEqual([{ name: "rivet", qty: 2, label: "none" }, { name: "pin", qty: 1, label: "x" }]);
    expect(defaults.headers.get("preference-applied")).toBe("return=representation, missing=default");
  });

  it("refuses a bulk insert whole when one row fails", async () => {
    const res = await world.rest(world.acme, "POST", "/items", { body: [{ name: "ok-1" }, { name: null }] });
    expect(res.status).toBe(400);
    expect(res.json).toMatchObject({ code: "23502" });
    expect(await world.sql(world.acme, "SELECT name FROM items WHERE name = 'ok-1'")).toEqual([]);
  });

  it("upserts with on_conflict, merging or ignoring duplicates", async () => {
    await world.rest(world.acme, "POST", "/items", { body: { name: "gear", qty: 1 } });
    const merged = await world.rest(world.acme, "POST", "/items?on_conflict=tenant_id,name&select=name,qty", {
      body: [{ name: "gear", qty: 7 }, { name: "cog", qty: 2 }],
      headers: { prefer: "resolution=merge-duplicates,return=representation" },
    });
    expect(merged.status, merged.text).toBe(201);
    expect(merged.json).toEqual([{ name: "gear", qty: 7 }, { name: "cog", qty: 2 }]);
    expect(merged.headers.get("preference-applied")).toBe("return=representation, resolution=merge-duplicates");
    const ignored = await world.rest(world.acme, "POST", "/items?on_conflict=tenant_id,name&select=name,qty", {
      body: { name: "gear", qty: 100 },
      headers: { prefer: "resolution=ignore-duplicates,return=representation" },
    });
    expect(ignored.json).toEqual([]);
    expect(await world.sql(world.acme, "SELECT qty FROM items WHERE name = 'gear'")).toEqual([{ qty: 7 }]);
    const duplicate = await world.rest(world.acme, "POST", "/items", { body: { name: "gear" } });
    expect(duplicate.status).toBe(409);
    expect(duplicate.json).toMatchObject({ code: "23505", details: null });
  });

  it("updates and deletes by filters, with counts and representation", async () => {
    await world.rest(world.acme, "POST", "/items", { body: [{ name: "u-1" }, { name: "u-2" }, { name: "u-3" }] });
    const patched = await world.rest(world.acme, "PATCH", "/items?name=in.(u-1,u-2)&select=name,qty", {
      body: { qty: 42 },
      headers: { prefer: "return=representation,count=exact" },
    });
    expect(patched.status, patched.text).toBe(200);
    expect(patched.json).toEqual([{ name: "u-1", qty: 42 }, { name: "u-2", qty: 42 }]);
    expect(patched.headers.get("content-range")).toBe("*/2");
    const silent = await world.rest(world.acme, "PATCH", "/items?name=eq.u-3", { body: { label: "quiet" } });
    expect(silent.status).toBe(204);
    const deleted = await world.rest(world.acme, "DELETE", "/items?name=like.u-*", { headers: { prefer: "return=representation" } });
    expect(deleted.status).toBe(200);
    expect((deleted.json as { name: string }[]).map((row) => row.name).sort()).toEqual(["u-1", "u-2", "u-3"]);
    const none = await world.rest(world.acme, "DELETE", "/items?name=eq.u-1");
    expect(none.status).toBe(204);
  });

  it("rolls a singular write back unless it touched exactly one row", async () => {
    await world.rest(world.acme, "POST", "/items", { body: [{ name: "s-1" }, { name: "s-2" }] });
    const res = await world.rest(world.acme, "PATCH", "/items?name=like.s-*", {
      body: { qty: 5 },
      headers: { prefer: "return=representation", accept: "application/vnd.pgrst.object+json" },
    });
    expect(res.status).toBe(406);
    expect(res.json).toMatchObject({ code: "PGRST116", details: "The result contains 2 rows" });
    expect(await world.sql(world.acme, "SELECT qty FROM items WHERE name LIKE 's-%'")).toEqual([{ qty: 1 }, { qty: 1 }]);
    const one = await world.rest(world.acme, "PATCH", "/items?name=eq.s-1&select=name,qty", {
      body: { qty: 5 },
      headers: { prefer: "return=representation", accept: "application/vnd.pgrst.object+json" },
    });
    expect(one.json).toEqual({ name: "s-1", qty: 5 });
  });

  it.each([
    ["/orders?id=xx.1", 400, "PGRST100"],
    ["/orders?id=eq", 400, "PGRST100"],
    ["/orders?select=id,(", 400, "PGRST100"],
    ["/orders?or=(id.eq.1", 400, "PGRST100"],
    ["/orders?limit=-1", 400, "PGRST100"],
    ["/orders?select=nope", 400, "42703"],
    ["/orders?nope=eq.1", 400, "42703"],
    ["/orders?order=nope", 400, "42703"],
    ["/orders?select=id::regclass", 400, "PGRST100"],
    ["/orders?id=eq.abc", 400, "22P02"],
    ["/nope", 404, "PGRST205"],
    ["/pg_class", 404, "PGRST205"],
    ["/users", 404, "PGRST205"],
    [`/orders?id=in.(${Array.from({ length: 21 }, (_, i) => i).join(",")})`, 400, "PGRST100"],
    ["/orders?or=(and(or(and(id.eq.1))))", 400, "PGRST100"],
    ["/orders?select=id,customers(orders(customers(orders(id))))", 400, "PGRST100"],
    [`/orders?item=eq.${"x".repeat(9000)}`, 400, "PGRST100"],
  ])("refuses %s with %i %s", async (path, status, code) => {
    const res = await get(path);
    expect(res.status, res.text).toBe(status);
    expect(res.json).toMatchObject({ code, message: expect.any(String) });
    expect(Object.keys(res.json as object).sort()).toEqual(["code", "details", "hint", "message"]);
  });

  it("names the limit and its flag", async () => {
    const res = await get(`/orders?id=in.(${Array.from({ length: 21 }, (_, i) => i).join(",")})`);
    expect((res.json as { message: string }).message).toContain("--rest-max-in-list");
  });

  it("refuses a body over --max-body-bytes, naming the limit and the flag, inserting nothing", async () => {
    const before = await world.sql(world.acme, "SELECT count(*)::int AS n FROM items");
    const res = await world.rest(world.acme, "POST", "/items", { body: { name: "x".repeat(1024 * 1024 + 1) } });
    expect(res.status, res.text).toBe(413);
    expect(res.json).toEqual({ error: "payload_too_large", message: "Request body is larger than the limit of 1048576 bytes (--max-body-bytes)" });
    expect(await world.sql(world.acme, "SELECT count(*)::int AS n FROM items")).toEqual(before);
  });

  it.each([
    ["not JSON", "{", 400, "PGRST102"],
    ["a scalar", "5", 400, "PGRST102"],
    ["an array of scalars", "[1,2]", 400, "PGRST102"],
    ["mismatched keys", '[{"name":"a"},{"qty":1}]', 400, "PGRST102"],
    ["an unknown column", '{"name":"a","nope":1}', 400, "PGRST204"],
  ])("refuses a body that is %s, inserting nothing", async (_label, body, status, code) => {
    const before = await world.sql(world.acme, "SELECT count(*)::int AS n FROM items");
    const res = await world.rest(world.acme, "POST", "/items", { body });
    expect(res.status, res.text).toBe(status);
    expect(res.json).toMatchObject({ code });
    expect(await world.sql(world.acme, "SELECT count(*)::int AS n FROM items")).toEqual(before);
  });

  it("keeps the guide's bodies for credential and scope failures", async () => {
    const anonymous = await world.rest(undefined, "GET", "/orders");
    expect(anonymous.status).toBe(401);
    expect(anonymous.json).toMatchObject({ error: "unauthorized" });
    const badToken = await world.rest({ ...world.acme, token: "nope" }, "GET", "/orders");
    expect(badToken.status).toBe(401);
    expect(badToken.json).toMatchObject({ error: "invalid_token" });
    const reader = await world.rest(world.acmeReader, "GET", "/orders?select=id");
    expect(reader.status).toBe(200);
    const readerWrite = await world.rest(world.acmeReader, "POST", "/items", { body: { name: "forbidden" } });
    expect(readerWrite.status).toBe(403);
    expect(readerWrite.json).toMatchObject({ error: "insufficient_scope" });
    const crossTenant = await world.rest(world.acme, "GET", "/orders", { headers: { "x-tenant-id": "globex" } });
    expect(crossTenant.status).toBe(403);
    expect(crossTenant.json).toMatchObject({ error: "cross_tenant_forbidden" });
  });

  it("answers rpc with PGRST202 and other verbs with 405", async () => {
    const rpc = await world.rest(world.acme, "POST", "/rpc/pg_sleep", { body: { seconds: 1 } });
    expect(rpc.status).toBe(404);
    expect(rpc.json).toMatchObject({ code: "PGRST202" });
    const put = await world.rest(world.acme, "PUT", "/orders", { body: {} });
    expect(put.status).toBe(405);
    expect(put.headers.get("allow")).toContain("PATCH");
    const schema = await get("/orders", { "accept-profile": "auth" });
    expect(schema.status).toBe(406);
    expect(schema.json).toMatchObject({ code: "PGRST106" });
  });

  it("describes the visible tables in OpenAPI at /rest/v1/", async () => {
    const res = await get("/");
    expect(res.status).toBe(200);
    const doc = res.json as { swagger: string; paths: Record<string, unknown>; definitions: Record<string, { required: string[]; properties: Record<string, { format: string; description?: string }> }> };
    expect(doc.swagger).toBe("2.0");
    expect(Object.keys(doc.paths).sort()).toEqual(["/", "/customers", "/items", "/orders"]);
    expect(doc.definitions.orders?.required).toEqual(["id", "item"]);
    expect(doc.definitions.orders?.properties.customer_id?.description).toContain("<fk table='customers' column='id'/>");
    expect(doc.definitions.orders?.properties.id?.description).toContain("<pk/>");
    expect(doc.definitions.items?.properties.name?.format).toBe("text");
  });

  it("sees a table an admin creates at once, and forgets a dropped one", async () => {
    expect((await get("/gadgets")).status).toBe(404);
    await world.sql(world.acmeAdmin, "CREATE TABLE gadgets (id serial PRIMARY KEY, tenant_id text NOT NULL, name text)");
    const created = await world.rest(world.acme, "POST", "/gadgets", { body: { name: "g" }, headers: { prefer: "return=representation" } });
    expect(created.status, created.text).toBe(201);
    await world.sql(world.acmeAdmin, "ALTER TABLE gadgets ADD COLUMN size int");
    expect((await get("/gadgets?select=size")).status).toBe(200);
    await world.sql(world.acmeAdmin, "DROP TABLE gadgets");
    expect((await get("/gadgets")).json).toMatchObject({ code: "PGRST205" });
  });

  it("counts /rest requests in the metrics under their own routes", async () => {
    const res = await fetch(`${world.server.url}/metrics`);
    const text = await res.text();
    expect(text).toMatch(/route="helios\.rest\.v1\.Rest\/Read",protocol="rest"/);
  });
});
