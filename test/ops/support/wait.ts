/**
 * Polls `check` every `intervalMs` until it returns true or `timeoutMs` has passed; resolves with
 * the milliseconds it took, or undefined when it never held. For bounds the issue sets (a change
 * reaching every instance within 1 s), not for timing assertions in general.
 */
export async function pollUntil(check: () => boolean | Promise<boolean>, timeoutMs: number, intervalMs = 10): Promise<number | undefined> {
  const started = performance.now();
  for (;;) {
    if (await check()) return performance.now() - started;
    if (performance.now() - started >= timeoutMs) return undefined;
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
