import { toBinary, type DescField, type DescMessage, type JsonValue, type Message } from "@bufbuild/protobuf";
import { pendingForms } from "./lazy-field.js";

/** Well-known types whose binary form is written straight from their JSON form. */
type JsonShaped = "google.protobuf.Value" | "google.protobuf.Struct" | "google.protobuf.ListValue";

/** How a field whose JSON form is pending is written: each element as one of {@link JsonShaped}. */
interface PendingWrite {
  tag: number;
  shape: JsonShaped;
  repeated: boolean;
}

const shapes: ReadonlySet<string> = new Set<JsonShaped>(["google.protobuf.Value", "google.protobuf.Struct", "google.protobuf.ListValue"]);

/** Wire tags of `google.protobuf.Value`'s kinds, `Struct`'s map entries and `ListValue`'s values. */
const enum Tag {
  NullValue = 0x08,
  NumberValue = 0x11,
  StringValue = 0x1a,
  BoolValue = 0x20,
  StructValue = 0x2a,
  ListValue = 0x32,
  /** `Struct.fields` entries and `ListValue.values` elements are both field 1, length-delimited. */
  Element = 0x0a,
  EntryValue = 0x12,
}

/**
 * Serialises `message` to the protobuf binary format, as `toBinary` does, leaving `headroom` bytes
 * free at the start of the returned buffer (for a gRPC envelope). Fields whose JSON form is pending
 * (see `lazyField`) and whose type is `google.protobuf.Value`, `Struct` or `ListValue` (singular or
 * repeated) are written straight from that JSON form, so that a query's rows never become `Value`
 * trees: on 1 000-row answers those trees, and their reflective serialisation, were most of the
 * server's time. The bytes parse to the same message `toBinary` would have written; such fields come
 * after the others on the wire, which protobuf parsers accept in any order.
 */
export function encodeBinary(schema: DescMessage, message: Message, headroom = 0): Buffer {
  const forms = pendingForms(message);
  const writes: { write: PendingWrite; json: JsonValue }[] = [];
  let rest: Message = message;
  if (forms !== undefined) {
    const copy: Record<string, unknown> = { $typeName: message.$typeName };
    const source = message as unknown as Record<string, unknown>;
    for (const member of schema.members) {
      const json = forms.get(member.localName);
      const write = json === undefined || member.kind !== "field" ? undefined : pendingWrite(member);
      if (write !== undefined && json !== undefined) {
        writes.push({ write, json });
        copy[member.localName] = write.repeated ? [] : undefined;
      } else {
        copy[member.localName] = source[member.localName];
      }
    }
    if ("$unknown" in message) copy.$unknown = message.$unknown;
    rest = copy as unknown as Message;
  }
  const head = toBinary(schema, rest);
  if (writes.length === 0) {
    if (headroom === 0) return Buffer.from(head.buffer, head.byteOffset, head.byteLength);
    const out = Buffer.allocUnsafe(headroom + head.byteLength);
    out.set(head, headroom);
    return out;
  }
  const sizes: number[] = [];
  let tailSize = 0;
  for (const { write, json } of writes) tailSize += sizeField(write, json, sizes);
  const out = Buffer.allocUnsafe(headroom + head.byteLength + tailSize);
  out.set(head, headroom);
  const writer: Writer = { out, at: headroom + head.byteLength, sizes, next: 0 };
  for (const { write, json } of writes) writeField(writer, write, json);
  // The buffer is not zeroed: a sizing slip must fail the call, never send stale memory.
  if (writer.at !== out.byteLength) throw new Error(`binary writer wrote ${writer.at} of ${out.byteLength} bytes`);
  return out;
}

function pendingWrite(field: DescField): PendingWrite | undefined {
  const type = field.fieldKind === "message" || (field.fieldKind === "list" && field.listKind === "message") ? field.message.typeName : undefined;
  if (type === undefined || !shapes.has(type)) return undefined;
  return { tag: (field.number << 3) | 2, shape: type as JsonShaped, repeated: field.fieldKind === "list" };
}

// Sizing pass: each length-delimited part's length and each string's byte length, in the order the
// writing pass meets them.

function sizeField(write: PendingWrite, json: JsonValue, sizes: number[]): number {
  const tagSize = varintSize(write.tag);
  if (!write.repeated) return json === null && write.shape !== "google.protobuf.Value" ? 0 : tagSize + sizeDelimited(write.shape, json, sizes);
  if (!Array.isArray(json)) throw new Error(`the pending JSON form of a repeated field is no array`);
  let size = 0;
  for (const item of json) size += tagSize + sizeDelimited(write.shape, item, sizes);
  return size;
}

/** The size of a length prefix and `shape`'s body. */
function sizeDelimited(shape: JsonShaped, json: JsonValue, sizes: number[]): number {
  const slot = sizes.length;
  sizes.push(0);
  const body = shape === "google.protobuf.Value" ? sizeValue(json, sizes) : shape === "google.protobuf.Struct" ? sizeStruct(json, sizes) : sizeList(json, sizes);
  sizes[slot] = body;
  return varintSize(body) + body;
}

