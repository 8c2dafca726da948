import { createServer } from "node:net";

/** The port that PostgreSQL servers usually own; the embedded cluster never takes it. */
const POSTGRES_DEFAULT_PORT = 5432;

/**
 * Asks the kernel for a currently free TCP port on 127.0.0.1.
 *
 * The port is released before it is returned, so another process may still take it first:
 * callers retry when binding fails.
 */
export async function findFreeLoopbackPort(): Promise<number> {
  for (;;) {
    const port = await new Promise<number>((resolve, reject) => {
      const server = createServer();
      server.unref();
      server.once("error", reject);
      server.listen(0, "127.0.0.1", () => {
        const address = server.address();
        const found = typeof address === "object" && address !== null ? address.port : 0;
        server.close(() => resolve(found));
      });
    });
    if (port !== 0 && port !== POSTGRES_DEFAULT_PORT) return port;
  }
}
