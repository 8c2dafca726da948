import {
  fromJson,
  protoInt64,
  ScalarType,
  toJson,
  type DescField,
  type DescMessage,
  type JsonObject,
  type JsonValue,
  type Message,
  type MessageShape,
} from "@bufbuild/protobuf";
import { FeatureSet_FieldPresence, NullValue, type ListValue, type Struct, type Timestamp, type Value } from "@bufbuild/protobuf/wkt";
import { base64Decode, base64Encode } from "@bufbuild/protobuf/wire";
import { bareObject } from "../util/bare-object.js";
import { pendingForms } from "./lazy-field.js";

/**
 * The REST JSON of one message type, compiled once from its descriptor: the very JSON protobuf's
 * `toJson(schema, message, { alwaysEmitImplicit: true })` writes, and the messages `fromJson` reads,
 * without their reflection (a `reflect()` wrapper, a field lookup and a type switch per value) and
 * without `create()`. Field kinds no message of ours uses (maps, oneofs, enums, 64-bit integers,
 * `Any`, `Duration`, wrappers) take protobuf's own codec, per message type.
 */
export interface JsonCodec<Desc extends DescMessage> {
  /** The JSON of `message`. Throws (a programming error) on values protobuf's `toJson` refuses. */
  encode(message: MessageShape<Desc>): JsonValue;
  /**
   * The message `json` describes, field names in their JSON or proto spelling. Throws a
   * {@link JsonInputError} naming the field for unknown fields and values of the wrong type or range.
   */
  decode(json: unknown): MessageShape<Desc>;
}

/** JSON input that does not describe a message: `field` is its JSON path ("" for the whole body). */
export class JsonInputError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
  }
}

type Encode = (value: unknown) => JsonValue;
type Decode = (json: unknown, path: string, depth: number) => unknown;

/** As deep as protobuf's `fromJson` reads messages (its default recursion limit). */
const maxDepth = 100;

/** `compile`, called once per message type: codecs are shared by every field of that type. */
function oncePerType<T>(compile: (desc: DescMessage) => T): (desc: DescMessage) => T {
  const compiled = new WeakMap<DescMessage, T>();
  return (desc) => {
    let codec = compiled.get(desc);
    if (codec === undefined) compiled.set(desc, (codec = compile(desc)));
    return codec;
  };
}

const encoderOf = oncePerType(compileEncoder);
const decoderOf = oncePerType(compileDecoder);

/** The compiled {@link JsonCodec} of `schema` (compiled on first use, shared afterwards). */
export function jsonCodec<Desc extends DescMessage>(schema: Desc): JsonCodec<Desc> {
  const encode = encoderOf(schema);
  const decode = decoderOf(schema);
  return {
    encode: (message) => encode(message),
    decode: (json) => decode(json, "", 0) as MessageShape<Desc>,
  };
}

/** Whether the codec below handles `field` itself (else its message type uses protobuf's codec). */
function compiles(field: DescField): boolean {
  if (field.oneof !== undefined) return false;
  switch (field.fieldKind) {
    case "scalar":
      return supportedScalars.has(field.scalar);
    case "list":
      return field.listKind === "message" ? compilesType(field.message) : field.listKind === "scalar" && supportedScalars.has(field.scalar);
    case "message":
      return compilesType(field.message);
    default:
      return false;
  }
}

/** Well-known types other than these have a representation of their own (wrappers unwrap, Any packs). */
function compilesType(desc: DescMessage): boolean {
  return !desc.typeName.startsWith("google.protobuf.") || ownJsonTypes.has(desc.typeName) || desc.typeName === "google.protobuf.Empty";
}

/**
 * Whether `desc` is Struct: in a message field (or list) a plain `JsonObject` in protobuf-es
 * messages, not a Struct message (except inside a Value, which the codec converts itself).
 */
function isStruct(desc: DescMessage): boolean {
  return desc.typeName === "google.protobuf.Struct";
}

const supportedScalars: ReadonlySet<ScalarType> = new Set([
  ScalarType.STRING,
  ScalarType.BOOL,
  ScalarType.INT32,
  ScalarType.SINT32,
  ScalarType.SFIXED32,
  ScalarType.UINT32,
  ScalarType.FIXED32,
  ScalarType.DOUBLE,
  ScalarType.FLOAT,
  ScalarType.BYTES,
]);

