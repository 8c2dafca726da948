import { generateKeyPairSync, type KeyObject } from "node:crypto";
import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { publicJwkOf } from "../../src/auth/signing-keys.js";
import { ConfigError } from "../../src/config/config.js";
import { keyRingFileName, resolveSigningKeys, type SigningKeyOptions } from "../../src/config/jwt-keys.js";

const dirs: string[] = [];
afterAll(async () => {
  await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })));
});
const scratch = async () => {
  const dir = await mkdtemp(join(tmpdir(), "helios-keys-"));
  dirs.push(dir);
  return dir;
};

const base: SigningKeyOptions["config"] = {
  jwtAlgorithm: "ES256",
  jwtPrivateKey: undefined,
  jwtPreviousPublicKeys: undefined,
  tokenExpirySeconds: 3600,
  clockSkewSeconds: 5,
};
const start = Date.UTC(2030, 0, 1);
const kidOf = (ring: Awaited<ReturnType<typeof resolveSigningKeys>>) => (ring ? publicJwkOf(ring.current.publicKey, ring.current.alg).kid : undefined);
const pem = (key: KeyObject) => key.export({ format: "pem", type: key.type === "private" ? "pkcs8" : "spki" }).toString();

describe("key pairs kept in the data directory", () => {
  it("are generated once (owner-only), retired on an algorithm switch, and dropped once their tokens expired", async () => {
    const dataDir = await scratch();
    const at = (now: number, jwtAlgorithm: "ES256" | "RS256") =>
      resolveSigningKeys({ config: { ...base, jwtAlgorithm }, mode: "embedded", dataDir, now: () => now });
    const first = await at(start, "ES256");
    const file = join(dataDir, keyRingFileName);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect(kidOf(await at(start + 1000, "ES256"))).toBe(kidOf(first));

    const switched = await at(start + 2000, "RS256");
    expect(switched?.current.alg).toBe("RS256");
    expect(switched?.previous.map((key) => [key.alg, key.retiredAt?.getTime()])).toEqual([["ES256", start + 2000]]);
    expect(publicJwkOf(switched?.previous[0]?.publicKey as never, "ES256").kid).toBe(kidOf(first));

    // Still verifying one token lifetime (plus the skew) after retirement, gone after.
    expect((await at(start + 2000 + 3604_000, "RS256"))?.previous).toHaveLength(1);
    const later = await at(start + 2000 + 3605_000, "RS256");
    expect(later?.previous).toEqual([]);
    expect(kidOf(later)).toBe(kidOf(switched));
    expect((JSON.parse(await readFile(file, "utf8")) as { keys: unknown[] }).keys).toHaveLength(1);
  });

  it("refuses a file that is not the key ring", async () => {
    const dataDir = await scratch();
    await writeFile(join(dataDir, keyRingFileName), "not json");
    await expect(resolveSigningKeys({ config: base, mode: "embedded", dataDir })).rejects.toThrow(ConfigError);
  });
});

describe("configured key pairs", () => {
  const key = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const previous = generateKeyPairSync("rsa", { modulusLength: 2048 });

  it("take PEM text or files, previous keys of either algorithm, and never touch the data directory", async () => {
    const dataDir = await scratch();
    const keyFile = join(dataDir, "key.pem");
    await writeFile(keyFile, pem(key.privateKey));
    const ring = await resolveSigningKeys({
      config: { ...base, jwtPrivateKey: keyFile, jwtPreviousPublicKeys: `${pem(previous.publicKey)}\n${pem(key.publicKey)}` },
      mode: "external",
      dataDir,
    });
    expect(ring?.current.alg).toBe("ES256");
    expect(ring?.previous.map((entry) => [entry.alg, entry.retiredAt])).toEqual([["RS256", undefined], ["ES256", undefined]]);
    await expect(stat(join(dataDir, keyRingFileName))).rejects.toThrow();
  });

  it("are refused when missing, misplaced or malformed, with the flag named and no key quoted", async () => {
    const dataDir = await scratch();
    const resolve = (config: Partial<SigningKeyOptions["config"]>, mode: "embedded" | "external" = "external") =>
      resolveSigningKeys({ config: { ...base, ...config }, mode, dataDir });
    await expect(resolve({})).rejects.toThrow(/--jwt-private-key/);
    await expect(resolve({ jwtAlgorithm: "HS256", jwtPrivateKey: pem(key.privateKey) })).rejects.toThrow(/need --jwt-algorithm ES256 or RS256/);
    await expect(resolve({ jwtPreviousPublicKeys: pem(key.publicKey) }, "embedded")).rejects.toThrow(/needs --jwt-private-key/);
    await expect(resolve({ jwtAlgorithm: "RS256", jwtPrivateKey: pem(key.privateKey) })).rejects.toThrow(/RSA key of at least 2048 bits/);
    await expect(resolve({ jwtPrivateKey: pem(key.privateKey), jwtPreviousPublicKeys: "-----BEGIN PUBLIC KEY-----" })).rejects.toThrow(/no PEM key/);
    const garbled = "-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49\n-----END PRIVATE KEY-----";
    const error = await resolve({ jwtPrivateKey: garbled }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect(String(error)).not.toContain("MIGHAgEA");
    expect(await resolve({ jwtAlgorithm: "HS256" })).toBeUndefined();
  });
});
