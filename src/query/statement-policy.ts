import type {
  AlterPolicyStmt,
  AlterTableStmt,
  CommentStmt,
  CompositeTypeStmt,
  CreatePolicyStmt,
  CreateSeqStmt,
  CreateStmt,
  CreateTableAsStmt,
  DefElem,
  DropStmt,
  ExplainStmt,
  IndexStmt,
  Node,
  RangeVar,
  RenameStmt,
  SelectStmt,
  TruncateStmt,
  ViewStmt,
} from "libpg-query";
import { adminPolicyProblem, policyNameProblem } from "./admin-policies.js";
import { walkParseTree } from "./parse-tree.js";

/** The scopes a statement can require, weakest first. */
export type RequiredScope = "read" | "write" | "admin";

/** What a statement does, as far as authorization is concerned. */
export type StatementKind = "select" | "insert" | "update" | "delete" | "merge" | "truncate" | "ddl" | "explain";

/** The verdict on an allowed statement. */
export interface StatementClass {
  kind: StatementKind;
  /** Upper-case command, such as "SELECT", "INSERT" or "CREATE TABLE". */
  command: string;
  /** Whether the statement can run in a READ ONLY transaction. */
  readOnly: boolean;
  /** The weakest scope allowed to run it. */
  requiresScope: RequiredScope;
}

/** The verdict on a statement that is never allowed, whatever the scope. */
export interface StatementRejection {
  rejected: true;
  message: string;
}

/** Either verdict of {@link classifyStatement}. */
export type StatementVerdict = StatementClass | StatementRejection;

/** Whether a verdict is a rejection. */
export function isRejection(verdict: StatementVerdict): verdict is StatementRejection {
  return "rejected" in verdict;
}

const reject = (message: string): StatementRejection => ({ rejected: true, message });

/** The tag and body of a parse-tree node (`{ SelectStmt: {...} }` → `["SelectStmt", {...}]`). */
function unwrap(node: Node | undefined): [string, unknown] {
  if (!node) return ["", undefined];
  const entry = Object.entries(node)[0];
  return entry ? [entry[0], entry[1]] : ["", undefined];
}

/** Why each never-allowed statement is refused; anything else unknown gets a generic message. */
const neverAllowed: Record<string, string> = {
  VariableSetStmt: "SET and RESET are not allowed: the server manages session settings and roles",
  VariableShowStmt: "SHOW is not allowed; use current_setting() in a SELECT",
  TransactionStmt: "Transaction control is not allowed: each statement runs in its own transaction",
  DoStmt: "DO blocks are not allowed",
  CopyStmt: "COPY is not allowed",
  CallStmt: "CALL is not allowed",
  ListenStmt: "LISTEN is not allowed",
  UnlistenStmt: "UNLISTEN is not allowed",
  NotifyStmt: "NOTIFY is not allowed",
  PrepareStmt: "PREPARE is not allowed; pass parameters with the query instead",
  ExecuteStmt: "EXECUTE is not allowed",
  DeallocateStmt: "DEALLOCATE is not allowed",
  DeclareCursorStmt: "Cursors are not allowed",
  FetchStmt: "Cursors are not allowed",
  ClosePortalStmt: "Cursors are not allowed",
  LockStmt: "LOCK is not allowed",
  VacuumStmt: "VACUUM and ANALYZE are not allowed",
  DiscardStmt: "DISCARD is not allowed",
  GrantStmt: "GRANT and REVOKE are not allowed",
  GrantRoleStmt: "Role membership cannot be changed",
  CreateRoleStmt: "Roles cannot be managed through queries",
  AlterRoleStmt: "Roles cannot be managed through queries",
  AlterRoleSetStmt: "Roles cannot be managed through queries",
  DropRoleStmt: "Roles cannot be managed through queries",
  ReassignOwnedStmt: "Ownership cannot be reassigned",
  DropOwnedStmt: "DROP OWNED is not allowed",
  AlterOwnerStmt: "Ownership cannot be changed",
  AlterDefaultPrivilegesStmt: "Default privileges cannot be changed",
  AlterSystemStmt: "ALTER SYSTEM is not allowed",
  LoadStmt: "LOAD is not allowed",
  CreateExtensionStmt: "Extensions cannot be managed through queries",
  AlterExtensionStmt: "Extensions cannot be managed through queries",
  AlterExtensionContentsStmt: "Extensions cannot be managed through queries",
  CreateFunctionStmt:
    "Functions and procedures cannot be created through queries: their bodies and SET clauses could change the request's role or tenant",
  AlterFunctionStmt: "Functions cannot be altered through queries",
  CreateTrigStmt: "Triggers cannot be created through queries",
  CreateEventTrigStmt: "Event triggers cannot be created through queries",
  RuleStmt: "Rules cannot be created through queries",
  CreateSchemaStmt: "Schemas cannot be created through queries",
  CreatedbStmt: "Databases cannot be managed through queries",
  DropdbStmt: "Databases cannot be managed through queries",
  AlterDatabaseStmt: "Databases cannot be managed through queries",
  AlterDatabaseSetStmt: "Databases cannot be managed through queries",
  RefreshMatViewStmt: "Materialized views are not allowed: they cannot enforce row-level security",
  CheckPointStmt: "CHECKPOINT is not allowed",
  ClusterStmt: "CLUSTER is not allowed",
  ReindexStmt: "REINDEX is not allowed",
  AlterObjectSchemaStmt: "Objects cannot be moved between schemas",
  SecLabelStmt: "Security labels cannot be changed",
};

