// The operations of the service, implemented once (server/service/) and exposed by every
// transport: tRPC procedures, REST routes and the CLI all call these.
import type {
  BatchPredictResponse,
  CustomerBatch,
  CustomerImportRequest,
  CustomerImportResponse,
  CustomerProfile,
  CustomerQuery,
  CustomerRequest,
  IngestResponse,
  HealthResponse,
  OutcomeRequest,
  OutcomeResponse,
  PlanBudgetRequest,
  PlanBudgetResponse,
  PredictResponse,
} from "./api.ts";
import type { CustomerEvent } from "./events.ts";

export interface ChurnService {
  /** Throws `RequestError` (400 with field issues) for anything the client got wrong. */
  predict(request: CustomerRequest): Promise<PredictResponse>;
  /** Throws `RequestError` 413 above the configured customers-per-batch limit. */
  batchPredict(request: CustomerBatch): Promise<BatchPredictResponse>;
  /** Allocates a budget over customers' scored options (multiple-choice knapsack). */
  planBudget(request: PlanBudgetRequest): PlanBudgetResponse;
  /** Joins observed outcomes to their predictions; an outcome with nothing to join is reported, not thrown. */
  recordOutcomes(request: OutcomeRequest): Promise<OutcomeResponse>;
  /** Applies customer events (all or nothing); `batch`: they came as `{ events: [...] }` (issue paths say so). */
  ingestEvents(events: CustomerEvent[], batch: boolean): Promise<IngestResponse>;
  /** Throws `RequestError` 404 for a customer the service knows nothing about. */
  getCustomer(query: CustomerQuery): Promise<CustomerProfile>;
  importCustomers(request: CustomerImportRequest): Promise<CustomerImportResponse>;
  health(): HealthResponse;
  /** Loads the bundle again (same folder); on failure the old bundle keeps serving and this throws. */
  reload(): Promise<{ version: string }>;
}
