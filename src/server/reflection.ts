import {
  create,
  fromBinary,
  toBinary,
  type DescFile,
  type DescService,
  type MessageInitShape,
} from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import { Code, type ConnectRouter } from "@connectrpc/connect";
import {
  ServerReflection,
  ServerReflectionRequestSchema,
  ServerReflectionResponseSchema,
  type ServerReflectionRequest,
} from "../../gen/grpc/reflection/v1/reflection_pb.js";
import * as v1alpha from "../../gen/grpc/reflection/v1alpha/reflection_pb.js";

type Response = MessageInitShape<typeof ServerReflectionResponseSchema>;

/** The files that define `services` and everything they import, by file name. */
function filesOf(services: DescService[]): Map<string, DescFile> {
  const files = new Map<string, DescFile>();
  const add = (file: DescFile) => {
    if (files.has(file.name)) return;
    files.set(file.name, file);
    file.dependencies.forEach(add);
  };
  services.forEach((service) => add(service.file));
  return files;
}

/** Fully-qualified names of every symbol a file declares, mapped to the file. */
function symbolsOf(files: Iterable<DescFile>): Map<string, DescFile> {
  const symbols = new Map<string, DescFile>();
  for (const file of files) {
    for (const service of file.services) {
      symbols.set(service.typeName, file);
      for (const method of service.methods) symbols.set(`${service.typeName}.${method.name}`, file);
    }
    const addMessages = (messages: DescFile["messages"]) => {
      for (const message of messages) {
        symbols.set(message.typeName, file);
        message.fields.forEach((field) => symbols.set(`${message.typeName}.${field.name}`, file));
        message.nestedEnums.forEach((nested) => symbols.set(nested.typeName, file));
        addMessages(message.nestedMessages);
      }
    };
    addMessages(file.messages);
    file.enums.forEach((e) => symbols.set(e.typeName, file));
    file.extensions.forEach((e) => symbols.set(e.typeName, file));
  }
  return symbols;
}

/**
 * Registers gRPC server reflection (`grpc.reflection.v1` and `v1alpha`) describing `services`, so
 * that grpcurl and `buf curl` work without local protos. Files are answered with their transitive
 * imports, which every reflection client accepts.
 */
export function registerReflection(router: ConnectRouter, services: DescService[]): void {
  const reflected = [...services, ServerReflection, v1alpha.ServerReflection];
  const files = filesOf(reflected);
  const symbols = symbolsOf(files.values());

  const withImports = (file: DescFile): Response => {
    const ordered = new Map<string, DescFile>();
    const visit = (f: DescFile) => {
      if (ordered.has(f.name)) return;
      ordered.set(f.name, f);
      f.dependencies.forEach(visit);
    };
    visit(file);
    return {
      messageResponse: {
        case: "fileDescriptorResponse",
        value: { fileDescriptorProto: [...ordered.values()].map((f) => toBinary(FileDescriptorProtoSchema, f.proto)) },
      },
    };
  };
  const notFound = (what: string): Response => ({
    messageResponse: { case: "errorResponse", value: { errorCode: Code.NotFound, errorMessage: `${what} not found` } },
  });

  const answer = (request: ServerReflectionRequest): Response => {
    const { messageRequest } = request;
    switch (messageRequest.case) {
      case "listServices":
        return {
          messageResponse: {
            case: "listServicesResponse",
            value: { service: reflected.map((service) => ({ name: service.typeName })) },
          },
        };
      case "fileByFilename": {
        const file = files.get(messageRequest.value);
        return file ? withImports(file) : notFound(`file ${messageRequest.value}`);
      }
      case "fileContainingSymbol": {
        const file = symbols.get(messageRequest.value.replace(/^\./, ""));
        return file ? withImports(file) : notFound(`symbol ${messageRequest.value}`);
      }
      case "fileContainingExtension":
        return notFound(`extension ${messageRequest.value.extensionNumber} of ${messageRequest.value.containingType}`);
      case "allExtensionNumbersOfType":
        return {
          messageResponse: {
            case: "allExtensionNumbersResponse",
            value: { baseTypeName: messageRequest.value, extensionNumber: [] },
          },
        };
      default:
        return {
          messageResponse: {
            case: "errorResponse",
            value: { errorCode: Code.InvalidArgument, errorMessage: "empty reflection request" },
          },
        };
    }
  };
  const respond = (request: ServerReflectionRequest) =>
    create(ServerReflectionResponseSchema, { ...answer(request), validHost: request.host, originalRequest: request });

  router.service(ServerReflection, {
    async *serverReflectionInfo(requests) {
      for await (const request of requests) yield respond(request);
    },
  });
  // v1alpha is wire-identical to v1: translate through the binary form instead of duplicating logic.
  router.service(v1alpha.ServerReflection, {
    async *serverReflectionInfo(requests) {
      for await (const request of requests) {
        const v1Request = fromBinary(ServerReflectionRequestSchema, toBinary(v1alpha.ServerReflectionRequestSchema, request));
        const v1Response = respond(v1Request);
        yield fromBinary(v1alpha.ServerReflectionResponseSchema, toBinary(ServerReflectionResponseSchema, v1Response));
      }
    },
  });
}
