import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import type { AdminService } from "../../gen/helios/admin/v1/admin_pb.js";
import { principalOf, type Principal } from "../auth/principal.js";
import { apiError } from "../errors/catalogue.js";

/**
 * The caller of an AdminService call, who must hold the `admin` scope (403 `insufficient_scope`
 * otherwise). The scope is global: an admin of one tenant administers all of them, just as its
 * queries see every tenant.
 */
export function requireAdmin(context: HandlerContext): Principal {
  const principal = principalOf(context);
  if (!principal.scopes.includes("admin")) throw apiError("insufficient_scope", "AdminService requires the admin scope");
  return principal;
}

/** How a principal is recorded as the creator of something: `user:<id>` or `api_key:<id>`. */
export function actorOf(principal: Principal): string {
  return `${principal.kind}:${principal.id}`;
}

type AdminImpl = ServiceImpl<typeof AdminService>;
type UnaryMethod = (request: unknown, context: HandlerContext) => unknown;

/**
 * `impl` with {@link requireAdmin} run before every method, so that no method can forget it. (Per
 * service interceptors are no option: connect's router would replace the global ones with them.)
 */
export function adminOnly(impl: AdminImpl): AdminImpl {
  const guarded: Record<string, UnaryMethod> = {};
  for (const [name, method] of Object.entries(impl) as Array<[string, UnaryMethod]>) {
    guarded[name] = (request, context) => {
      requireAdmin(context);
      return method(request, context);
    };
  }
  // Same keys and signatures as `impl`; only the bodies are wrapped.
  return guarded as AdminImpl;
}
