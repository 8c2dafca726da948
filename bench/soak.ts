/**
 * `node --import tsx bench/soak.ts [--minutes 10] [--rate 100] [--database-url postgres://…]`: a
 * steady mixed load against the real server (a child process, as `npm run bench` starts it) for
 * `--minutes`, sampling every 30 s the server's resident memory and the p50/p99 latency of the
 * requests finished in that window. Memory and p99 should stay flat: a leak or a slow build-up
 * (caches, pools, timers) shows as a rising column. The mix, per request: 55 % GET /auth/v1/user,
 * 25 % a one-row query, 10 % a refresh (each loop rotates its own chain), 5 % a password sign-in,
 * 5 % a sign-up followed by a logout.
 */
import { parseArgs } from "node:util";
import { setTimeout as sleep } from "node:timers/promises";
import { query, signIn, signUp, type SessionJson } from "./lib/api.js";
import { benchPassword } from "./lib/fixtures.js";
import { LatencySamples } from "./lib/latency.js";
import { memoryOf } from "./lib/proc.js";
import { startService } from "./lib/service.js";
import { prepareStorage } from "./lib/storage.js";

const { values } = parseArgs({
  options: {
    minutes: { type: "string", default: "10" },
    rate: { type: "string", default: "100" },
    "sample-seconds": { type: "string", default: "30" },
    "database-url": { type: "string" },
  },
});
const minutes = Number(values.minutes);
const rate = Number(values.rate);
const sampleMs = Number(values["sample-seconds"]) * 1000;
if (!(minutes > 0) || !(rate > 0) || !(sampleMs > 0)) throw new Error("--minutes, --rate and --sample-seconds must be positive");

const log = (message: string) => process.stderr.write(`[soak] ${message}\n`);
const email = () => `soak-${Math.random().toString(36).slice(2, 12)}@example.com`;
const json = { "content-type": "application/json" };

async function expectOk(response: Response): Promise<unknown> {
  const text = await response.text();
  if (!response.ok) throw new Error(`HTTP ${response.status}: ${text.slice(0, 200)}`);
  return text === "" ? undefined : (JSON.parse(text) as unknown);
}

const storage = await prepareStorage(values["database-url"], false);
const service = await startService({ storage: storage.service });
const base = service.url;
log(`server ${base} (pid ${service.pid}, rate limits off as in npm run bench), ${storage.description}; ${rate} req/s for ${minutes} min`);

const loops = 16;
const users = await Promise.all(Array.from({ length: loops }, async () => {
  const address = email();
  const session = await signUp(base, address, benchPassword);
  return { address, session: session as SessionJson };
}));

let window = new LatencySamples();
let errors = 0;
let total = 0;
const deadline = performance.now() + minutes * 60_000;

async function once(loop: number): Promise<void> {
  const user = users[loop];
  if (!user) return;
  const auth = { authorization: `Bearer ${user.session.access_token}` };
  const pick = Math.random();
  if (pick < 0.55) {
    await expectOk(await fetch(`${base}/auth/v1/user`, { headers: auth }));
  } else if (pick < 0.8) {
    await query(base, user.session.access_token, "select 1 as one");
  } else if (pick < 0.9) {
    const body = await expectOk(
      await fetch(`${base}/auth/v1/token?grant_type=refresh_token`, {
        method: "POST",
        headers: json,
        body: JSON.stringify({ refresh_token: user.session.refresh_token }),
      }),
    );
    user.session = body as SessionJson;
  } else if (pick < 0.95) {
    await signIn(base, user.address, benchPassword);
  } else {
    const fresh = await signUp(base, email(), benchPassword);
    await expectOk(await fetch(`${base}/auth/v1/logout`, { method: "POST", headers: { authorization: `Bearer ${fresh.access_token}` } }));
  }
}

// Open loop per worker: each aims at rate/loops requests a second, whatever the latency.
const intervalMs = (1000 * loops) / rate;
const workers = Array.from({ length: loops }, async (_, loop) => {
  let next = performance.now() + Math.random() * intervalMs;
  while (performance.now() < deadline) {
    const wait = next - performance.now();
    if (wait > 0) await sleep(wait);
    next += intervalMs;
    const started = performance.now();
    try {
      await once(loop);
    } catch (error) {
      errors++;
      if (errors <= 5) log(`error: ${error instanceof Error ? error.message : String(error)}`);
    }
    window.add(performance.now() - started);
    total++;
  }
});

const rows: Array<{ minute: number; rssMb: number; p50: number; p99: number; requests: number }> = [];
const started = performance.now();
const sampler = (async () => {
  while (performance.now() + sampleMs <= deadline + 1) {
    await sleep(sampleMs);
    const [p50 = 0, p99 = 0] = window.percentiles(50, 99);
    const row = { minute: (performance.now() - started) / 60_000, rssMb: memoryOf(service.pid).rssMb, p50, p99, requests: window.count };
    window = new LatencySamples();
    rows.push(row);
    log(`t=${row.minute.toFixed(1)} min  RSS ${row.rssMb.toFixed(1)} MB  p50 ${row.p50.toFixed(1)} ms  p99 ${row.p99.toFixed(1)} ms  (${row.requests} requests, ${errors} errors so far)`);
  }
})();

await Promise.all([...workers, sampler]);
await service.stop();
await storage.dispose();

const first = rows[0];
const last = rows.at(-1);
console.log(JSON.stringify({ minutes, rate, total, errors, samples: rows }, null, 2));
if (first && last) {
  log(`RSS ${first.rssMb.toFixed(1)} → ${last.rssMb.toFixed(1)} MB; p99 ${first.p99.toFixed(1)} → ${last.p99.toFixed(1)} ms; ${total} requests, ${errors} errors`);
}
