import { ConnectError } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { reasonOf } from "../../src/errors/catalogue.js";
import { normalizeIdentifier, toSnakeCase } from "../../src/schema/identifiers.js";
import { inferBatch } from "../../src/schema/infer-batch.js";
import { inferTable } from "../../src/schema/infer-table.js";
import { resolveOptions, type InferOptionsInput } from "../../src/schema/inference-options.js";
import type { ProposedColumn } from "../../src/schema/proposal.js";
import { samplesFromCsv, samplesFromNdjson } from "../../src/schema/sample-files.js";
import { detectPattern } from "../../src/schema/string-patterns.js";
import type { JsonValue } from "../../src/schema/value-profile.js";

const infer = (samples: JsonValue[], options: InferOptionsInput = {}, name = "things") => inferTable(name, samples, resolveOptions(options));
const column = (samples: JsonValue[], name: string, options: InferOptionsInput = {}): ProposedColumn => {
  const found = infer(samples, options).table.columns.find((c) => c.name === name);
  if (!found) throw new Error(`no column ${name}`);
  return found;
};
const typeOf = (values: JsonValue[], options: InferOptionsInput = {}) => column(values.map((v) => ({ v })), "v", options).sqlType;

function reasonOfThrown(work: () => unknown): string {
  try {
    work();
  } catch (error) {
    if (error instanceof ConnectError) return reasonOf(error);
    throw error;
  }
  throw new Error("did not throw");
}

describe("schema inference: types", () => {
  it.each([
    ["booleans", [true, false], "boolean"],
    ["integers", [1, 2], "bigint"],
    ["decimals", [1.5, 2.25], "numeric"],
    ["strings", ["a", "b"], "text"],
    ["objects", [{ a: 1 }, { b: [2] }], "jsonb"],
    ["arrays of strings", [["a"], ["b", "c"]], "text[]"],
    ["arrays of integers", [[1, 2], [3]], "bigint[]"],
    ["arrays of booleans", [[true], [false]], "boolean[]"],
    ["arrays of uuids", [["6f1e2a3b-1c2d-4e5f-8a9b-0c1d2e3f4a5b"]], "uuid[]"],
    ["arrays of objects", [[{ a: 1 }]], "jsonb"],
    ["arrays of mixed elements", [[1, "a"]], "jsonb"],
    ["only empty arrays", [[], []], "jsonb"],
    ["uuids", ["6f1e2a3b-1c2d-4e5f-8a9b-0c1d2e3f4a5b", "00000000-0000-4000-8000-000000000000"], "uuid"],
    ["zoned timestamps", ["2024-01-01T10:00:00Z", "2024-01-02 10:00:00+02:00"], "timestamptz"],
    ["plain timestamps", ["2024-01-01T10:00:00", "2024-01-02 10:00"], "timestamp"],
    ["dates", ["2024-01-31", "2024-02-29"], "date"],
    ["impossible dates", ["2023-02-31"], "text"],
    ["times", ["10:00", "23:59:59"], "time"],
    ["ip addresses", ["10.0.0.1", "::1"], "inet"],
    ["JSON text", ['{"a": 1}', "[1, 2]"], "jsonb"],
  ])("types %s", (_name, values, expected) => {
    expect(typeOf(values as JsonValue[])).toBe(expected);
  });

  it("keeps emails, urls and money as text with their pattern", () => {
    expect(column([{ v: "a@example.com" }], "v")).toMatchObject({ sqlType: "text", detectedPattern: "email" });
    expect(column([{ v: "https://example.com/x" }], "v")).toMatchObject({ sqlType: "text", detectedPattern: "url" });
    expect(column([{ v: "$12.50" }, { v: "€3" }], "v")).toMatchObject({ sqlType: "text", detectedPattern: "money" });
    expect(detectPattern("not a pattern", true)).toBeUndefined();
  });

  it("leaves JSON text as text without detect_json", () => {
    expect(typeOf(['{"a": 1}'], { detectJson: false })).toBe("text");
  });

  it("widens integer → bigint → numeric → text, with the reason in warnings", () => {
    const narrow = { preferNarrowTypes: true };
    expect(typeOf([1, 2], narrow)).toBe("integer");
    const bigger = infer([{ v: 1 }, { v: 2 ** 40 }], narrow).table;
    expect(bigger.columns[0]?.sqlType).toBe("bigint");
    expect(bigger.warnings).toContainEqual(expect.stringContaining("widened integer → bigint: 1 of 2 values exceed the integer range"));
    const fractional = infer([{ v: 1 }, { v: 2.5 }]).table;
    expect(fractional.columns[0]).toMatchObject({ sqlType: "numeric", confidence: 0.5 });
    expect(fractional.warnings).toContainEqual(expect.stringContaining("widened bigint → numeric"));
    expect(typeOf([2 ** 60])).toBe("numeric");
    const mixed = infer([{ v: 1 }, { v: "one" }]).table;
    expect(mixed.columns[0]?.sqlType).toBe("text");
    expect(mixed.warnings).toContainEqual(expect.stringContaining("widened to text: values are numbers and strings"));
    const dated = infer([{ v: "2024-01-01" }, { v: "2024-01-01T10:00:00Z" }]).table;
    expect(dated.columns[0]?.sqlType).toBe("timestamptz");
    expect(dated.warnings).toContainEqual(expect.stringContaining("widened date → timestamptz"));
    expect(typeOf([{ a: 1 }, "x"])).toBe("jsonb");
  });

  it("proposes varchar(n) with prefer_narrow_types, up to max_varchar_length", () => {
    expect(typeOf(["abc", "abcde"], { preferNarrowTypes: true })).toBe("varchar(10)");
    expect(typeOf(["abcdef"], { preferNarrowTypes: true, maxVarcharLength: 8 })).toBe("varchar(8)");
    expect(typeOf(["x".repeat(20)], { preferNarrowTypes: true, maxVarcharLength: 8 })).toBe("text");
    expect(column([{ v: "abc" }], "v").alternatives).toEqual(["varchar(6)"]);
  });

  it("types a column of nulls as nullable text, with a warning", () => {
    const table = infer([{ id: 1, v: null }, { id: 2, v: null }]).table;
    expect(table.columns[1]).toMatchObject({ name: "v", sqlType: "text", nullable: true, confidence: 0 });
    expect(table.warnings).toContainEqual('column "v" held only nulls: typed text');
  });
});

