import { beforeAll, describe, expect, it } from "vitest";
import { ConnectError } from "@connectrpc/connect";
import { reasonOf } from "../../src/errors/catalogue.js";
import { ErrorInfoSchema } from "../../gen/google/rpc/error_details_pb.js";
import { authorizeStatement, createSqlGuard, strongestScope, type SqlGuard } from "../../src/query/sql-guard.js";
import type { Scope } from "../../src/auth/principal.js";

let guard: SqlGuard;

beforeAll(async () => {
  guard = await createSqlGuard({ maxSqlBytes: 1024 });
});

/** The catalogue reason `fn` throws, or "ok". */
function outcome(fn: () => unknown): string {
  try {
    fn();
    return "ok";
  } catch (error) {
    if (error instanceof ConnectError) return reasonOf(error);
    throw error;
  }
}

function refusal(sql: string): { reason: string; message: string; metadata: Record<string, string> } {
  try {
    guard.classify(sql);
  } catch (error) {
    const connectError = ConnectError.from(error);
    const info = connectError.findDetails(ErrorInfoSchema)[0];
    return { reason: reasonOf(connectError), message: connectError.rawMessage, metadata: info?.metadata ?? {} };
  }
  throw new Error(`expected ${JSON.stringify(sql)} to be refused`);
}

/** What a caller holding `scopes` gets for `sql`: "ok" or the refusal's reason. */
function verdict(sql: string, scopes: Scope[], readOnly = false): string {
  return outcome(() => authorizeStatement(guard.classify(sql), scopes, { readOnly }));
}

const read: Scope[] = ["read"];
const write: Scope[] = ["read", "write"];
const admin: Scope[] = ["read", "write", "admin"];

describe("SQL guard: one statement only", () => {
  it.each([
    "select 1; select 2",
    "select 1; reset role",
    "select 1;reset role;select 2",
    // A quote that closes early: the second statement is real.
    "select 'a'';'; set role postgres",
    "select $$ ; $$; set role postgres",
    "select $x$ $$ ; $x$; reset role",
    "select 1 /* ; */ ; begin",
    "select E'\\''; delete from orders; --'",
  ])("refuses several statements: %s", (sql) => {
    expect(refusal(sql).reason).toBe("statement_not_allowed");
  });

  it.each([
    "select 1;",
    "select ';reset role;'",
    "select $$; reset role; $$",
    "select $tag$ ; set role postgres ; $tag$",
    "select 1 -- ; reset role",
    "select 1 /* ; reset role ; */",
    "select 1 /* nested /* ; reset role */ still comment ; */",
    'select 1 as ";reset role"',
    "select E'\\'; reset role; '",
  ])("sees comments and odd quoting as one statement: %s", (sql) => {
    expect(guard.classify(sql).command).toBe("SELECT");
  });

  it("rejects empty and comment-only SQL as a validation failure", () => {
    expect(refusal("   ").reason).toBe("validation_failed");
    expect(refusal("-- only a comment").reason).toBe("validation_failed");
    expect(refusal(";").reason).toBe("validation_failed");
  });

  it("rejects NUL characters, which would cut the text short", () => {
    expect(refusal("select 1\0; reset role").reason).toBe("validation_failed");
  });

  it("reports syntax errors as sql_error with SQLSTATE 42601 and the position", () => {
    const { reason, metadata, message } = refusal("selec 1");
    expect(reason).toBe("sql_error");
    expect(metadata).toEqual({ sqlstate: "42601", position: "1" });
    expect(message).toMatch(/syntax error/);
  });

  it("caps the SQL size in bytes", () => {
    expect(refusal(`select '${"é".repeat(600)}'`).reason).toBe("sql_too_large");
    expect(guard.classify(`select '${"a".repeat(1000)}'`).command).toBe("SELECT");
  });

  it("returns the same verdict from the cache", () => {
    const sql = "select * from orders where id = $1";
    expect(guard.classify(sql)).toEqual(guard.classify(sql));
    expect(refusal("select 1; select 2").reason).toBe(refusal("select 1; select 2").reason);
  });
});

