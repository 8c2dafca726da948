import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createPasswordHasher } from "../../src/auth/passwords.js";
import { backends, startTestServer, type TestServer } from "../support/server.js";
import { generousLimits, jwtPayload } from "./support/auth-api.js";

const run = promisify(execFile);

/**
 * Runs a shell snippet copied from the authentication guide, with the guide's
 * `http://localhost:6543` pointed at the test server; resolves stdout.
 */
async function guide(server: TestServer, script: string, env: Record<string, string> = {}): Promise<string> {
  const { stdout } = await run("bash", ["-euo", "pipefail", "-c", script.replaceAll("http://localhost:6543", server.url)], {
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", NO_PROXY: "*", no_proxy: "*", ...env },
  });
  return stdout;
}

/** Like {@link guide} for a single curl call, adding `-s -w` to learn the status: resolves status and body. */
async function curl(server: TestServer, command: string, env: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  const out = await guide(server, command.replace(/^curl /, `curl -s -w '\\n%{http_code}' `), env);
  const cut = out.lastIndexOf("\n");
  return { status: Number(out.slice(cut + 1)), body: out.slice(0, cut) };
}

describe.each(backends)("the authentication guide, verbatim, on %s storage", (backend) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer(backend, generousLimits);
  });
  afterAll(() => server?.close());

  it("Quick Start: sign up, sign in, use the token, refresh, sign out", async () => {
    // 1. Sign Up / Sign In
    const signUp = await curl(
      server,
      `curl -X POST http://localhost:6543/auth/v1/signup \\
        -H "Content-Type: application/json" \\
        -d '{ "email": "developer@example.com", "password": "secure-password-123" }'`,
    );
    expect(signUp.status).toBe(200);

    const signIn = await curl(
      server,
      `curl -X POST http://localhost:6543/auth/v1/token \\
        -H "Content-Type: application/json" \\
        -d '{ "email": "developer@example.com", "password": "secure-password-123" }'`,
    );
    expect(signIn.status).toBe(200);
    // 2. Response
    const session = JSON.parse(signIn.body) as Record<string, unknown>;
    expect(session).toMatchObject({
      access_token: expect.stringMatching(/^eyJhbGciOiJIUzI1NiIs/),
      token_type: "bearer",
      expires_in: 3600,
      refresh_token: expect.any(String),
    });
    const token = String(session.access_token);
    // Token Structure: the decoded payload of the guide.
    expect(jwtPayload(token)).toMatchObject({
      sub: expect.any(String),
      email: "developer@example.com",
      role: "authenticated",
      tenant_id: "default",
      exp: expect.any(Number),
      iat: expect.any(Number),
      scopes: ["read", "write"],
    });
    expect(JSON.parse(Buffer.from(token.split(".")[0] ?? "", "base64url").toString())).toMatchObject({ alg: "HS256" });

    // 3. Use Token in All Requests
    // (export HELIOS_TOKEN="eyJ...")
    const query = await curl(
      server,
      `curl -X POST http://localhost:6543/api/v1/query \\
        -H "Authorization: Bearer $HELIOS_TOKEN" \\
        -H "Content-Type: application/json" \\
        -d '{"sql": "SELECT * FROM users"}'`,
      { HELIOS_TOKEN: token },
    );
    expect(query.status).not.toBe(401);

    // Refresh Token
    const refreshed = await curl(
      server,
      `curl -X POST http://localhost:6543/auth/v1/token?grant_type=refresh_token \\
        -H "Content-Type: application/json" \\
        -d '{ "refresh_token": "${String(session.refresh_token)}" }'`,
    );
    expect(refreshed.status).toBe(200);
    const next = JSON.parse(refreshed.body) as Record<string, unknown>;
    expect(next).toMatchObject({ access_token: expect.any(String), token_type: "bearer", expires_in: 3600 });
    expect(next.access_token).not.toBe(token);

    // Troubleshooting's refresh, without a Content-Type.
    const again = await curl(
      server,
      `curl -X POST http://localhost:6543/auth/v1/token?grant_type=refresh_token \\
        -d '{"refresh_token": "${String(next.refresh_token)}"}'`,
    );
    expect(again.status).toBe(200);

    // Current user.
    const user = await curl(server, `curl -X GET http://localhost:6543/auth/v1/user -H "Authorization: Bearer $TOKEN"`, {
      TOKEN: token,
    });
    expect(user.status).toBe(200);
    expect(JSON.parse(user.body)).toMatchObject({ email: "developer@example.com", role: "authenticated" });

    // 5. Revoke on Sign Out
    const logout = await curl(server, `curl -X POST http://localhost:6543/auth/v1/logout \\\n -H "Authorization: Bearer $TOKEN"`, {
      TOKEN: token,
    });
    expect(logout).toEqual({ status: 204, body: "" });
    const revoked = await curl(server, `curl -X GET http://localhost:6543/auth/v1/user -H "Authorization: Bearer $TOKEN"`, {
      TOKEN: token,
    });
    expect(revoked.status).toBe(401);
    expect(JSON.parse(revoked.body)).toEqual({ error: "session_revoked", message: "Session has been revoked" });
  });

  it("Troubleshooting: the guide's error bodies, exactly", async () => {
    const missing = await curl(server, "curl -X GET http://localhost:6543/auth/v1/user");
    expect(missing.status).toBe(401);
    expect(JSON.parse(missing.body)).toEqual({ error: "unauthorized", message: "Missing authorization header" });

    const invalid = await curl(server, `curl -X GET http://localhost:6543/auth/v1/user -H "Authorization: Bearer eyJhbGciOiJIUzI1NiIs..."`);
    expect(invalid.status).toBe(401);
    expect(JSON.parse(invalid.body)).toEqual({ error: "invalid_token", message: "Token is invalid" });
  });

  it("the cURL Script: login with jq and query", async () => {
    // The script signs in as dev@example.com / password123, an account the guide assumes exists. The
    // password policy refuses that password for new sign-ups, so the account is created beneath the API.
    const hash = await createPasswordHasher().hash("password123");
    await server.storage.orm.em
      .getConnection()
      .execute("insert into auth.users (id, email, tenant_id, password_hash) values (gen_random_uuid(), 'dev@example.com', 'default', ?)", [hash]);
    const stdout = await guide(
      server,
      `#!/bin/bash
BASE_URL="http://localhost:6543"
EMAIL="dev@example.com"
PASSWORD="password123"

# Login and extract token
login() {
  TOKEN=$(curl -s -X POST "$BASE_URL/auth/v1/token" \\
    -H "Content-Type: application/json" \\
    -d "{\\"email\\":\\"$EMAIL\\",\\"password\\":\\"$PASSWORD\\"}" \\
    | jq -r '.access_token')
  echo "Token: \${TOKEN:0:20}..."
}

# Query with token
query() {
  curl -s -X POST "$BASE_URL/api/v1/query" \\
    -H "Authorization: Bearer $TOKEN" \\
    -H "Content-Type: application/json" \\
    -d "{\\"sql\\":\\"$1\\"}"
}

# Usage
login
query "SELECT * FROM users LIMIT 5"`,
    );
    const [first, ...rest] = stdout.split("\n");
    expect(first).toBe("Token: eyJhbGciOiJIUzI1NiIs...");
    const answer = JSON.parse(rest.join("\n")) as { error?: string };
    expect(["unauthorized", "invalid_token", "session_revoked", "token_expired"]).not.toContain(answer.error);
  });
});
