// Type test (never run): what the typed client lets a TypeScript caller write. Each
// `@ts-expect-error` line must fail to compile; tsc fails if one of them compiles. Type-checked
// with the repository (npm run typecheck) and, by test/package.test.ts, against the packed
// packages installed in a scratch project with skipLibCheck false.
import { createChurnClient, type PredictRequest } from "churn-intervention/client";

const client = createChurnClient("http://127.0.0.1:3000");

export async function typedInputs(): Promise<number> {
  const seed = { customer_id: "CUST-001", tenure: 12, monthly_charges: 70.5, contract_type: "Month-to-month", internet_service: "Fiber optic" } satisfies PredictRequest;
  await client.predict.mutate({ ...seed, options: { policy: "max_value", threshold: 0.4, include_alternatives: true } });
  // Another bundle's fields stay possible.
  await client.predict.mutate({ customer_id: "C1", region: "north", seats: 12 });
  await client.batchPredict.mutate({ customers: [seed, { customer_id: "C2" }], budget: 100, options: { dry_run: true } });

  // @ts-expect-error a typo in an option
  await client.predict.mutate({ customer_id: "C1", options: { treshold: 0.5 } });
  // @ts-expect-error a policy that does not exist
  await client.predict.mutate({ customer_id: "C1", options: { policy: "cheapest" } });
  // @ts-expect-error customer_id is required
  await client.predict.mutate({ tenure: 12 });
  // @ts-expect-error not a request at all
  await client.predict.mutate(42);
  // @ts-expect-error a number field sent as text
  await client.predict.mutate({ customer_id: "C1", tenure: "12" });
  // @ts-expect-error a category value outside the default bundle's list
  await client.predict.mutate({ customer_id: "C1", contract_type: "Monthly" });
  // @ts-expect-error batch customers are typed as single ones are
  await client.batchPredict.mutate({ customers: [{ tenure: 1 }] });

  const r = await client.predict.mutate(seed);
  // @ts-expect-error outputs are typed: a probability is a number
  const wrong: string = r.churn_probability;
  void wrong;
  const level: "LOW" | "MEDIUM" | "HIGH" = r.risk_level;
  void level;
  return r.churn_probability;
}
