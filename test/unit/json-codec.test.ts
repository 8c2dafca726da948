import { create, createFileRegistry, fromBinary, fromJson, ScalarType, toBinary, toJson, type DescField, type DescMessage, type JsonValue, type Message } from "@bufbuild/protobuf";
import { FieldDescriptorProto_Label, FieldDescriptorProto_Type, FileDescriptorProtoSchema, TypeSchema, ValueSchema } from "@bufbuild/protobuf/wkt";
import { describe, expect, it } from "vitest";
import { AdminService } from "../../gen/helios/admin/v1/admin_pb.js";
import { AuthService } from "../../gen/helios/auth/v1/auth_pb.js";
import { QueryService } from "../../gen/helios/query/v1/query_pb.js";
import { SchemaService } from "../../gen/helios/schema/v1/schema_pb.js";
import { jsonCodec, JsonInputError } from "../../src/server/json-codec.js";
import { lazyField } from "../../src/server/lazy-field.js";

/** A message whose fields have a JSON name other than their proto name, as protos without `json_name` get. */
function camelCaseMessage(): DescMessage {
  const file = create(FileDescriptorProtoSchema, {
    name: "camel.proto",
    package: "camel",
    syntax: "proto3",
    messageType: [
      {
        name: "Named",
        field: [
          { name: "user_name", number: 1, type: FieldDescriptorProto_Type.STRING, label: FieldDescriptorProto_Label.OPTIONAL, jsonName: "userName" },
          { name: "tag_list", number: 2, type: FieldDescriptorProto_Type.STRING, label: FieldDescriptorProto_Label.REPEATED, jsonName: "tagList" },
        ],
      },
    ],
  });
  const message = createFileRegistry(file, () => undefined).getMessage("camel.Named");
  if (!message) throw new Error("camel.Named was not built");
  return message;
}

/** Every message type our services read or write, nested ones included, one the codec leaves to protobuf, and one with camelCase JSON names. */
function messageTypes(): DescMessage[] {
  const found = new Map<string, DescMessage>();
  const visit = (desc: DescMessage) => {
    if (found.has(desc.typeName)) return;
    found.set(desc.typeName, desc);
    for (const field of desc.fields) if (field.message) visit(field.message);
  };
  for (const service of [AuthService, QueryService, AdminService, SchemaService]) {
    for (const method of service.methods) {
      visit(method.input);
      visit(method.output);
    }
  }
  visit(TypeSchema);
  visit(camelCaseMessage());
  return [...found.values()];
}

/** A seeded generator, so that a failure names inputs that can be replayed. */
function random(seed: number) {
  let state = seed >>> 0;
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const pick = <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)] as T;
  return { next, pick, chance: (p: number) => next() < p };
}
type Random = ReturnType<typeof random>;

const texts = ["", "alice", "ÄÖ ü", "a\"b\\c", "😀", "\ud800", "  1 ", "12", "1e3", "-7", "NaN", "Infinity", "AAEC", "not base64!", "2026-12-03T10:00:00Z"];
const numbers = [0, 1, -1, 2.5, 2147483647, 2147483648, -2147483649, 4294967295, 1e300, 3.5e38, -0];
const timestamps = ["2026-12-03T10:00:00Z", "2026-12-03T10:00:00.5Z", "2026-12-03T10:00:00.123456Z", "2026-12-03T10:00:00.123456789+02:00", "0001-01-01T00:00:00Z", "10000-01-01T00:00:00Z", "2026-13-01T00:00:00Z", "yesterday"];

function anyJson(r: Random, depth: number): JsonValue {
  const roll = r.next();
  if (depth > 3 || roll < 0.5) return r.pick<JsonValue>([null, true, false, r.pick(numbers), r.pick(texts)]);
  if (roll < 0.75) return Array.from({ length: Math.floor(r.next() * 3) }, () => anyJson(r, depth + 1));
  return Object.fromEntries(Array.from({ length: Math.floor(r.next() * 3) }, () => [r.pick(["a", "b", "c d"]), anyJson(r, depth + 1)]));
}

