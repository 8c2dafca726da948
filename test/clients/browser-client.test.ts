import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generousLimits, strongPassword, uniqueEmail } from "../auth/support/auth-api.js";
import { backends, startTestServer, type TestServer } from "../support/server.js";
import { hasChromium, launchChromium } from "./support/chromium.js";

/**
 * Bundles the browser entry of `heliosdb-nano/client` as a browser app would: esbuild for the
 * browser platform fails on any Node built-in it meets.
 */
async function bundleClient(): Promise<string> {
  const result = await build({
    entryPoints: [fileURLToPath(new URL("../../src/client/index.ts", import.meta.url))],
    bundle: true,
    platform: "browser",
    format: "iife",
    globalName: "Helios",
    target: "es2022",
    write: false,
    logLevel: "silent",
  });
  return result.outputFiles[0]?.text ?? "";
}

/** Serves an app page and the bundle from another origin than the API (localhost vs 127.0.0.1). */
async function startAppOrigin(bundle: string): Promise<{ url: string; server: Server }> {
  const server = createServer((req, res) => {
    if (req.url === "/helios.js") {
      res.writeHead(200, { "content-type": "text/javascript" });
      res.end(bundle);
      return;
    }
    res.writeHead(200, { "content-type": "text/html" });
    res.end('<!DOCTYPE html><html><head><script src="/helios.js"></script></head><body>app</body></html>');
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { url: `http://localhost:${(server.address() as AddressInfo).port}`, server };
}

/** What the page reports back from running the client. */
interface Outcome {
  email: string;
  tenantId: string;
  rows: unknown[];
  refreshed: boolean;
  error: { name: string; reason: string; code: number; message: string };
  afterSignOut: string;
}

/** Runs the client inside the page: sign-up, a query, a refresh, a failing query, sign-out. */
function runInPage(page: Page, args: { baseUrl: string; transport: string; email: string; password: string }): Promise<Outcome> {
  return page.evaluate(async ({ baseUrl, transport, email, password }) => {
    type Failure = { name: string; reason: string; code: number; message: string };
    type Client = {
      signUp(e: string, p: string): Promise<{ user: { email: string; tenantId: string }; accessToken: string }>;
      query(sql: string, params?: unknown[]): Promise<{ rows: unknown[] }>;
      refresh(): Promise<{ accessToken: string }>;
      getUser(): Promise<unknown>;
      signOut(): Promise<void>;
    };
    const helios = (globalThis as unknown as { Helios: { createHeliosClient(o: object): Client } }).Helios;
    const client = helios.createHeliosClient({ baseUrl, transport });
    const session = await client.signUp(email, password);
    const result = await client.query("SELECT $1::text AS greeting", ["hello from the browser"]);
    const refreshed = (await client.refresh()).accessToken !== session.accessToken;
    const error = (await client.query("SELECT * FROM no_such_table").catch((e: unknown) => e)) as Failure;
    await client.signOut();
    const afterSignOut = (await client.getUser().catch((e: unknown) => e)) as Failure;
    return {
      email: session.user.email,
      tenantId: session.user.tenantId,
      rows: result.rows,
      refreshed,
      error: { name: error.name, reason: error.reason, code: error.code, message: error.message },
      afterSignOut: afterSignOut.reason,
    };
  }, args);
}

describe.each(backends)("the typed client in a browser bundle (headless Chromium) on %s storage", (backend) => {
  let server: TestServer;
  let app: { url: string; server: Server };
  let browser: Browser | undefined;
  beforeAll(async () => {
    server = await startTestServer(backend, generousLimits);
    app = await startAppOrigin(await bundleClient());
    if (hasChromium) browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    await new Promise((resolve) => app?.server.close(resolve));
    await server?.close();
  });

  it("bundles for browsers without Node built-ins", async () => {
    const bundle = await bundleClient();
    expect(bundle).toContain("createHeliosClient");
    expect(bundle).not.toMatch(/require\(["'](node:)?(http2?|https|net|tls|zlib|fs)["']\)/);
  });

  it.skipIf(!hasChromium).each(["connect", "grpc-web"])("works cross-origin over %s, through CORS", async (transport) => {
    const context = await (browser as Browser).newContext();
    context.setDefaultTimeout(10_000);
    const page = await context.newPage();
    const problems: string[] = [];
    page.on("pageerror", (error) => problems.push(error.message));
    await page.goto(app.url);
    const email = uniqueEmail(`browser-${transport}`);
    const outcome = await runInPage(page, { baseUrl: server.url, transport, email, password: strongPassword() });
    expect(outcome).toEqual({
      email,
      tenantId: "default",
      rows: [{ greeting: "hello from the browser" }],
      refreshed: true,
      error: { name: "HeliosError", reason: "sql_error", code: 3, message: 'relation "no_such_table" does not exist' },
      afterSignOut: "unauthorized",
    });
    expect(problems).toEqual([]);
    await context.close();
  });
});
