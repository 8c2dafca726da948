import { NullValue, type ListValue, type Struct, type Value } from "@bufbuild/protobuf/wkt";
import { ColumnSchema, QueryResponseSchema, type QueryResponse } from "../../gen/helios/query/v1/query_pb.js";
import { lazyField } from "../server/lazy-field.js";
import { bareObject } from "../util/bare-object.js";
import type { JsonValue, QueryResult } from "./result-encoding.js";

/**
 * Converts a JSON value to a `google.protobuf.Value`. The messages are built as the plain objects
 * protobuf-es v2 messages are (proto3, no prototype), checked by their types, rather than through
 * `create()`, whose reflection over every cell was a third of the server's time on 1 000-row results.
 */
export function toProtoValue(value: JsonValue): Value {
  if (value === null) return { $typeName: "google.protobuf.Value", kind: { case: "nullValue", value: NullValue.NULL_VALUE } };
  switch (typeof value) {
    case "string":
      return { $typeName: "google.protobuf.Value", kind: { case: "stringValue", value } };
    case "number":
      return { $typeName: "google.protobuf.Value", kind: { case: "numberValue", value } };
    case "boolean":
      return { $typeName: "google.protobuf.Value", kind: { case: "boolValue", value } };
    default: {
      if (Array.isArray(value)) {
        const list: ListValue = { $typeName: "google.protobuf.ListValue", values: value.map(toProtoValue) };
        return { $typeName: "google.protobuf.Value", kind: { case: "listValue", value: list } };
      }
      // Inheriting nothing: a JSON key "__proto__" stays a key.
      const fields = bareObject<Value>();
      for (const [key, item] of Object.entries(value)) fields[key] = toProtoValue(item);
      const struct: Struct = { $typeName: "google.protobuf.Struct", fields };
      return { $typeName: "google.protobuf.Value", kind: { case: "structValue", value: struct } };
    }
  }
}

/** Converts rows (a JSON array) to `google.protobuf.Value`s. */
function toProtoValues(rows: JsonValue): Value[] {
  return (rows as JsonValue[]).map(toProtoValue);
}

/** Converts a `google.protobuf.Value` (a request parameter) to a JSON value. */
export function fromProtoValue(value: Value): JsonValue {
  const kind = value.kind;
  switch (kind.case) {
    case "stringValue":
    case "numberValue":
    case "boolValue":
      return kind.value;
    case "listValue":
      return kind.value.values.map(fromProtoValue);
    case "structValue": {
      const object = bareObject<JsonValue>();
      for (const [key, item] of Object.entries(kind.value.fields)) object[key] = fromProtoValue(item);
      return object;
    }
    default:
      return null;
  }
}

/**
 * Converts an executor {@link QueryResult} to the proto `QueryResponse`, built as a plain message
 * object like {@link toProtoValue}'s. Its rows become `Value`s only when something reads them (connect's
 * own handlers, which serve gRPC-Web); the compiled JSON codec (REST, Connect JSON) writes the decoded
 * rows as they are, which is the JSON those `Value`s would have, and `encodeBinary` (gRPC, Connect
 * proto) writes their binary form straight from it. `row_count` is an int32 on the wire and is clamped to its range.
 */
export function toQueryResponse(result: QueryResult): QueryResponse {
  const rows: JsonValue[] = result.rows;
  const response: QueryResponse = {
    $typeName: QueryResponseSchema.typeName,
    columns: result.columns.map((column) => ({ $typeName: ColumnSchema.typeName, name: column.name, type: column.type })),
    rows: [],
    rowCount: Math.min(result.row_count, 2_147_483_647),
    command: result.command,
    truncated: result.truncated,
    notices: result.notices ?? [],
  };
  return lazyField(response, "rows", rows, toProtoValues);
}
