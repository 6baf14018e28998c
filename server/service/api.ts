// The operations of the service, implemented once (server/service/) and exposed by every
// transport: tRPC procedures, REST routes and the CLI all call these.
import type {
  BatchPredictRequest,
  BatchPredictResponse,
  HealthResponse,
  PredictRequest,
  PredictResponse,
} from "./schemas.ts";

export interface ChurnService {
  /** Throws `RequestError` (400 with field issues) for anything the client got wrong. */
  predict(request: PredictRequest): Promise<PredictResponse>;
  /** Throws `RequestError` 413 above the configured customers-per-batch limit. */
  batchPredict(request: BatchPredictRequest): Promise<BatchPredictResponse>;
  health(): HealthResponse;
  /** Loads the bundle again (same folder); on failure the old bundle keeps serving and this throws. */
  reload(): Promise<{ version: string }>;
}