const dmlTags: Record<string, StatementKind> = {
  InsertStmt: "insert",
  UpdateStmt: "update",
  DeleteStmt: "delete",
  MergeStmt: "merge",
};

/** Schemas whose relations no statement may write to (`pg_settings` writes call set_config). */
const systemSchemas = new Set(["pg_catalog", "information_schema", "pg_toast"]);

interface TreeFacts {
  /** Kinds of data-modifying statements found anywhere in the tree (CTEs included). */
  dml: Set<StatementKind>;
  /** Whether any SELECT in the tree takes row locks (FOR UPDATE/SHARE). */
  locking: boolean;
  /** A data-modifying target in a system schema, if any. */
  systemTarget: string | undefined;
}

/** What the checks need to know of a statement tree. */
function inspectTree(root: unknown): TreeFacts {
  const facts: TreeFacts = { dml: new Set(), locking: false, systemTarget: undefined };
  walkParseTree(root, (key, child) => {
    const kind = dmlTags[key];
    if (kind) {
      facts.dml.add(kind);
      const target = (child as { relation?: RangeVar }).relation;
      if (target && writesSystemRelation(target)) facts.systemTarget = qualifiedName(target);
    }
    if (key === "lockingClause" && Array.isArray(child) && child.length > 0) facts.locking = true;
  });
  return facts;
}

function writesSystemRelation(relation: RangeVar): boolean {
  if (relation.schemaname !== undefined) return systemSchemas.has(relation.schemaname);
  // Unqualified names resolve in pg_catalog first, so a bare pg_* name is a catalog.
  return (relation.relname ?? "").startsWith("pg_");
}

function qualifiedName(relation: RangeVar): string {
  return [relation.catalogname, relation.schemaname, relation.relname].filter((p) => p !== undefined).join(".");
}

/**
 * Whether an object created or changed by an admin stays in `public` and is permanent. Temporary
 * objects would outlive the request on a pooled connection and shadow public tables for later callers.
 */
function publicRelation(relation: RangeVar | undefined): string | undefined {
  if (!relation) return "The statement names no relation";
  if (relation.relpersistence === "t") return "Temporary objects are not allowed";
  if (relation.catalogname !== undefined) return "Cross-database references are not allowed";
  if (relation.schemaname !== undefined && relation.schemaname !== "public") {
    return `Only objects in schema "public" can be managed, not "${relation.schemaname}"`;
  }
  return undefined;
}

/** The same check for a name given as a list of identifiers (`schema.name`). */
function publicName(nameParts: Node[] | undefined, nameLength: number): string | undefined {
  const parts = (nameParts ?? []).map((part) => {
    const [tag, body] = unwrap(part);
    return tag === "String" ? ((body as { sval?: string }).sval ?? "") : "";
  });
  if (parts.length === nameLength) return undefined;
  if (parts.length === nameLength + 1) {
    return parts[0] === "public" ? undefined : `Only objects in schema "public" can be managed, not "${parts[0]}"`;
  }
  return "Cross-database references are not allowed";
}

