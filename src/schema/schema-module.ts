import { create, fromJson, type DescMethod, type JsonValue as ProtoJson } from "@bufbuild/protobuf";
import type { Value } from "@bufbuild/protobuf/wkt";
import type { HandlerContext } from "@connectrpc/connect";
import { HttpBodySchema } from "../../gen/google/api/httpbody_pb.js";
import {
  GetJsonSchemaResponseSchema,
  InferBatchResponseSchema,
  InferResponseSchema,
  ListEnumsResponseSchema,
  ListTablesResponseSchema,
  ListViewsResponseSchema,
  SchemaService,
  TableSchema,
  type InferOptions as InferOptionsMessage,
} from "../../gen/helios/schema/v1/schema_pb.js";
import { principalOf, type Principal } from "../auth/principal.js";
import type { SchemaConfig } from "../config/config.js";
import { apiError, type Reason } from "../errors/catalogue.js";
import { executorReasons, type QueryExecutor } from "../query/executor.js";
import { strongestScope } from "../query/sql-guard.js";
import { fromProtoValue } from "../query/to-proto.js";
import type { ServiceModule } from "../server/request-handler.js";
import { catalogueSql, forCaller, type CatalogueSnapshot } from "./catalogue-snapshot.js";
import { inferBatch } from "./infer-batch.js";
import { inferTable } from "./infer-table.js";
import { resolveOptions, type InferOptions } from "./inference-options.js";
import { jsonSchemaOf } from "./json-schema.js";
import { samplesFromCsv, samplesFromNdjson } from "./sample-files.js";
import { generateTypescript } from "./typescript-types.js";
import type { JsonValue } from "./value-profile.js";

/** The table name used when a request names none (HeliosDB Nano's table_name is optional). */
const defaultTableName = "inferred_table";

/** The options of a request, with every default filled in. */
function options(message: InferOptionsMessage | undefined): InferOptions {
  return resolveOptions(message ?? {});
}

/** Inference is open to every authenticated caller with a data scope (not to publishable keys). */
function requireDataScope(principal: Principal): void {
  if (!strongestScope(principal.scopes)) {
    throw apiError("insufficient_scope", "Schema inference requires the read, write or admin scope", { metadata: { required_scope: "read" } });
  }
}

function tooLarge(message: string, limit: number, flag: string) {
  return apiError("schema_input_too_large", `${message}, more than the ${limit} accepted (--${flag})`, { metadata: { limit: String(limit), flag: `--${flag}` } });
}

/**
 * Builds SchemaService over the query executor: inference is pure computation; `apply` hands the
 * proposal's DDL to {@link QueryExecutor.executeTransaction} (the guard, the admin scope check,
 * helios_admin, one transaction, then the tenancy sync); introspection runs the catalogue query
 * through {@link QueryExecutor.execute} read-only as the caller's role, so it shows only what
 * that role can read.
 */
