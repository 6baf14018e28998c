// What tRPC's HTTP adapter is not let to do: serve subscriptions as server-sent events (a reader
// that never reads would have them buffered without bound; subscriptions are served over the
// WebSocket, where the guard bounds them), take a body that is not JSON (tRPC would take a form's
// multipart body; a form or a text/plain fetch from any page must not reach a mutation), and go on
// reading a body past the limit (trpc-http.ts answers 413; the socket is closed once it has).
import type { IncomingMessage, ServerResponse } from "node:http";
import { send } from "../api/rest.ts";

/** The procedures that are subscriptions: over WebSocket only. */
const SUBSCRIPTIONS = /(^|,)monitoring\.(metrics|alerts)(,|$)/;

function refuse(res: ServerResponse, status: number, code: string, message: string): false {
  res.setHeader("connection", "close");
  send(res, status, { error: { code, message, issues: [] } });
  return false;
}

/** Whether the request may go on to tRPC; otherwise it has been answered. */
export function admitTrpc(req: IncomingMessage, res: ServerResponse, limit: number): boolean {
  const path = (req.url ?? "").slice("/trpc/".length).split("?")[0];
  let procedures = path;
  try {
    procedures = decodeURIComponent(path);
  } catch {
    // a malformed escape names no procedure of ours; tRPC answers it
  }
  if (SUBSCRIPTIONS.test(procedures)) {
    return refuse(res, 405, "METHOD_NOT_SUPPORTED", "subscriptions are served over WebSocket at /trpc (tRPC's wsLink), not over HTTP");
  }
  const type = req.headers["content-type"] ?? "";
  if (req.method === "POST" && !/^application\/json\b/i.test(type)) {
    return refuse(res, 415, "UNSUPPORTED_MEDIA_TYPE", `expected content-type application/json, got ${JSON.stringify(type)}`);
  }
  const tooLarge = `request body over the limit of ${limit} bytes`;
  if (Number(req.headers["content-length"] ?? 0) > limit) return refuse(res, 413, "PAYLOAD_TOO_LARGE", tooLarge);
  // A body past the limit is answered 413 without being read whole: once the answer is out, a
  // request not read whole closes its connection rather than be read to its end.
  res.once("finish", () => {
    if (!req.complete) req.socket.destroySoon();
  });
  return true;
}
