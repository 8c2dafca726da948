/** Latency samples of one run, in milliseconds, kept in a growable typed array. */
export class LatencySamples {
  private values = new Float64Array(1 << 16);
  private size = 0;

  /** Number of samples recorded. */
  get count(): number {
    return this.size;
  }

  /** Records one latency in ms. */
  add(ms: number): void {
    if (this.size === this.values.length) {
      const grown = new Float64Array(this.values.length * 2);
      grown.set(this.values);
      this.values = grown;
    }
    this.values[this.size++] = ms;
  }

  /** The `p`-th percentile (0–100, nearest rank), or 0 without samples. */
  percentiles(...ps: number[]): number[] {
    if (this.size === 0) return ps.map(() => 0);
    const sorted = this.values.slice(0, this.size).sort();
    return ps.map((p) => sorted[Math.min(this.size - 1, Math.max(0, Math.ceil((p / 100) * this.size) - 1))] ?? 0);
  }
}
