// The typed API. Procedures only adapt: each calls the one implementation in the service, the
// app or the monitor.
import { tracked } from "@trpc/server";
import { z } from "zod";
import type { AlertEvent } from "../monitor/alerts.ts";
import type { MetricsSnapshot } from "../monitor/monitor.ts";
import { BatchPredictRequest, OutcomeRequest, PredictRequest } from "../service/schemas.ts";
import { trpcCall } from "./errors.ts";
import { procedure, router } from "./trpc.ts";

/** Resolves after `ms`, or at once when `signal` aborts. */
function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener("abort", () => {
      clearTimeout(t);
      resolve();
    }, { once: true });
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
    yield ctx.app.monitor.snapshot();
    while (!signal?.aborted) {
      await sleep(input.interval_ms, signal);
      if (!signal?.aborted) yield ctx.app.monitor.recent(input.interval_ms);
    }
  }),
  /** Alert transitions; after a reconnect, resumes after `lastEventId` (tracked ids). */
  alerts: procedure.input(AlertsInput).subscription(async function* ({ ctx, input, signal }) {
    const queue: AlertEvent[] = ctx.app.monitor.alerts.since(input.lastEventId ?? undefined);
    let wake: (() => void) | null = null;
    const unsubscribe = ctx.app.monitor.alerts.subscribe((e) => {
      queue.push(e);
      wake?.();
    });
    try {
      while (!signal?.aborted) {
        while (queue.length) {
          const e = queue.shift()!;
          yield tracked(e.id, e);
        }
        await new Promise<void>((resolve) => {
          wake = resolve;
          signal?.addEventListener("abort", () => resolve(), { once: true });
        });
        wake = null;
      }
    } finally {
      unsubscribe();
    }
  }),
});

export const appRouter = router({
  predict: procedure.input(PredictRequest).mutation(({ ctx, input }) => trpcCall(() => ctx.app.service.predict(input))),
  batchPredict: procedure
    .input(BatchPredictRequest)
    .mutation(({ ctx, input }) => trpcCall(() => ctx.app.service.batchPredict(input))),
  health: procedure.query(({ ctx }) => ctx.app.service.health()),
  recordOutcome: procedure.input(OutcomeRequest).mutation(({ ctx, input }) => ctx.app.recordOutcomes(input)),
  monitoring,
});

export type AppRouter = typeof appRouter;