export function createSchemaModule(deps: { executor: QueryExecutor; config: SchemaConfig }): ServiceModule {
  const { executor, config } = deps;

  function checkSamples(count: number, bytes: () => number): void {
    if (count > config.maxSamples) throw tooLarge(`the request holds ${count} samples`, config.maxSamples, "schema-max-samples");
    const size = bytes();
    if (size > config.maxSampleBytes) throw tooLarge(`the samples hold ${size} bytes`, config.maxSampleBytes, "schema-max-sample-bytes");
  }

  function samplesOf(values: readonly Value[]): JsonValue[] {
    const samples = values.map(fromProtoValue) as JsonValue[];
    checkSamples(samples.length, () => Buffer.byteLength(JSON.stringify(samples), "utf8"));
    return samples;
  }

  /** Runs the DDL for an admin; resolves with the tenancy notices. */
  async function apply(principal: Principal, context: HandlerContext, statements: readonly string[]): Promise<string[]> {
    if (strongestScope(principal.scopes) !== "admin") {
      throw apiError("insufficient_scope", "apply requires the admin scope", { metadata: { required_scope: "admin" } });
    }
    return executor.executeTransaction({ principal, statements, tenantOverride: context.requestHeader.get("x-tenant-id") ?? undefined });
  }

  async function snapshot(context: HandlerContext): Promise<CatalogueSnapshot> {
    const principal = principalOf(context);
    const result = await executor.execute({
      principal,
      sql: catalogueSql,
      readOnly: true,
      tenantOverride: context.requestHeader.get("x-tenant-id") ?? undefined,
    });
    const row = result.rows[0] as { catalogue: CatalogueSnapshot } | undefined;
    if (!row) throw apiError("internal_error");
    return forCaller(row.catalogue, strongestScope(principal.scopes) === "admin");
  }

  const tableMessage = (table: CatalogueSnapshot["tables"][number]) => fromJson(TableSchema, table as unknown as ProtoJson);
  const methods = SchemaService.method;
  // Inference refuses samples and names of its own; with `apply` its DDL runs through the executor.
  const inference: readonly Reason[] = [
    ...executorReasons,
    "schema_input_too_large",
    "schema_invalid_samples",
    "schema_invalid_identifier",
    "schema_duplicate_identifier",
  ];
  // Introspection is one read-only catalogue query through the executor.
  const introspection = executorReasons;

  return {
    services: [SchemaService],
    errorReasons: new Map<DescMethod, readonly Reason[]>([
      [methods.infer, inference],
      [methods.inferBatch, inference],
      [methods.inferFile, [...inference, "schema_invalid_file"]],
      [methods.listTables, introspection],
      [methods.getTable, [...introspection, "schema_table_not_found"]],
      [methods.listViews, introspection],
      [methods.listEnums, introspection],
      [methods.generateTypescript, introspection],
      [methods.getJsonSchema, [...introspection, "schema_table_not_found"]],
    ]),
    register: (router) =>
      router.service(SchemaService, {
        async infer(request, context) {
          const principal = principalOf(context);
          requireDataScope(principal);
          const finished = inferTable(request.tableName || defaultTableName, samplesOf(request.samples), options(request.options));
          const notices = request.apply ? await apply(principal, context, finished.statements) : undefined;
          return create(InferResponseSchema, { table: finished.table, applied: notices !== undefined, notices });
        },
        async inferBatch(request, context) {
          const principal = principalOf(context);
          requireDataScope(principal);
          const inputs = request.tables.map((table) => ({ name: table.name, samples: table.samples.map(fromProtoValue) as JsonValue[] }));
          const count = inputs.reduce((sum, input) => sum + input.samples.length, 0);
          checkSamples(count, () => Buffer.byteLength(JSON.stringify(inputs.map((input) => input.samples)), "utf8"));
          const resolved = options(request.options);
          const proposal = inferBatch(inputs, resolved, request.detectRelationships ?? resolved.detectForeignKeys);
          const notices = request.apply ? await apply(principal, context, proposal.statements) : undefined;
          return create(InferBatchResponseSchema, {
            schemas: proposal.schemas,
            relationships: proposal.relationships,
            combinedDdl: proposal.combinedDdl,
            applied: notices !== undefined,
            notices,
          });
        },
        async inferFile(request, context) {
          const principal = principalOf(context);
          requireDataScope(principal);
          const bytes = Buffer.byteLength(request.content, "utf8");
          if (bytes > config.maxSampleBytes) throw tooLarge(`the document holds ${bytes} bytes`, config.maxSampleBytes, "schema-max-sample-bytes");
          let samples: JsonValue[];
          if (request.format === "csv") samples = samplesFromCsv(request.content, request.csv ?? {});
          else if (request.format === "ndjson") samples = samplesFromNdjson(request.content);
          else throw apiError("validation_failed", `format must be "csv" or "ndjson", got ${JSON.stringify(request.format)}`);
          checkSamples(samples.length, () => bytes);
          const finished = inferTable(request.tableName || defaultTableName, samples, options(request.options));
          const notices = request.apply ? await apply(principal, context, finished.statements) : undefined;
          return create(InferResponseSchema, { table: finished.table, applied: notices !== undefined, notices });
        },
        async listTables(_request, context) {
          const { tables } = await snapshot(context);
          return create(ListTablesResponseSchema, { tables: tables.map(tableMessage) });
        },
        async getTable(request, context) {
          const table = (await snapshot(context)).tables.find((candidate) => candidate.name === request.name);
          if (!table) throw apiError("schema_table_not_found", `No table "${request.name}" in schema public is readable by this role`);
          return tableMessage(table);
        },
        async listViews(_request, context) {
          const { views } = await snapshot(context);
          return fromJson(ListViewsResponseSchema, { views } as unknown as ProtoJson);
        },
        async listEnums(_request, context) {
          const { enums } = await snapshot(context);
          return fromJson(ListEnumsResponseSchema, { enums } as unknown as ProtoJson);
        },
        async generateTypescript(_request, context) {
          const text = generateTypescript(await snapshot(context));
          return create(HttpBodySchema, { contentType: "text/plain; charset=utf-8", data: Buffer.from(text, "utf8") });
        },
        async getJsonSchema(request, context) {
          const document = jsonSchemaOf(await snapshot(context), request.table === "" ? undefined : request.table);
          if (!document) throw apiError("schema_table_not_found", `No table or view "${request.table}" in schema public is readable by this role`);
          return create(GetJsonSchemaResponseSchema, { schema: document });
        },
      }),
  };
}
