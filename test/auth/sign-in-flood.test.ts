import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { backends, startTestServer, type TestServer } from "../support/server.js";
import { errorOf, signIn, signUp, type RestUser } from "../ops/support/api.js";
import { generousLimits } from "./support/auth-api.js";

describe.each(backends)("a sign-in flood on %s storage", (backend) => {
  let server: TestServer;
  let tight: TestServer;
  let user: RestUser;
  beforeAll(async () => {
    [server, tight] = await Promise.all([
      startTestServer(backend, generousLimits),
      startTestServer(backend, [...generousLimits, "--hash-queue-length", "2"]),
    ]);
    user = await signUp(server.url, "flood");
  });
  afterAll(async () => {
    await Promise.all([server?.close(), tight?.close()]);
  });

  it("queues 50 concurrent sign-ins behind the hashing threads and answers every one (default flags)", async () => {
    const results = await Promise.all(Array.from({ length: 50 }, () => signIn(server.url, user.email, user.password)));
    expect(results.filter((res) => res.status !== 200).map((res) => JSON.stringify(res.body))).toEqual([]);
  });

  it("refuses what exceeds the hashing queue with 503 server_busy and Retry-After, naming the flag", async () => {
    const flooded = await signUp(tight.url, "flood");
    const results = await Promise.all(Array.from({ length: 30 }, () => signIn(tight.url, flooded.email, flooded.password)));
    const refused = results.filter((res) => res.status !== 200);
    expect(refused.length).toBeGreaterThan(0);
    expect(results.length - refused.length).toBeGreaterThanOrEqual(3);
    for (const res of refused) {
      expect(res.status).toBe(503);
      expect(errorOf(res)).toBe("server_busy");
      expect(res.headers.get("retry-after")).toBe("1");
      expect((res.body as { message: string }).message).toContain("--hash-queue-length");
    }
  });
});
