/**
 * The typed HeliosDB Nano client (`heliosdb-nano/client`). This entry imports nothing Node-specific,
 * so browser bundles can use it; under Node the package resolves `heliosdb-nano/client` to
 * `node.ts`, whose `createHeliosClient` adds gRPC and Node's HTTP stack.
 *
 * @packageDocumentation
 */
export { createHeliosClientWithTransport, type HeliosClientCoreOptions } from "./helios-client.js";
export { Code, HeliosError, type HeliosErrorReason } from "./helios-error.js";
export type {
  CallOptions,
  HeliosClient,
  HeliosSession,
  HeliosSessionInfo,
  HeliosUser,
  JsonObject,
  JsonValue,
  QueryColumn,
  QueryOptions,
  QueryResult,
  SignOutScope,
  SignUpOptions,
  UserScope,
  UserUpdate,
} from "./types.js";
export { createHeliosClient, type WebHeliosClientOptions, type WebTransportKind } from "./web.js";