/** Parses a boolean the way PostgreSQL's parse_bool accepts a true value. */
function truthy(arg: Node | undefined): boolean {
  if (arg === undefined) return true; // `WITH (security_invoker)` means true
  const [tag, body] = unwrap(arg);
  let text: string;
  if (tag === "String") text = (body as { sval?: string }).sval ?? "";
  else if (tag === "Integer") text = String((body as { ival?: number }).ival ?? 0);
  else if (tag === "Boolean") return (body as { boolval?: boolean }).boolval === true;
  else return false;
  const value = text.trim().toLowerCase();
  if (value === "") return false;
  return "true".startsWith(value) || "yes".startsWith(value) || value === "on" || value === "1";
}

function defElems(options: Node[] | undefined): DefElem[] {
  return (options ?? []).flatMap((option) => {
    const [tag, body] = unwrap(option);
    return tag === "DefElem" ? [body as DefElem] : [];
  });
}

/** Checks reloptions changes: `security_invoker` may only ever be set to true. */
function relOptionsProblem(options: Node | undefined, setting: boolean): string | undefined {
  const [tag, body] = unwrap(options);
  const items = tag === "List" ? ((body as { items?: Node[] }).items ?? []) : [];
  for (const elem of defElems(items)) {
    if (elem.defname === "security_invoker" && (!setting || !truthy(elem.arg))) {
      return "Views must keep security_invoker = true so that row-level security applies to their readers";
    }
  }
  return undefined;
}

const ddl = (command: string): StatementClass => ({ kind: "ddl", command, readOnly: false, requiresScope: "admin" });

/** ALTER TABLE actions an admin may take; everything else (RLS off, owners, triggers...) is refused. */
const alterTableActions = new Set([
  "AT_AddColumn",
  "AT_ColumnDefault",
  "AT_DropNotNull",
  "AT_SetNotNull",
  "AT_DropColumn",
  "AT_AlterColumnType",
  "AT_AddConstraint",
  "AT_AlterConstraint",
  "AT_ValidateConstraint",
  "AT_DropConstraint",
  "AT_AddIndexConstraint",
  "AT_SetStatistics",
  "AT_SetLogged",
  "AT_SetUnLogged",
  "AT_AddIdentity",
  "AT_SetIdentity",
  "AT_DropIdentity",
  "AT_SetRelOptions",
  "AT_ResetRelOptions",
  "AT_EnableRowSecurity",
  "AT_ForceRowSecurity",
]);

const alterableObjects: Record<string, string> = {
  OBJECT_TABLE: "ALTER TABLE",
  OBJECT_VIEW: "ALTER VIEW",
  OBJECT_INDEX: "ALTER INDEX",
  OBJECT_SEQUENCE: "ALTER SEQUENCE",
};

const droppableObjects: Record<string, { command: string; nameLength: number }> = {
  OBJECT_TABLE: { command: "DROP TABLE", nameLength: 1 },
  OBJECT_VIEW: { command: "DROP VIEW", nameLength: 1 },
  OBJECT_INDEX: { command: "DROP INDEX", nameLength: 1 },
  OBJECT_SEQUENCE: { command: "DROP SEQUENCE", nameLength: 1 },
  OBJECT_TYPE: { command: "DROP TYPE", nameLength: 1 },
  OBJECT_POLICY: { command: "DROP POLICY", nameLength: 2 },
};

const renamableObjects: Record<string, string> = {
  OBJECT_TABLE: "ALTER TABLE",
  OBJECT_COLUMN: "ALTER TABLE",
  OBJECT_TABCONSTRAINT: "ALTER TABLE",
  OBJECT_VIEW: "ALTER VIEW",
  OBJECT_INDEX: "ALTER INDEX",
  OBJECT_SEQUENCE: "ALTER SEQUENCE",
  OBJECT_POLICY: "ALTER POLICY",
};

const commentableObjects: Record<string, number> = { OBJECT_TABLE: 1, OBJECT_VIEW: 1, OBJECT_COLUMN: 2 };

function classifySelect(select: SelectStmt): StatementVerdict {
  if (select.intoClause) {
    const problem = publicRelation(select.intoClause.rel);
    return problem ? reject(problem) : ddl("SELECT INTO");
  }
  const facts = inspectTree(select);
  if (facts.systemTarget) return reject(`Statements may not write to system relation ${facts.systemTarget}`);
  const writes = facts.dml.size > 0 || facts.locking;
  return { kind: "select", command: "SELECT", readOnly: !writes, requiresScope: writes ? "write" : "read" };
}

