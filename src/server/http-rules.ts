import { getOption, hasOption, ScalarType, type DescField, type DescMethod, type DescService } from "@bufbuild/protobuf";
import { http as httpRuleOption, } from "../../gen/google/api/annotations_pb.js";
import type { HttpRule } from "../../gen/google/api/http_pb.js";

/** One REST binding of an RPC, compiled from its `google.api.http` annotation. */
export interface RestBinding {
  method: DescMethod;
  httpMethod: string;
  /** The path template as written, e.g. `/admin/v1/keys/{id}`. */
  template: string;
  /** Matches a request path; named groups are the path variables. */
  pattern: RegExp;
  /** `"*"` (whole body is the request), a field name, or `""` (no body). */
  body: string;
  /** Field of the response sent as the REST body, or `""` for the whole response. */
  responseBody: string;
}

function compileTemplate(template: string): RegExp {
  const source = template
    .split("/")
    .map((segment) => {
      const variable = /^\{([a-z_][a-z0-9_]*)(?:=\*)?\}$/i.exec(segment);
      if (variable) return `(?<${variable[1]}>[^/]+)`;
      if (/[{}*]/.test(segment)) throw new Error(`unsupported path template segment "${segment}" in ${template}`);
      return segment.replace(/[.+?^${}()|[\]\\]/g, "\\$&");
    })
    .join("/");
  return new RegExp(`^${source}$`);
}

function bindingsOf(method: DescMethod, rule: HttpRule): RestBinding[] {
  const { pattern } = rule;
  let httpMethod: string;
  let template: string;
  switch (pattern.case) {
    case "get":
    case "put":
    case "post":
    case "delete":
    case "patch":
      httpMethod = pattern.case.toUpperCase();
      template = pattern.value;
      break;
    case "custom":
      httpMethod = pattern.value.kind.toUpperCase();
      template = pattern.value.path;
      break;
    default:
      return [];
  }
  const own: RestBinding = {
    method,
    httpMethod,
    template,
    pattern: compileTemplate(template),
    body: rule.body,
    responseBody: rule.responseBody,
  };
  return [own, ...rule.additionalBindings.flatMap((extra) => bindingsOf(method, extra))];
}

/** Every REST binding declared by the `google.api.http` annotations of `services`. */
export function restBindings(services: DescService[]): RestBinding[] {
  return services.flatMap((service) =>
    service.methods.flatMap((method) =>
      hasOption(method, httpRuleOption) ? bindingsOf(method, getOption(method, httpRuleOption)) : [],
    ),
  );
}

/**
 * Converts a query-string or path value to the JSON value of `field`: numbers and booleans for
 * scalars, JSON text for messages, lists and maps.
 */
export function fieldValueFromText(field: DescField, text: string): unknown {
  if (field.fieldKind === "scalar") {
    switch (field.scalar) {
      case ScalarType.BOOL:
        if (text === "true" || text === "false") return text === "true";
        throw new Error(`${field.jsonName} must be true or false`);
      case ScalarType.STRING:
      case ScalarType.BYTES:
        return text;
      default:
        // Proto3 JSON accepts numbers as strings; the message parser validates them.
        return text;
    }
  }
  if (field.fieldKind === "enum") return text;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new Error(`${field.jsonName} must be JSON`);
  }
}