/** Well-known types with a JSON form of their own that the codec writes and reads itself. */
const ownJsonTypes = new Set(["google.protobuf.Timestamp", "google.protobuf.Struct", "google.protobuf.Value", "google.protobuf.ListValue"]);

function usesProtobufCodec(desc: DescMessage): boolean {
  return !compilesType(desc) || !desc.fields.every(compiles);
}

// --- encoding ---

function compileEncoder(desc: DescMessage): Encode {
  switch (desc.typeName) {
    case "google.protobuf.Timestamp":
      return (value) => timestampJson(value as Timestamp);
    case "google.protobuf.Struct":
      return (value) => structJson(value as Struct);
    case "google.protobuf.Value":
      return (value) => valueJson(value as Value);
    case "google.protobuf.ListValue":
      return (value) => (value as ListValue).values.map(valueJson);
  }
  if (usesProtobufCodec(desc)) return (value) => toJson(desc, value as Message, { alwaysEmitImplicit: true });
  const steps = [...desc.fields]
    .sort((a, b) => a.number - b.number)
    .map((field) => ({ localName: field.localName, jsonName: field.jsonName, write: fieldEncoder(field) }));
  return (value) => {
    const message = value as Record<string, unknown>;
    const json: JsonObject = {};
    const forms = pendingForms(message);
    for (const step of steps) {
      const form = forms?.get(step.localName);
      if (form === undefined) step.write(message, json);
      else json[step.jsonName] = form;
    }
    return json;
  };
}

type FieldEncode = (message: Record<string, unknown>, json: JsonObject) => void;

function fieldEncoder(field: DescField): FieldEncode {
  const { localName, jsonName } = field;
  switch (field.fieldKind) {
    case "scalar": {
      const scalar = scalarEncoder(field.scalar);
      if (field.presence === FeatureSet_FieldPresence.IMPLICIT) return (message, json) => void (json[jsonName] = scalar(message[localName]));
      return (message, json) => {
        const value = message[localName];
        if (value !== undefined) json[jsonName] = scalar(value);
      };
    }
    case "message": {
      const nested = isStruct(field.message) ? constant(asIs) : lazily(() => encoderOf(field.message));
      return (message, json) => {
        const value = message[localName];
        if (value !== undefined) json[jsonName] = nested()(value);
      };
    }
    case "list": {
      if (field.listKind === "enum") throw new Error(`${field.toString()} is not compiled`);
      const item =
        field.listKind === "scalar" ? constant(scalarEncoder(field.scalar)) : isStruct(field.message) ? constant(asIs) : lazily(() => encoderOf(field.message));
      return (message, json) => void (json[jsonName] = (message[localName] as unknown[]).map(item()));
    }
    default:
      throw new Error(`${field.toString()} is not compiled`);
  }
}

function scalarEncoder(scalar: ScalarType): Encode {
  switch (scalar) {
    case ScalarType.DOUBLE:
    case ScalarType.FLOAT:
      return (value) => {
        const number = value as number;
        if (Number.isFinite(number)) return number;
        return Number.isNaN(number) ? "NaN" : number > 0 ? "Infinity" : "-Infinity";
      };
    case ScalarType.BYTES:
      return (value) => base64Encode(value as Uint8Array);
    default:
      return asIs;
  }
}

const asIs: Encode = (value) => value as JsonValue;

const minTimestampSeconds = Date.parse("0001-01-01T00:00:00Z") / 1000;
const maxTimestampSeconds = Date.parse("9999-12-31T23:59:59Z") / 1000;

/** RFC 3339 in UTC with 0, 3, 6 or 9 fractional digits, as protobuf writes a Timestamp. */
function timestampJson(timestamp: Timestamp): string {
  const seconds = Number(timestamp.seconds);
  const { nanos } = timestamp;
  if (!(seconds >= minTimestampSeconds && seconds <= maxTimestampSeconds) || nanos < 0 || nanos > 999_999_999) {
    throw new Error(`cannot encode ${timestamp.$typeName} to JSON: out of range`);
  }
  const whole = new Date(seconds * 1000).toISOString().slice(0, 19);
  if (nanos === 0) return `${whole}Z`;
  const digits = String(nanos + 1_000_000_000).slice(1);
  const fraction = digits.endsWith("000000") ? digits.slice(0, 3) : digits.endsWith("000") ? digits.slice(0, 6) : digits;
  return `${whole}.${fraction}Z`;
}