describe("schema inference: columns and keys", () => {
  it("keeps the order of first appearance and adds tenant_id last", () => {
    const table = infer([{ b: 1, a: 2 }, { c: 3, a: 4 }, { d: 5 }]).table;
    expect(table.columns.map((c) => c.name)).toEqual(["b", "a", "c", "d", "tenant_id"]);
  });

  it("keeps a sampled tenant_id in place, typed text and defaulted by the service", () => {
    const table = infer([{ id: 1, tenant_id: 42, x: 1 }]).table;
    expect(table.columns.map((c) => c.name)).toEqual(["id", "tenant_id", "x"]);
    expect(table.columns[1]).toMatchObject({ sqlType: "text", nullable: false, default: expect.stringContaining("request.tenant_id") });
    expect(table.warnings).toContainEqual(expect.stringContaining("its sample values are not used"));
  });

  it("makes a column nullable when it is missing or null in any sample, or always without detect_nullable", () => {
    const samples: JsonValue[] = [{ id: 1, a: 1, b: 1, c: 1 }, { id: 2, a: null, c: 2 }];
    const table = infer(samples).table;
    expect(table.columns.map((c) => [c.name, c.nullable])).toEqual([["id", false], ["a", true], ["b", true], ["c", false], ["tenant_id", false]]);
    expect(infer(samples, { detectNullable: false }).table.columns.map((c) => c.nullable)).toEqual([false, true, true, true, false]);
  });

  it("detects unique key-like columns per tenant, not every distinct column", () => {
    const samples = [{ id: 1, email: "a@x.io", amount: 1 }, { id: 2, email: "b@x.io", amount: 2 }];
    const table = infer(samples).table;
    expect(table.columns.map((c) => c.unique)).toEqual([false, true, false, false]);
    expect(table.constraints).toContain('CONSTRAINT "things_tenant_id_email_key" UNIQUE ("tenant_id", "email")');
    expect(infer(samples, { detectUnique: false }).table.columns.some((c) => c.unique)).toBe(false);
    expect(infer([{ email: "a@x.io" }, { email: "a@x.io" }]).table.columns[0]?.unique).toBe(false);
  });

  it("picks the primary key among id, <table>_id and uuid; never invents one", () => {
    expect(infer([{ id: 1 }, { id: 2 }]).table.primaryKey).toEqual(["id"]);
    const texts = infer([{ thing_id: "a" }, { thing_id: "b" }]).table;
    // Keys the writers choose are unique per tenant: a duplicate must not reveal another tenant's key.
    expect(texts.primaryKey).toEqual(["tenant_id", "thing_id"]);
    expect(texts.ddl).toContain('CONSTRAINT "things_pkey" PRIMARY KEY ("tenant_id", "thing_id")');
    expect(texts.warnings).toContainEqual(expect.stringContaining("unique per tenant"));
    expect(texts.indexes).toEqual([]);
    const none = infer([{ id: 1 }, { id: 1 }]).table;
    expect(none.primaryKey).toEqual([]);
    expect(none.ddl).not.toContain("PRIMARY KEY");
    expect(none.warnings).toContainEqual(expect.stringContaining("no primary key"));
    expect(infer([{ name: "x" }]).table.primaryKey).toEqual([]);
    expect(infer([{ id: 1 }], { detectPrimaryKey: false }).table.primaryKey).toEqual([]);
  });

  it("gives integer keys an identity, uuid keys gen_random_uuid() and created_at now()", () => {
    const table = infer([{ id: 1, created_at: "2024-01-01T00:00:00Z" }]).table;
    expect(table.columns[0]).toMatchObject({ identity: true, nullable: false });
    expect(table.columns[1]).toMatchObject({ default: "now()" });
    const uuid = infer([{ id: "6f1e2a3b-1c2d-4e5f-8a9b-0c1d2e3f4a5b" }]).table;
    expect(uuid.columns[0]).toMatchObject({ sqlType: "uuid", default: "gen_random_uuid()" });
  });

  it("suggests a tenant_id index, or none when a unique key leads with tenant_id", () => {
    expect(infer([{ a: 1 }]).table.indexes).toEqual([expect.objectContaining({ name: "things_tenant_id_idx", columns: ["tenant_id"] })]);
    expect(infer([{ a: 1 }], { suggestIndexes: false }).table.indexes).toEqual([]);
    expect(infer([{ email: "a@x.io" }, { email: "b@x.io" }]).table.indexes).toEqual([]);
  });

  it("reports statistics per column", () => {
    const stats = column([{ v: "ab" }, { v: "abcd" }, { v: null }, {}, { v: "ab" }], "v").statistics;
    expect(stats).toEqual({ present: 3, nulls: 1, missing: 1, distinct: 2, minLength: 2, maxLength: 4, examples: ['"ab"', '"abcd"'] });
    expect(column([{ v: 3 }, { v: -1 }], "v").statistics).toMatchObject({ min: -1, max: 3 });
  });

  it("quotes every identifier in the DDL", () => {
    const { ddl } = infer([{ id: 1, 'we"ird': "x" }], {}, "my_things").table;
    expect(ddl).toContain('CREATE TABLE "public"."my_things" (');
    expect(ddl).toContain('"we_ird" text NOT NULL');
    expect(ddl).toContain('"tenant_id" text NOT NULL DEFAULT');
  });

  it("is deterministic", () => {
    const samples: JsonValue[] = [{ id: 1, b: [1], a: { x: 1 } }, { id: 2, c: "2024-01-01" }];
    expect(JSON.stringify(infer(samples).table)).toBe(JSON.stringify(infer(structuredClone(samples)).table));
  });

  it("takes time linear in the input", () => {
    const samples = (n: number) => Array.from({ length: n }, (_, i) => ({ id: i, name: `n${i}`, at: "2024-01-01T00:00:00Z", tags: ["a", "b"] }));
    const time = (n: number) => {
      const start = performance.now();
      infer(samples(n));
      return performance.now() - start;
    };
    time(2000); // warm up
    const small = Math.max(time(3000), 1);
    const large = time(30000);
    expect(large / small).toBeLessThan(30); // 10× the input; quadratic would be ~100×
  });
});