function classifyDml(kind: StatementKind, command: string, body: unknown): StatementVerdict {
  const facts = inspectTree(body);
  const target = (body as { relation?: RangeVar }).relation;
  if (target && writesSystemRelation(target)) facts.systemTarget = qualifiedName(target);
  if (facts.systemTarget) return reject(`Statements may not write to system relation ${facts.systemTarget}`);
  return { kind, command, readOnly: false, requiresScope: "write" };
}

function classifyAlterTable(stmt: AlterTableStmt): StatementVerdict {
  const command = alterableObjects[stmt.objtype ?? ""];
  if (!command) return reject("Only tables, views, indexes and sequences can be altered");
  const problem = publicRelation(stmt.relation);
  if (problem) return reject(problem);
  for (const cmdNode of stmt.cmds ?? []) {
    const [tag, body] = unwrap(cmdNode);
    const cmd = tag === "AlterTableCmd" ? (body as { subtype?: string; def?: Node }) : undefined;
    if (!cmd?.subtype || !alterTableActions.has(cmd.subtype)) {
      const action = (cmd?.subtype ?? "unknown").replace(/^AT_/, "");
      return reject(`ALTER ${command.slice(6)} action ${action} is not allowed`);
    }
    if (cmd.subtype === "AT_SetRelOptions" || cmd.subtype === "AT_ResetRelOptions") {
      const optionProblem = relOptionsProblem(cmd.def, cmd.subtype === "AT_SetRelOptions");
      if (optionProblem) return reject(optionProblem);
    }
  }
  return ddl(command);
}

