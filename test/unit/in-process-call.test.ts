import http from "node:http";
import type { AddressInfo } from "node:net";
import { Code, createContextValues, type HandlerContext, type Interceptor } from "@connectrpc/connect";
import { afterEach, describe, expect, it } from "vitest";
import { AuthService } from "../../gen/helios/auth/v1/auth_pb.js";
import { createUnaryCaller, type UnaryTarget } from "../../src/server/in-process-call.js";

/** A real HTTP server whose every request is one in-process call of `target`, with the deadline of its `x-timeout` header. */
async function serve(interceptors: Interceptor[], target: UnaryTarget) {
  const caller = createUnaryCaller({ interceptors, contextValues: () => createContextValues() });
  const method = AuthService.method.getUser;
  const server = http.createServer((req, res) => {
    const timeout = req.headers["x-timeout"];
    const options = { protocolName: "grpc", header: new Headers(), trailer: new Headers(), timeoutMs: timeout === undefined ? undefined : Number(timeout) };
    void caller.call(method, target, req, res, { $typeName: method.input.typeName }, options).then(
      (answer) => res.end(JSON.stringify({ header: answer.header.get("x-seen") })),
      () => res.destroy(),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  return { url, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

/** GET with node:http, which (unlike fetch) creates no AbortController of its own. */
function get(url: string, headers: Record<string, string> = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    http.get(url, { headers }, (res) => {
      let body = "";
      res.on("data", (chunk: Buffer) => (body += chunk.toString()));
      res.on("end", () => resolve(body));
    }).on("error", reject);
  });
}

describe("in-process unary calls", () => {
  let close: (() => Promise<void>) | undefined;
  afterEach(async () => {
    await close?.();
    close = undefined;
  });

  it("composes each method's interceptor chain once, and runs every interceptor on every call", async () => {
    let composed = 0;
    let ran = 0;
    const counting: Interceptor = (next) => {
      composed++;
      return async (req) => {
        ran++;
        const response = await next(req);
        response.header.set("x-seen", String(ran));
        return response;
      };
    };
    const served = await serve([counting], async (_input, context) => ({ $typeName: context.method.output.typeName }));
    close = served.close;
    const answers = [await get(served.url), await get(served.url), await get(served.url)];
    expect(answers).toEqual(['{"header":"1"}', '{"header":"2"}', '{"header":"3"}']);
    expect({ composed, ran }).toEqual({ composed: 1, ran: 3 });
  });

  it("creates no abort signal unless the handler reads it, and aborts it when the client goes away", async () => {
    const Original = globalThis.AbortController;
    let created = 0;
    globalThis.AbortController = class extends Original {
      constructor() {
        super();
        created++;
      }
    };
    try {
      let aborted: Promise<boolean> | undefined;
      const served = await serve([], async (_input, context: HandlerContext) => {
        if (context.requestHeader.get("x-wait") === null) return { $typeName: context.method.output.typeName };
        aborted = new Promise((resolve) => context.signal.addEventListener("abort", () => resolve(true)));
        await aborted;
        return { $typeName: context.method.output.typeName };
      });
      close = served.close;
      await get(served.url);
      await get(served.url);
      expect(created).toBe(0);
      const waiting = http.get(served.url, { headers: { "x-wait": "1" } });
      waiting.on("error", () => undefined);
      await expect.poll(() => aborted !== undefined).toBe(true);
      waiting.destroy();
      expect(await aborted).toBe(true);
      expect(created).toBe(1);
    } finally {
      globalThis.AbortController = Original;
    }
  });

  it("tells the handler the time left before its deadline, and aborts its signal when the deadline passes", async () => {
    let seen: { left: number | undefined; protocol: string; reason: unknown } | undefined;
    const served = await serve([], async (_input, context) => {
      const left = context.timeoutMs();
      const reason = await new Promise((resolve) => context.signal.addEventListener("abort", () => resolve(context.signal.reason)));
      seen = { left, protocol: context.protocolName, reason };
      return { $typeName: context.method.output.typeName };
    });
    close = served.close;
    const answer = await get(served.url, { "x-timeout": "200" });
    expect(answer).toBe('{"header":null}');
    expect(seen?.left).toBeGreaterThan(0);
    expect(seen?.left).toBeLessThanOrEqual(200);
    expect(seen?.protocol).toBe("grpc");
    expect(seen?.reason).toMatchObject({ code: Code.DeadlineExceeded });
  });

  it("keeps the signal of a deadline past setTimeout's range unaborted", async () => {
    const served = await serve([], async (_input, context) => {
      const signal = context.signal;
      await new Promise((resolve) => setTimeout(resolve, 50));
      context.responseHeader.set("x-seen", String(signal.aborted));
      return { $typeName: context.method.output.typeName };
    });
    close = served.close;
    expect(await get(served.url, { "x-timeout": String(30 * 86_400_000) })).toBe('{"header":"false"}');
  });
});