function sizeValue(json: JsonValue, sizes: number[]): number {
  if (json === null) return 2;
  switch (typeof json) {
    case "number":
      return 9;
    case "boolean":
      return 2;
    case "string":
      return 1 + sizeString(json, sizes);
    default:
      return 1 + sizeDelimited(Array.isArray(json) ? "google.protobuf.ListValue" : "google.protobuf.Struct", json, sizes);
  }
}

function sizeStruct(json: JsonValue, sizes: number[]): number {
  if (json === null || typeof json !== "object" || Array.isArray(json)) throw new Error("the pending JSON form of a Struct is no object");
  let size = 0;
  for (const key of Object.keys(json)) {
    const slot = sizes.length;
    sizes.push(0);
    const entry = 1 + sizeString(key, sizes) + 1 + sizeDelimited("google.protobuf.Value", json[key] ?? null, sizes);
    sizes[slot] = entry;
    size += 1 + varintSize(entry) + entry;
  }
  return size;
}

function sizeList(json: JsonValue, sizes: number[]): number {
  if (!Array.isArray(json)) throw new Error("the pending JSON form of a ListValue is no array");
  let size = 0;
  for (const item of json) size += 1 + sizeDelimited("google.protobuf.Value", item, sizes);
  return size;
}

function sizeString(text: string, sizes: number[]): number {
  const length = Buffer.byteLength(text, "utf8");
  sizes.push(length);
  return varintSize(length) + length;
}

function varintSize(value: number): number {
  let size = 1;
  while (value >= 0x80) {
    value = Math.floor(value / 128);
    size++;
  }
  return size;
}

// Writing pass.

interface Writer {
  out: Buffer;
  at: number;
  /** The sizing pass's lengths, read in order from `next`. */
  sizes: number[];
  next: number;
}

function writeField(writer: Writer, write: PendingWrite, json: JsonValue): void {
  if (!write.repeated) {
    if (json === null && write.shape !== "google.protobuf.Value") return;
    writeVarint(writer, write.tag);
    writeDelimited(writer, write.shape, json);
    return;
  }
  for (const item of json as JsonValue[]) {
    writeVarint(writer, write.tag);
    writeDelimited(writer, write.shape, item);
  }
}

function writeDelimited(writer: Writer, shape: JsonShaped, json: JsonValue): void {
  writeVarint(writer, nextSize(writer));
  if (shape === "google.protobuf.Value") writeValue(writer, json);
  else if (shape === "google.protobuf.Struct") writeStruct(writer, json as Record<string, JsonValue>);
  else writeList(writer, json as JsonValue[]);
}

function writeValue(writer: Writer, json: JsonValue): void {
  const { out } = writer;
  if (json === null) {
    out[writer.at++] = Tag.NullValue;
    out[writer.at++] = 0;
    return;
  }
  switch (typeof json) {
    case "number":
      out[writer.at++] = Tag.NumberValue;
      writer.at = out.writeDoubleLE(json, writer.at);
      return;
    case "boolean":
      out[writer.at++] = Tag.BoolValue;
      out[writer.at++] = json ? 1 : 0;
      return;
    case "string":
      out[writer.at++] = Tag.StringValue;
      writeString(writer, json);
      return;
    default:
      if (Array.isArray(json)) {
        out[writer.at++] = Tag.ListValue;
        writeDelimited(writer, "google.protobuf.ListValue", json);
      } else {
        out[writer.at++] = Tag.StructValue;
        writeDelimited(writer, "google.protobuf.Struct", json);
      }
  }
}

function writeStruct(writer: Writer, json: Record<string, JsonValue>): void {
  for (const key of Object.keys(json)) {
    writer.out[writer.at++] = Tag.Element;
    writeVarint(writer, nextSize(writer));
    writer.out[writer.at++] = Tag.Element;
    writeString(writer, key);
    writer.out[writer.at++] = Tag.EntryValue;
    writeDelimited(writer, "google.protobuf.Value", json[key] ?? null);
  }
}

function writeList(writer: Writer, json: JsonValue[]): void {
  for (const item of json) {
    writer.out[writer.at++] = Tag.Element;
    writeDelimited(writer, "google.protobuf.Value", item);
  }
}

function writeString(writer: Writer, text: string): void {
  const length = nextSize(writer);
  writeVarint(writer, length);
  writer.at += writer.out.write(text, writer.at, length, "utf8");
}

function nextSize(writer: Writer): number {
  const size = writer.sizes[writer.next++];
  if (size === undefined) throw new Error("binary writer ran past its sizing pass");
  return size;
}

function writeVarint(writer: Writer, value: number): void {
  while (value >= 0x80) {
    writer.out[writer.at++] = (value & 0x7f) | 0x80;
    value = Math.floor(value / 128);
  }
  writer.out[writer.at++] = value;
}
