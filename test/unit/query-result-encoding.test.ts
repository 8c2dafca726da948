import { describe, expect, it } from "vitest";
import { ConnectError } from "@connectrpc/connect";
import { create, fromBinary, fromJson, toBinary, toJson } from "@bufbuild/protobuf";
import { ValueSchema } from "@bufbuild/protobuf/wkt";
import { reasonOf } from "../../src/errors/catalogue.js";
import { QueryResponseSchema } from "../../gen/helios/query/v1/query_pb.js";
import {
  decodeRows,
  decoders,
  parseArrayLiteral,
  parseCommandTag,
  type JsonValue,
  type QueryResult,
} from "../../src/query/result-encoding.js";
import { createTypeRegistry, type TypeRow } from "../../src/query/type-registry.js";
import { encodeParams } from "../../src/query/param-encoding.js";
import { fromProtoValue, toProtoValue, toQueryResponse } from "../../src/query/to-proto.js";
import { jsonCodec } from "../../src/server/json-codec.js";

describe("scalar decoders", () => {
  it("keeps int8 exact: numbers when safe, strings beyond 2^53", () => {
    expect(decoders.int8("42")).toBe(42);
    expect(decoders.int8("-9007199254740991")).toBe(-9007199254740991);
    expect(decoders.int8("9007199254740992")).toBe("9007199254740992");
    expect(decoders.int8("-9223372036854775808")).toBe("-9223372036854775808");
  });

  it("keeps numeric exact", () => {
    expect(decoders.numeric("1.50")).toBe(1.5);
    expect(decoders.numeric("0.1")).toBe(0.1);
    expect(decoders.numeric("100")).toBe(100);
    expect(decoders.numeric("0.000")).toBe(0);
    expect(decoders.numeric("-12.25")).toBe(-12.25);
    expect(decoders.numeric("9007199254740993")).toBe("9007199254740993");
    expect(decoders.numeric("100000000000000000000")).toBe("100000000000000000000");
    expect(decoders.numeric("3.141592653589793238462643")).toBe("3.141592653589793238462643");
    expect(decoders.numeric("0.0000001")).toBe("0.0000001");
    expect(decoders.numeric("NaN")).toBe("NaN");
    expect(decoders.numeric("Infinity")).toBe("Infinity");
  });

  it("turns non-finite floats into strings", () => {
    expect(decoders.float("1.5")).toBe(1.5);
    expect(decoders.float("NaN")).toBe("NaN");
    expect(decoders.float("-Infinity")).toBe("-Infinity");
  });

  it("prints timestamps as ISO 8601 with microseconds", () => {
    expect(decoders.timestamp("2024-01-02 03:04:05.123456+00")).toBe("2024-01-02T03:04:05.123456Z");
    expect(decoders.timestamp("2024-01-02 03:04:05+05:30")).toBe("2024-01-02T03:04:05+05:30");
    expect(decoders.timestamp("2024-01-02 03:04:05-08")).toBe("2024-01-02T03:04:05-08:00");
    expect(decoders.timestamp("2024-01-02 03:04:05")).toBe("2024-01-02T03:04:05");
    expect(decoders.timestamp("infinity")).toBe("infinity");
    expect(decoders.timestamp("0044-03-15 12:00:00+00 BC")).toBe("0044-03-15 12:00:00+00 BC");
    expect(decoders.timetz("03:04:05+00")).toBe("03:04:05Z");
  });

  it("encodes bytea as base64 and parses json", () => {
    expect(decoders.bytea("\\x00ff10")).toBe(Buffer.from([0, 255, 16]).toString("base64"));
    expect(decoders.json('{"a":[1,null,"x"]}')).toEqual({ a: [1, null, "x"] });
    expect(decoders.bool("t")).toBe(true);
    expect(decoders.bool("f")).toBe(false);
  });
});

