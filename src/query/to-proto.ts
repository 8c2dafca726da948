import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { NullValue, ValueSchema, type Value } from "@bufbuild/protobuf/wkt";
import { QueryResponseSchema, type QueryResponse } from "../../gen/helios/query/v1/query_pb.js";
import type { JsonValue, QueryResult } from "./result-encoding.js";

type ValueInit = MessageInitShape<typeof ValueSchema>;

/** A JSON value as a `google.protobuf.Value` init shape (built directly: no reflection per cell). */
function valueInit(value: JsonValue): ValueInit {
  if (value === null) return { kind: { case: "nullValue", value: NullValue.NULL_VALUE } };
  switch (typeof value) {
    case "string":
      return { kind: { case: "stringValue", value } };
    case "number":
      return { kind: { case: "numberValue", value } };
    case "boolean":
      return { kind: { case: "boolValue", value } };
    default:
      if (Array.isArray(value)) return { kind: { case: "listValue", value: { values: value.map(valueInit) } } };
      return {
        kind: {
          case: "structValue",
          value: { fields: Object.fromEntries(Object.entries(value).map(([key, item]) => [key, valueInit(item)])) },
        },
      };
  }
}

/** Converts a JSON value to a `google.protobuf.Value`. */
export function toProtoValue(value: JsonValue): Value {
  return create(ValueSchema, valueInit(value));
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
      const object = Object.create(null) as Record<string, JsonValue>;
      for (const [key, item] of Object.entries(kind.value.fields)) object[key] = fromProtoValue(item);
      return object;
    }
    default:
      return null;
  }
}

/**
 * Converts an executor {@link QueryResult} to the proto `QueryResponse`. `row_count` is an int32 on
 * the wire and is clamped to its range.
 */
export function toQueryResponse(result: QueryResult): QueryResponse {
  const rows: JsonValue[] = result.rows;
  return create(QueryResponseSchema, {
    columns: result.columns.map((column) => ({ name: column.name, type: column.type })),
    rows: rows.map(valueInit),
    rowCount: Math.min(result.row_count, 2_147_483_647),
    command: result.command,
    truncated: result.truncated,
  });
}
