import { randomBytes } from "node:crypto";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { createScratchDatabase, embeddedSuperuserUrl } from "./database.js";
import { freshBenchDataDir, removeBenchDataDir } from "./paths.js";
import type { ServiceStorage } from "./service.js";

/** The storage of one bench run and how to reach it from outside the service. */
export interface BenchStorage {
  service: ServiceStorage;
  /** Human-readable, for the report. */
  description: string;
  /** The schema owner's URL; embedded: known only once the service has started the cluster. */
  ownerUrl(): Promise<string>;
  /** The service's JWT signing secret (generated into the data directory in embedded mode). */
  jwtSecret(): Promise<string>;
  /** Removes the data directory or drops the scratch database. */
  dispose(): Promise<void>;
}

/**
 * Embedded: a fresh data directory under `.test-data/`. External (`databaseUrl`): a scratch database
 * on that server, and a generated JWT secret.
 */
export async function prepareStorage(databaseUrl: string | undefined, keepData: boolean): Promise<BenchStorage> {
  if (databaseUrl === undefined) {
    const dataDir = freshBenchDataDir();
    return {
      service: { kind: "embedded", dataDir },
      description: `embedded (${dataDir})`,
      ownerUrl: () => embeddedSuperuserUrl(dataDir),
      jwtSecret: async () => (await readFile(join(dataDir, "jwt-secret"), "utf8")).trim(),
      dispose: () => (keepData ? Promise.resolve() : removeBenchDataDir(dataDir)),
    };
  }
  const scratch = await createScratchDatabase(databaseUrl);
  const jwtSecret = randomBytes(48).toString("base64url");
  const safe = new URL(scratch.url);
  safe.password = "";
  return {
    service: { kind: "external", databaseUrl: scratch.url, jwtSecret },
    description: `external (${safe.toString()})`,
    ownerUrl: () => Promise.resolve(scratch.url),
    jwtSecret: () => Promise.resolve(jwtSecret),
    dispose: () => (keepData ? Promise.resolve() : scratch.drop()),
  };
}