describe("schema inference: identifiers", () => {
  it.each([
    ["customerId", "customer_id"],
    ["First Name", "first_name"],
    ["HTTPStatus", "http_status"],
    ["e-mail", "e_mail"],
    ["café", "cafe"],
    ["2fa", "_2fa"],
    ["__x__", "x"],
  ])("normalises %s to %s", (key, expected) => {
    expect(toSnakeCase(key)).toBe(expected);
  });

  it("reports renames, suffixes reserved words, and refuses in strict mode", () => {
    expect(normalizeIdentifier("order", "normalize", "key")).toEqual({ name: "order_", rename: { from: "order", to: "order_", reason: "reserved SQL key word" } });
    expect(normalizeIdentifier("ok_name", "normalize", "key")).toEqual({ name: "ok_name" });
    expect(reasonOfThrown(() => normalizeIdentifier("Bad", "strict", "key"))).toBe("schema_invalid_identifier");
    expect(reasonOfThrown(() => normalizeIdentifier("x".repeat(64), "normalize", "key"))).toBe("schema_invalid_identifier");
    expect(reasonOfThrown(() => normalizeIdentifier("!!", "normalize", "key"))).toBe("schema_invalid_identifier");
  });

  it("refuses keys that collide after normalisation, and bad samples", () => {
    expect(reasonOfThrown(() => infer([{ userId: 1 }, { user_id: 2 }]))).toBe("schema_duplicate_identifier");
    expect(reasonOfThrown(() => infer([]))).toBe("schema_invalid_samples");
    expect(reasonOfThrown(() => infer([1]))).toBe("schema_invalid_samples");
    expect(reasonOfThrown(() => infer([null]))).toBe("schema_invalid_samples");
    expect(reasonOfThrown(() => resolveOptions({ identifiers: "loose" }))).toBe("validation_failed");
  });
});

