import { createClient } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SchemaService } from "../../gen/helios/schema/v1/schema_pb.js";
import { ok, refused } from "../admin/support/admin-api.js";
import { rpcFailure, rpcTransport } from "../auth/support/auth-api.js";
import { backends, startTestServer, type TestServer } from "../support/server.js";
import { as, createSchemaWorld, sql, type SchemaWorld } from "./support/schema-world.js";

interface TableJson {
  table_name: string;
  columns: { name: string; sql_type: string; nullable: boolean; unique: boolean; detected_pattern: string }[];
  primary_key: string[];
  ddl: string;
  warnings: string[];
  renamed: { from: string; to: string }[];
}

const orders = [
  { id: 1, customerId: 10, item: "anvil", amount: 12.5, placed_at: "2024-05-01T10:00:00Z", tags: ["heavy"] },
  { id: 2, customerId: 11, item: "rocket", amount: 99, placed_at: "2024-05-02T11:30:00Z", tags: [], note: "fragile" },
];

describe.each(backends)("SchemaService inference on %s storage", (backend) => {
  let server: TestServer;
  let world: SchemaWorld;

  beforeAll(async () => {
    // Strict tenancy refuses any key of a tenant table without tenant_id: applied DDL must have none.
    server = await startTestServer(backend, ["--schema-max-samples", "50", "--schema-max-sample-bytes", "4096", "--strict-tenancy"]);
    world = await createSchemaWorld(server);
  });
  afterAll(() => server?.close());

  const tableNames = async (key: string) => ((ok<{ name: string }[]>(await as(server, key, "GET", "/api/v1/schema/tables"))).map((t) => t.name));

  it("proposes a table to any caller with a data scope, over REST and RPC alike", async () => {
    const body = ok<{ table: TableJson; applied: boolean }>(
      await as(server, world.acmeReader, "POST", "/api/v1/schema/infer", { table_name: "orders", samples: orders }),
    );
    expect(body.applied).toBe(false);
    expect(body.table.columns.map((c) => [c.name, c.sql_type, c.nullable])).toEqual([
      ["id", "bigint", false],
      ["customer_id", "bigint", false],
      ["item", "text", false],
      ["amount", "numeric", false],
      ["placed_at", "timestamptz", false],
      ["tags", "text[]", false],
      ["note", "text", true],
      ["tenant_id", "text", false],
    ]);
    expect(body.table.primary_key).toEqual(["id"]);
    expect(body.table.renamed).toEqual([expect.objectContaining({ from: "customerId", to: "customer_id" })]);
    expect(body.table.warnings.join("\n")).toContain('column "amount": widened bigint → numeric');
    const rpc = createClient(SchemaService, rpcTransport("connect", server.url));
    const answer = await rpc.infer(
      { tableName: "orders", samples: [] },
      { headers: { "x-api-key": world.acme } },
    ).catch((error: unknown) => error);
    expect(rpcFailure(answer).reason).toBe("schema_invalid_samples");
    const grpc = createClient(SchemaService, rpcTransport("grpc", server.url));
    const viaGrpc = await grpc.inferFile(
      { tableName: "events", format: "ndjson", content: '{"id": 1, "kind": "click"}\n{"id": 2, "kind": "view"}\n' },
      { headers: { "x-api-key": world.acme } },
    );
    expect(viaGrpc.table?.columns.map((c) => c.name)).toEqual(["id", "kind", "tenant_id"]);
  });

  it("refuses callers without credentials or with only a publishable key", async () => {
    refused(await as(server, undefined, "POST", "/api/v1/schema/infer", { samples: orders }), 401, "unauthorized");
    refused(await as(server, world.publishable, "POST", "/api/v1/schema/infer", { samples: orders }), 403, "insufficient_scope");
  });

  it.each([
    ["no samples", { samples: [] }, 400, "schema_invalid_samples", "at least one"],
    ["a sample that is not an object", { samples: [{ a: 1 }, [1, 2]] }, 400, "schema_invalid_samples", "samples[1]"],
    ["keys that collide after normalisation", { samples: [{ userId: 1, user_id: 2 }] }, 400, "schema_duplicate_identifier", '"userId" and "user_id"'],
    ["a bad key in strict mode", { samples: [{ "First Name": "x" }], options: { identifiers: "strict" } }, 400, "schema_invalid_identifier", '"First Name"'],
    ["a reserved word in strict mode", { samples: [{ order: 1 }], options: { identifiers: "strict" } }, 400, "schema_invalid_identifier", "reserved"],
    ["a key with nothing to keep", { samples: [{ "!!!": 1 }] }, 400, "schema_invalid_identifier", '"!!!"'],
    ["more samples than the cap", { samples: Array.from({ length: 51 }, (_, id) => ({ id })) }, 413, "schema_input_too_large", "--schema-max-samples"],
    ["more bytes than the cap", { samples: [{ text: "x".repeat(5000) }] }, 413, "schema_input_too_large", "--schema-max-sample-bytes"],
    ["a bad option", { samples: [{ a: 1 }], options: { max_varchar_length: 0 } }, 400, "validation_failed", "max_varchar_length"],
  ])("refuses %s with a catalogue error naming it", async (_name, body, status, error, mentions) => {
    const res = await as(server, world.acme, "POST", "/api/v1/schema/infer", body);
    refused(res, status, error);
    expect((res.body as { message: string }).message).toContain(mentions);
  });

  it("reads CSV with header, delimiter and quote options, and refuses ragged rows", async () => {
    const csv = "sku;label;price\n'A-1';'Bolt; M4';0.25\n'B-2';'Nut';0.1\n";
    const body = ok<{ table: TableJson }>(
      await as(server, world.acme, "POST", "/api/v1/schema/infer/file", {
        table_name: "parts",
        format: "csv",
        content: csv,
        csv: { delimiter: ";", quote: "'" },
      }),
    );
    expect(body.table.columns.map((c) => [c.name, c.sql_type, c.unique])).toEqual([
      ["sku", "text", true],
      ["label", "text", false],
      ["price", "numeric", false],
      ["tenant_id", "text", false],
    ]);
    const headerless = ok<{ table: TableJson }>(
      await as(server, world.acme, "POST", "/api/v1/schema/infer/file", { format: "csv", content: "1,x\n2,y\n", csv: { header: false } }),
    );
    expect(headerless.table.columns.map((c) => c.name)).toEqual(["column_1", "column_2", "tenant_id"]);
    const ragged = await as(server, world.acme, "POST", "/api/v1/schema/infer/file", { format: "csv", content: "a,b\n1,2\n3\n" });
    refused(ragged, 400, "schema_invalid_file");
    expect((ragged.body as { message: string }).message).toContain("line 3");
    refused(await as(server, world.acme, "POST", "/api/v1/schema/infer/file", { format: "xml", content: "<a/>" }), 400, "validation_failed");
    const badLine = await as(server, world.acme, "POST", "/api/v1/schema/infer/file", { format: "ndjson", content: '{"a":1}\n{nope\n' });
    refused(badLine, 400, "schema_invalid_file");
    expect((badLine.body as { message: string }).message).toContain("line 2");
  });

  it("detects relationships in a batch and orders the DDL by dependency", async () => {
    const body = ok<{ schemas: TableJson[]; relationships: unknown[]; combined_ddl: string }>(
      await as(server, world.acme, "POST", "/api/v1/schema/infer/batch", {
        tables: [
          { name: "line_items", samples: [{ id: 1, order_id: 7, qty: 2 }, { id: 2, order_id: 8, qty: 1 }] },
          { name: "orders", samples: [{ id: 7, customer_id: 1 }, { id: 8, customer_id: 2 }] },
          { name: "customers", samples: [{ id: 1, name: "Ada" }, { id: 2, name: "Grace" }] },
        ],
      }),
    );
    expect(body.schemas.map((s) => s.table_name)).toEqual(["customers", "orders", "line_items"]);
    expect(body.relationships).toEqual([
      expect.objectContaining({ table: "line_items", column: "order_id", referenced_table: "orders", referenced_column: "id" }),
      expect.objectContaining({ table: "orders", column: "customer_id", referenced_table: "customers", referenced_column: "id" }),
    ]);
    const ddl = body.combined_ddl;
    expect(ddl.indexOf('CREATE TABLE "public"."customers"')).toBeLessThan(ddl.indexOf('CREATE TABLE "public"."orders"'));
    expect(ddl.indexOf('CREATE TABLE "public"."orders"')).toBeLessThan(ddl.indexOf('CREATE TABLE "public"."line_items"'));
  });

  it("applies only for admins, and applied tables are isolated per tenant", async () => {
    const batch = {
      tables: [
        { name: "shop_orders", samples: [{ id: 1, shop_customer_id: 1, item: "anvil" }, { id: 2, shop_customer_id: 2, item: "rope" }] },
        { name: "shop_customers", samples: [{ id: 1, email: "a@example.com" }, { id: 2, email: "b@example.com" }] },
      ],
      apply: true,
    };
    refused(await as(server, world.acme, "POST", "/api/v1/schema/infer/batch", batch), 403, "insufficient_scope");
    expect(await tableNames(world.acme)).not.toContain("shop_customers");

    const applied = ok<{ applied: boolean; relationships: unknown[]; notices: string[] }>(await as(server, world.acmeAdmin, "POST", "/api/v1/schema/infer/batch", batch));
    expect(applied.applied).toBe(true);
    // Both tables came out as tenant tables, and no key lacks tenant_id (that would be a warning).
    expect(applied.notices.filter((notice) => notice.includes("shop_customers") || notice.includes("shop_orders")).length).toBeGreaterThanOrEqual(2);
    expect(applied.notices.join("\n")).not.toMatch(/without tenant_id|does not include tenant_id/i);
    expect(applied.relationships).toHaveLength(1);
    const described = ok<{ rls_enabled: boolean; rls_forced: boolean }>(await as(server, world.acme, "GET", "/api/v1/schema/tables/shop_customers"));
    expect(described).toMatchObject({ rls_enabled: true, rls_forced: true });

    // tenant_id and id come from their defaults; each tenant sees only its own rows.
    const [acmeCustomer] = await sql(server, world.acme, "INSERT INTO shop_customers (email) VALUES ('ada@acme.test') RETURNING id, tenant_id");
    const [globexCustomer] = await sql(server, world.globex, "INSERT INTO shop_customers (email) VALUES ('ada@acme.test') RETURNING id, tenant_id");
    expect(acmeCustomer).toMatchObject({ tenant_id: "acme" });
    expect(globexCustomer).toMatchObject({ tenant_id: "globex" });
    await sql(server, world.acme, "INSERT INTO shop_orders (shop_customer_id, item) VALUES ($1, 'anvil')", [acmeCustomer?.id]);
    expect(await sql(server, world.acme, "SELECT email, tenant_id FROM shop_customers")).toEqual([{ email: "ada@acme.test", tenant_id: "acme" }]);
    expect(await sql(server, world.globex, "SELECT item FROM shop_orders")).toEqual([]);
    // A foreign key through tenant_id: a row cannot reference another tenant's row.
    const crossing = await as(server, world.globex, "POST", "/api/v1/query", {
      sql: "INSERT INTO shop_orders (shop_customer_id, item) VALUES ($1, 'stolen')",
      params: [acmeCustomer?.id],
    });
    refused(crossing, 400, "sql_error");
    expect(crossing.body).toMatchObject({ sqlstate: "23503" });
  });

  it("applies single tables from samples and from files", async () => {
    refused(await as(server, world.acme, "POST", "/api/v1/schema/infer", { table_name: "events", samples: [{ id: 1 }], apply: true }), 403, "insufficient_scope");
    const one = ok<{ applied: boolean }>(
      await as(server, world.acmeAdmin, "POST", "/api/v1/schema/infer", { table_name: "Audit Events", samples: [{ id: "evt-1", what: "login" }], apply: true }),
    );
    expect(one.applied).toBe(true);
    const file = ok<{ applied: boolean }>(
      await as(server, world.acmeAdmin, "POST", "/api/v1/schema/infer/file", { table_name: "imported", format: "csv", content: "code,qty\nx,1\n", apply: true }),
    );
    expect(file.applied).toBe(true);
    expect(await tableNames(world.acme)).toEqual(expect.arrayContaining(["audit_events", "imported"]));
    // A text key chosen by the writers is unique per tenant: both tenants may use "evt-1".
    await sql(server, world.acme, "INSERT INTO audit_events (id, what) VALUES ('evt-1', 'login')");
    await sql(server, world.globex, "INSERT INTO audit_events (id, what) VALUES ('evt-1', 'logout')");
    expect(await sql(server, world.acme, "SELECT id, what FROM audit_events")).toEqual([{ id: "evt-1", what: "login" }]);
  });

  it("applies in one transaction: a failing statement leaves nothing behind", async () => {
    const res = await as(server, world.acmeAdmin, "POST", "/api/v1/schema/infer/batch", {
      tables: [
        { name: "fresh_table", samples: [{ id: 1 }] },
        { name: "shop_customers", samples: [{ id: 1 }] },
      ],
      apply: true,
    });
    refused(res, 400, "sql_error");
    expect(res.body).toMatchObject({ sqlstate: "42P07" });
    expect(await tableNames(world.acmeAdmin)).not.toContain("fresh_table");
  });
});
