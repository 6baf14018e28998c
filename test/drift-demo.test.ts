// The drift demo is a test too: drift and calibration alerts fire on shifted traffic and resolve
// when normal traffic returns.
import { expect, it } from "vitest";
import { runDriftDemo } from "../cli/commands/demo.ts";

it("fires drift and AUC alerts on shifted traffic and resolves them afterwards", async () => {
  const events = await runDriftDemo({ log: () => {} });
  const key = (e: { kind: string; subject: string }) => `${e.kind}:${e.subject}`;
  const firedShifted = events.filter((e) => e.phase === "shifted" && e.state === "firing").map(key);
  expect(firedShifted).toContain("feature_drift:tenure");
  expect(firedShifted).toContain("feature_drift:contract_type");
  expect(firedShifted).toContain("auc:churn_model");
  expect(events.filter((e) => e.phase === "normal" && e.state === "firing")).toEqual([]);
  const resolved = events.filter((e) => e.phase === "recovered" && e.state === "resolved").map(key);
  for (const k of ["feature_drift:tenure", "feature_drift:contract_type", "auc:churn_model"]) expect(resolved).toContain(k);
  // One firing event per condition until it resolves.
  const fired = events.filter((e) => e.state === "firing").map(key);
  expect(new Set(fired).size).toBe(fired.length);
}, 120_000);
