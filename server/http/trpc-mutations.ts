// The common tRPC call, mutations POSTed as JSON, answered as tRPC's Fetch handler answers it
// (the same status, headers and body: test/trpc-mutations.test.ts sends the same requests to both)
// through tRPC's own procedure call and error shape, without the Fetch `Request` and `Response`
// around them. Those, their web streams and the abort signals tRPC makes for each call cost the
// server nearly a REST call's whole work: at 500 `predict` calls/s, 1.26-1.36 ms of server CPU a
// call through the Fetch handler, 0.84-0.92 ms answered here, 0.67-0.81 ms over REST. Anything
// else (queries, a streaming accept header, a path or query string other than the plain ones, a
// body that is not JSON) is left to tRPC's handler. Not repeated: tRPC's refusal of a mutation
// whose result holds promises or async iterables (a streamed answer on a non-streaming call);
// this router's mutations return plain data.
import type { IncomingMessage } from "node:http";
import { callTRPCProcedure, getErrorShape, getTRPCErrorFromUnknown, transformTRPCResponse, type AnyRouter, type TRPCError } from "@trpc/server";
import { getHTTPStatusCode } from "@trpc/server/http";

export interface Answer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** Procedure paths after the endpoint, then an optional `?batch=1`: nothing to decode. */
const PLAIN = /^\/([A-Za-z0-9_.,]+)\/?(\?batch=1)?$/;

/** The answer to the call, or null when it is not a plain mutation call (tRPC's handler answers it). */
export async function answerMutations(router: AnyRouter, endpoint: string, req: IncomingMessage, body: string, createContext: () => object): Promise<Answer | null> {
  const url = req.url ?? "";
  if (req.method !== "POST" || !url.startsWith(endpoint)) return null;
  // tRPC streams the answer (jsonl) when asked to, and reads other media types its own way: left to it.
  if (req.headers["trpc-accept"] !== undefined || /application\/jsonl/i.test(req.headers.accept ?? "")) return null;
  if ((req.headers["content-type"] ?? "").split(";", 1)[0].trim().toLowerCase() !== "application/json") return null;
  const m = PLAIN.exec(url.slice(endpoint.length));
  if (!m) return null;
  const batch = m[2] !== undefined;
  const paths = batch ? m[1].split(",") : [m[1]];
  const def = router._def;
  if (!paths.every((p) => Object.hasOwn(def.procedures, p) && def.procedures[p]._def?.type === "mutation")) return null;
  let inputs: unknown;
  try {
    inputs = body === "" ? undefined : JSON.parse(body);
  } catch {
    return null;
  }
  if (batch && inputs !== undefined && (typeof inputs !== "object" || inputs === null || Array.isArray(inputs))) return null;
  const config = def._config;
  const ctx = createContext();
  const errors: (TRPCError | undefined)[] = [];
  const json = await Promise.all(
    paths.map(async (path, i) => {
      const raw = batch ? (inputs as Record<number, unknown> | undefined)?.[i] : inputs;
      const input = raw === undefined ? undefined : config.transformer.input.deserialize(raw);
      try {
        const data = await callTRPCProcedure({ router, path, getRawInput: async () => input, ctx, type: "mutation", signal: undefined, batchIndex: i });
        return { result: { data } };
      } catch (cause) {
        const error = (errors[i] = getTRPCErrorFromUnknown(cause));
        return { error: getErrorShape({ config, ctx, error, input, path, type: "mutation" }) };
      }
    }),
  );
  const untransformed = batch ? json : json[0];
  const text = JSON.stringify(transformTRPCResponse(config, untransformed as never));
  return {
    status: getHTTPStatusCode(untransformed as never, errors as TRPCError[]),
    headers: { vary: "trpc-accept, accept", "content-type": "application/json" },
    body: text,
  };
}
