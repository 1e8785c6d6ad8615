// Starts a throwaway redis-server (no persistence) on a free loopback port
// for the tests of building blocks that need one (lock.redis), and runs
// single commands against it over raw RESP.
"use strict";

const { spawn } = require("node:child_process");
const fs = require("node:fs");
const net = require("node:net");
const os = require("node:os");
const path = require("node:path");
const { freePort } = require("./sidecar");

// command sends one command and resolves with the raw reply text.
function command(port, ...args) {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, "127.0.0.1");
    let out = "";
    sock.setTimeout(5000, () => sock.destroy(new Error("redis command timed out")));
    sock.on("connect", () => {
      let s = `*${args.length}\r\n`;
      for (const a of args) s += `$${Buffer.byteLength(a)}\r\n${a}\r\n`;
      sock.write(s);
    });
    sock.on("data", (d) => {
      out += d.toString();
      // One reply: a simple line, or a bulk string header plus its line.
      if (out.endsWith("\r\n") && (!out.startsWith("$") || out.startsWith("$-1") || out.split("\r\n").length >= 3)) {
        sock.end();
        resolve(out);
      }
    });
    sock.on("error", reject);
  });
}

// get returns the string value of key, or null when absent.
async function get(port, key) {
  const r = await command(port, "GET", key);
  if (r.startsWith("$-1")) return null;
  return r.split("\r\n")[1];
}

async function startRedis() {
  const port = await freePort();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "statecar-js-redis-"));
  const proc = spawn("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir], {
    stdio: "ignore",
  });
  let failed = null;
  proc.on("error", (e) => {
    failed = e;
  });
  const deadline = Date.now() + 10000;
  for (;;) {
    if (failed) throw new Error(`cannot start redis-server: ${failed.message}`);
    try {
      if ((await command(port, "PING")).startsWith("+PONG")) break;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) throw new Error("redis-server did not start within 10 s");
    await new Promise((r) => setTimeout(r, 20));
  }
  return {
    addr: `127.0.0.1:${port}`,
    get: (key) => get(port, key),
    stop: () => {
      proc.kill("SIGKILL");
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

module.exports = { startRedis };
