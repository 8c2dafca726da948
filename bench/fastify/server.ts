/**
 * The alternative a user would hand-roll: Fastify + @fastify/jwt + pg, answering the same
 * `POST /api/v1/query {sql, params}` with the same Bearer tokens (same HS256 secret), running the
 * SQL as-is on a pool of the owner role — no RLS, no SQL guard, no session check.
 * `node --import tsx bench/fastify/server.ts` (spec: `FastifyBaselineSpec` as JSON in BENCH_SPEC); prints `{"type":"ready","url":…}`.
 */
import fastifyJwt from "@fastify/jwt";
import Fastify from "fastify";
import pg from "pg";
import { emit, readSpec, runWorkerMain } from "../lib/worker-protocol.js";

/** How to start the baseline server. */
export interface FastifyBaselineSpec {
  databaseUrl: string;
  jwtSecret: string;
  /** Same as the service's query pool: 10. */
  poolSize: number;
}

interface QueryBody {
  sql: string;
  params?: unknown[];
}

async function main(): Promise<void> {
  const spec = readSpec<FastifyBaselineSpec>();
  const pool = new pg.Pool({ connectionString: spec.databaseUrl, max: spec.poolSize, application_name: "fastify-baseline" });
  pool.on("error", () => undefined);
  const app = Fastify({ logger: false });
  await app.register(fastifyJwt, { secret: spec.jwtSecret, verify: { algorithms: ["HS256"] } });

  app.get("/health", async () => ({ status: "ok" }));
  app.post<{ Body: QueryBody }>("/api/v1/query", async (request, reply) => {
    try {
      await request.jwtVerify();
    } catch {
      return reply.code(401).send({ error: "invalid_token", message: "Invalid token" });
    }
    const { sql, params = [] } = request.body;
    const result = await pool.query({ text: sql, values: params });
    return {
      columns: result.fields.map((field) => ({ name: field.name, type: String(field.dataTypeID) })),
      rows: result.rows,
      row_count: result.rowCount ?? result.rows.length,
      command: result.command,
      truncated: false,
    };
  });

  const address = await app.listen({ host: "127.0.0.1", port: 0 });
  emit({ type: "ready", url: address });
  const stop = () => {
    void app.close().then(() => pool.end()).then(() => process.exit(0));
  };
  process.once("SIGTERM", stop);
  process.once("SIGINT", stop);
  await new Promise<never>(() => undefined);
}

runWorkerMain(main);
