import { Writable } from "node:stream";
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { parseInvalidation } from "../../src/auth/invalidation-bus.js";
import { requestIdFrom, requestIdMixin, runInRequestScope } from "../../src/logging/request-scope.js";

const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

describe("request ids", () => {
  it("keeps a sane incoming id and replaces anything else", () => {
    expect(requestIdFrom("abc-123.x:y_z")).toBe("abc-123.x:y_z");
    expect(requestIdFrom(["first", "second"])).toBe("first");
    expect(requestIdFrom(undefined)).toMatch(uuid);
    expect(requestIdFrom("")).toMatch(uuid);
    expect(requestIdFrom("has space")).toMatch(uuid);
    expect(requestIdFrom("x\r\nset-cookie: a=b")).toMatch(uuid);
    // As long as a refresh token (43 characters): never echoed nor logged.
    expect(requestIdFrom("A".repeat(43))).toMatch(uuid);
  });

  it("adds the id to every line logged while a request is served, through awaits", async () => {
    let text = "";
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        text += chunk.toString();
        done();
      },
    });
    const logger = pino({ mixin: requestIdMixin }, sink);
    logger.info("outside");
    await runInRequestScope({ id: "req-1" }, async () => {
      await new Promise((resolve) => setTimeout(resolve, 1));
      logger.child({ component: "auth" }).info("inside");
    });
    const lines = text.trim().split("\n").map((line) => JSON.parse(line) as { msg: string; reqId?: string });
    expect(lines.map((line) => [line.msg, line.reqId])).toEqual([
      ["outside", undefined],
      ["inside", "req-1"],
    ]);
  });
});

describe("invalidation payloads", () => {
  it("parses <kind>:<id> and refuses anything else", () => {
    expect(parseInvalidation("session:6f1c2b1e-0000-4000-8000-000000000001")).toEqual({ kind: "session", id: "6f1c2b1e-0000-4000-8000-000000000001" });
    expect(parseInvalidation("user:u1")).toEqual({ kind: "user", id: "u1" });
    expect(parseInvalidation("api_key:abcd1234")).toEqual({ kind: "api_key", id: "abcd1234" });
    for (const junk of ["", "session", "session:", ":x", "tenant:x", "SESSION:x"]) expect(parseInvalidation(junk)).toBeUndefined();
  });
});
