import { ScalarType, type DescField, type DescMessage } from "@bufbuild/protobuf";
import type { Value } from "@bufbuild/protobuf/wkt";
import type { Interceptor } from "@connectrpc/connect";
import { apiError } from "../errors/catalogue.js";

/** Something still to look through: a message of a type, a `google.protobuf.Value`, or plain JSON (a Struct field). */
type Pending =
  | { kind: "message"; desc: DescMessage; value: Record<string, unknown>; path: string }
  | { kind: "value"; value: Value; path: string }
  | { kind: "json"; value: unknown; path: string };

/** The fields of each message type that can hold text, directly or nested; computed once per type. */
const textFields = new WeakMap<DescMessage, readonly DescField[]>();

function textFieldsOf(desc: DescMessage): readonly DescField[] {
  let fields = textFields.get(desc);
  if (fields) return fields;
  textFields.set(desc, []); // a recursive type sees itself as text-free while being computed
  fields = desc.fields.filter((field) => holdsText(field, new Set([desc])));
  textFields.set(desc, fields);
  return fields;
}

function holdsText(field: DescField, visiting: Set<DescMessage>): boolean {
  if (field.fieldKind === "enum" || (field.fieldKind === "list" && field.listKind === "enum")) return false;
  if (field.fieldKind === "map") return true; // keys are text, or values may be
  const nested = field.message;
  if (!nested) return field.scalar === ScalarType.STRING;
  if (visiting.has(nested)) return true;
  visiting.add(nested);
  return nested.fields.some((inner) => holdsText(inner, visiting));
}

/** A oneof member's value: the oneof holds `{ case, value }`. */
function oneofValue(message: Record<string, unknown>, field: DescField): unknown {
  const chosen = message[field.oneof?.localName ?? ""] as { case?: string; value?: unknown } | undefined;
  return chosen?.case === field.localName ? chosen.value : undefined;
}

function join(path: string, key: string): string {
  return path === "" ? key : `${path}.${key}`;
}

/**
 * The JSON path of the first string in `message` (fields, list elements, map keys and values, nested
 * messages, `google.protobuf.Value` trees and Struct fields) that contains a NUL character, or
 * undefined. Walks the message objects themselves, only through fields that can hold text, and
 * without recursion, so a deep Value cannot overflow the stack.
 */
export function firstNulText(schema: DescMessage, message: object): string | undefined {
  const stack: Pending[] = [{ kind: "message", desc: schema, value: message as Record<string, unknown>, path: "" }];
  const push = (field: DescField, value: unknown, path: string) => {
    if (value === undefined || value === null) return;
    if (typeof value === "string") stack.push({ kind: "json", value, path });
    else if (field.message?.typeName === "google.protobuf.Value") stack.push({ kind: "value", value: value as Value, path });
    else if (field.message?.typeName === "google.protobuf.Struct") stack.push({ kind: "json", value, path });
    else if (field.message) stack.push({ kind: "message", desc: field.message, value: value as Record<string, unknown>, path });
  };
  while (stack.length > 0) {
    const pending = stack.pop() as Pending;
    const { path } = pending;
    switch (pending.kind) {
      case "message":
        for (const field of textFieldsOf(pending.desc)) {
          const value = field.oneof ? oneofValue(pending.value, field) : pending.value[field.localName];
          const at = join(path, field.jsonName);
          if (Array.isArray(value)) value.forEach((item: unknown, index) => push(field, item, `${at}[${index}]`));
          else if (field.fieldKind === "map" && typeof value === "object" && value !== null) {
            for (const [key, item] of Object.entries(value)) {
              if (key.includes("\0")) return join(at, key);
              push(field, item, join(at, key));
            }
          } else push(field, value, at);
        }
        break;
      case "value": {
        const { kind } = pending.value;
        if (kind.case === "stringValue") stack.push({ kind: "json", value: kind.value, path });
        else if (kind.case === "listValue") kind.value.values.forEach((item, index) => stack.push({ kind: "value", value: item, path: `${path}[${index}]` }));
        else if (kind.case === "structValue") {
          for (const [key, item] of Object.entries(kind.value.fields)) {
            if (key.includes("\0")) return join(path, key);
            stack.push({ kind: "value", value: item, path: join(path, key) });
          }
        }
        break;
      }
      case "json": {
        const { value } = pending;
        if (typeof value === "string") {
          if (value.includes("\0")) return path;
        } else if (Array.isArray(value)) {
          value.forEach((item: unknown, index) => stack.push({ kind: "json", value: item, path: `${path}[${index}]` }));
        } else if (typeof value === "object" && value !== null) {
          for (const [key, item] of Object.entries(value)) {
            if (key.includes("\0")) return join(path, key);
            stack.push({ kind: "json", value: item, path: join(path, key) });
          }
        }
        break;
      }
    }
  }
  return undefined;
}

/**
 * Refuses, before any handler runs, a request with a NUL character in any text field
 * (`validation_failed` naming the field): PostgreSQL cannot store NUL in text, and the ORM's statement
 * texts, which carry the values inline, end at it. REST requests run through the same interceptors,
 * so this is the one check for every protocol.
 */
export function createNulTextInterceptor(): Interceptor {
  return (next) => async (req) => {
    if (!req.stream) {
      const field = firstNulText(req.method.input, req.message);
      if (field !== undefined) {
        throw apiError("validation_failed", `${field || "The request"} must not contain NUL characters (\\u0000)`, {
          metadata: { field },
        });
      }
    }
    return next(req);
  };
}
