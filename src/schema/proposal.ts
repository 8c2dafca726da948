import type { Rename } from "./identifiers.js";

/** Sample statistics of one column. */
export interface ColumnStatistics {
  present: number;
  nulls: number;
  missing: number;
  distinct: number;
  minLength?: number;
  maxLength?: number;
  min?: number;
  max?: number;
  /** Up to three distinct values, as JSON text. */
  examples: string[];
}

/** One column of a proposed table (field names as in `helios.schema.v1.ProposedColumn`). */
export interface ProposedColumn {
  name: string;
  /** The sample key it came from; "" for a column the service adds. */
  sourceKey: string;
  sqlType: string;
  nullable: boolean;
  unique: boolean;
  /** Default expression, or "". */
  default: string;
  identity: boolean;
  confidence: number;
  alternatives: string[];
  detectedPattern: string;
  statistics: ColumnStatistics;
}

/** A suggested index. */
export interface ProposedIndex {
  name: string;
  columns: string[];
  unique: boolean;
  reason: string;
}

/** A foreign key to another proposed table. */
export interface ProposedForeignKey {
  name: string;
  column: string;
  referencedTable: string;
  referencedColumn: string;
}

/** A proposed table and its DDL (field names as in `helios.schema.v1.ProposedTable`). */
export interface ProposedTable {
  tableName: string;
  columns: ProposedColumn[];
  primaryKey: string[];
  indexes: ProposedIndex[];
  foreignKeys: ProposedForeignKey[];
  constraints: string[];
  renamed: Rename[];
  ddl: string;
  confidence: number;
  warnings: string[];
  sampleCount: number;
}

/** A relationship found between two tables of a batch. */
export interface Relationship {
  name: string;
  table: string;
  column: string;
  referencedTable: string;
  referencedColumn: string;
  confidence: number;
}
