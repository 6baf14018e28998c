// One HTTP port for everything: tRPC over HTTP (/trpc), tRPC subscriptions over WebSocket
// (/trpc upgrade), and the REST routes. Runs on Node and Deno (node:http, ws).
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { createHTTPHandler } from "@trpc/server/adapters/standalone";
import { applyWSSHandler } from "@trpc/server/adapters/ws";
import { WebSocketServer } from "ws";
import { createApp, type App } from "../app.ts";
import type { Config } from "../config.ts";
import { appRouter } from "../api/router.ts";
import type { ApiContext } from "../api/trpc.ts";
import { handleRest } from "../api/rest.ts";

export interface RunningServer {
  url: string;
  port: number;
  app: App;
  server: Server;
  /** Stops accepting, lets in-flight requests finish, closes sockets and the app. */
  close(): Promise<void>;
}

export async function startServer(config: Config, app?: App): Promise<RunningServer> {
  const theApp = app ?? (await createApp(config));
  const context: ApiContext = { service: theApp.service, monitoring: theApp.monitor, observeLatency: (op, ms) => theApp.observeLatency(op, ms) };
  const createContext = () => context;
  const trpc = createHTTPHandler({ router: appRouter, createContext, basePath: "/trpc/", maxBodySize: config.maxBodyBytes });
  const server = createServer({ keepAlive: true }, (req, res) => {
    if (req.url?.startsWith("/trpc/")) trpc(req, res);
    else void handleRest(theApp, req, res);
  });
  const wss = new WebSocketServer({ noServer: true, maxPayload: config.maxBodyBytes });
  const wsHandler = applyWSSHandler({ wss, router: appRouter, createContext, keepAlive: { enabled: true, pingMs: 30_000, pongWaitMs: 5_000 } });
  server.on("upgrade", (req, socket, head) => {
    if (new URL(req.url ?? "/", "http://localhost").pathname !== "/trpc") {
      socket.end("HTTP/1.1 404 Not Found\r\n\r\n");
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => wss.emit("connection", ws, req));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(config.port, config.host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const host = config.host.includes(":") ? `[${config.host}]` : config.host;
  let closing: Promise<void> | null = null;
  return {
    url: `http://${host}:${port}`,
    port,
    app: theApp,
    server,
    close() {
      closing ??= (async () => {
        wsHandler.broadcastReconnectNotification();
        for (const client of wss.clients) client.close(1001, "server shutting down");
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        // Idle keep-alive sockets would hold close() open; busy ones finish their request first.
        server.closeIdleConnections?.();
        await closed;
        wss.close();
        await theApp.close();
      })();
      return closing;
    },
  };
}
