import { isReflectList, isReflectMap, isReflectMessage, reflect, type ReflectMessage } from "@bufbuild/protobuf/reflect";
import { ScalarType, type DescField, type DescMessage } from "@bufbuild/protobuf";
import type { Interceptor } from "@connectrpc/connect";
import { apiError } from "../errors/catalogue.js";

/** Well-known types whose fields do not appear in their JSON form (a Value is its kind's value). */
const transparent = new Set(["google.protobuf.Value", "google.protobuf.Struct", "google.protobuf.ListValue"]);

interface Pending {
  message: ReflectMessage;
  path: string;
}

function fieldPath(parent: DescMessage, field: DescField, path: string): string {
  if (transparent.has(parent.typeName)) return path;
  return path === "" ? field.jsonName : `${path}.${field.jsonName}`;
}

/**
 * The JSON path of the first string in `message` (fields, list elements, map keys and values, nested
 * messages, `google.protobuf.Value` trees) that contains a NUL character, or undefined. Walks without
 * recursion, so a deep Value cannot overflow the stack.
 */
export function firstNulText(schema: DescMessage, message: ReflectMessage["message"]): string | undefined {
  const stack: Pending[] = [{ message: reflect(schema, message), path: "" }];
  const visit = (value: unknown, path: string): string | undefined => {
    if (typeof value === "string") return value.includes("\0") ? path : undefined;
    if (isReflectMessage(value)) stack.push({ message: value, path });
    return undefined;
  };
  while (stack.length > 0) {
    const { message: current, path: parentPath } = stack.pop() as Pending;
    for (const field of current.fields) {
      if (!current.isSet(field)) continue;
      if (field.fieldKind === "scalar" && field.scalar !== ScalarType.STRING) continue;
      if (field.fieldKind === "enum") continue;
      const path = fieldPath(current.desc, field, parentPath);
      const value = current.get(field);
      if (isReflectList(value)) {
        let index = 0;
        for (const item of value) {
          const found = visit(item, `${path}[${index++}]`);
          if (found !== undefined) return found;
        }
      } else if (isReflectMap(value)) {
        for (const [key, item] of value) {
          const itemPath = `${path}.${String(key)}`;
          if (typeof key === "string" && key.includes("\0")) return itemPath;
          const found = visit(item, itemPath);
          if (found !== undefined) return found;
        }
      } else {
        const found = visit(value, path);
        if (found !== undefined) return found;
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