function structJson(struct: Struct): JsonObject {
  // Inheriting nothing: a key "__proto__" stays a key (protobuf's own toJson loses it).
  const json = bareObject<JsonValue>() as JsonObject;
  for (const [key, value] of Object.entries(struct.fields)) json[key] = valueJson(value);
  return json;
}

function valueJson(value: Value): JsonValue {
  const { kind } = value;
  switch (kind.case) {
    case "nullValue":
      return null;
    case "numberValue":
      if (!Number.isFinite(kind.value)) throw new Error(`${value.$typeName} cannot be NaN or Infinity`);
      return kind.value;
    case "boolValue":
    case "stringValue":
      return kind.value;
    case "structValue":
      return structJson(kind.value);
    case "listValue":
      return kind.value.values.map(valueJson);
    default:
      throw new Error(`${value.$typeName} must have a value`);
  }
}

// --- decoding ---

function compileDecoder(desc: DescMessage): Decode {
  switch (desc.typeName) {
    case "google.protobuf.Timestamp":
      return timestampFromJson;
    case "google.protobuf.Struct":
      return structFromJson;
    case "google.protobuf.Value":
      return (json, path, depth) => valueFromJson(json, path, deeper(depth, path));
    case "google.protobuf.ListValue":
      return listValueFromJson;
  }
  if (usesProtobufCodec(desc)) {
    return (json, path) => {
      try {
        return fromJson(desc, json as JsonValue);
      } catch (error) {
        throw new JsonInputError(path, `${path || "The request"} is invalid: ${error instanceof Error ? error.message : String(error)}`);
      }
    };
  }
  const byKey = new Map<string, { field: DescField; decode: FieldDecode }>();
  for (const field of desc.fields) {
    const entry = { field, decode: fieldDecoder(field) };
    byKey.set(field.name, entry).set(field.jsonName, entry);
  }
  const zero = zeroMessage(desc);
  // JSON.parse already keeps one of two equal keys; only a field spelt two ways can be given twice.
  const twoSpellings = desc.fields.some((field) => field.name !== field.jsonName);
  return (json, path, depth) => {
    const level = deeper(depth, path);
    if (!isObject(json)) throw new JsonInputError(path, `${path || "The request body"} must be a JSON object`);
    const message = zero();
    const seen = twoSpellings ? new Set<DescField>() : undefined;
    for (const key of Object.keys(json)) {
      const entry = byKey.get(key);
      const at = join(path, key);
      if (!entry) throw new JsonInputError(at, `Unknown field ${at}`);
      if (seen?.has(entry.field)) throw new JsonInputError(at, `${at} is set twice (by its JSON name and its proto name)`);
      seen?.add(entry.field);
      entry.decode(message, json[key], at, level);
    }
    return message;
  };
}

type FieldDecode = (message: Record<string, unknown>, json: unknown, path: string, depth: number) => void;

function fieldDecoder(field: DescField): FieldDecode {
  const { localName } = field;
  switch (field.fieldKind) {
    case "scalar": {
      const scalar = scalarDecoder(field.scalar);
      // null resets a field: its zero value (implicit presence) stays, or it stays unset.
      return (message, json, path) => {
        if (json !== null) message[localName] = scalar(json, path, 0);
      };
    }
    case "message": {
      const nested = isStruct(field.message) ? constant(jsonObjectFromJson) : lazily(() => decoderOf(field.message));
      // A Value field takes null as a value (`null_value`); any other message field as "unset".
      const nullIsValue = field.message.typeName === "google.protobuf.Value";
      return (message, json, path, depth) => {
        if (json !== null || nullIsValue) message[localName] = nested()(json, path, depth);
      };
    }
    case "list": {
      if (field.listKind === "enum") throw new Error(`${field.toString()} is not compiled`);
      const item =
        field.listKind === "scalar"
          ? constant(scalarDecoder(field.scalar))
          : isStruct(field.message)
            ? constant(jsonObjectFromJson)
            : lazily(() => decoderOf(field.message));
      const nullIsValue = field.listKind === "message" && field.message.typeName === "google.protobuf.Value";
      return (message, json, path, depth) => {
        if (json === null) return;
        if (!Array.isArray(json)) throw new JsonInputError(path, `${path} must be an array`);
        const decode = item();
        message[localName] = json.map((element: unknown, index) => {
          const at = `${path}[${index}]`;
          if (element === null && !nullIsValue) throw new JsonInputError(at, `${at} must not be null`);
          return decode(element, at, depth);
        });
      };
    }
    default:
      throw new Error(`${field.toString()} is not compiled`);
  }
}

