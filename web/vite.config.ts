// Two pages (the chat app at /, the admin console at /admin/) over the TypeScript client in ../tsclient.
import { fileURLToPath } from "node:url";
import { defineConfig } from "vite";

const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));
// `npm run dev` proxies the server's routes to a local imserver (make run).
const server = process.env.IMSERVER_URL ?? "http://127.0.0.1:10002";

export default defineConfig({
  esbuild: { jsx: "automatic", jsxImportSource: "preact" },
  // tsclient loads the `ws` package only where there is no global WebSocket; browsers always have one.
  resolve: { alias: { ws: here("src/ws-stub.ts") } },
  build: {
    outDir: "dist",
    emptyOutDir: true,
    reportCompressedSize: false,
    rollupOptions: { input: { app: here("index.html"), admin: here("admin/index.html") } },
  },
  server: {
    proxy: {
      "/api": server,
      "/dev": server,
      "/metrics": server,
      "/docs": server,
      "/msg_gateway": { target: server.replace(/^http/, "ws"), ws: true },
    },
  },
});
