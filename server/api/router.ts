// The typed API. Procedures only adapt: each calls the one implementation in the service.
import {
  BatchPredictRequest,
  PredictRequest,
} from "../service/schemas.ts";
import { trpcCall } from "./errors.ts";
import { procedure, router } from "./trpc.ts";

export const appRouter = router({
  predict: procedure.input(PredictRequest).mutation(({ ctx, input }) => trpcCall(() => ctx.app.service.predict(input))),
  batchPredict: procedure
    .input(BatchPredictRequest)
    .mutation(({ ctx, input }) => trpcCall(() => ctx.app.service.batchPredict(input))),
  health: procedure.query(({ ctx }) => ctx.app.service.health()),
});

export type AppRouter = typeof appRouter;
