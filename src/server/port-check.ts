import net from "node:net";

/** What a failed bind of `host:port` means for the person who started the server. */
export function describeListenError(error: unknown, host: string, port: number): Error {
  const code = (error as { code?: unknown } | null)?.code;
  if (code === "EADDRINUSE") {
    return new Error(`port ${port} on ${host} is already in use (is another server running?): stop it, or choose another port with --port`, {
      cause: error,
    });
  }
  if (code === "EACCES") {
    return new Error(`port ${port} on ${host} needs privileges this process lacks: choose a port above 1023 with --port`, { cause: error });
  }
  if (code === "EADDRNOTAVAIL") {
    return new Error(`address ${host} is not an address of this machine: choose another with --host`, { cause: error });
  }
  return error instanceof Error ? error : new Error(String(error));
}

/**
 * Checks, before anything slow starts (initdb, storage, migrations), that `host:port` can be bound,
 * by binding and releasing it; throws the {@link describeListenError} that names the flag to change.
 * Port 0 (any free port) always passes.
 */
export async function assertPortFree(host: string, port: number): Promise<void> {
  if (port === 0) return;
  const probe = net.createServer();
  await new Promise<void>((resolve, reject) => {
    probe.once("error", (error) => reject(describeListenError(error, host, port)));
    probe.listen({ port, host, exclusive: true }, () => resolve());
  });
  await new Promise<void>((resolve) => probe.close(() => resolve()));
}
