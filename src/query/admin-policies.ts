import { servicePolicyPrefix } from "./tenancy-names.js";
import { walkParseTree } from "./parse-tree.js";

/**
 * Functions an admin policy may not call: `set_config` rewrites the claims other policies read, and
 * the `*_to_xml` family runs SQL text. (User roles cannot execute `set_config` anyway; a policy that
 * calls it would fail every statement on its table.)
 */
const forbiddenFunctions = new Set([
  "set_config",
  "query_to_xml",
  "query_to_xmlschema",
  "query_to_xml_and_xmlschema",
  "cursor_to_xml",
  "cursor_to_xmlschema",
]);

/** The last part of every function name called anywhere in `root`. */
function calledFunctions(root: unknown): string[] {
  const names: string[] = [];
  walkParseTree(root, (key, child) => {
    if (key === "FuncCall") {
      const parts = (child as { funcname?: { String?: { sval?: string } }[] }).funcname ?? [];
      const last = parts[parts.length - 1]?.String?.sval;
      if (last !== undefined) names.push(last.toLowerCase());
    }
  });
  return names;
}

/**
 * Why an admin may not touch a policy of this name, if so: the service's own policies are not theirs,
 * and admin policy names start with a letter, so that they sort after the server's restrictive
 * policies (`0helios_*`), which PostgreSQL evaluates first.
 */
export function policyNameProblem(name: string | undefined): string | undefined {
  if (name === undefined || name === "") return "The statement names no policy";
  if (name.toLowerCase().startsWith(servicePolicyPrefix) || /^0helios_/i.test(name)) {
    return `Policies named ${servicePolicyPrefix}* belong to the server and cannot be created, altered or dropped`;
  }
  if (!/^\p{L}/u.test(name)) return "Policy names must start with a letter";
  return undefined;
}

/**
 * Checks an admin's CREATE POLICY or ALTER POLICY (the table is checked by the caller): only
 * `AS RESTRICTIVE` policies (`permissive` is false or, for ALTER, absent), which can narrow what the
 * server's policies allow but never widen it; not named like the server's own; expressions that call
 * no function of {@link forbiddenFunctions}.
 */
export function adminPolicyProblem(policy: { name: string | undefined; permissive: boolean; expressions: unknown[] }): string | undefined {
  if (policy.permissive) {
    return "Only AS RESTRICTIVE policies can be created: a permissive policy would widen what the tenant and owner policies allow";
  }
  const nameProblem = policyNameProblem(policy.name);
  if (nameProblem) return nameProblem;
  const forbidden = calledFunctions(policy.expressions).find((name) => forbiddenFunctions.has(name));
  if (forbidden) return `Policy expressions may not call ${forbidden}()`;
  return undefined;
}
