// Starts the statecar binary (env STATECAR_BIN) on free loopback ports with
// a temporary data dir and resources dir, waits for GET /v1.0/healthz → 204
// (polled every 10 ms, up to 30 s) and stops it again. Used by every test
// file of this folder; one sidecar per file.
"use strict";

const { spawn } = require("node:child_process");
const fs = require("node:fs");
const net = require("node:net");
const os = require("node:os");
const path = require("node:path");
const http = require("node:http");

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

function status(port, urlPath) {
  return new Promise((resolve) => {
    const req = http.get({ host: "127.0.0.1", port, path: urlPath, timeout: 1000 }, (res) => {
      res.resume();
      resolve(res.statusCode);
    });
    req.on("error", () => resolve(0));
    req.on("timeout", () => {
      req.destroy();
      resolve(0);
    });
  });
}

// componentYAML mirrors internal/testutil.ComponentYAML.
function componentYAML(name, type, meta = {}) {
  let s = `apiVersion: dapr.io/v1alpha1\nkind: Component\nmetadata:\n  name: ${JSON.stringify(name)}\nspec:\n  type: ${type}\n  version: v1\n`;
  const names = Object.keys(meta).sort();
  if (names.length === 0) return s + "  metadata: []\n";
  s += "  metadata:\n";
  for (const n of names) s += `  - name: ${JSON.stringify(n)}\n    value: ${JSON.stringify(String(meta[n]))}\n`;
  return s;
}

// start launches a sidecar. components: [{name, type, meta}]; env: extra
// environment variables of the process; args: extra command-line arguments
// (e.g. ["--app-port", "3001"]); readyPath: the endpoint polled for 204
// before start resolves (with --app-port, /v1.0/healthz waits for the app,
// so a test that starts its app after the sidecar polls
// /v1.0/healthz/outbound instead).
async function start({ appId = "jsapp", components = [], env = {}, args: extraArgs = [], readyPath = "/v1.0/healthz" } = {}) {
  const bin = process.env.STATECAR_BIN;
  if (!bin) throw new Error("STATECAR_BIN is not set (run tests/js/run.sh)");
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "statecar-js-"));
  const resources = path.join(root, "resources");
  fs.mkdirSync(resources);
  for (const c of components) {
    fs.writeFileSync(path.join(resources, `${c.name}.yaml`), componentYAML(c.name, c.type, c.meta));
  }
  const [httpPort, grpcPort, metricsPort] = [await freePort(), await freePort(), await freePort()];
  const args = [
    "--app-id", appId,
    "--dapr-http-port", String(httpPort),
    "--dapr-grpc-port", String(grpcPort),
    "--metrics-port", String(metricsPort),
    "--dapr-listen-addresses", "127.0.0.1",
    "--metrics-listen-address", "127.0.0.1",
    "--data-dir", path.join(root, "data"),
    "--resources-path", resources,
    ...extraArgs,
  ];
  const child = spawn(bin, args, { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, ...env } });
  let output = "";
  child.stdout.on("data", (d) => (output += d));
  child.stderr.on("data", (d) => (output += d));
  let exited = null;
  const exitPromise = new Promise((resolve) => {
    child.on("exit", (code, signal) => {
      exited = { code, signal };
      resolve(exited);
    });
    child.on("error", (err) => {
      exited = { code: -1, error: String(err) };
      resolve(exited);
    });
  });
  const deadline = Date.now() + 30000;
  for (;;) {
    if (exited) throw new Error(`statecar exited (${JSON.stringify(exited)}) before ready:\n${output}`);
    if ((await status(httpPort, readyPath)) === 204) break;
    if (Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error(`statecar not ready after 30s:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 10));
  }
  return {
    httpPort,
    grpcPort,
    appId,
    output: () => output,
    // stop sends SIGTERM and resolves with the exit code.
    async stop() {
      if (!exited) child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 20000);
      const r = await exitPromise;
      clearTimeout(timer);
      fs.rmSync(root, { recursive: true, force: true });
      return r.code;
    },
  };
}

module.exports = { start, freePort, componentYAML };
