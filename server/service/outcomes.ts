// Observed outcomes (DESIGN section 5): each joins its logged prediction (by id, else the
// customer's latest within the log's outcome window) and goes to the observers (the log keeps it,
// the monitor counts it). One outcome per prediction: a second one, earlier or in the same call,
// is a conflict reported in the answer and counted nowhere, so that repeated or contradicting
// labels cannot skew calibration. An outcome with nothing to join is an expected case, reported too.
import type { OutcomeRequest, OutcomeResponse } from "../contract/api.ts";
import type { LabelledOutcome, PredictionObserver } from "../contract/records.ts";
import type { PredictionLog } from "../contract/storage.ts";

export function recordOutcomes(log: Pick<PredictionLog, "find"> | undefined, observers: PredictionObserver[], request: OutcomeRequest): OutcomeResponse {
  const list = "outcomes" in request ? request.outcomes : [request];
  const result: OutcomeResponse = { matched: [], unmatched: [], conflicts: [] };
  const labelled: LabelledOutcome[] = [];
  const inThisCall = new Map<string, number>();
  const at = Date.now();
  list.forEach((o, index) => {
    const found = log?.find(o);
    if (!found) {
      const what = o.prediction_id !== undefined ? `prediction ${o.prediction_id}` : `prediction for customer ${o.customer_id} within the outcome window`;
      result.unmatched.push({ index, reason: log ? `no ${what} in the log's retention` : "no prediction log to join with" });
      return;
    }
    const { labelled: already, ...joined } = found;
    const earlier = inThisCall.get(joined.prediction_id);
    if (already || earlier !== undefined) {
      const reason = already ? "the prediction already has an outcome" : `the prediction already has an outcome (index ${earlier} of this call)`;
      result.conflicts.push({ index, prediction_id: joined.prediction_id, reason });
      return;
    }
    inThisCall.set(joined.prediction_id, index);
    labelled.push({ ...joined, churned: o.churned === true || o.churned === 1, at });
    result.matched.push({ index, prediction_id: joined.prediction_id, churn_probability: joined.churn_probability });
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
