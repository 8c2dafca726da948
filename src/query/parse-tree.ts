/**
 * Calls `visit(key, child)` for every keyed node of a libpg-query parse tree (arrays are walked
 * through). Iterative, so a deeply nested statement cannot overflow the stack.
 */
export function walkParseTree(root: unknown, visit: (key: string, child: unknown) => void): void {
  const stack: unknown[] = [root];
  while (stack.length > 0) {
    const value = stack.pop();
    if (Array.isArray(value)) {
      for (const item of value) stack.push(item);
      continue;
    }
    if (value === null || typeof value !== "object") continue;
    for (const [key, child] of Object.entries(value)) {
      visit(key, child);
      stack.push(child);
    }
  }
}
