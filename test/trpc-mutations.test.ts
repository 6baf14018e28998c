// The direct answer to plain mutation calls (server/http/trpc-mutations.ts) against tRPC's own
// Fetch handler, on the real router: for any body, batch or not, any scopes, and procedures that
// answer, refuse or fail, the same status, headers and body, byte for byte. The service is a stub
// that answers from its input alone, so the two calls can be compared.
import type { IncomingMessage } from "node:http";
import fc from "fast-check";
import { fetchRequestHandler } from "@trpc/server/adapters/fetch";
import { afterAll, beforeAll, expect, it, vi } from "vitest";
import { appRouter } from "../server/api/router.ts";
import type { ApiContext } from "../server/api/trpc.ts";
import { RequestError, UnavailableError } from "../server/contract/errors.ts";
import type { ChurnService } from "../server/contract/service.ts";
import { answerMutations } from "../server/http/trpc-mutations.ts";
import { SEED_REQUEST } from "./helpers/server.ts";

/** Answers from the input: a customer id asks for a refusal, a failure or an outage. */
function outcome(id: unknown): unknown {
  if (id === "refuse") throw new RequestError("refused", [{ path: ["customer_id"], message: "not this one" }]);
  if (id === "too-many") throw new RequestError("too many", [], 413);
  if (id === "boom") throw new Error("a bug");
  if (id === "busy") throw new UnavailableError("log full", 3);
  return { echoed: id };
}
const service = new Proxy({}, { get: () => async (input: { customer_id?: unknown; customers?: { customer_id?: unknown }[] }) => outcome(input?.customer_id ?? input?.customers?.[0]?.customer_id) }) as ChurnService;
const context = (scopes: ApiContext["scopes"]): ApiContext => ({ service, monitoring: {} as ApiContext["monitoring"], observeLatency: () => {}, scopes });

const MUTATIONS = ["predict", "batchPredict", "planBudget", "recordOutcome", "events.ingest", "customers.import"];
const input = fc.oneof(
  fc.constantFrom("refuse", "too-many", "boom", "busy", "CUST-1").map((customer_id) => ({ ...SEED_REQUEST, customer_id })),
  fc.constantFrom("refuse", "boom", "CUST-2").map((customer_id) => ({ customers: [{ ...SEED_REQUEST, customer_id }] })),
  fc.constant(undefined),
  fc.anything({ maxDepth: 2 }),
);
const call = fc.record({
  paths: fc.array(fc.oneof({ weight: 9, arbitrary: fc.constantFrom(...MUTATIONS) }, { weight: 1, arbitrary: fc.constantFrom("health", "nope", "customers.get") }), { minLength: 1, maxLength: 3 }),
  batch: fc.boolean(),
  slash: fc.boolean(),
  inputs: fc.array(input, { minLength: 3, maxLength: 3 }),
  /** A body that is not what the inputs say: not JSON, or not an object for a batch. */
  odd: fc.option(fc.constantFrom("{", "[1,2]", "null", '"x"', "", "1e999"), { freq: 5 }),
  scopes: fc.constantFrom<ApiContext["scopes"]>(undefined, "all", null, new Set(["events"] as const), new Set(["predict"] as const)),
});

beforeAll(() => {
  // The error formatter logs internal errors; both handlers see the same ones.
  vi.spyOn(console, "error").mockImplementation(() => {});
});
afterAll(() => {
  vi.restoreAllMocks();
});

it("answers plain mutation calls exactly as tRPC's Fetch handler does", async () => {
  let direct = 0;
  await fc.assert(
    fc.asyncProperty(call, async ({ paths, batch, slash, inputs, odd, scopes }) => {
      const used = batch ? paths : paths.slice(0, 1);
      const url = `/trpc/${used.join(",")}${slash ? "/" : ""}${batch ? "?batch=1" : ""}`;
      const body = odd ?? (batch ? JSON.stringify(Object.fromEntries(used.map((_, i) => [i, inputs[i]]))) : inputs[0] === undefined ? "" : JSON.stringify(inputs[0]));
      const headers = { "content-type": "application/json" };
      const req = { method: "POST", url, headers } as unknown as IncomingMessage;
      const ours = await answerMutations(appRouter, "/trpc", req, body, () => context(scopes));
      if (ours === null) {
        // Left to tRPC only when the call is not a plain mutation call with a JSON body.
        let json = true;
        try {
          JSON.parse(body || "0");
        } catch {
          json = false;
        }
        expect(used.every((p) => MUTATIONS.includes(p)) && json && !(batch && odd !== null && odd !== "")).toBe(false);
        return;
      }
      direct++;
      const theirs = await fetchRequestHandler({
        endpoint: "/trpc",
        req: new Request(`http://localhost${url}`, { method: "POST", headers, body }),
        router: appRouter,
        createContext: () => context(scopes),
      });
      const answered: Record<string, string> = {};
      theirs.headers.forEach((value, name) => (answered[name] = value));
      expect({ status: ours.status, headers: ours.headers, body: ours.body }).toEqual({ status: theirs.status, headers: answered, body: await theirs.text() });
    }),
    { numRuns: 400, seed: 20261129 },
  );
  expect(direct).toBeGreaterThan(150);
});

it("leaves every other call to tRPC", async () => {
  const ask = (method: string, url: string, headers: Record<string, string> = {}) =>
    answerMutations(appRouter, "/trpc", { method, url, headers: { "content-type": "application/json", ...headers } } as unknown as IncomingMessage, "{}", () => context(undefined));
  expect(await ask("POST", "/trpc/predict")).not.toBeNull();
  expect(await ask("POST", "/trpc/predict,batchPredict?batch=1", { "content-type": "Application/JSON; charset=utf-8" })).not.toBeNull();
  for (const [method, url, headers] of [
    ["GET", "/trpc/predict"],
    ["POST", "/trpc/health"],
    ["POST", "/trpc/predict?batch=1&input=x"],
    ["POST", "/trpc/pre%64ict"],
    ["POST", "/trpc/predict", { "trpc-accept": "application/jsonl" }],
    ["POST", "/trpc/predict", { accept: "application/jsonl" }],
    ["POST", "/trpc/predict", { "content-type": "application/json-seq" }],
    ["POST", "/other/predict"],
    ["POST", "/trpc/constructor"],
    ["POST", "/trpc/__proto__"],
    ["POST", "/trpc/predict,toString?batch=1"],
  ] as [string, string, Record<string, string>?][]) {
    expect(await ask(method, url, headers), `${method} ${url}`).toBeNull();
  }
});
