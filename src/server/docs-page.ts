import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { promisify } from "node:util";
import { gzip } from "node:zlib";
import { sendError, sendJson } from "./http-response.js";
import type { NodeServerRequest, NodeServerResponse } from "./node-types.js";
import type { OpenApiDocument } from "./openapi.js";
import type { Responder } from "./responder.js";

const gzipAsync = promisify(gzip);

/** Where the document and the page are served. */
export const docsPaths = { openApi: "/openapi.json", page: "/docs", assets: "/docs/assets/" } as const;

/** Serves `GET /openapi.json`, the `GET /docs` API reference page (`/docs/` redirects there) and the page's assets. */
export interface DocsRoutes {
  /** The responder of `req` if `path` is one of the docs routes; undefined otherwise. */
  route(req: NodeServerRequest, res: NodeServerResponse, path: string): Responder | undefined;
}

interface Asset {
  type: string;
  load(): Promise<Buffer>;
}

/** Starts Swagger UI on the page against the document, with nothing fetched from other origins. */
const initScript = `window.addEventListener("load", function () {
  window.ui = SwaggerUIBundle({
    url: new URL("openapi.json", document.baseURI).href,
    dom_id: "#swagger-ui",
    deepLinking: true,
    validatorUrl: null,
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
  });
});
`;

/** Same-origin only; Swagger UI sets inline styles. */
const pageSecurityPolicy = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "font-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join("; ");

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function pageHtml(title: string): string {
  // Relative URLs, so the page also works behind a reverse proxy that adds a path prefix.
  return `<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>${escapeHtml(title)} API reference</title>
  <link rel="stylesheet" href="docs/assets/swagger-ui.css">
  <link rel="icon" type="image/png" href="docs/assets/favicon-32x32.png">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="docs/assets/swagger-ui-bundle.js"></script>
  <script src="docs/assets/init.js"></script>
</body>
</html>
`;
}

/** Caches the result of the first call. */
function once(load: () => Promise<Buffer>): () => Promise<Buffer> {
  let loaded: Promise<Buffer> | undefined;
  return () => {
    if (!loaded) {
      loaded = load();
      loaded.catch(() => (loaded = undefined)); // A failed read is tried again next time.
    }
    return loaded;
  };
}

/** The assets of the page: Swagger UI from the `swagger-ui-dist` npm package, and our init script. */
function pageAssets(): Map<string, Asset> {
  const dist = dirname(createRequire(import.meta.url).resolve("swagger-ui-dist/package.json"));
  const file = (name: string, type: string): [string, Asset] => [name, { type, load: once(() => readFile(join(dist, name))) }];
  return new Map([
    file("swagger-ui.css", "text/css; charset=utf-8"),
    file("swagger-ui-bundle.js", "text/javascript; charset=utf-8"),
    file("favicon-32x32.png", "image/png"),
    ["init.js", { type: "text/javascript; charset=utf-8", load: () => Promise.resolve(Buffer.from(initScript)) }],
  ]);
}

/**
 * Creates the docs routes for `document`. The page is rendered by Swagger UI, whose files come from
 * npm and are served by this server (gzip when accepted), so the reference works offline.
 */
export function createDocsRoutes(document: OpenApiDocument): DocsRoutes {
  const assets = pageAssets();
  const title = String((document.info as { title?: unknown } | undefined)?.title ?? "API");
  const page = Buffer.from(pageHtml(title));
  const gzipped = new Map<string, Promise<Buffer>>();

  async function send(req: NodeServerRequest, res: NodeServerResponse, name: string, asset: Asset): Promise<void> {
    const body = await asset.load();
    const headers: Record<string, string> = {
      "content-type": asset.type,
      "cache-control": "public, max-age=3600",
      "x-content-type-options": "nosniff",
      vary: "accept-encoding",
    };
    const acceptsGzip = /\bgzip\b/.test(String(req.headers["accept-encoding"] ?? ""));
    if (acceptsGzip && body.length > 1024) {
      if (!gzipped.has(name)) gzipped.set(name, gzipAsync(body));
      const compressed = await (gzipped.get(name) as Promise<Buffer>);
      res.writeHead(200, { ...headers, "content-encoding": "gzip", "content-length": String(compressed.length) });
      res.end(compressed);
      return;
    }
    res.writeHead(200, { ...headers, "content-length": String(body.length) });
    res.end(body);
  }

  function route(req: NodeServerRequest, res: NodeServerResponse, path: string): Responder | undefined {
    const assetName = path.startsWith(docsPaths.assets) ? path.slice(docsPaths.assets.length) : undefined;
    const asset = assetName === undefined ? undefined : assets.get(assetName);
    if (path === `${docsPaths.page}/`) {
      // The page's URLs are relative to /docs; a relative redirect keeps a proxy's path prefix.
      return () => {
        res.writeHead(301, { location: "../docs", "content-length": "0" });
        res.end();
      };
    }
    if (path !== docsPaths.openApi && path !== docsPaths.page && !asset) return undefined;
    if (req.method !== "GET") {
      return () => sendError(res, "method_not_allowed", `Method ${req.method ?? ""} is not allowed; use GET`, { headers: { allow: "GET" } });
    }
    if (path === docsPaths.openApi) return () => sendJson(res, 200, document, { "cache-control": "no-cache" });
    if (path === docsPaths.page) {
      return () => {
        res.writeHead(200, {
          "content-type": "text/html; charset=utf-8",
          "content-length": String(page.length),
          "content-security-policy": pageSecurityPolicy,
          "x-content-type-options": "nosniff",
          "cache-control": "no-cache",
        });
        res.end(page);
      };
    }
    return asset && assetName ? () => send(req, res, assetName, asset) : undefined;
  }

  return { route };
}
