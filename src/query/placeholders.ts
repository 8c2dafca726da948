/**
 * The highest `$n` parameter placeholder in a statement's parse tree, or 0 when it has none: the
 * number of values PostgreSQL requires in the bind message (a statement using only `$2` still
 * requires two). Walks the tree without recursion, so deep nesting cannot overflow the stack.
 */
export function highestPlaceholder(tree: unknown): number {
  let highest = 0;
  const stack: unknown[] = [tree];
  while (stack.length > 0) {
    const value = stack.pop();
    if (Array.isArray(value)) {
      for (const item of value) stack.push(item);
      continue;
    }
    if (value === null || typeof value !== "object") continue;
    for (const [key, child] of Object.entries(value)) {
      if (key === "ParamRef") {
        const number = (child as { number?: unknown }).number;
        if (typeof number === "number" && number > highest) highest = number;
      }
      stack.push(child);
    }
  }
  return highest;
}
