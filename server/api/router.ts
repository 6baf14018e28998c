// The typed API. Procedures only adapt: each calls the one implementation in the service or the
// monitor, through the contract's interfaces.
import { tracked } from "@trpc/server";
import { z } from "zod";
import { BatchPredictRequest, CustomerImportRequest, CustomerQuery, OutcomeRequest, PlanBudgetRequest, PredictRequest } from "../contract/api.ts";
import { IngestInput } from "../contract/events.ts";
import type { AlertEvent, MetricsSnapshot } from "../contract/monitoring.ts";
import { trpcCall } from "./errors.ts";
import { procedure, router } from "./trpc.ts";

/**
 * Resolves when `wake` is called (given the resolver), or at once when `signal` aborts; either way
 * the abort listener is removed (a subscription would otherwise add one per interval until Node
 * warns MaxListenersExceededWarning).
 */
function until(signal: AbortSignal | undefined, wake: (resolve: () => void) => () => void): Promise<void> {
  return new Promise((resolve) => {
    let cancel = () => {};
    const done = () => {
      signal?.removeEventListener("abort", done);
      cancel();
      resolve();
    };
    signal?.addEventListener("abort", done, { once: true });
    cancel = wake(done);
  });
}

/** Resolves after `ms`, or at once when `signal` aborts. */
function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return until(signal, (done) => {
    const t = setTimeout(done, ms);
    return () => clearTimeout(t);
  });
}

export const MetricsInput = z
  .object({ interval_ms: z.number().int().min(100).max(60_000).default(1000) })
  .strict()
  .default({ interval_ms: 1000 });

export const AlertsInput = z.object({ lastEventId: z.string().nullish() }).strict().default({});

const monitoring = router({
  /** A full snapshot every `interval_ms`: the first evaluated at once, the next younger than `interval_ms`. */
  metrics: procedure.input(MetricsInput).subscription(async function* ({ ctx, input, signal }): AsyncGenerator<MetricsSnapshot> {
    yield { ...ctx.monitoring.snapshot(), history: ctx.monitoring.history() };
    while (!signal?.aborted) {
      await sleep(input.interval_ms, signal);
      if (!signal?.aborted) yield ctx.monitoring.recent(input.interval_ms);
    }
  }),
  /** Alert transitions; after a reconnect, resumes after `lastEventId` (tracked ids). */
  alerts: procedure.input(AlertsInput).subscription(async function* ({ ctx, input, signal }) {
    const queue: AlertEvent[] = ctx.monitoring.alertsSince(input.lastEventId ?? undefined);
    let wake: (() => void) | null = null;
    const unsubscribe = ctx.monitoring.onAlert((e) => {
      queue.push(e);
      wake?.();
    });
    try {
      while (!signal?.aborted) {
        while (queue.length) {
          const e = queue.shift()!;
          yield tracked(e.id, e);
        }
        await until(signal, (done) => {
          wake = done;
          return () => {};
        });
        wake = null;
      }
    } finally {
      unsubscribe();
    }
  }),
});

export const appRouter = router({
  predict: procedure.input(PredictRequest).mutation(({ ctx, input }) => trpcCall(() => ctx.service.predict(input))),
  batchPredict: procedure.input(BatchPredictRequest).mutation(({ ctx, input }) => trpcCall(() => ctx.service.batchPredict(input))),
  planBudget: procedure.input(PlanBudgetRequest).mutation(({ ctx, input }) => ctx.service.planBudget(input)),
  health: procedure.query(({ ctx }) => ctx.service.health()),
  recordOutcome: procedure.input(OutcomeRequest).mutation(({ ctx, input }) => ctx.service.recordOutcomes(input)),
  events: router({
    /** One event, or `{ events: [...] }`; triggering ones come back with their predictions. */
    ingest: procedure.input(IngestInput).mutation(({ ctx, input }) => trpcCall(() => ctx.service.ingestEvents(input.events, input.batch))),
  }),
  customers: router({
    /** The profile as the model would see it at `as_of`, each field with its source. */
    get: procedure.input(CustomerQuery).query(({ ctx, input }) => trpcCall(() => ctx.service.getCustomer(input))),
    /** Rows of an existing customer table; a row with any problem is refused whole. */
    import: procedure.input(CustomerImportRequest).mutation(({ ctx, input }) => trpcCall(() => ctx.service.importCustomers(input))),
  }),
  monitoring,
});

export type AppRouter = typeof appRouter;