function scalarJson(r: Random, field: DescField & { scalar: ScalarType }): JsonValue {
  // Mostly values of the right type, sometimes of another: both codecs must agree either way.
  if (r.chance(0.15)) return anyJson(r, 2);
  switch (field.scalar) {
    case ScalarType.STRING:
      return r.pick(texts);
    case ScalarType.BOOL:
      return r.chance(0.5);
    case ScalarType.BYTES:
      return r.pick(["", "AAEC", "_-8", "not base64!"]);
    default:
      return r.chance(0.7) ? r.pick(numbers) : r.pick(texts);
  }
}

function messageJson(r: Random, desc: DescMessage, depth: number): JsonValue {
  switch (desc.typeName) {
    case "google.protobuf.Timestamp":
      return r.chance(0.9) ? r.pick(timestamps) : anyJson(r, 2);
    case "google.protobuf.Struct":
      return r.chance(0.9) ? Object.fromEntries([["k", anyJson(r, 0)], ["x", anyJson(r, 1)]]) : anyJson(r, 2);
    case "google.protobuf.Value":
      return anyJson(r, 0);
    case "google.protobuf.ListValue":
      return r.chance(0.9) ? [anyJson(r, 1), anyJson(r, 1)] : anyJson(r, 2);
  }
  if (depth > 4) return {};
  const json: Record<string, JsonValue> = {};
  for (const field of desc.fields) {
    if (!r.chance(0.6)) continue;
    const key = r.chance(0.8) ? field.jsonName : field.name;
    if (r.chance(0.05)) {
      json[key] = null;
      continue;
    }
    switch (field.fieldKind) {
      case "scalar":
        json[key] = scalarJson(r, field);
        break;
      case "message":
        json[key] = messageJson(r, field.message, depth + 1);
        break;
      case "list":
        json[key] = Array.from({ length: Math.floor(r.next() * 3) }, () =>
          field.listKind === "message" ? messageJson(r, field.message, depth + 1) : field.listKind === "scalar" ? scalarJson(r, field) : 0,
        );
        break;
      default:
        break;
    }
  }
  if (r.chance(0.03)) json.unknown_field = 1;
  return json;
}

function outcome<T>(work: () => T): { ok: true; value: T } | { ok: false } {
  try {
    return { ok: true, value: work() };
  } catch {
    return { ok: false };
  }
}