/** A new message of `desc` with every field at its zero value, as `create(desc)` makes it. */
function zeroMessage(desc: DescMessage): () => Record<string, unknown> {
  const scalars: Array<[string, unknown]> = [];
  const lists: string[] = [];
  const bytes: string[] = [];
  for (const field of desc.fields) {
    if (field.fieldKind === "list") lists.push(field.localName);
    else if (field.fieldKind === "scalar" && field.presence === FeatureSet_FieldPresence.IMPLICIT) {
      if (field.scalar === ScalarType.BYTES) bytes.push(field.localName);
      else scalars.push([field.localName, zeroScalar(field.scalar)]);
    }
  }
  const { typeName } = desc;
  return () => {
    const message: Record<string, unknown> = { $typeName: typeName };
    for (const [name, value] of scalars) message[name] = value;
    for (const name of lists) message[name] = [];
    for (const name of bytes) message[name] = new Uint8Array(0);
    return message;
  };
}

function zeroScalar(scalar: ScalarType): unknown {
  if (scalar === ScalarType.STRING) return "";
  if (scalar === ScalarType.BOOL) return false;
  return 0;
}

const int32Range: Partial<Record<ScalarType, [number, number]>> = {
  [ScalarType.INT32]: [-2_147_483_648, 2_147_483_647],
  [ScalarType.SINT32]: [-2_147_483_648, 2_147_483_647],
  [ScalarType.SFIXED32]: [-2_147_483_648, 2_147_483_647],
  [ScalarType.UINT32]: [0, 4_294_967_295],
  [ScalarType.FIXED32]: [0, 4_294_967_295],
};

/** Half of a UTF-16 pair without its other half: text that has no UTF-8 form. */
const loneSurrogate = /\p{Cs}/u;

/** The largest finite 32-bit float. */
const maxFloat = 3.4028234663852886e38;

function scalarDecoder(scalar: ScalarType): Decode {
  switch (scalar) {
    case ScalarType.STRING:
      return (json, path) => {
        if (typeof json !== "string") throw new JsonInputError(path, `${path} must be a string`);
        if (loneSurrogate.test(json)) throw new JsonInputError(path, `${path} must be valid Unicode (it holds a lone surrogate)`);
        return json;
      };
    case ScalarType.BOOL:
      return (json, path) => {
        if (typeof json !== "boolean") throw new JsonInputError(path, `${path} must be true or false`);
        return json;
      };
    case ScalarType.DOUBLE:
    case ScalarType.FLOAT:
      return (json, path) => {
        const number = floatFromJson(json);
        const inRange = scalar === ScalarType.DOUBLE || !Number.isFinite(number) || Math.abs(number as number) <= maxFloat;
        if (number === undefined || !inRange) throw new JsonInputError(path, `${path} must be a number`);
        return number;
      };
    case ScalarType.BYTES:
      return (json, path) => {
        if (typeof json !== "string") throw new JsonInputError(path, `${path} must be a base64 string`);
        try {
          return base64Decode(json);
        } catch {
          throw new JsonInputError(path, `${path} must be a base64 string`);
        }
      };
    default: {
      const [min, max] = int32Range[scalar] ?? [0, 0];
      return (json, path) => {
        const number = typeof json === "string" && json !== "" && json.trim() === json ? Number(json) : json;
        if (typeof number !== "number" || !Number.isInteger(number) || number < min || number > max) {
          throw new JsonInputError(path, `${path} must be an integer from ${min} to ${max}`);
        }
        return number;
      };
    }
  }
}

/** A number, its decimal string, or "NaN"/"Infinity"/"-Infinity"; undefined for anything else. */
function floatFromJson(json: unknown): number | undefined {
  if (typeof json === "number") return Number.isFinite(json) ? json : undefined;
  if (typeof json !== "string" || json === "" || json.trim() !== json) return undefined;
  if (json === "NaN") return NaN;
  if (json === "Infinity") return Number.POSITIVE_INFINITY;
  if (json === "-Infinity") return Number.NEGATIVE_INFINITY;
  const number = Number(json);
  return Number.isFinite(number) ? number : undefined;
}

