import type { JsonValue } from "@bufbuild/protobuf";

/** Builds a field's message form from its JSON form. */
export type FieldBuilder<V> = (json: JsonValue) => V;

interface PendingField {
  json: JsonValue;
  build: FieldBuilder<unknown>;
}

/** Where a message keeps its pending fields: a non-enumerable symbol, which no serialiser reads. */
const pendingKey = Symbol("pendingJsonForms");

type WithPending = { [pendingKey]?: Map<string, PendingField> };

/**
 * The accessor pair of each field name, created once: the pending value lives on the message, not
 * in a closure per message. A closure holding a 1 000-row answer made that answer survive
 * young-generation collections (measured in-process: about 1.6× the CPU of the answer).
 */
const accessors = new Map<string, PropertyDescriptor>();

function accessorsOf(field: string): PropertyDescriptor {
  let descriptor = accessors.get(field);
  if (descriptor === undefined) {
    descriptor = {
      get(this: WithPending) {
        const pending = this[pendingKey]?.get(field);
        return settle(this, field, pending === undefined ? undefined : pending.build(pending.json));
      },
      set(this: WithPending, value: unknown) {
        settle(this, field, value);
      },
      enumerable: true,
      configurable: true,
    };
    accessors.set(field, descriptor);
  }
  return descriptor;
}

function settle(message: WithPending, field: string, value: unknown): unknown {
  message[pendingKey]?.delete(field);
  Object.defineProperty(message, field, { value, writable: true, enumerable: true, configurable: true });
  return value;
}

/**
 * Makes `message[field]` the value `build(json)` on first read, and records `json` as that field's
 * JSON form (what protobuf's `toJson` would write for the built value): as long as nobody has read
 * the field, the compiled codecs write it from `json` and `build` never runs. For answers whose JSON
 * is at hand before their messages (a query's rows), so that no serialiser builds
 * `google.protobuf.Value` trees only to write them back out: the REST and Connect JSON codec writes
 * `json` as it is (`json-codec.ts`), the binary codec writes `Value` fields straight from it
 * (`binary-codec.ts`). Anything else that reads the field gets the built value. Reading or assigning
 * the field turns it into a plain property and drops the JSON form. `build` should be a function
 * made once, not a closure per message (see {@link accessors}).
 */
export function lazyField<M extends object, F extends keyof M & string>(message: M, field: F, json: JsonValue, build: FieldBuilder<M[F]>): M {
  const holder = message as WithPending;
  let pending = holder[pendingKey];
  if (pending === undefined) {
    pending = new Map();
    Object.defineProperty(holder, pendingKey, { value: pending, enumerable: false });
  }
  pending.set(field, { json, build });
  Object.defineProperty(message, field, accessorsOf(field));
  return message;
}

/** The JSON forms of a message's pending fields, as {@link pendingForms} answers them. */
export interface PendingForms {
  /** The JSON form of the field with this local name, if it is pending. */
  get(field: string): JsonValue | undefined;
}

/**
 * The JSON forms of `message`'s fields that {@link lazyField} made and nobody has read yet;
 * undefined when there are none. Reading them reads no field.
 */
export function pendingForms(message: object): PendingForms | undefined {
  const pending = (message as WithPending)[pendingKey];
  if (pending === undefined || pending.size === 0) return undefined;
  return { get: (field) => pending.get(field)?.json };
}
