import { ConnectError } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { ErrorInfoSchema } from "../../gen/google/rpc/error_details_pb.js";
import { reasonOf } from "../../src/errors/catalogue.js";
import { parsePreferences } from "../../src/rest/preferences.js";
import { buildCatalogue } from "../../src/rest/schema-catalogue.js";
import { parseFilterValue, parseGroup, parseOrder, parseSelect, splitTopLevel } from "../../src/rest/syntax.js";
import { translate, type RestRequest } from "../../src/rest/translate.js";

const limits = { maxRows: 100, maxInList: 5, maxDepth: 3 };

const column = (name: string, base = "int4", nullable = true) => ({
  name, type: base, base, nullable, default: null, generated: false, identity: false, selectable: true, comment: null, enum: null,
});
const key = (type: "p" | "u" | "f", name: string, columns: string[], target: string | null = null, targetColumns: string[] | null = null) => ({
  type, name, columns, target, target_columns: targetColumns,
});
const table = (name: string, columns: ReturnType<typeof column>[], keys: ReturnType<typeof key>[]) => ({
  name, kind: "table", comment: null, insertable: true, updatable: true, deletable: true, columns, keys,
});

/** customers 1—n orders; employees refer to themselves. */
const catalogue = buildCatalogue([
  table("customers", [column("id"), column("name", "text")], [key("p", "customers_pkey", ["id"])]),
  table("orders", [column("id"), column("customer_id"), column("item", "text"), column("data", "jsonb")], [
    key("p", "orders_pkey", ["id"]),
    key("f", "orders_customer_id_fkey", ["customer_id"], "customers", ["id"]),
  ]),
  table("employees", [column("id"), column("manager_id")], [
    key("p", "employees_pkey", ["id"]),
    key("f", "employees_manager_id_fkey", ["manager_id"], "employees", ["id"]),
  ]),
]);

const request = (method: RestRequest["method"], path: string, extra: Partial<RestRequest> = {}): RestRequest => {
  const [tableName = "", search = ""] = path.split("?");
  return { method, table: tableName, query: new URLSearchParams(search), prefer: parsePreferences(undefined), singular: false, ...extra };
};
const sqlOf = (path: string, extra: Partial<RestRequest> = {}) => translate(request("GET", path, extra), catalogue, limits);

function failure(run: () => unknown): { reason: string; code: string | undefined } {
  try {
    run();
  } catch (error) {
    const connect = ConnectError.from(error);
    const info = connect.findDetails(ErrorInfoSchema)[0];
    return { reason: reasonOf(connect), code: info?.metadata.code };
  }
  throw new Error("expected a failure");
}

