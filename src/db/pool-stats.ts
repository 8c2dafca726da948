import type { MikroORM } from "@mikro-orm/postgresql";

/** The parts of knex's (tarn) pool that tell how it is used. */
interface TarnPool {
  numUsed(): number;
  numFree(): number;
  numPendingAcquires(): number;
}

/** Connections of the ORM's pool right now (used, idle, callers waiting), or undefined once it is gone. */
export function ormPoolStats(orm: MikroORM): { used: number; idle: number; pending: number } | undefined {
  // knex types its client as `any`; only the pool's counters are read.
  const client: unknown = orm.em.getConnection().getKnex().client;
  const pool = (client as { pool?: TarnPool } | undefined)?.pool;
  if (!pool) return undefined;
  return { used: pool.numUsed(), idle: pool.numFree(), pending: pool.numPendingAcquires() };
}