function classifyDdl(tag: string, body: unknown): StatementVerdict | undefined {
  switch (tag) {
    case "CreateStmt": {
      const problem = publicRelation((body as CreateStmt).relation);
      return problem ? reject(problem) : ddl("CREATE TABLE");
    }
    case "CreateTableAsStmt": {
      const stmt = body as CreateTableAsStmt;
      if (stmt.objtype !== "OBJECT_TABLE") {
        return reject("Materialized views are not allowed: they cannot enforce row-level security");
      }
      const problem = publicRelation(stmt.into?.rel);
      return problem ? reject(problem) : ddl(stmt.is_select_into ? "SELECT INTO" : "CREATE TABLE AS");
    }
    case "ViewStmt": {
      const stmt = body as ViewStmt;
      const problem = publicRelation(stmt.view);
      if (problem) return reject(problem);
      const invoker = defElems(stmt.options).filter((elem) => elem.defname === "security_invoker");
      if (invoker.length === 0 || !invoker.every((elem) => truthy(elem.arg))) {
        return reject(
          "Views must be created WITH (security_invoker = true) so that row-level security applies to their readers",
        );
      }
      return ddl("CREATE VIEW");
    }
    case "IndexStmt": {
      const stmt = body as IndexStmt;
      if (stmt.concurrent) return reject("CREATE INDEX CONCURRENTLY cannot run inside the query transaction");
      const problem = publicRelation(stmt.relation);
      return problem ? reject(problem) : ddl("CREATE INDEX");
    }
    case "AlterTableStmt":
      return classifyAlterTable(body as AlterTableStmt);
    case "RenameStmt": {
      const stmt = body as RenameStmt;
      const command = renamableObjects[stmt.renameType ?? ""];
      if (!command) return reject("Only tables, columns, constraints, views, indexes, sequences and policies can be renamed");
      const problem =
        publicRelation(stmt.relation) ??
        (stmt.renameType === "OBJECT_POLICY" ? (policyNameProblem(stmt.subname) ?? policyNameProblem(stmt.newname)) : undefined);
      return problem ? reject(problem) : ddl(command);
    }
    case "DropStmt": {
      const stmt = body as DropStmt;
      const target = droppableObjects[stmt.removeType ?? ""];
      if (!target) return reject("Only tables, views, indexes, sequences, types and policies can be dropped");
      if (stmt.concurrent) return reject("DROP INDEX CONCURRENTLY cannot run inside the query transaction");
      for (const object of stmt.objects ?? []) {
        const [objectTag, objectBody] = unwrap(object);
        const names =
          objectTag === "List"
            ? (objectBody as { items?: Node[] }).items
            : objectTag === "TypeName"
              ? (objectBody as { names?: Node[] }).names
              : undefined;
        const problem = publicName(names, target.nameLength);
        if (problem) return reject(problem);
        if (stmt.removeType === "OBJECT_POLICY") {
          const [, last] = unwrap(names?.[names.length - 1]);
          const nameProblem = policyNameProblem((last as { sval?: string } | undefined)?.sval);
          if (nameProblem) return reject(nameProblem);
        }
      }
      return ddl(target.command);
    }
    case "CreatePolicyStmt":
    case "AlterPolicyStmt": {
      const stmt = body as CreatePolicyStmt & AlterPolicyStmt;
      const problem =
        publicRelation(stmt.table) ??
        adminPolicyProblem({
          name: stmt.policy_name,
          permissive: tag === "CreatePolicyStmt" && stmt.permissive === true,
          expressions: [stmt.qual, stmt.with_check],
        });
      return problem ? reject(problem) : ddl(tag === "CreatePolicyStmt" ? "CREATE POLICY" : "ALTER POLICY");
    }
    case "TruncateStmt": {
      for (const relation of (body as TruncateStmt).relations ?? []) {
        const [, relationBody] = unwrap(relation);
        const problem = publicRelation(relationBody as RangeVar);
        if (problem) return reject(problem);
      }
      // TRUNCATE ignores row-level security, hence admin only.
      return { kind: "truncate", command: "TRUNCATE TABLE", readOnly: false, requiresScope: "admin" };
    }
    case "CreateSeqStmt":
    case "AlterSeqStmt": {
      const problem = publicRelation((body as CreateSeqStmt).sequence);
      return problem ? reject(problem) : ddl(tag === "CreateSeqStmt" ? "CREATE SEQUENCE" : "ALTER SEQUENCE");
    }
    case "CreateEnumStmt":
    case "AlterEnumStmt": {
      const problem = publicName((body as { typeName?: Node[] }).typeName, 1);
      return problem ? reject(problem) : ddl(tag === "CreateEnumStmt" ? "CREATE TYPE" : "ALTER TYPE");
    }
    case "CompositeTypeStmt": {
      const problem = publicRelation((body as CompositeTypeStmt).typevar);
      return problem ? reject(problem) : ddl("CREATE TYPE");
    }
    case "CommentStmt": {
      const stmt = body as CommentStmt;
      const nameLength = commentableObjects[stmt.objtype ?? ""];
      if (nameLength === undefined) return reject("Only tables, views and columns can be commented");
      const [objectTag, objectBody] = unwrap(stmt.object);
      const names = objectTag === "List" ? (objectBody as { items?: Node[] }).items : undefined;
      const problem = publicName(names, nameLength);
      return problem ? reject(problem) : ddl("COMMENT");
    }
    default:
      return undefined;
  }
}

function classifyExplain(stmt: ExplainStmt): StatementVerdict {
  // EXPLAIN shows planner estimates and "Rows Removed by Filter" counts taken over every tenant's rows.
  const inner = classifyStatement(stmt.query);
  if (isRejection(inner)) return inner;
  if (inner.kind === "explain") return reject("Nested EXPLAIN is not allowed");
  const analyze = defElems(stmt.options).some((elem) => elem.defname === "analyze" && truthy(elem.arg));
  return { kind: "explain", command: "EXPLAIN", readOnly: analyze ? inner.readOnly : true, requiresScope: "admin" };
}

/**
 * Classifies one parsed statement: what it is, which scope it needs and whether it can run read-only,
 * or why it is never allowed. Pure: the same tree always gets the same verdict.
 */
export function classifyStatement(stmt: Node | undefined): StatementVerdict {
  const [tag, body] = unwrap(stmt);
  if (tag === "SelectStmt") return classifySelect(body as SelectStmt);
  const dmlKind = dmlTags[tag];
  if (dmlKind) return classifyDml(dmlKind, dmlKind.toUpperCase(), body);
  if (tag === "ExplainStmt") return classifyExplain(body as ExplainStmt);
  const ddlVerdict = classifyDdl(tag, body);
  if (ddlVerdict) return ddlVerdict;
  const known = neverAllowed[tag];
  if (known) return reject(known);
  const name = tag.replace(/Stmt$/, "") || "This statement";
  return reject(`${name} statements are not allowed`);
}
