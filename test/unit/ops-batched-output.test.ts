import { execFileSync } from "node:child_process";
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import { createBatchedOutput, type BatchedOutputOptions } from "../../src/logging/batched-output.js";

const line = (n: number) => `${JSON.stringify({ n, msg: "x".repeat(20) })}\n`;
/** Never flushes on its own within a test: only a full batch or flushSync write. */
const quiet = { flushIntervalMs: 60_000, batchChars: 1024 * 1024 } as const;

let dir: string | undefined;
const opened: number[] = [];
afterEach(() => {
  opened.splice(0).forEach((fd) => closeSync(fd));
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

/** An output into a fresh file, and a reader of that file. */
function outputToFile(options: Omit<BatchedOutputOptions, "fd">) {
  dir = mkdtempSync(join(tmpdir(), "batched-output-"));
  const file = join(dir, "log");
  const fd = openSync(file, "w");
  opened.push(fd);
  return { output: createBatchedOutput({ fd, ...options }), text: () => readFileSync(file, "utf8") };
}

describe("batched log output", () => {
  it("writes queued lines in order once the interval passes", async () => {
    const { output, text } = outputToFile({ flushIntervalMs: 20 });
    for (let n = 0; n < 50; n++) output.write(line(n));
    expect(text()).toBe("");
    await vi.waitFor(() => expect(text()).toBe(Array.from({ length: 50 }, (_, n) => line(n)).join("")), { timeout: 5_000 });
  });

  it("starts a write as soon as a batch is full, and keeps every line while one is in flight", async () => {
    const { output, text } = outputToFile({ flushIntervalMs: 60_000, batchChars: 100 });
    const expected = Array.from({ length: 500 }, (_, n) => line(n));
    expected.forEach((l) => output.write(l));
    // The last lines make no full batch; what is left waits for flushSync here.
    await vi.waitFor(() => expect(text().length).toBeGreaterThan(expected.join("").length - 200), { timeout: 5_000 });
    await vi.waitFor(() => {
      output.flushSync();
      expect(text()).toBe(expected.join(""));
    });
  });

  it("flushSync writes what is queued before it returns", () => {
    const { output, text } = outputToFile(quiet);
    output.write(line(1));
    output.write("ünïcode ✓\n");
    output.flushSync();
    expect(text()).toBe(`${line(1)}ünïcode ✓\n`);
  });

  it("drops lines beyond the pending bound, counts them, and says so with the next write", () => {
    const { output, text } = outputToFile({ ...quiet, maxPendingChars: 2 * line(0).length });
    expect([1, 2, 3, 4].map((n) => output.write(line(n)))).toEqual([true, true, false, false]);
    output.flushSync();
    const [note, ...rest] = text().trim().split("\n");
    expect(JSON.parse(note ?? "")).toMatchObject({ level: 40, dropped: 2, msg: "log lines dropped: the output did not keep up" });
    expect(rest.map((l) => `${l}\n`)).toEqual([line(1), line(2)]);
  });

  it("the process's logger writes its last lines when the process exits", () => {
    const script = `
      import { createLogger } from ${JSON.stringify(join(process.cwd(), "src/logging/logger.ts"))};
      const logger = createLogger("info", undefined, "json");
      for (let n = 0; n < 1000; n++) logger.info({ n }, "line");
      logger.info("last");
      process.exit(0);
    `;
    const stdout = execFileSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], { encoding: "utf8" });
    const lines = stdout.trim().split("\n").map((l) => JSON.parse(l) as { n?: number; msg: string });
    expect(lines).toHaveLength(1001);
    expect(lines.slice(0, 1000).map((l) => l.n)).toEqual(Array.from({ length: 1000 }, (_, n) => n));
    expect(lines[1000]?.msg).toBe("last");
  });
});
