import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Browser } from "playwright-core";
import { generousLimits } from "../auth/support/auth-api.js";
import { backends, startTestServer, type TestServer } from "../support/server.js";
import { hasChromium, launchChromium } from "./support/chromium.js";

describe.each(backends)("GET /docs on %s storage", (backend) => {
  let server: TestServer;
  let browser: Browser | undefined;
  beforeAll(async () => {
    server = await startTestServer(backend, generousLimits);
    if (hasChromium) browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it("serves the page and its assets from this server, for GET only", async () => {
    const page = await fetch(`${server.url}/docs`);
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toMatch(/^text\/html/);
    expect(page.headers.get("content-security-policy")).toContain("default-src 'none'");
    const html = await page.text();
    const assets = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((match) => match[1] ?? "");
    expect(assets.length).toBeGreaterThan(0);
    for (const asset of assets) {
      expect(asset).not.toMatch(/^(https?:)?\/\//);
      const res = await fetch(new URL(asset, `${server.url}/docs`));
      expect(res.status, asset).toBe(200);
    }
    // Only the page's own files: nothing else of node_modules, however the name is spelled.
    for (const name of ["package.json", "..%2F..%2Fpackage.json", "swagger-ui-bundle.js.map", "index.html"]) {
      expect((await fetch(`${server.url}/docs/assets/${name}`)).status, name).toBe(404);
    }
    expect((await fetch(`${server.url}/docs`, { method: "POST" })).status).toBe(405);
  });

  it.skipIf(!hasChromium)("renders every operation of /openapi.json in headless Chromium, offline", async () => {
    const spec = (await (await fetch(`${server.url}/openapi.json`)).json()) as { paths: Record<string, Record<string, unknown>> };
    const expected = Object.entries(spec.paths)
      .flatMap(([path, operations]) => Object.keys(operations).map((method) => `${method.toUpperCase()} ${path}`))
      .sort();

    const context = await (browser as Browser).newContext();
    context.setDefaultTimeout(10_000);
    const page = await context.newPage();
    const requested: string[] = [];
    const problems: string[] = [];
    page.on("request", (request) => requested.push(request.url()));
    page.on("pageerror", (error) => problems.push(error.message));
    page.on("console", (message) => {
      if (message.type() === "error") problems.push(message.text());
    });
    await page.goto(`${server.url}/docs`);
    await page.locator(".opblock").nth(expected.length - 1).waitFor();
    const rendered = await page.$$eval(".opblock", (blocks) =>
      blocks.map((block) => {
        const method = block.querySelector(".opblock-summary-method")?.textContent ?? "";
        const path = block.querySelector(".opblock-summary-path")?.getAttribute("data-path") ?? "";
        return `${method.toUpperCase()} ${path}`;
      }),
    );
    expect(rendered.sort()).toEqual(expected);
    expect(await page.textContent(".info .title")).toContain("HeliosDB Nano");

    // Open one operation: its parameters and error responses render from the document.
    await page.click("#operations-QueryService-QueryService_ReadQuery .opblock-summary");
    await page.waitForSelector("#operations-QueryService-QueryService_ReadQuery .responses-table");
    const opened = (await page.textContent("#operations-QueryService-QueryService_ReadQuery")) ?? "";
    expect(opened).toContain("array_mode");
    expect(opened).toContain("token_expired");

    expect(problems).toEqual([]);
    expect(requested.filter((url) => !url.startsWith(`${server.url}/`))).toEqual([]);
    await context.close();
  });
});