describe("array literals", () => {
  it("parses nesting, NULL, quoting and escapes", () => {
    expect(parseArrayLiteral("{}", decoders.integer)).toEqual([]);
    expect(parseArrayLiteral("{1,NULL,3}", decoders.integer)).toEqual([1, null, 3]);
    expect(parseArrayLiteral("{{1,2},{3,4}}", decoders.integer)).toEqual([
      [1, 2],
      [3, 4],
    ]);
    expect(parseArrayLiteral('{"a b","c\\"d","NULL",null,"e\\\\f",""}', decoders.text)).toEqual([
      "a b",
      'c"d',
      "NULL",
      null,
      "e\\f",
      "",
    ]);
    expect(parseArrayLiteral("[0:1]={7,8}", decoders.integer)).toEqual([7, 8]);
    expect(parseArrayLiteral("{(1,1),(0,0);(2,2),(1,1)}", decoders.text, ";")).toEqual(["(1,1),(0,0)", "(2,2),(1,1)"]);
    expect(parseArrayLiteral('{"2024-01-02 03:04:05+00"}', decoders.timestamp)).toEqual(["2024-01-02T03:04:05Z"]);
  });

  it("rejects malformed literals instead of guessing", () => {
    expect(() => parseArrayLiteral("{1,2", decoders.integer)).toThrow(SyntaxError);
    expect(() => parseArrayLiteral('{"abc}', decoders.text)).toThrow(SyntaxError);
  });
});

describe("rows and command tags", () => {
  const columns = [
    { name: "a", type: "int4" },
    { name: "__proto__", type: "text" },
    { name: "a", type: "text" },
  ];
  const decode = [decoders.integer, decoders.text, decoders.text];

  it("builds objects that inherit nothing; later duplicate names win", () => {
    const [row] = decodeRows([["1", "x", null]], columns, decode, false) as Record<string, JsonValue>[];
    expect(Object.getPrototypeOf(Object.getPrototypeOf(row))).toBeNull();
    expect(Reflect.ownKeys(Object.getPrototypeOf(row) as object)).toEqual([]);
    expect(row && "toString" in row).toBe(false);
    expect(JSON.stringify(row)).toBe('{"a":null,"__proto__":"x"}');
  });

  it("keeps every column in array mode", () => {
    expect(decodeRows([["1", "x", null]], columns, decode, true)).toEqual([[1, "x", null]]);
  });

  it("splits command tags", () => {
    expect(parseCommandTag("INSERT 0 5")).toEqual({ command: "INSERT", count: 5 });
    expect(parseCommandTag("SELECT 3")).toEqual({ command: "SELECT", count: 3 });
    expect(parseCommandTag("CREATE TABLE")).toEqual({ command: "CREATE TABLE", count: undefined });
  });
});

describe("type registry", () => {
  it("knows built-ins without a lookup and caches looked-up types", async () => {
    const asked: number[][] = [];
    const rows: TypeRow[] = [
      { oid: 90001, typname: "mood", typtype: "e", typcategory: "E", typelem: 0, typbasetype: 0, typdelim: "," },
      { oid: 90002, typname: "_mood", typtype: "b", typcategory: "A", typelem: 90001, typbasetype: 0, typdelim: "," },
      { oid: 90003, typname: "money_amount", typtype: "d", typcategory: "N", typelem: 0, typbasetype: 20, typdelim: "," },
      { oid: 90004, typname: "_money_amount", typtype: "b", typcategory: "A", typelem: 90003, typbasetype: 0, typdelim: "," },
    ];
    const registry = createTypeRegistry(async (oids) => {
      asked.push(oids);
      return rows.filter((row) => oids.includes(row.oid));
    });
    const builtins = await registry.resolve([23, 1007, 3802, 1185]);
    expect(builtins.map((t) => t.name)).toEqual(["int4", "int4[]", "jsonb", "timestamptz[]"]);
    expect(asked).toEqual([]);
    const user = await registry.resolve([90002, 90004]);
    expect(user.map((t) => t.name)).toEqual(["mood[]", "money_amount[]"]);
    expect(user[0]?.decode("{happy,sad}")).toEqual(["happy", "sad"]);
    expect(user[1]?.decode("{1,99999999999999999}")).toEqual([1, "99999999999999999"]);
    await registry.resolve([90001, 90002, 90003, 90004]);
    expect(asked).toHaveLength(2); // the array types, then their element types; nothing after
    const unknown = await registry.resolve([99999]);
    expect(unknown[0]?.name).toBe("oid:99999");
  });
});

