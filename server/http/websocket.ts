// What the WebSocket endpoint bounds per connection, so that no client can make the server hold
// memory or work without limit: subscriptions per connection, bytes queued for a reader that does
// not read, and liveness by protocol pings (a client that sends application messages but never
// answers a ping is still closed).
import type { WebSocket, WebSocketServer } from "ws";

export interface SocketLimits {
  /** Subscriptions one connection may hold at once. */
  maxSubscriptions: number;
  /** Bytes queued for a slow reader before its connection is closed. */
  maxBufferedBytes: number;
  /** Interval of protocol pings; a connection that has not answered the last one by the next is ended. */
  pingMs: number;
}

export const DEFAULT_SOCKET_LIMITS: SocketLimits = { maxSubscriptions: 100, maxBufferedBytes: 4 * 1024 * 1024, pingMs: 30_000 };

/** tRPC's messages that start and stop subscriptions (one message or a batch of them). */
function subscriptionDelta(data: unknown, ids: Set<string | number>): void {
  let messages: unknown;
  try {
    messages = JSON.parse(String(data));
  } catch {
    return; // tRPC answers a malformed message itself
  }
  for (const m of Array.isArray(messages) ? messages : [messages]) {
    const msg = m as { id?: string | number; method?: string };
    if (msg?.id === undefined) continue;
    if (msg.method === "subscription") ids.add(msg.id);
    else if (msg.method === "subscription.stop") ids.delete(msg.id);
  }
}

/** Applies `limits` to every connection of `wss`; returns a function that stops the checks. */
export function guardSockets(wss: WebSocketServer, limits: SocketLimits): () => void {
  const alive = new WeakMap<WebSocket, boolean>();
  wss.on("connection", (ws: WebSocket) => {
    alive.set(ws, true);
    ws.on("pong", () => alive.set(ws, true));
    const subscriptions = new Set<string | number>();
    // Registered before tRPC's own handler (connection listeners run in order), so an excess
    // subscription is refused before it starts.
    ws.on("message", (data) => {
      subscriptionDelta(data, subscriptions);
      if (subscriptions.size > limits.maxSubscriptions) ws.close(1008, `at most ${limits.maxSubscriptions} subscriptions per connection`);
    });
  });
  const timer = setInterval(() => {
    for (const ws of wss.clients) {
      if (!alive.get(ws)) {
        ws.terminate();
        continue;
      }
      alive.set(ws, false);
      ws.ping();
    }
  }, limits.pingMs);
  // A reader that does not read: checked more often than pings, since memory grows meanwhile.
  const drain = setInterval(() => {
    for (const ws of wss.clients) if (ws.bufferedAmount > limits.maxBufferedBytes) ws.terminate();
  }, Math.min(1000, limits.pingMs));
  timer.unref?.();
  drain.unref?.();
  return () => {
    clearInterval(timer);
    clearInterval(drain);
  };
}