describe("SQL guard: never-allowed statements", () => {
  it.each([
    "set role postgres",
    "SET ROLE postgres",
    "reset role",
    "RESET ALL",
    "set session authorization postgres",
    "reset session authorization",
    "set request.tenant_id = 'b'",
    "set local request.tenant_id = 'b'",
    "set statement_timeout = 0",
    "set transaction read write",
    "set search_path = auth",
    "show all",
    "begin",
    "start transaction",
    "commit",
    "rollback",
    "savepoint s",
    "release savepoint s",
    "prepare transaction 'x'",
    "do $$ begin perform 1; end $$",
    "copy orders to stdout",
    "copy orders from stdin",
    "copy (select 1) to '/tmp/x'",
    "call p()",
    "listen ch",
    "unlisten *",
    "notify ch, 'x'",
    "prepare q as select 1",
    "execute q",
    "deallocate all",
    "declare c cursor for select 1",
    "fetch next from c",
    "lock table orders",
    "vacuum",
    "analyze orders",
    "discard all",
    "grant select on orders to public",
    "revoke select on orders from helios_user",
    "grant helios_admin to helios_user",
    "create role evil",
    "alter role helios_user bypassrls",
    "alter role helios_user set request.tenant_id = 'b'",
    "drop role helios_user",
    "alter system set log_statement = 'none'",
    "load 'plpgsql'",
    "create extension dblink",
    "create function f() returns int language sql as 'select 1'",
    "create procedure p() language sql as 'select 1'",
    "create policy p on orders using (true)",
    "alter policy helios_tenant on orders using (true)",
    "create trigger t before insert on orders for each row execute function f()",
    "create rule r as on select to orders do instead select 1",
    "create schema s",
    "create database d",
    "create materialized view mv as select 1",
    "refresh materialized view mv",
    "checkpoint",
    "reindex table orders",
    "alter table orders owner to helios_user",
    "alter table orders set schema auth",
    "create event trigger e on ddl_command_start execute function f()",
  ])("refuses %s", (sql) => {
    expect(refusal(sql).reason).toBe("statement_not_allowed");
  });

  it("gives specific reasons", () => {
    expect(refusal("reset role").message).toMatch(/SET and RESET/);
    expect(refusal("begin").message).toMatch(/Transaction control/);
    expect(refusal("create view v as select 1").message).toMatch(/security_invoker = true/);
  });

  it("refuses writes to system relations, also inside CTEs", () => {
    expect(refusal("update pg_settings set setting = 'b' where name = 'request.tenant_id'").reason).toBe(
      "statement_not_allowed",
    );
    expect(refusal("update pg_catalog.pg_settings set setting = '0'").reason).toBe("statement_not_allowed");
    expect(
      refusal("with x as (update pg_settings set setting = 'b' where name = 'role' returning 1) select * from x")
        .reason,
    ).toBe("statement_not_allowed");
    expect(refusal("delete from information_schema.tables").reason).toBe("statement_not_allowed");
  });
});

