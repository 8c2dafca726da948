import { ConnectError } from "@connectrpc/connect";
import { ConnectionException, UniqueConstraintViolationException } from "@mikro-orm/core";
import { describe, expect, it } from "vitest";
import { sqlStateMeaning } from "../../src/db/sql-states.js";
import { isStorageUnavailableError } from "../../src/db/storage-errors.js";
import { reasonOf } from "../../src/errors/catalogue.js";
import { createErrorBoundary } from "../../src/errors/error-boundary.js";
import { createStorageErrorInterceptor } from "../../src/errors/storage-error-interceptor.js";

const withCode = (code: string, message = "boom") => Object.assign(new Error(message), { code });

describe("isStorageUnavailableError", () => {
  it("recognises lost and refused connections, however wrapped", () => {
    expect(isStorageUnavailableError(withCode("ECONNREFUSED"))).toBe(true);
    expect(isStorageUnavailableError(withCode("ECONNRESET"))).toBe(true);
    expect(isStorageUnavailableError(new Error("Connection terminated unexpectedly"))).toBe(true);
    expect(isStorageUnavailableError(new Error("Client has encountered a connection error and is not queryable"))).toBe(true);
    expect(isStorageUnavailableError(Object.assign(new Error("Knex: Timeout acquiring a connection."), { name: "KnexTimeoutError" }))).toBe(true);
    expect(isStorageUnavailableError(new AggregateError([withCode("ECONNREFUSED")], "connect failed"))).toBe(true);
    expect(isStorageUnavailableError(new Error("query failed", { cause: withCode("57P01", "terminating connection due to administrator command") }))).toBe(true);
    expect(isStorageUnavailableError(new ConnectionException(withCode("08006")))).toBe(true);
    expect(isStorageUnavailableError(withCode("53300"))).toBe(true);
    expect(isStorageUnavailableError(new Error("Transaction query already complete, run with DEBUG=knex:tx for more info"))).toBe(true);
  });

  it("leaves statement failures and everything else alone", () => {
    expect(isStorageUnavailableError(withCode("23505"))).toBe(false);
    expect(isStorageUnavailableError(new UniqueConstraintViolationException(withCode("23505")))).toBe(false);
    expect(isStorageUnavailableError(withCode("42P01"))).toBe(false);
    // A protocol violation ("bind message supplies 0 parameters") is a malformed request, not a lost connection.
    expect(isStorageUnavailableError(withCode("08P01", "bind message supplies 0 parameters, but prepared statement \"\" requires 1"))).toBe(false);
    expect(isStorageUnavailableError(withCode("40P01", "deadlock detected"))).toBe(false);
    expect(isStorageUnavailableError(new TypeError("x is undefined"))).toBe(false);
    expect(isStorageUnavailableError("ECONNREFUSED")).toBe(false);
    expect(isStorageUnavailableError(undefined)).toBe(false);
  });
});

describe("sqlStateMeaning", () => {
  it.each([
    ["08006", "unavailable"],
    ["08001", "unavailable"],
    ["08P01", "internal"],
    ["28P01", "unavailable"],
    ["3D000", "unavailable"],
    ["53300", "unavailable"],
    ["53400", "statement"],
    ["57P01", "unavailable"],
    ["57014", "timeout"],
    ["40001", "conflict"],
    ["40P01", "conflict"],
    ["55P03", "conflict"],
    ["58030", "internal"],
    ["XX001", "internal"],
    ["42P01", "statement"],
    ["42501", "statement"],
    ["23505", "statement"],
    ["22012", "statement"],
  ] as const)("%s means %s", (code, meaning) => {
    expect(sqlStateMeaning(code)).toBe(meaning);
  });
});

describe("storage error interceptor", () => {
  const call = (failure: unknown) => {
    const warnings: unknown[] = [];
    const interceptor = createStorageErrorInterceptor({ warn: (...args: unknown[]) => void warnings.push(args) });
    const request = { service: { typeName: "helios.auth.v1.AuthService" }, method: { name: "Token" } };
    const next = () => Promise.reject(failure);
    const run = interceptor(next as never) as (req: unknown) => Promise<unknown>;
    return { outcome: run(request).catch((error: unknown) => error), warnings };
  };

  it("answers storage_unavailable with Retry-After for a lost database", async () => {
    const { outcome, warnings } = call(withCode("ECONNREFUSED"));
    const error = (await outcome) as ConnectError;
    expect(error).toBeInstanceOf(ConnectError);
    expect(reasonOf(error)).toBe("storage_unavailable");
    expect(error.metadata.get("retry-after")).toBe("1");
    expect(warnings).toHaveLength(1);
  });

  it("passes other failures through untouched", async () => {
    const original = new TypeError("bug");
    expect(await call(original).outcome).toBe(original);
  });
});

describe("logs of database failures", () => {
  // MikroORM inlines values into its statements and its exceptions' messages carry the statement.
  const ormError = () =>
    new UniqueConstraintViolationException(
      withCode("23505", `insert into "auth"."users" ("email") values ('secret-value@example.com') - duplicate key value violates unique constraint`),
    );
  const run = async (interceptor: ReturnType<typeof createErrorBoundary>, failure: unknown) => {
    const request = { service: { typeName: "helios.auth.v1.AuthService" }, method: { name: "SignUp" } };
    const next = () => Promise.reject(failure);
    return (interceptor(next as never) as (req: unknown) => Promise<unknown>)(request).catch((error: unknown) => error);
  };

  it("carry the SQLSTATE and error class, never the driver's message", async () => {
    const lines: unknown[] = [];
    const logger = { error: (...args: unknown[]) => void lines.push(args), warn: (...args: unknown[]) => void lines.push(args) };
    const answered = (await run(createErrorBoundary(logger as never), ormError())) as ConnectError;
    expect(reasonOf(answered)).toBe("internal_error");
    expect(lines).toEqual([
      [{ rpc: "helios.auth.v1.AuthService/SignUp", sqlstate: "23505", errorClass: "UniqueConstraintViolationException" }, "database error in handler"],
    ]);
    const lost = new ConnectionException(withCode("08006", "insert into x values ('secret-value') - connection failure"));
    await run(createStorageErrorInterceptor(logger), lost);
    expect(lines[1]).toEqual([{ rpc: "helios.auth.v1.AuthService/SignUp", sqlstate: "08006", errorClass: "ConnectionException" }, "storage unavailable"]);
    expect(JSON.stringify(lines)).not.toContain("secret-value");
  });
});