const rfc3339 = /^([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]{1,9}))?(?:Z|([+-][0-9][0-9]:[0-9][0-9]))$/;

function timestampFromJson(json: unknown, path: string, parentDepth: number): Timestamp {
  deeper(parentDepth, path);
  const match = typeof json === "string" ? rfc3339.exec(json) : null;
  const invalid = () => new JsonInputError(path, `${path} must be an RFC 3339 date-time from 0001-01-01T00:00:00Z to 9999-12-31T23:59:59Z`);
  if (!match) throw invalid();
  const [, year, month, day, hour, minute, second, fraction, offset] = match;
  const ms = Date.parse(`${year}-${month}-${day}T${hour}:${minute}:${second}${offset ?? "Z"}`);
  if (!(ms / 1000 >= minTimestampSeconds && ms / 1000 <= maxTimestampSeconds)) throw invalid();
  const nanos = fraction === undefined ? 0 : Number(fraction.padEnd(9, "0"));
  return { $typeName: "google.protobuf.Timestamp", seconds: protoInt64.parse(ms / 1000), nanos };
}

function structFromJson(json: unknown, path: string, parentDepth: number): Struct {
  const depth = deeper(parentDepth, path);
  if (!isObject(json)) throw new JsonInputError(path, `${path || "The request body"} must be a JSON object`);
  // Inheriting nothing: a JSON key "__proto__" stays a key (protobuf's own fromJson makes it the prototype).
  const fields = bareObject<Value>();
  for (const key of Object.keys(json)) fields[key] = valueFromJson(json[key], join(path, key), depth);
  return { $typeName: "google.protobuf.Struct", fields };
}

function listValueFromJson(json: unknown, path: string, parentDepth: number): ListValue {
  const depth = deeper(parentDepth, path);
  if (!Array.isArray(json)) throw new JsonInputError(path, `${path} must be an array`);
  return { $typeName: "google.protobuf.ListValue", values: json.map((item: unknown, index) => valueFromJson(item, `${path}[${index}]`, depth)) };
}

/** A Value; arrays and objects in it count a level each. */
function valueFromJson(json: unknown, path: string, depth: number): Value {
  switch (typeof json) {
    case "string":
      return { $typeName: "google.protobuf.Value", kind: { case: "stringValue", value: json } };
    case "boolean":
      return { $typeName: "google.protobuf.Value", kind: { case: "boolValue", value: json } };
    case "number":
      if (!Number.isFinite(json)) break;
      return { $typeName: "google.protobuf.Value", kind: { case: "numberValue", value: json } };
    case "object":
      if (json === null) return { $typeName: "google.protobuf.Value", kind: { case: "nullValue", value: NullValue.NULL_VALUE } };
      if (Array.isArray(json)) return { $typeName: "google.protobuf.Value", kind: { case: "listValue", value: listValueFromJson(json, path, depth) } };
      return { $typeName: "google.protobuf.Value", kind: { case: "structValue", value: structFromJson(json, path, depth) } };
  }
  throw new JsonInputError(path, `${path} must be a JSON value`);
}

/** A Struct field's value: the JSON object itself, once its depth is known to be within bounds. */
function jsonObjectFromJson(json: unknown, path: string, parentDepth: number): JsonObject {
  if (!isObject(json)) throw new JsonInputError(path, `${path || "The request body"} must be a JSON object`);
  checkDepth(json, path, parentDepth);
  return json;
}

/** Throws when the arrays and objects of `json` nest past {@link maxDepth}. */
function checkDepth(json: object, path: string, parentDepth: number): void {
  const depth = deeper(parentDepth, path);
  for (const item of Object.values(json)) if (typeof item === "object" && item !== null) checkDepth(item as object, path, depth);
}

// --- helpers ---

function deeper(depth: number, path: string): number {
  if (depth + 1 > maxDepth) throw new JsonInputError(path, `${path || "The request body"} nests deeper than ${maxDepth} levels`);
  return depth + 1;
}

function isObject(json: unknown): json is JsonObject {
  return typeof json === "object" && json !== null && !Array.isArray(json);
}

function join(path: string, key: string): string {
  return path === "" ? key : `${path}.${key}`;
}

/** `make()` on first call, the same value afterwards: nested codecs compile on first use (recursive types). */
function lazily<T>(make: () => T): () => T {
  let value: T | undefined;
  return () => (value ??= make());
}

function constant<T>(value: T): () => T {
  return () => value;
}