describe("params", () => {
  it("encodes JSON values as text bind values", () => {
    expect(encodeParams([null, "x", 1.5, -3, true, false, [1, "a"], { k: [null] }])).toEqual([
      null,
      "x",
      "1.5",
      "-3",
      "true",
      "false",
      '[1,"a"]',
      '{"k":[null]}',
    ]);
  });

  it("refuses too many params", () => {
    try {
      encodeParams(new Array(70_000).fill(1));
      expect.unreachable();
    } catch (error) {
      expect(reasonOf(ConnectError.from(error))).toBe("validation_failed");
    }
  });
});

describe("proto conversion", () => {
  it("builds a QueryResponse whose JSON matches the REST shape", () => {
    const response = toQueryResponse({
      columns: [
        { name: "id", type: "int8" },
        { name: "doc", type: "jsonb" },
      ],
      rows: [{ id: "9007199254740993", doc: { a: [1, null, true] } }],
      row_count: 1,
      command: "SELECT",
      truncated: false,
    });
    expect(toJson(QueryResponseSchema, response)).toEqual({
      columns: [
        { name: "id", type: "int8" },
        { name: "doc", type: "jsonb" },
      ],
      rows: [{ id: "9007199254740993", doc: { a: [1, null, true] } }],
      row_count: 1,
      command: "SELECT",
    });
  });

  it("builds QueryResponse messages as create() does, written to REST exactly as protobuf's toJson does", () => {
    const results: QueryResult[] = [
      {
        columns: [
          { name: "id", type: "int8" },
          { name: "doc", type: "jsonb" },
        ],
        rows: [
          { id: "9007199254740993", doc: { a: [1, null, true], b: { c: "" } } },
          { id: 2, doc: null },
        ],
        row_count: 2,
        command: "SELECT",
        truncated: true,
      },
      { columns: [{ name: "a", type: "int4" }, { name: "a", type: "text" }], rows: [[1, "x"]], row_count: 1, command: "SELECT", truncated: false },
      { columns: [], rows: [], row_count: 3, command: "UPDATE", truncated: false },
      { columns: [], rows: [], row_count: 0, command: "", truncated: false },
    ];
    for (const result of results) {
      const response = toQueryResponse(result);
      expect(response).toEqual(create(QueryResponseSchema, response));
      expect(jsonCodec(QueryResponseSchema).encode(response)).toEqual(toJson(QueryResponseSchema, response, { alwaysEmitImplicit: true }));
    }
  });

  it("round-trips values, through JSON and the binary wire", () => {
    const values: JsonValue[] = [{ a: [1, "x", null, false, { b: 2 }] }, [], {}, "", { constructor: 1 }];
    for (const value of values) {
      const message = toProtoValue(value);
      expect(toJson(ValueSchema, message)).toEqual(value);
      expect(fromProtoValue(message)).toEqual(value);
      expect(fromProtoValue(fromBinary(ValueSchema, toBinary(ValueSchema, message)))).toEqual(value);
      expect(message).toEqual(create(ValueSchema, fromJson(ValueSchema, value)));
    }
  });

  it('keeps a "__proto__" key of a JSON value as a key, polluting nothing', () => {
    const value = JSON.parse('{"__proto__": {"polluted": true}}') as JsonValue;
    expect(fromProtoValue(toProtoValue(value))).toEqual(value);
    expect(({} as { polluted?: boolean }).polluted).toBeUndefined();
  });
});
