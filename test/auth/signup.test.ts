import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { backends, startTestServer, type TestServer } from "../support/server.js";
import {
  authApi,
  createSecretLedger,
  expectFailure,
  expectOk,
  generousLimits,
  jwtPayload,
  protocols,
  rest,
  strongPassword,
  uniqueEmail,
  type AuthApi,
} from "./support/auth-api.js";

describe.each(backends)("sign-up on %s storage", (backend) => {
  let server: TestServer;
  const ledger = createSecretLedger();
  beforeAll(async () => {
    server = await startTestServer(backend, generousLimits);
  });
  afterAll(() => server?.close());

  describe.each(protocols)("over %s", (protocol) => {
    let api: AuthApi;
    beforeAll(() => {
      api = authApi(protocol, server.url);
    });

    it("creates an account with the default tenant and scopes and returns its first session", async () => {
      const email = uniqueEmail("new");
      const password = strongPassword();
      const before = Math.floor(Date.now() / 1000);
      const session = expectOk(await api.signUp(email, password));
      ledger.add(password);
      ledger.addSession(session);

      expect(session).toMatchObject({ token_type: "bearer", expires_in: 3600 });
      expect(session.expires_at).toBeGreaterThanOrEqual(before + 3600);
      expect(session.expires_at).toBeLessThanOrEqual(Math.ceil(Date.now() / 1000) + 3600);
      expect(session.refresh_token).toMatch(/^[A-Za-z0-9_-]{43}$/);
      expect(session.user).toEqual({
        id: expect.stringMatching(/^[0-9a-f-]{36}$/),
        email,
        role: "authenticated",
        tenant_id: "default",
        scopes: ["read", "write"],
        created_at: expect.any(String),
        last_sign_in_at: expect.any(String),
        user_metadata: {},
        app_metadata: {},
      });
      expect(Date.parse(session.user.created_at)).toBeGreaterThan(Date.now() - 60_000);

      const claims = jwtPayload(session.access_token);
      expect(claims).toMatchObject({
        sub: session.user.id,
        email,
        role: "authenticated",
        tenant_id: "default",
        scopes: ["read", "write"],
        session_id: expect.any(String),
        exp: session.expires_at,
        iss: "heliosdb-nano",
        aud: "authenticated",
        jti: expect.any(String),
      });
      expect(expectOk(await api.getUser(session.access_token))).toEqual(session.user);
    });

    it("normalises the email and refuses it again in any case with 409 user_already_exists", async () => {
      const email = uniqueEmail("Case");
      const shouted = `  ${email.toUpperCase()}\t`;
      const password = strongPassword();
      ledger.add(password);
      const session = expectOk(await api.signUp(shouted, password));
      ledger.addSession(session);
      expect(session.user.email).toBe(email.toLowerCase());
      expectFailure(await api.signUp(email, strongPassword()), "user_already_exists", "User already registered");
      expectFailure(await api.signUp(email.toUpperCase(), strongPassword()), "user_already_exists");
      // The existing account is untouched: its own password still signs in.
      expectOk(await api.token({ email, password }));
    });

    it("refuses malformed emails with 400 validation_failed", async () => {
      for (const email of ["", "   ", "not-an-email", "a@b", "two@@example.com", "sp ace@example.com"]) {
        const failure = expectFailure(await api.signUp(email, strongPassword()), "validation_failed");
        expect(failure.details).toMatchObject({ field: "email" });
      }
    });

    it("refuses weak passwords with 422 weak_password listing the reasons", async () => {
      const cases: Array<[string, string]> = [
        ["short1!", "length"],
        ["x".repeat(1025), "length"],
        ["password123", "pwned"],
        ["QwErTy123", "pwned"],
        [" ".repeat(12), "characters"],
        ["", "length,characters"],
      ];
      for (const [password, reasons] of cases) {
        const failure = expectFailure(await api.signUp(uniqueEmail("weak"), password), "weak_password");
        expect(failure.details).toEqual({ reasons });
        expect(failure.message).toMatch(/^Password is too weak: /);
      }
    });
  });

  it("never takes scopes or the tenant from the request body", async () => {
    const email = uniqueEmail("sneaky");
    for (const extra of [{ scopes: ["admin"] }, { tenant_id: "acme-corp" }, { role: "service_role" }]) {
      const res = await rest(server.url, "POST", "/auth/v1/signup", { body: { email, password: strongPassword(), ...extra } });
      expect(res.status).toBe(400);
      expect(res.body).toMatchObject({ error: "validation_failed" });
    }
    const res = await rest(server.url, "POST", "/auth/v1/signup?tenant_id=acme-corp&scopes=admin", {
      body: { email, password: strongPassword() },
    });
    expect(res.status).toBe(200);
    const session = res.body as { user: { tenant_id: string; scopes: string[] }; access_token: string; refresh_token: string };
    ledger.add(session.access_token, session.refresh_token);
    expect(session.user).toMatchObject({ tenant_id: "default", scopes: ["read", "write"] });
  });

  it("lets exactly one of 12 concurrent sign-ups of one address succeed, the rest get 409", async () => {
    const email = uniqueEmail("race");
    const api = authApi("rest", server.url);
    const variants = Array.from({ length: 12 }, (_, i) => (i % 2 === 0 ? email : email.toUpperCase()));
    const results = await Promise.all(variants.map((variant) => api.signUp(variant, strongPassword())));
    const ok = results.filter((r) => r.ok);
    expect(ok).toHaveLength(1);
    for (const result of results) if (result.ok) ledger.addSession(result.value);
    for (const result of results.filter((r) => !r.ok)) expectFailure(result, "user_already_exists");
    const rows = await server.storage.orm.em
      .getConnection()
      .execute<Array<{ n: string }>>("select count(*) as n from auth.users where lower(email) = ?", [email]);
    expect(Number(rows[0]?.n)).toBe(1);
  });

  it("stores passwords only as argon2id hashes with their parameters", async () => {
    const email = uniqueEmail("stored");
    const password = strongPassword();
    ledger.add(password);
    ledger.addSession(expectOk(await authApi("rest", server.url).signUp(email, password)));
    const rows = await server.storage.orm.em
      .getConnection()
      .execute<Array<{ dump: string; password_hash: string }>>(
        "select row_to_json(u)::text as dump, password_hash from auth.users u where email = ?",
        [email],
      );
    expect(rows[0]?.password_hash).toMatch(/^\$argon2id\$v=19\$m=19456,p=1,t=2\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+$/);
    expect(rows[0]?.dump).not.toContain(password);
  });

  it("has an auth schema exactly as the entities describe it (migrations and entities agree)", async () => {
    const diff = await server.storage.orm.schema.getUpdateSchemaSQL({ wrap: false, schema: "auth" });
    expect(diff.trim()).toBe("");
  });

  it("never logs passwords or tokens", () => {
    expect(ledger.size).toBeGreaterThan(10);
    ledger.expectNoneIn(server.logs());
  });

  it("makes no look-alike account beside an existing one: fullwidth is the same address, Cyrillic and invisible characters are refused", async () => {
    const name = `alice${Date.now().toString(36)}`;
    const password = strongPassword();
    ledger.add(password);
    const signUp = (email: string) => rest(server.url, "POST", "/auth/v1/signup", { body: { email, password } });
    const first = await signUp(`${name}@acme.com`);
    expect(first.status).toBe(200);
    const fullwidth = [...name.toUpperCase()].map((c) => String.fromCodePoint(c.codePointAt(0)! + 0xfee0)).join("");
    expect(await signUp(`${fullwidth}@acme.com`)).toMatchObject({ status: 409, body: { error: "user_already_exists" } });
    expect(await signUp(`${name}@\uff41\uff43\uff4d\uff45.com`)).toMatchObject({ status: 409, body: { error: "user_already_exists" } });
    expect(await signUp(`\u0430${name.slice(1)}@acme.com`)).toMatchObject({ status: 400, body: { error: "validation_failed" } });
    expect(await signUp(`${name.slice(0, 2)}\u200b${name.slice(2)}@acme.com`)).toMatchObject({ status: 400, body: { error: "validation_failed" } });
    // The fullwidth form signs in to the one account.
    const signedIn = await rest(server.url, "POST", "/auth/v1/token", { body: { email: `${fullwidth}@acme.com`, password } });
    expect(signedIn).toMatchObject({ status: 200, body: { user: { email: `${name}@acme.com` } } });
  });

  it("refuses an address that looks like an existing account's (UTS #39 skeleton) as it refuses that address, 409 user_already_exists", async () => {
    // Digits belong to no script, so the Cyrillic and Greek forms below stay single-script.
    const n = `${Date.now()}${Math.floor(Math.random() * 1000)}`;
    const password = strongPassword();
    ledger.add(password);
    const signUp = (email: string) => rest(server.url, "POST", "/auth/v1/signup", { body: { email, password } });
    const taken = { status: 409, body: { error: "user_already_exists" } };
    const created = async (email: string) => {
      const res = await signUp(email);
      expect(res.status, email).toBe(200);
      const session = res.body as { user: { email: string }; access_token: string; refresh_token: string };
      ledger.add(session.access_token, session.refresh_token);
      return session.user.email;
    };

    await created(`sophie${n}@acme.com`);
    await created(`ivo${n}@acme.com`);
    await created(`kim${n}@acme.com`);
    const exact = await signUp(`sophie${n}@acme.com`);
    expect(exact).toMatchObject(taken);
    // Whole-script Cyrillic ѕорһіе: one script, so the mixed-script rule lets it through.
    const cyrillic = await signUp(`\u0455\u043e\u0440\u04bb\u0456\u0435${n}@acme.com`);
    expect(cyrillic).toMatchObject(taken);
    expect(cyrillic.body).toEqual(exact.body);
    // Greek ΙΝΟ (lower-cased to ινο), and a Greek capital alpha in the domain, which may mix scripts.
    expect(await signUp(`\u0399\u039d\u039f${n}@acme.com`)).toMatchObject(taken);
    expect(await signUp(`ivo${n}@\u0391cme.com`)).toMatchObject(taken);
    // Within Latin: rn looks like m.
    expect(await signUp(`kirn${n}@acme.com`)).toMatchObject(taken);

    // Honest different addresses, Cyrillic ones included, still sign up.
    expect(await created(`sophia${n}@acme.com`)).toBe(`sophia${n}@acme.com`);
    expect(await created(`\u0441\u043e\u0444\u0438\u044f${n}@acme.com`)).toBe(`\u0441\u043e\u0444\u0438\u044f${n}@acme.com`);

    // One account per look-alike group, each with its skeleton stored.
    const rows = await server.storage.orm.em
      .getConnection()
      .execute<Array<{ email: string; email_skeleton: string | null }>>(
        "select email, email_skeleton from auth.users where email like ? order by email",
        [`%${n}@%`],
      );
    expect(rows.map((row) => row.email)).toEqual(
      [`ivo${n}@acme.com`, `kim${n}@acme.com`, `sophia${n}@acme.com`, `sophie${n}@acme.com`, `\u0441\u043e\u0444\u0438\u044f${n}@acme.com`].sort(),
    );
    expect(rows.every((row) => row.email_skeleton !== null)).toBe(true);
  });

  it("lets exactly one of 12 concurrent sign-ups of look-alike addresses succeed, the rest get 409", async () => {
    const n = `${Date.now()}${Math.floor(Math.random() * 1000)}`;
    const api = authApi("rest", server.url);
    const variants = Array.from({ length: 12 }, (_, i) => (i % 2 === 0 ? `sophie${n}@acme.com` : `\u0455\u043e\u0440\u04bb\u0456\u0435${n}@acme.com`));
    const results = await Promise.all(variants.map((variant) => api.signUp(variant, strongPassword())));
    expect(results.filter((r) => r.ok)).toHaveLength(1);
    for (const result of results) if (result.ok) ledger.addSession(result.value);
    for (const result of results.filter((r) => !r.ok)) expectFailure(result, "user_already_exists");
  });
});

describe.each(backends)("sign-up disabled on %s storage", (backend) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer(backend, ["--disable-signup"]);
  });
  afterAll(() => server?.close());

  it.each(protocols)("answers 422 signup_disabled over %s", async (protocol) => {
    const api = authApi(protocol, server.url);
    expectFailure(await api.signUp(uniqueEmail(), strongPassword()), "signup_disabled", "Sign-ups are disabled");
  });
});
