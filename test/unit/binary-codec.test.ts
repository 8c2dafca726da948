import { create, createFileRegistry, fromBinary, fromJson, toBinary, type DescMessage, type JsonValue, type Message } from "@bufbuild/protobuf";
import {
  FieldDescriptorProto_Label,
  FieldDescriptorProto_Type,
  file_google_protobuf_struct,
  FileDescriptorProtoSchema,
  ListValueSchema,
  ValueSchema,
} from "@bufbuild/protobuf/wkt";
import { describe, expect, it } from "vitest";
import { QueryService } from "../../gen/helios/query/v1/query_pb.js";
import type { QueryResult } from "../../src/query/result-encoding.js";
import { toQueryResponse } from "../../src/query/to-proto.js";
import { encodeBinary } from "../../src/server/binary-codec.js";
import { lazyField } from "../../src/server/lazy-field.js";

/** A message with every field shape the writer takes from JSON, beside a plain one. */
function shapesMessage(): DescMessage {
  const { OPTIONAL, REPEATED } = FieldDescriptorProto_Label;
  const { MESSAGE, STRING } = FieldDescriptorProto_Type;
  const file = create(FileDescriptorProtoSchema, {
    name: "shapes.proto",
    package: "shapes",
    syntax: "proto3",
    dependency: ["google/protobuf/struct.proto"],
    messageType: [
      {
        name: "Shapes",
        field: [
          { name: "label", number: 1, type: STRING, label: OPTIONAL, jsonName: "label" },
          { name: "one", number: 2, type: MESSAGE, typeName: ".google.protobuf.Value", label: OPTIONAL, jsonName: "one" },
          { name: "object", number: 3, type: MESSAGE, typeName: ".google.protobuf.Struct", label: OPTIONAL, jsonName: "object" },
          { name: "list", number: 4, type: MESSAGE, typeName: ".google.protobuf.ListValue", label: OPTIONAL, jsonName: "list" },
          { name: "objects", number: 300, type: MESSAGE, typeName: ".google.protobuf.Struct", label: REPEATED, jsonName: "objects" },
        ],
      },
    ],
  });
  const message = createFileRegistry(file, (name) => (name === "google/protobuf/struct.proto" ? file_google_protobuf_struct : undefined)).getMessage("shapes.Shapes");
  if (!message) throw new Error("shapes.Shapes was not built");
  return message;
}

/** JSON values a query's rows hold, awkward ones included. */
const awkward: JsonValue[] = [
  null,
  0,
  -0,
  1.5e300,
  -123456789.125,
  Number.MAX_SAFE_INTEGER,
  true,
  false,
  "",
  "plain",
  "ünïcødé ✓ 𝄞",
  "lone \ud800 surrogate \udfff",
  "x".repeat(200),
  [],
  {},
  { __proto__: 1 } as unknown as JsonValue,
  JSON.parse('{"__proto__":{"admin":true},"constructor":null}') as JsonValue,
  { nested: [1, [2, [3, { deep: "yes" }]], { "": "empty key" }] },
];

/** What `toBinary` writes for the message `build` makes, parsed back. */
function reference(schema: DescMessage, build: () => Message): Message {
  return fromBinary(schema, toBinary(schema, build()));
}

describe("binary codec", () => {
  it("writes a query's pending rows as toBinary writes the Values they stand for", () => {
    const schema = QueryService.method.query.output;
    const columns = [{ name: "v", type: "jsonb" }];
    const results: QueryResult[] = [
      { columns, rows: [...awkward.map((value) => [value]), awkward], row_count: awkward.length + 1, command: "SELECT", truncated: false, notices: ["n"] },
      { columns, rows: awkward.map((value, index) => ({ [`c${index}`]: value, v: value })), row_count: awkward.length, command: "SELECT", truncated: true },
    ];
    for (const result of results) {
      expect(fromBinary(schema, encodeBinary(schema, toQueryResponse(result)))).toEqual(reference(schema, () => toQueryResponse(result)));
    }
  });

  it("writes singular Value, Struct and ListValue fields and repeated Structs from their JSON form", () => {
    const schema = shapesMessage();
    for (const value of awkward) {
      const object = { key: value, other: [value] };
      const make = (lazy: boolean) => {
        const message = create(schema, { label: "l" }) as Message & Record<string, unknown>;
        const fields: [string, JsonValue, () => unknown][] = [
          ["one", value, () => fromJson(ValueSchema, value)],
          // protobuf-es holds a Struct field, singular or repeated, as JSON objects.
          ["object", object, () => object],
          ["list", [value, value], () => fromJson(ListValueSchema, [value, value])],
          ["objects", [object, {}], () => [object, {}]],
        ];
        for (const [name, json, build] of fields) {
          if (lazy) lazyField(message, name, json, build);
          else message[name] = build();
        }
        return message;
      };
      expect(fromBinary(schema, encodeBinary(schema, make(true)))).toEqual(reference(schema, () => make(false)));
    }
  });

  it("leaves headroom before the message and writes read fields as toBinary does", () => {
    const schema = QueryService.method.query.output;
    const result: QueryResult = { columns: [], rows: [{ a: 1 }], row_count: 1, command: "SELECT", truncated: false };
    const read = toQueryResponse(result);
    expect(read.rows).toHaveLength(1);
    const written = encodeBinary(schema, read, 5);
    expect(written.subarray(5)).toEqual(Buffer.from(toBinary(schema, toQueryResponse(result))));
    expect(fromBinary(schema, encodeBinary(schema, toQueryResponse(result), 5).subarray(5))).toEqual(fromBinary(schema, written.subarray(5)));
  });
});
