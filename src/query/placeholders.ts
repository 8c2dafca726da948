import { walkParseTree } from "./parse-tree.js";

/**
 * The highest `$n` parameter placeholder in a statement's parse tree, or 0 when it has none: the
 * number of values PostgreSQL requires in the bind message (a statement using only `$2` still
 * requires two).
 */
export function highestPlaceholder(tree: unknown): number {
  let highest = 0;
  walkParseTree(tree, (key, child) => {
    if (key === "ParamRef") {
      const number = (child as { number?: unknown }).number;
      if (typeof number === "number" && number > highest) highest = number;
    }
  });
  return highest;
}