describe("schema inference: batches", () => {
  const options = resolveOptions({});

  it("detects foreign keys whose values are among the referenced keys, typed like them", () => {
    const batch = inferBatch(
      [
        { name: "orders", samples: [{ id: 1, customer_id: 10, product_id: 99 }, { id: 2, customer_id: 11, product_id: 98 }] },
        { name: "customers", samples: [{ id: 10 }, { id: 11 }] },
        { name: "products", samples: [{ id: 99 }] },
      ],
      options,
      true,
    );
    // product_id 98 is not among products.id: no relationship.
    expect(batch.relationships.map((r) => `${r.table}.${r.column}→${r.referencedTable}.${r.referencedColumn}`)).toEqual(["orders.customer_id→customers.id"]);
    expect(batch.schemas.map((s) => s.tableName)).toEqual(["customers", "orders", "products"]);
    expect(batch.combinedDdl).toContain('FOREIGN KEY ("tenant_id", "customer_id") REFERENCES "public"."customers" ("tenant_id", "id")');
    expect(batch.combinedDdl).toContain('CONSTRAINT "customers_tenant_id_id_key" UNIQUE ("tenant_id", "id")');
    expect(inferBatch([{ name: "a", samples: [{ b_id: 1 }] }, { name: "b", samples: [{ id: 1 }] }], options, false).relationships).toEqual([]);
  });

  it("defers the foreign keys of a cycle to ALTER TABLE after every CREATE TABLE", () => {
    const batch = inferBatch(
      [
        { name: "authors", samples: [{ id: 1, book_id: 5 }] },
        { name: "books", samples: [{ id: 5, author_id: 1 }] },
      ],
      options,
      true,
    );
    expect(batch.relationships).toHaveLength(2);
    const last = batch.statements.at(-1) ?? "";
    expect(last).toMatch(/^ALTER TABLE "public"\."authors" ADD CONSTRAINT "authors_book_id_fkey" FOREIGN KEY/);
    expect(batch.statements.filter((s) => s.startsWith("CREATE TABLE"))).toHaveLength(2);
  });

  it("refuses tables whose names collide, naming the table", () => {
    expect(reasonOfThrown(() => inferBatch([{ name: "Orders", samples: [{ a: 1 }] }, { name: "orders", samples: [{ a: 1 }] }], options, true))).toBe("schema_duplicate_identifier");
    expect(reasonOfThrown(() => inferBatch([], options, true))).toBe("schema_invalid_samples");
  });
});

describe("schema inference: files", () => {
  it("reads CSV fields as JSON values: numbers, booleans, nulls, and strings when quoted or zero-padded", () => {
    expect(samplesFromCsv('a,b,c,d,e\n1,true,,007,"12"\n')).toEqual([{ a: 1, b: true, c: null, d: "007", e: "12" }]);
  });

  it("refuses ragged rows, empty headers and duplicate headers", () => {
    expect(reasonOfThrown(() => samplesFromCsv("a,b\n1\n"))).toBe("schema_invalid_file");
    expect(reasonOfThrown(() => samplesFromCsv("a,a\n1,2\n"))).toBe("schema_invalid_file");
    expect(reasonOfThrown(() => samplesFromCsv("a,\n1,2\n"))).toBe("schema_invalid_file");
    expect(reasonOfThrown(() => samplesFromCsv("a,b\n"))).toBe("schema_invalid_file");
    expect(reasonOfThrown(() => samplesFromCsv("a,b\n1,2\n", { delimiter: ";;" }))).toBe("validation_failed");
  });

  it("reads NDJSON, skipping blank lines", () => {
    expect(samplesFromNdjson('{"a":1}\n\n{"a":2}\r\n')).toEqual([{ a: 1 }, { a: 2 }]);
    expect(reasonOfThrown(() => samplesFromNdjson("\n\n"))).toBe("schema_invalid_file");
  });
});
