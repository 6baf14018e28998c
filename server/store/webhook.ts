// The workflow webhook call and its retry schedule, shared by both outboxes (the embedded file
// outbox and the PostgreSQL one): same request, same timeout, same backoff.
import type { WorkflowPayload } from "../contract/storage.ts";

/**
 * One POST of an entry with `Idempotency-Key: <prediction_id>`: resolves with "" when delivered,
 * else what went wrong. The call is abandoned at `timeoutMs` whatever the server does, so a
 * hanging webhook holds a delivery slot for that long at most.
 */
export async function postWorkflow(url: string, payload: WorkflowPayload, headers: Record<string, string> | undefined, timeoutMs: number): Promise<string> {
  const controller = new AbortController();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<string>((resolve) => {
    timer = setTimeout(() => {
      controller.abort();
      resolve(`timed out after ${timeoutMs} ms`);
    }, timeoutMs);
  });
  const call = (async () => {
    const res = await fetch(url, {
      method: "POST",
      headers: { ...headers, "content-type": "application/json", "idempotency-key": payload.prediction_id },
      body: JSON.stringify(payload),
      signal: controller.signal,
    });
    await res.arrayBuffer().catch(() => undefined);
    return res.ok ? "" : `HTTP ${res.status}`;
  })().catch((err: Error) => (controller.signal.aborted ? `timed out after ${timeoutMs} ms` : err.message || String(err)));
  try {
    return await Promise.race([call, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** How long after its `attempts`-th failure an entry is tried again: exponential, capped, with jitter. */
export function retryDelay(attempts: number, baseMs: number, maxMs: number): number {
  return Math.min(maxMs, baseMs * 2 ** (attempts - 1)) * (0.5 + Math.random() * 0.5);
}
