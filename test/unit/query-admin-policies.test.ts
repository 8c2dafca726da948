import { beforeAll, describe, expect, it } from "vitest";
import { ConnectError } from "@connectrpc/connect";
import { reasonOf } from "../../src/errors/catalogue.js";
import { createSqlGuard, type SqlGuard } from "../../src/query/sql-guard.js";

let guard: SqlGuard;

beforeAll(async () => {
  guard = await createSqlGuard({ maxSqlBytes: 4096 });
});

function refusal(sql: string): { reason: string; message: string } {
  try {
    guard.classify(sql);
  } catch (error) {
    const connectError = ConnectError.from(error);
    return { reason: reasonOf(connectError), message: connectError.rawMessage };
  }
  throw new Error(`expected ${sql} to be refused`);
}

describe("admin policy statements", () => {
  it.each([
    ["CREATE POLICY p ON todos AS RESTRICTIVE FOR SELECT USING (owner_id = auth.uid())", "CREATE POLICY"],
    ["create policy p on public.todos as restrictive for insert to helios_user with check (auth.tenant_id() = 'acme')", "CREATE POLICY"],
    ["ALTER POLICY p ON todos USING ('admin' = ANY (auth.scopes()))", "ALTER POLICY"],
    ["ALTER POLICY p ON todos RENAME TO q", "ALTER POLICY"],
    ["DROP POLICY p ON todos", "DROP POLICY"],
    ["DROP POLICY IF EXISTS p ON public.todos CASCADE", "DROP POLICY"],
  ])("allows %s to admins", (sql, command) => {
    expect(guard.classify(sql)).toMatchObject({ kind: "ddl", command, requiresScope: "admin" });
  });

  it.each([
    ["CREATE POLICY p ON todos USING (true)", /Only AS RESTRICTIVE/],
    ["CREATE POLICY p ON todos AS PERMISSIVE USING (true)", /Only AS RESTRICTIVE/],
    ["CREATE POLICY p ON auth.users AS RESTRICTIVE USING (true)", /schema "public"/],
    ["CREATE POLICY p ON other.db.todos AS RESTRICTIVE USING (true)", /Cross-database/],
    ["CREATE POLICY helios_mine ON todos AS RESTRICTIVE USING (true)", /belong to the server/],
    ['CREATE POLICY "HELIOS_x" ON todos AS RESTRICTIVE USING (true)', /belong to the server/],
    ['CREATE POLICY "0helios_gate" ON todos AS RESTRICTIVE USING (true)', /belong to the server/],
    ['CREATE POLICY " early" ON todos AS RESTRICTIVE USING (true)', /must start with a letter/],
    ["CREATE POLICY p ON todos AS RESTRICTIVE USING (SET_CONFIG('a', 'b', true) = 'b')", /set_config/],
    ["CREATE POLICY p ON todos AS RESTRICTIVE USING (EXISTS (SELECT 1 WHERE pg_catalog.set_config('a', 'b', true) = 'b'))", /set_config/],
    ["CREATE POLICY p ON todos AS RESTRICTIVE USING (cursor_to_xml('c', 1, true, false, '') IS NULL)", /cursor_to_xml/],
    ["ALTER POLICY helios_tenant ON todos USING (true)", /belong to the server/],
    ["ALTER POLICY p ON todos WITH CHECK (set_config('role', 'postgres', true) <> '')", /set_config/],
    ["ALTER POLICY p ON auth.users USING (true)", /schema "public"/],
    ["ALTER POLICY helios_owner_rows ON todos RENAME TO mine", /belong to the server/],
    ['ALTER POLICY p ON todos RENAME TO "0first"', /must start with a letter/],
    ["DROP POLICY helios_tenant ON todos", /belong to the server/],
    ['DROP POLICY "0helios_owner" ON todos', /belong to the server/],
    ["DROP POLICY p ON auth.users", /schema "public"/],
  ])("refuses %s", (sql, message) => {
    const refused = refusal(sql);
    expect(refused.reason).toBe("statement_not_allowed");
    expect(refused.message).toMatch(message);
  });
});
