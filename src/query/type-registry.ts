import { arrayDecoder, decoders, type Decoder } from "./result-encoding.js";

/** How one result column type is named and decoded. */
export interface ResolvedType {
  /** Type name: the `pg_type` name, arrays as `element[]`. */
  name: string;
  decode: Decoder;
}

/** A `pg_type` row, as {@link TypeLookup} returns it. */
export interface TypeRow {
  oid: number;
  typname: string;
  /** 'b' base, 'd' domain, 'e' enum, 'c' composite, 'r' range, 'm' multirange, 'p' pseudo. */
  typtype: string;
  /** 'A' for arrays. */
  typcategory: string;
  typelem: number;
  typbasetype: number;
  typdelim: string;
}

/** Fetches `pg_type` rows for OIDs the registry does not know (user enums, domains, arrays...). */
export type TypeLookup = (oids: number[]) => Promise<TypeRow[]>;

/** Names and decoders of column types, built-in ones known up front, others looked up once. */
export interface TypeRegistry {
  /** The type of each OID, in order; unknown OIDs cost one `pg_type` query, then are cached. */
  resolve(oids: readonly number[]): Promise<ResolvedType[]>;
  /** The type of each OID when every one is known already (no lookup, no promise); else undefined. */
  known(oids: readonly number[]): ResolvedType[] | undefined;
}

/** [oid, name, array oid, decoder] of PostgreSQL's built-in types (stable across versions). */
const builtins: [number, string, number, Decoder][] = [
  [16, "bool", 1000, decoders.bool],
  [17, "bytea", 1001, decoders.bytea],
  [18, "char", 1002, decoders.text],
  [19, "name", 1003, decoders.text],
  [20, "int8", 1016, decoders.int8],
  [21, "int2", 1005, decoders.integer],
  [23, "int4", 1007, decoders.integer],
  [24, "regproc", 1008, decoders.text],
  [25, "text", 1009, decoders.text],
  [26, "oid", 1028, decoders.integer],
  [27, "tid", 1010, decoders.text],
  [28, "xid", 1011, decoders.integer],
  [29, "cid", 1012, decoders.integer],
  [114, "json", 199, decoders.json],
  [142, "xml", 143, decoders.text],
  [600, "point", 1017, decoders.text],
  [601, "lseg", 1018, decoders.text],
  [602, "path", 1019, decoders.text],
  [603, "box", 1020, decoders.text],
  [604, "polygon", 1027, decoders.text],
  [628, "line", 629, decoders.text],
  [650, "cidr", 651, decoders.text],
  [700, "float4", 1021, decoders.float],
  [701, "float8", 1022, decoders.float],
  [718, "circle", 719, decoders.text],
  [774, "macaddr8", 775, decoders.text],
  [790, "money", 791, decoders.text],
  [829, "macaddr", 1040, decoders.text],
  [869, "inet", 1041, decoders.text],
  [1042, "bpchar", 1014, decoders.text],
  [1043, "varchar", 1015, decoders.text],
  [1082, "date", 1182, decoders.text],
  [1083, "time", 1183, decoders.text],
  [1114, "timestamp", 1115, decoders.timestamp],
  [1184, "timestamptz", 1185, decoders.timestamp],
  [1186, "interval", 1187, decoders.text],
  [1266, "timetz", 1270, decoders.timetz],
  [1560, "bit", 1561, decoders.text],
  [1562, "varbit", 1563, decoders.text],
  [1700, "numeric", 1231, decoders.numeric],
  [1790, "refcursor", 2201, decoders.text],
  [2205, "regclass", 2210, decoders.text],
  [2206, "regtype", 2211, decoders.text],
  [2249, "record", 2287, decoders.text],
  [2275, "cstring", 1263, decoders.text],
  [2950, "uuid", 2951, decoders.text],
  [3220, "pg_lsn", 3221, decoders.text],
  [3614, "tsvector", 3643, decoders.text],
  [3615, "tsquery", 3645, decoders.text],
  [3802, "jsonb", 3807, decoders.json],
  [3904, "int4range", 3905, decoders.text],
  [3906, "numrange", 3907, decoders.text],
  [3908, "tsrange", 3909, decoders.text],
  [3910, "tstzrange", 3911, decoders.text],
  [3912, "daterange", 3913, decoders.text],
  [3926, "int8range", 3927, decoders.text],
  [4072, "jsonpath", 4073, decoders.text],
  [4089, "regnamespace", 4090, decoders.text],
  [4096, "regrole", 4097, decoders.text],
  [5069, "xid8", 271, decoders.int8],
];

