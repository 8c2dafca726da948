import type { JsonValue } from "@bufbuild/protobuf";

/**
 * The JSON forms of message fields whose message form has not been built yet (see {@link lazyField}),
 * by message and field local name.
 */
const pendingJsonForms = new WeakMap<object, Map<string, JsonValue>>();

/**
 * Makes `message[field]` a value built by `build` on first read, and records `json` as that field's
 * JSON form (what protobuf's `toJson` would write for the built value): as long as nobody has read
 * the field, the compiled codecs write it from `json` and `build` never runs. For answers whose JSON
 * is at hand before their messages (a query's rows), so that no serialiser builds
 * `google.protobuf.Value` trees only to write them back out: the REST and Connect JSON codec writes
 * `json` as it is (`json-codec.ts`), the binary codec writes `Value` fields straight from it
 * (`binary-codec.ts`). Anything else that reads the field gets the built value. Reading or assigning
 * the field turns it into a plain property and drops the JSON form.
 */
export function lazyField<M extends object, F extends keyof M & string>(message: M, field: F, json: JsonValue, build: () => M[F]): M {
  let forms = pendingJsonForms.get(message);
  if (forms === undefined) pendingJsonForms.set(message, (forms = new Map()));
  forms.set(field, json);
  const settle = (value: M[F]): M[F] => {
    forms.delete(field);
    Object.defineProperty(message, field, { value, writable: true, enumerable: true, configurable: true });
    return value;
  };
  Object.defineProperty(message, field, {
    get: () => settle(build()),
    set: (value: M[F]) => void settle(value),
    enumerable: true,
    configurable: true,
  });
  return message;
}

/**
 * The JSON forms of `message`'s fields that {@link lazyField} made and nobody has read yet, by field
 * local name; undefined when there are none. Reading the map reads no field.
 */
export function pendingForms(message: object): ReadonlyMap<string, JsonValue> | undefined {
  const forms = pendingJsonForms.get(message);
  return forms === undefined || forms.size === 0 ? undefined : forms;
}
