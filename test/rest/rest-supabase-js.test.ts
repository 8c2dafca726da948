import { createClient, type SupabaseClient } from "@supabase/supabase-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { publishableKey } from "../clients/support/accounts.js";
import type { Member } from "../support/members.js";
import { backends } from "../support/server.js";
import { startRestWorld, type RestWorld } from "./support/rest-world.js";

/**
 * `@supabase/supabase-js` as an app uses it: `createClient(url, publishableKey)`, then
 * `auth.signInWithPassword`, then `from()`: every call below is the client's own request.
 */
describe.each(backends)("supabase-js from() against /rest/v1 on %s storage", (backend) => {
  let world: RestWorld;
  let key: string;
  let supabase: SupabaseClient;
  const signedIn = async (who: Member): Promise<SupabaseClient> => {
    const client = createClient(world.server.url, key, { auth: { autoRefreshToken: false, persistSession: true, detectSessionInUrl: false } });
    const { error } = await client.auth.signInWithPassword({ email: who.email, password: who.password });
    expect(error).toBeNull();
    return client;
  };
  beforeAll(async () => {
    world = await startRestWorld(backend);
    key = await publishableKey(world.server, "supabase-rest-app");
    supabase = await signedIn(world.acme);
  });
  afterAll(() => world?.close());

  it("selects with filters, order and range", async () => {
    const { data, error, status } = await supabase.from("orders").select("id, item").gt("amount", 6).order("id", { ascending: false }).range(0, 4);
    expect(error).toBeNull();
    expect(status).toBe(200);
    expect(data).toEqual([{ id: 2, item: "rocket" }, { id: 1, item: "anvil" }]);
    const limited = await supabase.from("orders").select("id").order("note", { ascending: true, nullsFirst: true }).limit(1);
    expect(limited.data).toEqual([{ id: 2 }]);
  });

  it("filters the way the client writes them", async () => {
    const ids = async (query: PromiseLike<{ data: { id: number }[] | null; error: unknown }>) => {
      const { data, error } = await query;
      expect(error).toBeNull();
      return (data ?? []).map((row) => row.id);
    };
    const orders = () => supabase.from("orders").select("id").order("id");
    expect(await ids(orders().eq("item", "glue"))).toEqual([3]);
    expect(await ids(orders().neq("item", "glue"))).toEqual([1, 2]);
    expect(await ids(orders().in("id", [1, 3]))).toEqual([1, 3]);
    expect(await ids(orders().is("note", null))).toEqual([2]);
    expect(await ids(orders().not("note", "is", null))).toEqual([1, 3]);
    expect(await ids(orders().ilike("item", "%OC%"))).toEqual([2]);
    expect(await ids(orders().like("item", "a%"))).toEqual([1]);
    expect(await ids(orders().contains("tags", ["heavy"]))).toEqual([1]);
    expect(await ids(orders().containedBy("tags", ["fast", "heavy", "iron"]))).toEqual([1, 2, 3]);
    expect(await ids(orders().overlaps("tags", ["fast", "iron"]))).toEqual([1, 2]);
    expect(await ids(orders().contains("data", { color: "red" }))).toEqual([2]);
    expect(await ids(orders().eq("data->>color", "black"))).toEqual([1]);
    expect(await ids(orders().or("id.eq.1,and(amount.lt.6,item.eq.glue)"))).toEqual([1, 3]);
    expect(await ids(orders().textSearch("note", "handle & care"))).toEqual([1]);
    expect(await ids(orders().textSearch("note", "sticky or fragile", { type: "websearch", config: "english" }))).toEqual([1, 3]);
    expect(await ids(orders().match({ item: "anvil", customer_id: 1 }))).toEqual([1]);
    expect(await ids(orders().filter("amount", "gte", 10))).toEqual([1, 2]);
    expect(await ids(orders().likeAnyOf("item", ["a%", "g%"]))).toEqual([1, 3]);
  });

  it("counts, with head and without", async () => {
    const counted = await supabase.from("orders").select("id", { count: "exact" }).range(0, 0);
    expect(counted.error).toBeNull();
    expect(counted.count).toBe(3);
    expect(counted.data).toEqual([{ id: 1 }]);
    const head = await supabase.from("orders").select("*", { count: "exact", head: true });
    expect(head.error).toBeNull();
    expect(head.count).toBe(3);
    expect(head.data).toBeNull();
    const planned = await supabase.from("orders").select("*", { count: "planned", head: true });
    expect(typeof planned.count).toBe("number");
  });

  it("answers single() and maybeSingle()", async () => {
    const one = await supabase.from("orders").select("item").eq("id", 1).single();
    expect(one.error).toBeNull();
    expect(one.data).toEqual({ item: "anvil" });
    const many = await supabase.from("orders").select("item").single();
    expect(many.error).toMatchObject({ code: "PGRST116" });
    const none = await supabase.from("orders").select("item").eq("id", 99).maybeSingle();
    expect(none.error).toBeNull();
    expect(none.data).toBeNull();
  });

  it("embeds related tables", async () => {
    const { data, error } = await supabase.from("customers").select("name, orders(item), shipped:orders!inner(id)").eq("orders.item", "glue").eq("shipped.id", 3);
    expect(error).toBeNull();
    expect(data).toEqual([{ name: "Bob", orders: [{ item: "glue" }], shipped: [{ id: 3 }] }]);
    const toOne = await supabase.from("orders").select("item, customers(name)").eq("id", 1).single();
    expect(toOne.data).toEqual({ item: "anvil", customers: { name: "Ada" } });
  });

  it("inserts, upserts, updates and deletes", async () => {
    const inserted = await supabase.from("items").insert({ name: "sj-1", qty: 2 }).select("name, qty, tenant_id").single();
    expect(inserted.error).toBeNull();
    expect(inserted.status).toBe(201);
    expect(inserted.data).toEqual({ name: "sj-1", qty: 2, tenant_id: "acme" });
    const bulk = await supabase.from("items").insert([{ name: "sj-2" }, { name: "sj-3", qty: 4 }], { defaultToNull: false }).select("name, qty");
    expect(bulk.error).toBeNull();
    expect(bulk.data).toEqual([{ name: "sj-2", qty: 1 }, { name: "sj-3", qty: 4 }]);
    const silent = await supabase.from("items").insert({ name: "sj-4" });
    expect(silent.error).toBeNull();
    expect(silent.status).toBe(201);
    expect(silent.data).toBeNull();

    const upserted = await supabase.from("items").upsert([{ name: "sj-1", qty: 10 }, { name: "sj-5", qty: 5 }], { onConflict: "tenant_id,name" }).select("name, qty");
    expect(upserted.error).toBeNull();
    expect(upserted.data).toEqual([{ name: "sj-1", qty: 10 }, { name: "sj-5", qty: 5 }]);
    const ignored = await supabase.from("items").upsert({ name: "sj-1", qty: 99 }, { onConflict: "tenant_id,name", ignoreDuplicates: true }).select();
    expect(ignored.data).toEqual([]);

    const updated = await supabase.from("items").update({ label: "done" }, { count: "exact" }).like("name", "sj-%").select("name");
    expect(updated.error).toBeNull();
    expect(updated.count).toBe(5);
    const deleted = await supabase.from("items").delete().eq("name", "sj-4").select("name");
    expect(deleted.data).toEqual([{ name: "sj-4" }]);
    const gone = await supabase.from("items").delete().like("name", "sj-%");
    expect(gone.error).toBeNull();
    expect(gone.status).toBe(204);
    expect((await supabase.from("items").select("id").like("name", "sj-%")).data).toEqual([]);
  });

  it("answers CSV", async () => {
    const { data, error } = await supabase.from("orders").select("id, item").order("id").limit(2).csv();
    expect(error).toBeNull();
    expect(data).toBe("id,item\n1,anvil\n2,rocket");
  });

  it("reports PostgREST errors the client understands", async () => {
    const missing = await supabase.from("nope").select();
    expect(missing.error).toMatchObject({ code: "PGRST205" });
    expect(missing.status).toBe(404);
    await supabase.from("items").insert({ name: "dup" });
    const duplicate = await supabase.from("items").insert({ name: "dup" });
    expect(duplicate.error).toMatchObject({ code: "23505" });
    expect(duplicate.status).toBe(409);
    const rpc = await supabase.rpc("anything", { a: 1 });
    expect(rpc.error).toMatchObject({ code: "PGRST202" });
  });

  it("grants nothing to the publishable key alone, and keeps each tenant to its rows", async () => {
    const anonymous = createClient(world.server.url, key, { auth: { persistSession: false } });
    const refused = await anonymous.from("orders").select();
    expect(refused.data).toBeNull();
    expect(refused.status).toBe(403);
    const globex = await signedIn(world.globex);
    const { data } = await globex.from("orders").select("item");
    expect(data).toEqual([{ item: "widget" }]);
  });
});
