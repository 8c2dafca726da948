import { createHash, createHmac, pbkdf2Sync, randomBytes, timingSafeEqual } from "node:crypto";

const printableAscii = /^[\x20-\x7e]+$/;

function keys(password: string, salt: Buffer, iterations: number): { storedKey: Buffer; serverKey: Buffer } {
  // SASLprep is the identity on printable ASCII, which is all we accept.
  const salted = pbkdf2Sync(password, salt, iterations, 32, "sha256");
  const clientKey = createHmac("sha256", salted).update("Client Key").digest();
  return {
    storedKey: createHash("sha256").update(clientKey).digest(),
    serverKey: createHmac("sha256", salted).update("Server Key").digest(),
  };
}

/**
 * The SCRAM-SHA-256 verifier PostgreSQL stores for `password` (RFC 5802/7677), so that
 * `ALTER ROLE ... PASSWORD '<verifier>'` never sends the password itself (nor writes it to a log
 * that records DDL). Only printable ASCII passwords are accepted.
 */
export function scramSha256Verifier(password: string, options: { salt?: Buffer; iterations?: number } = {}): string {
  if (!printableAscii.test(password)) throw new RangeError("password must be printable ASCII");
  const salt = options.salt ?? randomBytes(16);
  const iterations = options.iterations ?? 4096;
  const { storedKey, serverKey } = keys(password, salt, iterations);
  return `SCRAM-SHA-256$${iterations}:${salt.toString("base64")}$${storedKey.toString("base64")}:${serverKey.toString("base64")}`;
}

/** Whether a stored SCRAM-SHA-256 `verifier` was made from `password`. */
export function scramVerifierMatches(verifier: string, password: string): boolean {
  const match = /^SCRAM-SHA-256\$(\d+):([^$]+)\$([^:]+):(.+)$/.exec(verifier);
  if (!match || !printableAscii.test(password)) return false;
  const [, iterations, salt, storedKey, serverKey] = match as unknown as [string, string, string, string, string];
  const expected = keys(password, Buffer.from(salt, "base64"), Number(iterations));
  const stored = Buffer.from(storedKey, "base64");
  const server = Buffer.from(serverKey, "base64");
  return (
    stored.length === expected.storedKey.length &&
    server.length === expected.serverKey.length &&
    timingSafeEqual(stored, expected.storedKey) &&
    timingSafeEqual(server, expected.serverKey)
  );
}
