import { AuthApiError, AuthClient, AuthWeakPasswordError, isAuthApiError } from "@supabase/auth-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generousLimits, strongPassword, uniqueEmail } from "../auth/support/auth-api.js";
import { backends, startTestServer, type TestServer } from "../support/server.js";
import { publishableKey } from "./support/accounts.js";

describe.each(backends)("Supabase auth-js against /auth/v1 on %s storage", (backend) => {
  let server: TestServer;
  let key: string;
  beforeAll(async () => {
    server = await startTestServer(backend, generousLimits);
    key = await publishableKey(server, "supabase-app");
  });
  afterAll(() => server?.close());

  describe.each([
    { label: "without an API key", withKey: false },
    { label: "with a publishable key in the apikey header", withKey: true },
  ])("$label", ({ withKey }) => {
    /** auth-js as an app sets it up, with its in-memory session storage (Node has no localStorage). */
    const client = () =>
      new AuthClient({
        url: `${server.url}/auth/v1`,
        headers: withKey ? { apikey: key } : {},
        autoRefreshToken: false,
        persistSession: true,
        detectSessionInUrl: false,
      });
    const tenant = () => (withKey ? "supabase-app" : "default");

    it("signs up, keeping the session it answers", async () => {
      const auth = client();
      const email = uniqueEmail("supabase");
      const { data, error } = await auth.signUp({ email, password: strongPassword() });
      expect(error).toBeNull();
      expect(data.user).toMatchObject({ email, role: "authenticated", tenant_id: tenant() });
      expect(data.session).toMatchObject({ token_type: "bearer", expires_in: 3600, user: { email } });
      expect(data.session?.expires_at).toBeGreaterThan(Date.now() / 1000);
      const { data: stored } = await auth.getSession();
      expect(stored.session?.access_token).toBe(data.session?.access_token);
    });

    it("signs in with a password, reads the user and refreshes the session", async () => {
      const email = uniqueEmail("supabase");
      const password = strongPassword();
      expect((await client().signUp({ email, password })).error).toBeNull();

      const auth = client();
      const signedIn = await auth.signInWithPassword({ email, password });
      expect(signedIn.error).toBeNull();
      expect(signedIn.data.user?.email).toBe(email);
      const first = signedIn.data.session;

      const { data: me, error: meError } = await auth.getUser();
      expect(meError).toBeNull();
      expect(me.user).toMatchObject({ id: signedIn.data.user?.id, email, tenant_id: tenant() });

      const refreshed = await auth.refreshSession();
      expect(refreshed.error).toBeNull();
      expect(refreshed.data.session?.refresh_token).not.toBe(first?.refresh_token);
      expect(refreshed.data.session?.access_token).not.toBe(first?.access_token);
      expect((await auth.getSession()).data.session?.access_token).toBe(refreshed.data.session?.access_token);
      expect((await auth.getUser()).data.user?.id).toBe(signedIn.data.user?.id);
    });

    it("signs out with the local, others and global scopes", async () => {
      const email = uniqueEmail("supabase");
      const password = strongPassword();
      const signIn = async () => {
        const auth = client();
        expect((await auth.signInWithPassword({ email, password })).error).toBeNull();
        return auth;
      };
      expect((await client().signUp({ email, password })).error).toBeNull();

      const [a, b, c] = [await signIn(), await signIn(), await signIn()];
      const aToken = (await a.getSession()).data.session?.access_token ?? "";
      expect((await a.signOut({ scope: "local" })).error).toBeNull();
      expect((await a.getSession()).data.session).toBeNull();
      const revoked = await a.getUser(aToken);
      expect(revoked.error).toBeInstanceOf(AuthApiError);
      expect(revoked.error).toMatchObject({ status: 401, code: "session_revoked" });

      expect((await b.signOut({ scope: "others" })).error).toBeNull();
      expect((await b.getUser()).error).toBeNull();
      expect((await c.getUser()).error).toMatchObject({ status: 401, code: "session_revoked" });

      const d = await signIn();
      expect((await d.signOut()).error).toBeNull(); // auth-js's default scope is global
      expect((await d.getSession()).data.session).toBeNull();
      expect((await b.getUser()).error).toMatchObject({ status: 401, code: "session_revoked" });
    });

    it("reads the server's errors: status, code and message", async () => {
      const auth = client();
      const wrong = await auth.signInWithPassword({ email: uniqueEmail("ghost"), password: strongPassword() });
      expect(isAuthApiError(wrong.error)).toBe(true);
      expect(wrong.error).toMatchObject({ status: 400, code: "invalid_credentials", message: "Invalid login credentials" });
      expect(wrong.data.session).toBeNull();

      const email = uniqueEmail("supabase");
      expect((await auth.signUp({ email, password: strongPassword() })).error).toBeNull();
      const twice = await client().signUp({ email, password: strongPassword() });
      expect(twice.error).toMatchObject({ status: 409, code: "user_already_exists" });

      const weak = await client().signUp({ email: uniqueEmail("weak"), password: "password" });
      expect(weak.error).toBeInstanceOf(AuthWeakPasswordError);
      expect(weak.error).toMatchObject({ status: 422, code: "weak_password" });

      // Features that do not exist here are refused, not silently dropped.
      const captcha = await client().signUp({ email: uniqueEmail("captcha"), password: strongPassword(), options: { captchaToken: "x" } });
      expect(captcha.error).toMatchObject({ status: 400, code: "validation_failed" });
    });
  });

  it("keeps the guide's error shape for everyone else", async () => {
    const body = JSON.stringify({ email: uniqueEmail("plain"), password: "wrong-password-1" });
    const plain = await fetch(`${server.url}/auth/v1/token`, { method: "POST", headers: { "content-type": "application/json" }, body });
    expect(plain.headers.get("x-supabase-api-version")).toBeNull();
    expect(await plain.json()).toEqual({ error: "invalid_credentials", message: "Invalid login credentials" });
    const supabase = await fetch(`${server.url}/auth/v1/token`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-supabase-api-version": "2024-01-01" },
      body,
    });
    expect(supabase.headers.get("x-supabase-api-version")).toBe("2024-01-01");
    expect(await supabase.json()).toEqual({
      error: "invalid_credentials",
      message: "Invalid login credentials",
      code: "invalid_credentials",
    });
  });
});