/** Types whose array literals separate elements with ';' instead of ','. */
const semicolonDelimited = new Set([603]);

function builtinTypes(): Map<number, ResolvedType> {
  const known = new Map<number, ResolvedType>([
    [705, { name: "unknown", decode: decoders.text }],
    [2278, { name: "void", decode: decoders.text }],
  ]);
  for (const [oid, name, arrayOid, decode] of builtins) {
    known.set(oid, { name, decode });
    known.set(arrayOid, { name: `${name}[]`, decode: arrayDecoder(decode, semicolonDelimited.has(oid) ? ";" : ",") });
  }
  return known;
}

const fallback = (oid: number): ResolvedType => ({ name: `oid:${oid}`, decode: decoders.text });

/**
 * Creates a {@link TypeRegistry}. Looked-up types are cached up to `maxEntries` (default 10 000;
 * the cache starts over when full, since dropped and re-created types get new OIDs).
 */
export function createTypeRegistry(lookup: TypeLookup, options: { maxEntries?: number } = {}): TypeRegistry {
  const builtin = builtinTypes();
  const learned = new Map<number, ResolvedType>();
  const maxEntries = options.maxEntries ?? 10_000;
  const known = (oid: number) => builtin.get(oid) ?? learned.get(oid);

  async function learn(oids: number[]): Promise<void> {
    // Domains and arrays point at further types; follow them a few levels at most.
    const rows = new Map<number, TypeRow>();
    let pending = oids;
    for (let depth = 0; depth < 4 && pending.length > 0; depth++) {
      const found = await lookup(pending);
      for (const row of found) rows.set(Number(row.oid), row);
      pending = found
        .flatMap((row) => [Number(row.typelem), Number(row.typbasetype)])
        .filter((oid) => oid !== 0 && !known(oid) && !rows.has(oid));
    }
    const build = (oid: number, depth: number): ResolvedType => {
      const existing = known(oid);
      if (existing) return existing;
      const row = rows.get(oid);
      if (!row || depth > 4) return fallback(oid);
      if (row.typtype === "d" && Number(row.typbasetype) !== 0) {
        return { name: row.typname, decode: build(Number(row.typbasetype), depth + 1).decode };
      }
      if (row.typcategory === "A" && Number(row.typelem) !== 0) {
        const elementOid = Number(row.typelem);
        const element = build(elementOid, depth + 1);
        // array_out separates elements with the element type's delimiter.
        const delimiter = rows.get(elementOid)?.typdelim || (semicolonDelimited.has(elementOid) ? ";" : ",");
        return { name: `${element.name}[]`, decode: arrayDecoder(element.decode, delimiter) };
      }
      return { name: row.typname, decode: decoders.text };
    };
    if (learned.size + rows.size > maxEntries) learned.clear();
    for (const oid of rows.keys()) learned.set(oid, build(oid, 0));
  }

  return {
    known(oids) {
      const types: ResolvedType[] = [];
      for (const oid of oids) {
        const type = known(oid);
        if (!type) return undefined;
        types.push(type);
      }
      return types;
    },
    async resolve(oids) {
      const missing = [...new Set(oids.filter((oid) => !known(oid)))];
      if (missing.length > 0) await learn(missing);
      return oids.map((oid) => known(oid) ?? fallback(oid));
    },
  };
}