describe("compiled REST JSON codecs", () => {
  const types = messageTypes();

  it("read what protobuf's fromJson reads, refuse what it refuses, and write what toJson writes", () => {
    let accepted = 0;
    let refused = 0;
    for (const desc of types) {
      const codec = jsonCodec(desc);
      for (let seed = 1; seed <= 150; seed++) {
        const r = random(seed * 7919 + desc.typeName.length);
        const json = messageJson(r, desc, 0);
        const theirs = outcome(() => fromJson(desc, json));
        const ours = outcome(() => codec.decode(json));
        expect(ours.ok, `${desc.typeName} seed ${seed}: ${JSON.stringify(json)}`).toBe(theirs.ok);
        if (!theirs.ok || !ours.ok) {
          refused++;
          continue;
        }
        accepted++;
        expect(ours.value, `${desc.typeName} seed ${seed}`).toEqual(theirs.value);
        const written = outcome(() => toJson(desc, theirs.value as Message, { alwaysEmitImplicit: true }));
        const ourWritten = outcome(() => codec.encode(theirs.value));
        expect(ourWritten.ok, `${desc.typeName} seed ${seed}`).toBe(written.ok);
        if (written.ok && ourWritten.ok) expect(JSON.stringify(ourWritten.value)).toBe(JSON.stringify(written.value));
      }
    }
    // Both branches ran often: the comparison above is not vacuous.
    expect(accepted).toBeGreaterThan(types.length * 20);
    expect(refused).toBeGreaterThan(types.length * 5);
  });

  it("names the field that is wrong, with its JSON path", () => {
    const codec = jsonCodec(QueryService.method.query.input);
    const failure = (json: unknown) => {
      try {
        codec.decode(json);
      } catch (error) {
        if (error instanceof JsonInputError) return { field: error.field, message: error.message };
      }
      return undefined;
    };
    expect(failure({ sql: 42 })).toEqual({ field: "sql", message: "sql must be a string" });
    expect(failure({ sql: "x", params: 3 })).toEqual({ field: "params", message: "params must be an array" });
    expect(failure({ sql: "x", bogus: true })).toEqual({ field: "bogus", message: "Unknown field bogus" });
    expect(failure({ array_mode: "yes" })).toEqual({ field: "array_mode", message: "array_mode must be true or false" });
    expect(failure([1])).toEqual({ field: "", message: "The request body must be a JSON object" });
    const named = jsonCodec(camelCaseMessage());
    expect(named.decode({ user_name: "a", tagList: ["x"] })).toMatchObject({ userName: "a", tagList: ["x"] });
    expect(() => named.decode({ user_name: "a", userName: "b" })).toThrow("userName is set twice (by its JSON name and its proto name)");
    expect(() => fromJson(camelCaseMessage(), { user_name: "a", userName: "b" })).toThrow();
    const deep = JSON.parse(`{"sql":"x","params":[${"[".repeat(150)}${"]".repeat(150)}]}`) as unknown;
    expect(failure(deep)?.message).toMatch(/nests deeper than 100 levels/);
  });

  // protobuf's own codec turns such a key into the Struct's prototype: not compared above.
  it("keeps a JSON key __proto__ a key, in a Struct field and in a Value", () => {
    const signUp = jsonCodec(AuthService.method.signUp.input);
    const message = signUp.decode(JSON.parse('{"email":"a@b.co","password":"p","data":{"__proto__":{"admin":true}}}'));
    expect(Object.keys(message.data ?? {})).toEqual(["__proto__"]);
    expect(JSON.stringify(signUp.encode(message))).toContain('"data":{"__proto__":{"admin":true}}');
    const query = jsonCodec(QueryService.method.query.input);
    const request = query.decode(JSON.parse('{"sql":"x","params":[{"__proto__":1}]}'));
    const param = request.params[0]?.kind;
    expect(param?.case === "structValue" && Object.keys(param.value.fields)).toEqual(["__proto__"]);
    expect(JSON.stringify(query.encode(request))).toContain('"params":[{"__proto__":1}]');
  });

  it("writes a lazy field's JSON form until the field is read, and the built value after", () => {
    const codec = jsonCodec(QueryService.method.query.output);
    const fresh = () => {
      let builds = 0;
      const response = create(QueryService.method.query.output, { command: "SELECT" });
      lazyField(response, "rows", [{ id: 1 }], (json) => {
        builds++;
        expect(json).toEqual([{ id: 1 }]);
        return [fromJson(ValueSchema, { id: 2 })];
      });
      return { response, builds: () => builds };
    };
    const untouched = fresh();
    expect(codec.encode(untouched.response)).toMatchObject({ rows: [{ id: 1 }], command: "SELECT" });
    expect(untouched.builds()).toBe(0);

    // Read (as binary serialisers do), the field is built once and may then change.
    const read = fresh();
    const binary = toBinary(QueryService.method.query.output, read.response);
    expect(toJson(ValueSchema, fromBinary(QueryService.method.query.output, binary).rows[0] ?? create(ValueSchema))).toEqual({ id: 2 });
    read.response.rows.push(fromJson(ValueSchema, "more"));
    expect(codec.encode(read.response)).toMatchObject({ rows: [{ id: 2 }, "more"] });
    expect(read.builds()).toBe(1);

    // Assigned, the JSON form is dropped without building.
    const assigned = fresh();
    assigned.response.rows = [fromJson(ValueSchema, null)];
    expect(codec.encode(assigned.response)).toMatchObject({ rows: [null] });
    expect(assigned.builds()).toBe(0);

    // The pending form is no enumerable property: copies of the message do not carry it.
    const listed = fresh();
    expect(Object.getOwnPropertySymbols(listed.response)).toHaveLength(1);
    expect(Object.getOwnPropertySymbols({ ...listed.response })).toHaveLength(0);
  });
});