describe("PostgREST syntax", () => {
  it("splits at top-level commas only", () => {
    expect(splitTopLevel('a,"b,c",in.(1,2),cs.{x,y}')).toEqual(["a", '"b,c"', "in.(1,2)", "cs.{x,y}"]);
  });

  it("parses select: stars, aliases, casts, JSON paths, embeds with hints, inner and spread", () => {
    expect(parseSelect("*,a:b::text,data->x->>y,c:customers!fk!inner(name),...o(id)", limits)).toEqual([
      { kind: "star" },
      { kind: "field", field: { column: "b", path: [] }, alias: "a", cast: "text" },
      { kind: "field", field: { column: "data", path: [{ arrow: "->", key: "x" }, { arrow: "->>", key: "y" }] }, alias: undefined, cast: undefined },
      { kind: "embed", relation: "customers", alias: "c", hint: "fk", inner: true, spread: false, items: [{ kind: "field", field: { column: "name", path: [] }, alias: undefined, cast: undefined }] },
      { kind: "embed", relation: "o", alias: undefined, hint: undefined, inner: false, spread: true, items: [{ kind: "field", field: { column: "id", path: [] }, alias: undefined, cast: undefined }] },
    ]);
  });

  it("parses filters: not, in with quoted values, quantifiers, full-text languages, is", () => {
    const field = { column: "x", path: [] };
    expect(parseFilterValue(field, 'not.in.("a,b",c)', limits)).toMatchObject({ negate: true, op: "in", value: ["a,b", "c"] });
    expect(parseFilterValue(field, "like(any).{a*,b*}", limits)).toMatchObject({ op: "like", quantifier: "any", value: ["a*", "b*"] });
    expect(parseFilterValue(field, "fts(english).cat", limits)).toMatchObject({ op: "fts", language: "english", value: "cat" });
    expect(parseFilterValue(field, "is.not_null", limits)).toMatchObject({ op: "is", value: "not_null" });
    expect(failure(() => parseFilterValue(field, "is.maybe", limits))).toEqual({ reason: "rest_bad_query", code: "PGRST100" });
    expect(failure(() => parseFilterValue(field, "nope.1", limits))).toEqual({ reason: "rest_bad_query", code: "PGRST100" });
  });

  it("parses nested and/or groups within the depth limit", () => {
    expect(parseGroup("or", false, "(a.eq.1,not.and(b.gt.2,c.is.null))", limits)).toMatchObject({
      op: "or",
      conditions: [{ op: "eq", value: "1" }, { kind: "group", op: "and", negate: true, conditions: [{ op: "gt" }, { op: "is" }] }],
    });
    expect(failure(() => parseGroup("or", false, "(and(or(and(a.eq.1))))", limits))).toEqual({ reason: "rest_limit_exceeded", code: "PGRST100" });
  });

  it("parses order with directions, nulls and embedded resources", () => {
    expect(parseOrder("a.desc.nullslast,b,c(name).asc")).toEqual([
      { relation: undefined, field: { column: "a", path: [] }, descending: true, nulls: "last" },
      { relation: undefined, field: { column: "b", path: [] }, descending: false, nulls: undefined },
      { relation: "c", field: { column: "name", path: [] }, descending: false, nulls: undefined },
    ]);
  });

  it("reads the Prefer preferences it honours and ignores the rest", () => {
    expect(parsePreferences("return=representation, count=exact,tx=commit, missing=default")).toEqual({
      return: "representation", count: "exact", missing: "default", applied: [],
    });
  });
});

