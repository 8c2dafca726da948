import type { JsonObject } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { mergeUserMetadata } from "../../src/auth/user-metadata.js";

describe("mergeUserMetadata", () => {
  it("sets the update's keys, removes those set to null and keeps the rest", () => {
    expect(mergeUserMetadata({ a: 1, b: 2, c: 3 }, { b: 20, c: null, d: 4 })).toEqual({ a: 1, b: 20, d: 4 });
  });

  it('keeps a key "__proto__" as a key, from the update and from the current object', () => {
    const update = JSON.parse('{"__proto__":{"admin":true},"a":1}') as JsonObject;
    const merged = mergeUserMetadata({}, update);
    expect(JSON.parse(JSON.stringify(merged))).toEqual(update);
    expect(Object.keys(merged)).toEqual(["__proto__", "a"]);
    expect((merged as { admin?: unknown }).admin).toBeUndefined();

    const again = mergeUserMetadata(merged, { b: 2 });
    expect(JSON.stringify(again)).toBe('{"__proto__":{"admin":true},"a":1,"b":2}');
    expect(JSON.stringify(mergeUserMetadata(again, JSON.parse('{"__proto__":null}') as JsonObject))).toBe('{"a":1,"b":2}');
  });
});
