import { readFile } from "node:fs/promises";

/** The parts of a V8 `.cpuprofile` the summary reads. */
interface CpuProfile {
  nodes: Array<{
    id: number;
    callFrame: { functionName: string; url: string; lineNumber: number };
    children?: number[];
  }>;
  /** Monotonic clock, µs. */
  startTime: number;
  samples: number[];
  timeDeltas: number[];
}

/** Self time of one function or group, in % of the profile's wall time. */
export interface SelfTime {
  name: string;
  pct: number;
}

/** Where a profiled process spent its time. */
export interface ProfileSummary {
  /** Wall time covered, ms. */
  totalMs: number;
  /** Whether only the measured window was counted (else the whole process lifetime). */
  windowed: boolean;
  /** Functions by self time, highest first. */
  functions: SelfTime[];
  /** Self time by origin: a package, node internals, our src/, GC, idle. */
  groups: SelfTime[];
  /**
   * Inclusive time (self plus callees) of functions in our code and in packages, highest first:
   * which handler, ORM call or library call the time is spent under.
   */
  inclusive: SelfTime[];
}

/** Which package (or part of the runtime) a script URL belongs to. */
export function originOf(url: string, functionName: string): string {
  if (url === "") {
    // V8's pseudo-frames: (garbage collector), (idle), (program), (root); other empty urls are native.
    return functionName.startsWith("(") ? functionName : "(native)";
  }
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg?.[1]) return pkg[1];
  if (url.startsWith("node:")) return "node:internal";
  const own = /\/(src|gen|bench)\//.exec(url);
  return own ? `${own[1]}/` : url;
}

function shortUrl(url: string): string {
  const pkg = url.lastIndexOf("node_modules/");
  if (pkg >= 0) return url.slice(pkg + "node_modules/".length);
  const own = /\/((?:src|gen|bench)\/.*)$/.exec(url);
  return own?.[1] ?? url.replace(/^file:\/\//, "");
}

function top(map: Map<string, number>, total: number, count: number): SelfTime[] {
  return [...map.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, count)
    .map(([name, us]) => ({ name, pct: Math.round((us / total) * 1000) / 10 }));
}

/**
 * Reads a `.cpuprofile` and sums self time per function and per origin, counting only samples inside
 * `windowUs` (monotonic µs, the clock V8 stamps profiles with on Linux) when that window holds any,
 * so start-up and shutdown stay out of the summary.
 */
export async function summarizeProfile(file: string, windowUs?: { from: number; to: number }, count = 20): Promise<ProfileSummary> {
  const profile = JSON.parse(await readFile(file, "utf8")) as CpuProfile;
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const stamps: number[] = [];
  let clock = profile.startTime;
  for (const delta of profile.timeDeltas) stamps.push((clock += delta));
  const inWindow = (i: number) => windowUs === undefined || ((stamps[i] ?? 0) >= windowUs.from && (stamps[i] ?? 0) <= windowUs.to);
  const windowed = windowUs !== undefined && profile.samples.some((_, i) => inWindow(i));
  const parents = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parents.set(child, node.id);
  const nameOf = (frame: CpuProfile["nodes"][number]["callFrame"]) =>
    `${frame.functionName || "(anonymous)"}${frame.url ? ` ${shortUrl(frame.url)}:${frame.lineNumber + 1}` : ""}`;
  const functions = new Map<string, number>();
  const groups = new Map<string, number>();
  const inclusive = new Map<string, number>();
  let total = 0;
  profile.samples.forEach((id, i) => {
    if (windowed && !inWindow(i)) return;
    const delta = profile.timeDeltas[i] ?? 0;
    const frame = byId.get(id)?.callFrame;
    if (!frame) return;
    total += delta;
    const name = nameOf(frame);
    functions.set(name, (functions.get(name) ?? 0) + delta);
    const origin = originOf(frame.url, frame.functionName);
    groups.set(origin, (groups.get(origin) ?? 0) + delta);
    // Each function once per sample, however often it recurs on the stack.
    const onStack = new Set<string>();
    for (let node: number | undefined = id; node !== undefined; node = parents.get(node)) {
      const callFrame = byId.get(node)?.callFrame;
      if (!callFrame?.url || callFrame.url.startsWith("node:")) continue;
      onStack.add(nameOf(callFrame));
    }
    for (const key of onStack) inclusive.set(key, (inclusive.get(key) ?? 0) + delta);
  });
  return {
    totalMs: Math.round(total / 1000),
    windowed,
    functions: top(functions, total, count),
    groups: top(groups, total, count),
    inclusive: top(inclusive, total, count),
  };
}

/** Renders a summary as indented text. */
export function formatProfile(title: string, summary: ProfileSummary): string {
  const list = (items: SelfTime[]) => items.map((item) => `    ${item.pct.toFixed(1).padStart(5)}%  ${item.name}`);
  return [
    `${title} (${(summary.totalMs / 1000).toFixed(1)} s ${summary.windowed ? "of the measured window" : "of the whole process"})`,
    "  self time by origin:",
    ...list(summary.groups.slice(0, 12)),
    "  top functions by self time:",
    ...list(summary.functions),
    "  top functions of our code and packages by inclusive time:",
    ...list(summary.inclusive),
  ].join("\n");
}
