// The tRPC instance: context, and an error format that lists request issues and never carries
// a stack trace.
import { initTRPC, TRPCError } from "@trpc/server";
import { ZodError } from "zod";
import { RequestError } from "../contract/errors.ts";
import type { MonitoringFeed } from "../contract/monitoring.ts";
import type { ChurnService } from "../contract/service.ts";
import { listed, zodIssues } from "./errors.ts";
import { procedureScope, refusal, type Grant } from "./scopes.ts";

/** What the procedures call: contract interfaces only, so the router's type needs no server code. */
export interface ApiContext {
  service: ChurnService;
  monitoring: MonitoringFeed;
  observeLatency(operation: string, ms: number): void;
  /** The caller's scopes, checked against each procedure's; the server always sets them. Absent only for in-process callers (`createCaller`), which are trusted. */
  scopes?: Grant;
}

const t = initTRPC.context<ApiContext>().create({
  isDev: false,
  errorFormatter({ shape, error }) {
    const cause = error.cause;
    const issues = cause instanceof RequestError ? cause.issues : cause instanceof ZodError ? zodIssues(cause) : [];
    const internal = error.code === "INTERNAL_SERVER_ERROR";
    if (internal) console.error("internal error:", cause ?? error);
    const shown = listed(internal ? "internal error" : shape.message, issues);
    return {
      message: shown.message,
      code: shape.code,
      data: { code: shape.data.code, httpStatus: shape.data.httpStatus, path: shape.data.path, issues: shown.issues },
    };
  },
});

export const router = t.router;
/** Every procedure checks the caller's scopes first; its server-side latency goes to the monitor under its path. */
export const procedure = t.procedure.use(async ({ ctx, path, type, next }) => {
  const refused = ctx.scopes === undefined ? null : refusal(ctx.scopes, procedureScope(path), path);
  if (refused) throw new TRPCError({ code: refused.code, message: refused.message });
  if (type === "subscription") return next();
  const t0 = performance.now();
  const result = await next();
  ctx.observeLatency(path, performance.now() - t0);
  return result;
});
