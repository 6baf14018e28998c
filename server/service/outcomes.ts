// Observed outcomes (DESIGN section 5): each joins its logged prediction (by id, else the
// customer's latest) and goes to the observers (the log keeps it, the monitor counts it). An
// outcome with nothing to join is an expected case, reported in the answer.
import type { OutcomeRequest, OutcomeResponse } from "../contract/api.ts";
import type { LabelledOutcome, PredictionObserver } from "../contract/records.ts";
import type { PredictionLog } from "../contract/storage.ts";

export function recordOutcomes(log: Pick<PredictionLog, "find"> | undefined, observers: PredictionObserver[], request: OutcomeRequest): OutcomeResponse {
  const list = "outcomes" in request ? request.outcomes : [request];
  const result: OutcomeResponse = { matched: [], unmatched: [] };
  const labelled: LabelledOutcome[] = [];
  const at = Date.now();
  list.forEach((o, index) => {
    const joined = log?.find(o);
    if (!joined) {
      const what = o.prediction_id !== undefined ? `prediction ${o.prediction_id}` : `prediction for customer ${o.customer_id}`;
      result.unmatched.push({ index, reason: log ? `no ${what} in the log's retention` : "no prediction log to join with" });
      return;
    }
    labelled.push({ ...joined, churned: o.churned === true || o.churned === 1, at });
    result.matched.push({ index, ...joined });
  });
  if (labelled.length > 0) {
    for (const observer of observers) {
      try {
        observer.onOutcomes?.(labelled);
      } catch (err) {
        console.error(`outcome observer failed: ${(err as Error).message}`);
      }
    }
  }
  return result;
}
