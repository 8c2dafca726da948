import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConfigError, configFromValues, helpText } from "../../src/config/config.js";
import { generousLimits } from "../auth/support/auth-api.js";
import { backends, startTestServer, type TestServer } from "../support/server.js";

/** What browsers must be allowed to send: the guide's and auth-js's headers, Connect's and gRPC-Web's. */
const requiredRequestHeaders = [
  "authorization",
  "content-type",
  "x-api-key",
  "apikey",
  "x-client-info",
  "x-supabase-api-version",
  "x-tenant-id",
  "connect-protocol-version",
  "connect-timeout-ms",
  "x-grpc-web",
  "x-user-agent",
  "grpc-timeout",
];
const requiredExposedHeaders = ["grpc-status", "grpc-message", "grpc-status-details-bin", "retry-after", "x-request-id"];

const list = (value: string | null) => (value ?? "").split(",").map((item) => item.trim().toLowerCase()).filter(Boolean);

function preflight(server: TestServer, path: string, origin: string, method = "POST") {
  return fetch(`${server.url}${path}`, {
    method: "OPTIONS",
    headers: { origin, "access-control-request-method": method, "access-control-request-headers": requiredRequestHeaders.join(",") },
  });
}

describe.each(backends)("CORS on %s storage", (backend) => {
  describe("by default (any origin)", () => {
    let server: TestServer;
    beforeAll(async () => {
      server = await startTestServer(backend, generousLimits);
    });
    afterAll(() => server?.close());

    it.each(["/auth/v1/token", "/api/v1/query", "/helios.query.v1.QueryService/Query", "/helios.auth.v1.AuthService/GetUser"])(
      "answers the preflight of %s with 204 and every header browsers send",
      async (path) => {
        const res = await preflight(server, path, "https://app.example.com");
        expect(res.status).toBe(204);
        expect(res.headers.get("access-control-allow-origin")).toBe("*");
        expect(list(res.headers.get("access-control-allow-methods"))).toEqual(expect.arrayContaining(["get", "post", "put", "delete", "options"]));
        expect(list(res.headers.get("access-control-allow-headers"))).toEqual(expect.arrayContaining(requiredRequestHeaders));
        expect(Number(res.headers.get("access-control-max-age"))).toBeGreaterThan(0);
        expect(res.headers.get("access-control-allow-credentials")).toBeNull();
        expect(await res.text()).toBe("");
      },
    );

    it("lets browsers read the answers and errors of every route, and the headers exposed", async () => {
      const origin = { origin: "https://app.example.com" };
      const answers = await Promise.all([
        fetch(`${server.url}/health`, { headers: origin }),
        fetch(`${server.url}/auth/v1/user`, { headers: origin }),
        fetch(`${server.url}/nope`, { headers: origin }),
        fetch(`${server.url}/openapi.json`, { headers: origin }),
        fetch(`${server.url}/helios.auth.v1.AuthService/GetUser`, {
          method: "POST",
          headers: { ...origin, "content-type": "application/json", "connect-protocol-version": "1" },
          body: "{}",
        }),
        fetch(`${server.url}/helios.auth.v1.AuthService/GetUser`, {
          method: "POST",
          headers: { ...origin, "content-type": "application/grpc-web+proto", "x-grpc-web": "1" },
          body: new Uint8Array([0, 0, 0, 0, 0]),
        }),
      ]);
      expect(answers.map((res) => res.status)).toEqual([200, 401, 404, 200, 401, 200]);
      for (const res of answers) {
        expect(res.headers.get("access-control-allow-origin")).toBe("*");
        expect(list(res.headers.get("access-control-expose-headers"))).toEqual(expect.arrayContaining(requiredExposedHeaders));
      }
    });

    it("leaves OPTIONS without a preflight to the routes", async () => {
      const res = await fetch(`${server.url}/auth/v1/token`, { method: "OPTIONS" });
      expect(res.status).toBe(405);
    });
  });

  describe("with --cors-origins", () => {
    let server: TestServer;
    const allowed = "https://app.example.com";
    beforeAll(async () => {
      server = await startTestServer(backend, [...generousLimits, "--cors-origins", `${allowed}, http://localhost:5173`]);
    });
    afterAll(() => server?.close());

    it("echoes a listed origin, varying on Origin", async () => {
      const res = await preflight(server, "/auth/v1/token", allowed);
      expect(res.status).toBe(204);
      expect(res.headers.get("access-control-allow-origin")).toBe(allowed);
      expect(list(res.headers.get("vary"))).toContain("origin");
      const answer = await fetch(`${server.url}/auth/v1/user`, { headers: { origin: "http://localhost:5173" } });
      expect(answer.headers.get("access-control-allow-origin")).toBe("http://localhost:5173");
    });

    it("gives other origins no CORS headers, so browsers stop", async () => {
      const res = await preflight(server, "/auth/v1/token", "https://evil.example.com");
      expect(res.status).toBe(204);
      expect(res.headers.get("access-control-allow-origin")).toBeNull();
      expect(res.headers.get("access-control-allow-headers")).toBeNull();
      const answer = await fetch(`${server.url}/auth/v1/user`, { headers: { origin: "https://evil.example.com" } });
      expect(answer.headers.get("access-control-allow-origin")).toBeNull();
      expect(list(answer.headers.get("vary"))).toContain("origin");
    });
  });
});

describe("--cors-origins", () => {
  const origins = (value: string | undefined) => configFromValues({ "cors-origins": value }).cors.origins;

  it("defaults to any origin and accepts a comma list of origins", () => {
    expect(origins(undefined)).toBe("*");
    expect(origins("*")).toBe("*");
    expect(origins(" https://a.example.com , http://localhost:5173 ")).toEqual(["https://a.example.com", "http://localhost:5173"]);
    expect(helpText()).toContain("--cors-origins");
  });

  it.each(["https://a.example.com/app", "a.example.com", "https://a.example.com/", ",", "*,https://a.example.com"])(
    "refuses %j",
    (value) => {
      expect(() => origins(value)).toThrow(ConfigError);
    },
  );
});
