// Observed outcomes (DESIGN section 5): each joins its logged prediction (by id, else the
// customer's latest within the log's outcome window), whichever replica made it, and goes to the
// observers. One outcome per prediction: a second one, earlier, at once on another replica, or in
// the same call, is a conflict reported in the answer and counted nowhere, so that repeated or
// contradicting labels cannot skew calibration (the log decides, fleet-wide). An outcome with
// nothing to join is an expected case, reported too.
import type { OutcomeRequest, OutcomeResponse } from "../contract/api.ts";
import type { LabelledOutcome, PredictionObserver } from "../contract/records.ts";
import type { PredictionLog } from "../contract/storage.ts";

export async function recordOutcomes(log: PredictionLog | undefined, observers: PredictionObserver[], request: OutcomeRequest): Promise<OutcomeResponse> {
  const list = "outcomes" in request ? request.outcomes : [request];
  const result: OutcomeResponse = { matched: [], unmatched: [], conflicts: [] };
  const found = log ? await log.join(list) : [];
  const candidates: { index: number; outcome: LabelledOutcome }[] = [];
  const inThisCall = new Map<string, number>();
  const at = Date.now();
  list.forEach((o, index) => {
    const joined = found[index];
    if (!joined) {
      const what = o.prediction_id !== undefined ? `prediction ${o.prediction_id}` : `prediction for customer ${o.customer_id} within the outcome window`;
      result.unmatched.push({ index, reason: log ? `no ${what} in the log's retention` : "no prediction log to join with" });
      return;
    }
    const { labelled, ...prediction } = joined;
    const earlier = inThisCall.get(prediction.prediction_id);
    if (labelled || earlier !== undefined) {
      const reason = labelled ? "the prediction already has an outcome" : `the prediction already has an outcome (index ${earlier} of this call)`;
      result.conflicts.push({ index, prediction_id: prediction.prediction_id, reason });
      return;
    }
    inThisCall.set(prediction.prediction_id, index);
    candidates.push({ index, outcome: { ...prediction, churned: list[index].churned === true || list[index].churned === 1, at } });
  });
  const first = candidates.length && log ? await log.label(candidates.map((c) => c.outcome)) : [];
  const labelled: LabelledOutcome[] = [];
  candidates.forEach(({ index, outcome }, i) => {
    if (!first[i]) {
      // Labelled in the meantime (another replica, or another call here): the log keeps the first.
      result.conflicts.push({ index, prediction_id: outcome.prediction_id, reason: "the prediction already has an outcome" });
      return;
    }
    labelled.push(outcome);
    result.matched.push({ index, prediction_id: outcome.prediction_id, churn_probability: outcome.churn_probability });
  });
  result.conflicts.sort((a, b) => a.index - b.index);
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
