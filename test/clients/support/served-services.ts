import { create, createFileRegistry, fromBinary, type DescService } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema, FileDescriptorSetSchema, type FileDescriptorProto } from "@bufbuild/protobuf/wkt";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { ServerReflection, type ServerReflectionRequest } from "../../../gen/grpc/reflection/v1/reflection_pb.js";

type ReflectionQuery = Exclude<ServerReflectionRequest["messageRequest"], { case: undefined }>;

/** `files` ordered so that every file comes after its imports, as a registry is built. */
function importsFirst(files: Map<string, FileDescriptorProto>): FileDescriptorProto[] {
  const ordered: FileDescriptorProto[] = [];
  const visit = (name: string) => {
    const file = files.get(name);
    if (!file || ordered.includes(file)) return;
    file.dependency.forEach(visit);
    ordered.push(file);
  };
  [...files.keys()].forEach(visit);
  return ordered;
}

/** Imports of `files` that are not among them. */
function dependencies(files: Map<string, FileDescriptorProto>): string[] {
  const wanted = new Set([...files.values()].flatMap((file) => file.dependency));
  return [...wanted].filter((name) => !files.has(name));
}

/**
 * The services a running server really serves, as descriptors, learned from the server itself over
 * gRPC reflection (service list, then the files defining them, options included).
 */
export async function servedServices(baseUrl: string): Promise<DescService[]> {
  const reflection = createClient(ServerReflection, createGrpcTransport({ baseUrl }));
  async function ask(query: ReflectionQuery) {
    async function* one() {
      yield { messageRequest: query };
    }
    for await (const answer of reflection.serverReflectionInfo(one())) return answer.messageResponse;
    throw new Error("reflection answered nothing");
  }
  const listed = await ask({ case: "listServices", value: "" });
  if (listed?.case !== "listServicesResponse") throw new Error("reflection did not list services");
  const names = listed.value.service.map((service) => service.name);
  const files = new Map<string, FileDescriptorProto>();
  const load = async (query: ReflectionQuery) => {
    const answer = await ask(query);
    if (answer?.case !== "fileDescriptorResponse") throw new Error(`reflection has no file for ${query.value}`);
    for (const bytes of answer.value.fileDescriptorProto) {
      const file = fromBinary(FileDescriptorProtoSchema, bytes);
      files.set(file.name, file);
    }
  };
  for (const name of names) await load({ case: "fileContainingSymbol", value: name });
  // Then every import not sent along (the answer may hold the dependencies, or not).
  for (let missing = dependencies(files); missing.length > 0; missing = dependencies(files)) {
    for (const name of missing) await load({ case: "fileByFilename", value: name });
  }
  const registry = createFileRegistry(create(FileDescriptorSetSchema, { file: importsFirst(files) }));
  return names.map((name) => {
    const service = registry.getService(name);
    if (!service) throw new Error(`no descriptor for ${name}`);
    return service;
  });
}