describe("translation to one parameterised statement", () => {
  it("binds every value and quotes every identifier", () => {
    const { sql, params } = sqlOf("orders?select=id,item&item=eq.x'y&order=id.desc&limit=5");
    expect(sql).toContain(`_pgrst_0."item" = $1`);
    expect(sql).toContain(`ORDER BY _pgrst_0."id" DESC LIMIT $2::bigint`);
    expect(sql).not.toContain("x'y");
    expect(params).toEqual(["x'y", 5]);
  });

  it("caps the limit at the row cap and keeps the SQL text the same for every value", () => {
    expect(sqlOf("orders?limit=1000").params).toEqual([100]);
    expect(sqlOf("orders?id=eq.1").sql).toBe(sqlOf("orders?id=eq.2").sql);
  });

  it("turns like wildcards and in-lists into bound arrays", () => {
    expect(sqlOf("orders?item=like.*a*").params[0]).toBe("%a%");
    expect(sqlOf('orders?item=in.(a,"b\\"c")').params[0]).toBe('{"a","b\\"c"}');
    expect(sqlOf("orders?item=ilike(all).{a*,*b}").sql).toContain("ILIKE ALL($1)");
  });

  it("binds JSON path keys, as text or as array indexes", () => {
    const { sql, params } = sqlOf("orders?select=data->tags->0&data->>kind=eq.x");
    expect(sql).toContain(`(_pgrst_0."data" ->> $1::text) = $2`);
    expect(params).toEqual(["kind", "x", "tags", 0, 100]);
  });

  it("embeds to-one as row_to_json and to-many as json_agg along the foreign key", () => {
    expect(sqlOf("orders?select=id,customers(name)").sql).toContain(`pg_catalog.row_to_json`);
    const many = sqlOf("customers?select=id,orders(item)&orders.item=eq.x").sql;
    expect(many).toContain(`pg_catalog.json_agg`);
    expect(many).toContain(`_pgrst_1."customer_id" = _pgrst_0."id"`);
    expect(sqlOf("customers?select=id,orders!inner(item)").sql).toContain("EXISTS (SELECT 1 FROM");
  });

  it("asks for a hint when a relationship is ambiguous, and names unknown ones", () => {
    expect(failure(() => sqlOf("employees?select=id,employees(id)"))).toEqual({ reason: "rest_ambiguous_relationship", code: "PGRST201" });
    expect(sqlOf("employees?select=id,manager:manager_id(id)").sql).toContain("row_to_json");
    expect(failure(() => sqlOf("orders?select=id,employees(id)"))).toEqual({ reason: "rest_unknown_relationship", code: "PGRST200" });
  });

  it("refuses unknown tables, columns and casts, and oversized lists", () => {
    expect(failure(() => sqlOf("secrets"))).toEqual({ reason: "rest_unknown_table", code: "PGRST205" });
    expect(failure(() => sqlOf("orders?select=nope"))).toEqual({ reason: "rest_unknown_column", code: "42703" });
    expect(failure(() => sqlOf("orders?select=id::regclass"))).toEqual({ reason: "rest_bad_query", code: "PGRST100" });
    expect(failure(() => sqlOf("orders?id=in.(1,2,3,4,5,6)"))).toEqual({ reason: "rest_limit_exceeded", code: "PGRST100" });
  });

  it("counts over the same filters", () => {
    const { sql } = sqlOf("orders?id=gt.1", { prefer: parsePreferences("count=exact") });
    expect(sql).toContain(`(SELECT pg_catalog.count(*) FROM public."orders" _pgrst_0 WHERE _pgrst_0."id" > $1)`);
  });

  it("writes through json_populate_recordset, upserts on the named conflict columns", () => {
    const insert = translate(
      request("POST", "orders?on_conflict=id", { body: [{ id: 1, item: "a" }], prefer: parsePreferences("resolution=merge-duplicates") }),
      catalogue,
      limits,
    );
    expect(insert.sql).toContain(`INSERT INTO public."orders" AS _pgrst_0 ("id", "item") SELECT "id", "item" FROM pg_catalog.json_populate_recordset(NULL::public."orders", $1::json)`);
    expect(insert.sql).toContain(`ON CONFLICT ("id") DO UPDATE SET "item" = EXCLUDED."item"`);
    expect(insert.params).toEqual([[{ id: 1, item: "a" }]]);
    expect(insert.applied).toEqual(["resolution=merge-duplicates"]);
    const patch = translate(request("PATCH", "orders?id=eq.1", { body: { item: "b" } }), catalogue, limits);
    expect(patch.sql).toContain(`UPDATE public."orders" AS _pgrst_0 SET ("item") = (SELECT "item" FROM pg_catalog.json_populate_record`);
    const remove = translate(request("DELETE", "orders?id=eq.1"), catalogue, limits);
    expect(remove.sql).toContain(`DELETE FROM public."orders" AS _pgrst_0 WHERE _pgrst_0."id" = $1 RETURNING _pgrst_0.*`);
    expect(remove.readOnly).toBe(false);
  });

  it("refuses bodies that are no objects, mismatched keys and unknown columns", () => {
    const post = (body: unknown, path = "orders") => () => translate(request("POST", path, { body }), catalogue, limits);
    expect(failure(post(5))).toEqual({ reason: "rest_bad_body", code: "PGRST102" });
    expect(failure(post([{ id: 1 }, { item: "x" }]))).toEqual({ reason: "rest_bad_body", code: "PGRST102" });
    expect(failure(post({ nope: 1 }))).toEqual({ reason: "rest_unknown_column", code: "PGRST204" });
    expect(failure(post({ id: 1 }, "orders?columns=id,nope"))).toEqual({ reason: "rest_unknown_column", code: "PGRST204" });
  });
});
