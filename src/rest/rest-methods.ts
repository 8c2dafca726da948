import { create, createFileRegistry } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema, file_google_protobuf_empty } from "@bufbuild/protobuf/wkt";
import type { InProcessMethod } from "../server/in-process-call.js";

const operations = ["Read", "Insert", "Update", "Delete", "Describe", "CallFunction"] as const;

/** What a `/rest/v1` request does; each is a method of `helios.rest.v1.Rest` in logs and metrics. */
export type RestOperation = (typeof operations)[number];

/**
 * The methods naming `/rest/v1` calls for the interceptors, logs and metrics (route
 * `helios.rest.v1.Rest/Read`...). They exist only in-process: `/rest` is HTTP, not an RPC service,
 * so the service is built here rather than in `proto/` and is served by no router.
 */
function restMethods(): Record<RestOperation, InProcessMethod> {
  const file = create(FileDescriptorProtoSchema, {
    name: "helios/rest/v1/rest.proto",
    package: "helios.rest.v1",
    dependency: ["google/protobuf/empty.proto"],
    syntax: "proto3",
    service: [
      {
        name: "Rest",
        method: operations.map((name) => ({ name, inputType: ".google.protobuf.Empty", outputType: ".google.protobuf.Empty" })),
      },
    ],
  });
  const registry = createFileRegistry(file, (name) => (name === "google/protobuf/empty.proto" ? file_google_protobuf_empty : undefined));
  const service = registry.getService("helios.rest.v1.Rest");
  if (!service) throw new Error("helios.rest.v1.Rest was not built");
  return Object.fromEntries(operations.map((name) => [name, service.method[name.charAt(0).toLowerCase() + name.slice(1)]])) as Record<
    RestOperation,
    InProcessMethod
  >;
}

/** The methods of every {@link RestOperation}. */
export const restMethod = restMethods();
