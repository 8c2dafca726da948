import { execFileSync } from "node:child_process";
import { readFileSync, readdirSync } from "node:fs";

/** Resident memory of a process, from /proc/<pid>/status. */
export interface Memory {
  /** VmRSS: resident now, MiB. */
  rssMb: number;
  /** VmHWM: the highest resident size so far, MiB. */
  peakMb: number;
}

function statusField(status: string, field: string): number {
  const match = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status);
  if (!match?.[1]) throw new Error(`no ${field} in /proc status`);
  return Number(match[1]) / 1024;
}

/** VmRSS and VmHWM of `pid`. */
export function memoryOf(pid: number): Memory {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  return { rssMb: statusField(status, "VmRSS"), peakMb: statusField(status, "VmHWM") };
}

let ticksPerSecond: number | undefined;

function clockTicks(): number {
  if (ticksPerSecond === undefined) {
    try {
      ticksPerSecond = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
    } catch {
      ticksPerSecond = 100;
    }
  }
  return ticksPerSecond;
}

interface Stat {
  ppid: number;
  /** utime + stime, clock ticks. */
  ticks: number;
}

function statOf(pid: number): Stat | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return undefined;
  }
  // The command name may hold spaces and parentheses: fields start after the last ')'.
  const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
  // Fields from 3 (state): ppid is field 4, utime 14, stime 15.
  return { ppid: Number(fields[1]), ticks: Number(fields[11]) + Number(fields[12]) };
}

/** CPU seconds (user + system) spent so far by `pid`, or 0 when it is gone. */
export function cpuSecondsOf(pid: number): number {
  return (statOf(pid)?.ticks ?? 0) / clockTicks();
}

/** CPU seconds per process of a PostgreSQL cluster: the postmaster and its children. */
export type ClusterCpu = Map<number, number>;

/** CPU seconds spent so far by a postmaster and each of its children (backends, walwriter …). */
export function clusterCpu(postmasterPid: number): ClusterCpu {
  const seconds: ClusterCpu = new Map([[postmasterPid, (statOf(postmasterPid)?.ticks ?? 0) / clockTicks()]]);
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    const stat = statOf(Number(name));
    if (stat?.ppid === postmasterPid) seconds.set(Number(name), stat.ticks / clockTicks());
  }
  return seconds;
}

/**
 * CPU seconds a cluster spent between two {@link clusterCpu} snapshots, counted per process: a
 * backend that started in between counts from zero; one that exited in between is missed (an
 * underestimate, never a negative number).
 */
export function clusterCpuBetween(before: ClusterCpu, after: ClusterCpu): number {
  let total = 0;
  for (const [pid, seconds] of after) total += Math.max(0, seconds - (before.get(pid) ?? 0));
  return total;
}

/** The parent pid of `pid` (for a PostgreSQL backend: its postmaster), if visible here. */
export function parentOf(pid: number): number | undefined {
  return statOf(pid)?.ppid;
}

/** CPU seconds the whole machine has spent busy (all cores; everything but idle and iowait). */
export function machineBusySeconds(): number {
  const line = readFileSync("/proc/stat", "utf8").split("\n", 1)[0] ?? "";
  const [, ...fields] = line.trim().split(/\s+/);
  const ticks = fields.map(Number);
  // user nice system idle iowait irq softirq steal (guest time is already in user).
  const busy = ticks.slice(0, 8).reduce((sum, n, i) => (i === 3 || i === 4 ? sum : sum + n), 0);
  return busy / clockTicks();
}
