// What a stranger or a careless client can send, and what the server does about it: no 5xx, no
// unbounded buffering, nothing counted that the service did not do.
import { request } from "node:http";
import { connect } from "node:net";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { WebSocket, WebSocketServer } from "ws";
import { guardSockets } from "../server/http/websocket.ts";
import type { RunningServer } from "../server/http/server.ts";
import { post, SEED_REQUEST, testServer } from "./helpers/server.ts";

let server: RunningServer;

beforeAll(async () => {
  server = await testServer(["--max-body-bytes", "200000"]);
});

afterAll(async () => {
  await server.close();
});

const trpcPost = (path: string, body: unknown) => post(`${server.url}/trpc/${path}`, body);
const pathsOf = (body: { error: { issues: { path: (string | number)[] }[] } }) => body.error.issues.map((i) => i.path.join("."));

describe("input the math cannot take", () => {
  it("refuses a confidence level whose alpha rounds to 0 or 1 (400, not 500)", async () => {
    for (const confidence_level of [1e-17, 1 - 1e-17]) {
      const rest = await post(`${server.url}/predict`, { ...SEED_REQUEST, options: { confidence_level } });
      expect(rest.status).toBe(400);
      expect(new Set(pathsOf(rest.body))).toEqual(new Set(["options.confidence_level"]));
      expect((await trpcPost("predict", { ...SEED_REQUEST, options: { confidence_level } })).status).toBe(400);
    }
  });
});

describe("unknown fields", () => {
  it("refuses prototype names as any other unknown key", async () => {
    for (const key of ["constructor", "toString", "hasOwnProperty"]) {
      const r = await post(`${server.url}/predict`, { ...SEED_REQUEST, [key]: 1 });
      expect(r.status, key).toBe(400);
      expect(pathsOf(r.body), key).toEqual([key]);
    }
    const proto = await post(`${server.url}/predict`, `{"customer_id":"C1","__proto__":{"tenure":5}}`);
    expect(proto.status).toBe(400);
    expect(pathsOf(proto.body)).toEqual(["__proto__"]);
  });
});

describe("error bodies", () => {
  it("list at most 100 issues and say how many more, so a bad batch gets a small answer", async () => {
    const customers = Array.from({ length: 300 }, (_, i) => ({ customer_id: `c${i}`, bogus: 1 }));
    const r = await post(`${server.url}/batch-predict`, { customers });
    expect(r.status).toBe(400);
    expect(r.body.error.issues).toHaveLength(100);
    expect(r.body.error.message).toMatch(/300 problems, the first 100 listed \(200 more\)/);
  });
});

describe("subscriptions", () => {
  it("are not served as server-sent events (only over the WebSocket, where they are bounded)", async () => {
    const res = await fetch(`${server.url}/trpc/monitoring.metrics?input=${encodeURIComponent("{}")}`);
    expect(res.status).toBe(405);
    expect((await res.json()).error.message).toMatch(/WebSocket/);
  });

  it("are capped per connection", async () => {
    const ws = new WebSocket(`${server.url.replace("http", "ws")}/trpc`);
    await new Promise((r) => ws.once("open", r));
    const closed = new Promise<number>((resolve) => ws.once("close", (code) => resolve(code)));
    for (let id = 1; id <= 101; id++) ws.send(JSON.stringify({ id, method: "subscription", params: { path: "monitoring.alerts", input: {} } }));
    expect(await closed).toBe(1008);
  });
});

describe("the WebSocket guard", () => {
  it("ends a connection that queues more than its bound, and one that answers no ping however chatty", async () => {
    const wss = new WebSocketServer({ port: 0, host: "127.0.0.1" });
    await new Promise((r) => wss.once("listening", r));
    const stop = guardSockets(wss, { maxSubscriptions: 10, maxBufferedBytes: 256 * 1024, pingMs: 150 });
    const port = (wss.address() as { port: number }).port;
    try {
      // A reader that does not read: the server keeps sending; its queue passes the bound.
      const peerClosed = new Promise<void>((resolve) => {
        wss.once("connection", (peer) => {
          const big = Buffer.alloc(64 * 1024);
          const flood = setInterval(() => (peer.readyState === peer.OPEN ? peer.send(big) : clearInterval(flood)), 1);
          peer.once("close", () => resolve());
        });
      });
      const slow = new WebSocket(`ws://127.0.0.1:${port}`);
      await new Promise((r) => slow.once("open", r));
      (slow as unknown as { _socket: { pause(): void } })._socket.pause();
      const t0 = Date.now();
      await peerClosed; // the paused client itself cannot see it
      expect(Date.now() - t0).toBeLessThan(5000);
      slow.terminate();

      // Sends messages all the time, never answers a protocol ping.
      const mute = new WebSocket(`ws://127.0.0.1:${port}`, { autoPong: false });
      await new Promise((r) => mute.once("open", r));
      const chatter = setInterval(() => mute.readyState === mute.OPEN && mute.send("hello"), 20);
      await new Promise((r) => mute.once("close", r));
      clearInterval(chatter);
    } finally {
      stop();
      wss.close();
    }
  });
});

describe("bodies", () => {
  it("a chunked tRPC body over the limit is answered 413 and not read to the end", async () => {
    const url = new URL(`${server.url}/trpc/predict`);
    const result = await new Promise<{ status: number; sent: number }>((resolve, reject) => {
      const req = request({ host: url.hostname, port: url.port, path: url.pathname, method: "POST", headers: { "content-type": "application/json", "transfer-encoding": "chunked" } });
      let sent = 0;
      let status = 0;
      req.on("response", (res) => {
        status = res.statusCode ?? 0;
        res.resume();
      });
      req.on("error", () => resolve({ status, sent }));
      req.on("close", () => resolve({ status, sent }));
      const chunk = Buffer.alloc(64 * 1024, 32);
      const pump = () => {
        // 100 MB if the server read it all; it stops long before.
        while (sent < 100 * 1024 * 1024) {
          sent += chunk.length;
          if (!req.write(chunk)) return void req.once("drain", pump);
        }
        req.end();
      };
      req.write("{");
      pump();
      setTimeout(() => reject(new Error("the server read on")), 20_000).unref();
    });
    expect(result.status).toBe(413);
    expect(result.sent).toBeLessThan(50 * 1024 * 1024);
  });

  it("an upload the client aborts is neither service latency nor an internal error", async () => {
    const before = server.app.monitor.snapshot().latency.predict.since_start.count;
    const errors = vi.spyOn(console, "error");
    try {
      for (let i = 0; i < 5; i++) {
        await new Promise<void>((resolve) => {
          const socket = connect(server.port, "127.0.0.1", () => {
            socket.write("POST /predict HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 1000\r\n\r\n{\"customer_id\":");
            setTimeout(() => socket.destroy(), 30);
          });
          socket.on("close", () => resolve());
        });
      }
      await new Promise((r) => setTimeout(r, 100));
      expect(server.app.monitor.snapshot().latency.predict.since_start.count).toBe(before);
      expect(errors).not.toHaveBeenCalled();
      expect((await post(`${server.url}/predict`, SEED_REQUEST)).status).toBe(200);
    } finally {
      errors.mockRestore();
    }
  });
});