describe("SQL guard: scopes", () => {
  it.each([
    ["select * from orders", "ok", "ok", "ok"],
    ["values (1), (2)", "ok", "ok", "ok"],
    ["table orders", "ok", "ok", "ok"],
    ["with t as (select 1) select * from t union select 2", "ok", "ok", "ok"],
    ["select count(*) over () from orders where exists (select 1 from orders o2)", "ok", "ok", "ok"],
    ["select pg_sleep(10)", "ok", "ok", "ok"],
    ["insert into orders (item) values ('x')", "insufficient_scope", "ok", "ok"],
    ["update orders set item = 'x'", "insufficient_scope", "ok", "ok"],
    ["delete from orders", "insufficient_scope", "ok", "ok"],
    ["merge into orders o using (select 1 as id) s on o.id = s.id when matched then delete", "insufficient_scope", "ok", "ok"],
    ["with d as (delete from orders returning *) select * from d", "insufficient_scope", "ok", "ok"],
    ["select * from (select 1) s where exists (select 1 from orders for update)", "insufficient_scope", "ok", "ok"],
    ["select * from orders for update", "insufficient_scope", "ok", "ok"],
    ["select * from orders for share skip locked", "insufficient_scope", "ok", "ok"],
    ["truncate orders", "insufficient_scope", "insufficient_scope", "ok"],
    ["create table t (id int, tenant_id text)", "insufficient_scope", "insufficient_scope", "ok"],
    ["create table t as select 1 as a", "insufficient_scope", "insufficient_scope", "ok"],
    ["create table t as select 1 as a with no data", "insufficient_scope", "insufficient_scope", "ok"],
    ["select 1 as a into t", "insufficient_scope", "insufficient_scope", "ok"],
    ["create view v with (security_invoker = true) as select * from orders", "insufficient_scope", "insufficient_scope", "ok"],
    ["create or replace view v with (security_invoker) as select 1", "insufficient_scope", "insufficient_scope", "ok"],
    ["create view v with (security_invoker = on, security_barrier) as select 1", "insufficient_scope", "insufficient_scope", "ok"],
    ["create index on orders (item)", "insufficient_scope", "insufficient_scope", "ok"],
    ["alter table orders add column note text", "insufficient_scope", "insufficient_scope", "ok"],
    ["alter table orders rename column item to product", "insufficient_scope", "insufficient_scope", "ok"],
    ["drop table orders", "insufficient_scope", "insufficient_scope", "ok"],
    ["drop view if exists public.v", "insufficient_scope", "insufficient_scope", "ok"],
    ["create sequence s", "insufficient_scope", "insufficient_scope", "ok"],
    ["create type mood as enum ('ok')", "insufficient_scope", "insufficient_scope", "ok"],
    ["comment on column orders.item is 'what'", "insufficient_scope", "insufficient_scope", "ok"],
    ["explain select * from orders", "insufficient_scope", "insufficient_scope", "ok"],
  ])("%s → read %s, write %s, admin %s", (sql, forRead, forWrite, forAdmin) => {
    expect(verdict(sql, read)).toBe(forRead);
    expect(verdict(sql, write)).toBe(forWrite);
    expect(verdict(sql, admin)).toBe(forAdmin);
  });

  it("refuses statements that change data on read-only requests (GET), whatever the scope", () => {
    expect(verdict("select * from orders", admin, true)).toBe("ok");
    expect(verdict("insert into orders (item) values ('x')", admin, true)).toBe("statement_not_allowed");
    expect(verdict("with d as (delete from orders returning *) select * from d", write, true)).toBe(
      "statement_not_allowed",
    );
    expect(verdict("create table t (id int)", admin, true)).toBe("statement_not_allowed");
    expect(verdict("explain analyze delete from orders", admin, true)).toBe("statement_not_allowed");
    expect(verdict("explain delete from orders", admin, true)).toBe("ok");
  });

  it("grants nothing to a signup-only key", () => {
    expect(strongestScope(["signup"])).toBeUndefined();
    expect(verdict("select 1", ["signup"])).toBe("insufficient_scope");
  });

  it("classifies kind, command and read-only", () => {
    expect(guard.classify("select 1")).toEqual({ kind: "select", command: "SELECT", readOnly: true, requiresScope: "read", placeholders: 0 });
    expect(guard.classify("with d as (insert into t values (1) returning *) select * from d")).toEqual({
      kind: "select",
      command: "SELECT",
      readOnly: false,
      requiresScope: "write",
      placeholders: 0,
    });
    expect(guard.classify("insert into t values (1)")).toMatchObject({ kind: "insert", command: "INSERT" });
    expect(guard.classify("truncate t")).toMatchObject({ kind: "truncate", requiresScope: "admin" });
    expect(guard.classify("create table t (id int)")).toMatchObject({ kind: "ddl", command: "CREATE TABLE" });
  });

  it("counts the parameters a statement needs by its highest $n, wherever it appears", () => {
    expect(guard.classify("select $1::int").placeholders).toBe(1);
    expect(guard.classify("select $3::int").placeholders).toBe(3);
    expect(guard.classify("select '$1', $1 from t where a = $2 and b in (select $1)").placeholders).toBe(2);
    expect(guard.classify("with d as (insert into t values ($4) returning *) select * from d").placeholders).toBe(4);
    expect(guard.classify("select 1 -- $9").placeholders).toBe(0);
  });
});

describe("SQL guard: admin DDL limits", () => {
  it.each([
    ["create view v as select * from orders", /security_invoker/],
    ["create view v with (security_invoker = false) as select 1", /security_invoker/],
    ["create view v with (security_invoker = off) as select 1", /security_invoker/],
    ["create view v with (security_barrier) as select 1", /security_invoker/],
    ["alter view v set (security_invoker = false)", /security_invoker/],
    ["alter view v reset (security_invoker)", /security_invoker/],
    ["alter table orders disable row level security", /DisableRowSecurity/],
    ["alter table orders no force row level security", /NoForceRowSecurity/],
    ["alter table orders disable trigger all", /not allowed/],
    ["alter table orders add column x int, disable row level security", /DisableRowSecurity/],
    ["create temp table t (id int)", /Temporary/],
    ["create table pg_temp.t (id int)", /schema "public"/],
    ["create table auth.t (id int)", /schema "public"/],
    ["create temp view v with (security_invoker) as select 1", /Temporary/],
    ["select 1 as a into temp t", /Temporary/],
    ["create index concurrently i on orders (item)", /CONCURRENTLY/],
    ["drop index concurrently i", /CONCURRENTLY/],
    ["drop schema public cascade", /can be dropped/],
    ["drop table auth.users", /schema "public"/],
    ["drop function f()", /can be dropped/],
    ["truncate auth.users", /schema "public"/],
    ["alter table auth.users add column x int", /schema "public"/],
    ["comment on table auth.users is 'x'", /schema "public"/],
  ])("admin: %s", (sql, message) => {
    const { reason, message: text } = refusal(sql);
    expect(reason).toBe("statement_not_allowed");
    expect(text).toMatch(message);
  });
});
