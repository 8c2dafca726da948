import { create, type DescService } from "@bufbuild/protobuf";
import type { ConnectRouter, HandlerContext } from "@connectrpc/connect";
import {
  Health,
  HealthCheckResponseSchema,
  HealthCheckResponse_ServingStatus as ServingStatus,
  HealthListResponseSchema,
  type HealthCheckResponse,
} from "../../gen/grpc/health/v1/health_pb.js";
import { apiError } from "../errors/catalogue.js";
import type { ServingState } from "./serving-state.js";

/** Options of {@link registerHealth}. */
export interface HealthOptions {
  state: ServingState;
  /** The services whose names may be asked for; "" (the whole server) always may. */
  services: readonly DescService[];
  /** How often a Watch re-checks readiness (storage), in milliseconds; default 5000. Shutdown is sent at once. */
  watchIntervalMs?: number;
}

/** The services {@link registerHealth} registers, for reflection. */
export const healthServices: readonly DescService[] = [Health];

/** Waits `ms`, or less if shutdown begins or the call ends. */
function pause(ms: number, state: ServingState, context: HandlerContext): Promise<void> {
  const signals = [context.signal, state.shutdownSignal];
  return new Promise<void>((resolve) => {
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      for (const signal of signals) signal.removeEventListener("abort", done);
      resolve();
    }
    for (const signal of signals) signal.addEventListener("abort", done);
    if (signals.some((signal) => signal.aborted)) done();
  });
}

/**
 * Registers `grpc.health.v1.Health`: Check, Watch and List. Every service is as healthy as the
 * server: SERVING while {@link ServingState.readiness} is ready, NOT_SERVING otherwise (storage
 * unreachable, or shutdown begun). Check of an unknown name fails with NOT_FOUND; Watch answers
 * SERVICE_UNKNOWN for it, as the protocol asks. A Watch sends NOT_SERVING the moment shutdown
 * begins and then ends, so open watches never hold up draining.
 */
export function registerHealth(router: ConnectRouter, options: HealthOptions): void {
  const { state } = options;
  const watchIntervalMs = options.watchIntervalMs ?? 5000;
  const names = new Set(["", ...[...options.services, Health].map((service) => service.typeName)]);
  const response = (status: ServingStatus): HealthCheckResponse => create(HealthCheckResponseSchema, { status });
  const current = async () => ((await state.readiness()).ready ? ServingStatus.SERVING : ServingStatus.NOT_SERVING);

  router.service(Health, {
    async check(request) {
      if (!names.has(request.service)) throw apiError("not_found", `Unknown service ${JSON.stringify(request.service)}`);
      return response(await current());
    },

    async *watch(request, context) {
      if (!names.has(request.service)) {
        yield response(ServingStatus.SERVICE_UNKNOWN);
        while (!context.signal.aborted && !state.shuttingDown) await pause(watchIntervalMs, state, context);
        return;
      }
      let last: ServingStatus | undefined;
      for (;;) {
        const status = await current();
        if (status !== last) {
          yield response(status);
          last = status;
        }
        if (state.shuttingDown || context.signal.aborted) return;
        await pause(watchIntervalMs, state, context);
      }
    },

    async list() {
      const status = response(await current());
      return create(HealthListResponseSchema, {
        statuses: Object.fromEntries([...names].filter((name) => name !== "").map((name) => [name, status])),
      });
    },
  });
}
