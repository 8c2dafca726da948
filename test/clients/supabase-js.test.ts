import { createClient, type SupabaseClient } from "@supabase/supabase-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generousLimits, strongPassword, uniqueEmail } from "../auth/support/auth-api.js";
import { backends, startTestServer, type TestServer } from "../support/server.js";
import { publishableKey } from "./support/accounts.js";

/**
 * `@supabase/supabase-js` as an app uses it: `createClient(url, key)` with a publishable key as the
 * anon key. Unlike auth-js alone, it sends the key both as `apikey` and as `Authorization: Bearer`
 * until a user signs in, and then the user's token as bearer beside the `apikey`.
 */
describe.each(backends)("Supabase supabase-js against /auth/v1 on %s storage", (backend) => {
  let server: TestServer;
  let key: string;
  beforeAll(async () => {
    server = await startTestServer(backend, generousLimits);
    key = await publishableKey(server, "supabase-js-app");
  });
  afterAll(() => server?.close());

  const client = (): SupabaseClient => createClient(server.url, key, { auth: { autoRefreshToken: false, persistSession: true, detectSessionInUrl: false } });

  it("signs up into the key's tenant, signs in, reads the user, refreshes and signs out", async () => {
    const email = uniqueEmail("supabase-js");
    const password = strongPassword();
    const signedUp = await client().auth.signUp({ email, password });
    expect(signedUp.error).toBeNull();
    expect(signedUp.data.user).toMatchObject({ email, role: "authenticated", tenant_id: "supabase-js-app" });

    const supabase = client();
    const signedIn = await supabase.auth.signInWithPassword({ email, password });
    expect(signedIn.error).toBeNull();
    const first = signedIn.data.session;
    const me = await supabase.auth.getUser();
    expect(me.error).toBeNull();
    expect(me.data.user).toMatchObject({ id: signedUp.data.user?.id, email, tenant_id: "supabase-js-app" });

    const refreshed = await supabase.auth.refreshSession();
    expect(refreshed.error).toBeNull();
    expect(refreshed.data.session?.refresh_token).not.toBe(first?.refresh_token);

    const token = refreshed.data.session?.access_token ?? "";
    expect((await supabase.auth.signOut()).error).toBeNull();
    expect((await supabase.auth.getSession()).data.session).toBeNull();
    expect((await supabase.auth.getUser(token)).error).toMatchObject({ status: 401, code: "session_revoked" });
  });

  it("answers its errors in the shape it reads", async () => {
    const wrong = await client().auth.signInWithPassword({ email: uniqueEmail("ghost"), password: strongPassword() });
    expect(wrong.error).toMatchObject({ status: 400, code: "invalid_credentials", message: "Invalid login credentials" });
    const email = uniqueEmail("supabase-js");
    expect((await client().auth.signUp({ email, password: strongPassword() })).error).toBeNull();
    expect((await client().auth.signUp({ email, password: strongPassword() })).error).toMatchObject({ status: 409, code: "user_already_exists" });
  });

  it("refuses a key that is not one of ours", async () => {
    const stranger = createClient(server.url, `hdb_00000000_${"A".repeat(43)}`, { auth: { persistSession: false } });
    const res = await stranger.auth.signUp({ email: uniqueEmail("stranger"), password: strongPassword() });
    expect(res.error).toMatchObject({ status: 401, code: "invalid_api_key" });
    expect(res.data.user).toBeNull();
  });
});
