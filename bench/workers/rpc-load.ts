/**
 * Connect / gRPC load worker over h2c: `node --import tsx bench/workers/rpc-load.ts` (spec:
 * `RpcLoadSpec` as JSON in BENCH_SPEC). Keeps `concurrency` QueryService.Query calls in flight on one
 * HTTP/2 connection (what a connect-node client does by default) for warm-up plus duration, with a
 * connect-node client, or with a raw HTTP/2 client sending the same bytes (far cheaper for the load
 * process; see lib/raw-h2-client.ts).
 */
import { create, fromJson, toBinary, toJsonString, type JsonValue } from "@bufbuild/protobuf";
import { ValueSchema } from "@bufbuild/protobuf/wkt";
import { createClient, type Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { QueryRequestSchema, QueryService, type QueryRequest } from "../../gen/helios/query/v1/query_pb.js";
import { runClosedLoop } from "../lib/closed-loop.js";
import { RawH2Client, type RawCall } from "../lib/raw-h2-client.js";
import { emit, readSpec, runWorkerMain } from "../lib/worker-protocol.js";

/** What to load. */
export interface RpcLoadSpec {
  /** Base URL of the server, http:// (h2c with prior knowledge). */
  url: string;
  protocol: "connect" | "grpc";
  /** Connect only: JSON instead of binary protobuf. */
  json: boolean;
  accessToken: string;
  sql: string;
  params: JsonValue[];
  /** Rows the answer must carry; anything else counts as an error (raw client: checked once). */
  expectRows: number;
  /** The load's client: connect-node's transport, or a raw HTTP/2 client sending the same bytes. */
  client: "connect-node" | "raw-h2";
  concurrency: number;
  warmupSeconds: number;
  durationSeconds: number;
}

function transportOf(spec: RpcLoadSpec): Transport {
  const common = { baseUrl: spec.url, httpVersion: "2" as const };
  return spec.protocol === "grpc"
    ? createGrpcTransport(common)
    : createConnectTransport({ ...common, useBinaryFormat: !spec.json });
}

/** The bytes a connect-node client sends for `request`, pre-encoded once. */
function rawCallOf(spec: RpcLoadSpec, request: QueryRequest): RawCall {
  const path = `/${QueryService.typeName}/${QueryService.method.query.name}`;
  const authorization = `Bearer ${spec.accessToken}`;
  if (spec.protocol === "connect") {
    return spec.json
      ? {
          protocol: "connect",
          path,
          headers: { "content-type": "application/json", "connect-protocol-version": "1", authorization },
          body: Buffer.from(toJsonString(QueryRequestSchema, request)),
        }
      : {
          protocol: "connect",
          path,
          headers: { "content-type": "application/proto", "connect-protocol-version": "1", authorization },
          body: Buffer.from(toBinary(QueryRequestSchema, request)),
        };
  }
  const message = toBinary(QueryRequestSchema, request);
  const frame = Buffer.alloc(5 + message.length);
  frame.writeUInt32BE(message.length, 1);
  frame.set(message, 5);
  return { protocol: "grpc", path, headers: { "content-type": "application/grpc+proto", te: "trailers", authorization }, body: frame };
}

async function main(): Promise<void> {
  const spec = readSpec<RpcLoadSpec>();
  const client = createClient(QueryService, transportOf(spec));
  const request = create(QueryRequestSchema, {
    sql: spec.sql,
    params: spec.params.map((value) => fromJson(ValueSchema, value)),
  });
  const headers = { authorization: `Bearer ${spec.accessToken}` };
  const checked = async () => {
    const response = await client.query(request, { headers });
    if (response.rows.length !== spec.expectRows) {
      throw new Error(`expected ${spec.expectRows} rows, got ${response.rows.length}`);
    }
  };
  let call = checked;
  if (spec.client === "raw-h2") {
    await checked();
    const raw = new RawH2Client(spec.url);
    const bytes = rawCallOf(spec, request);
    call = () => raw.send(bytes);
  }
  const result = await runClosedLoop({
    concurrency: spec.concurrency,
    warmupSeconds: spec.warmupSeconds,
    durationSeconds: spec.durationSeconds,
    call,
  });
  emit({ type: "result", result });
}

runWorkerMain(main);
