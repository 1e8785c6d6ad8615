// Input bindings through the Dapr JavaScript SDK (@dapr/dapr 3.18.0,
// HTTP): server.binding.receive answers statecar's OPTIONS question and
// takes the POSTed events of a bindings.cron component; a second cron
// binding the app does not take sends nothing; /v1.0/metadata lists both
// with the INPUT_BINDING capability.
"use strict";

const { test, before, after } = require("node:test");
const assert = require("node:assert/strict");
const { DaprServer, CommunicationProtocolEnum, LogLevel } = require("@dapr/dapr");
const { start, freePort } = require("../lib/sidecar");

let sc;
let server;
const ticks = [];
const posts = [];
let onTick = null;

before(async () => {
  const appPort = await freePort();
  // With --app-port, /v1.0/healthz stays 500 until the app listens: wait
  // for the outbound health only, then start the app server.
  sc = await start({
    appId: "jscron",
    components: [
      { name: "tick", type: "bindings.cron", meta: { schedule: "@every 1s" } },
      { name: "untaken", type: "bindings.cron", meta: { schedule: "@every 1s" } },
    ],
    args: ["--app-port", String(appPort)],
    readyPath: "/v1.0/healthz/outbound",
  });
  const logger = { level: LogLevel.Error };
  server = new DaprServer({
    serverHost: "127.0.0.1",
    serverPort: String(appPort),
    communicationProtocol: CommunicationProtocolEnum.HTTP,
    logger,
    clientOptions: { daprHost: "127.0.0.1", daprPort: String(sc.httpPort), communicationProtocol: CommunicationProtocolEnum.HTTP, logger },
  });
  server.daprServer.getServer().use((req, _res, next) => {
    if (req.method === "POST") posts.push({ path: req.path, headers: req.headers });
    next();
  });
  await server.binding.receive("tick", async (data) => {
    ticks.push(data);
    if (onTick) onTick();
  });
  await server.start();
});

after(async () => {
  if (sc) {
    const code = await sc.stop();
    assert.equal(code, 0, `statecar exit code after SIGTERM; output:\n${sc.output()}`);
  }
  if (server) {
    await server.stop();
    await server.client.stop();
  }
});

test("input binding: cron ticks reach server.binding.receive", async () => {
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${ticks.length} ticks in 15 s; statecar:\n${sc.output()}`)), 15000);
    onTick = () => {
      if (ticks.length >= 2) {
        clearTimeout(timer);
        resolve();
      }
    };
    onTick();
  });
  const tickPosts = posts.filter((p) => p.path === "/tick");
  assert.ok(tickPosts.length >= 2);
  for (const p of tickPosts) {
    assert.equal(p.headers["content-type"], "application/json");
    assert.match(p.headers["readtimeutc"], / \+0000 UTC$/);
    assert.ok(p.headers["timezone"]);
  }
  // The app answered OPTIONS /untaken with 404 (no such route): not read.
  assert.equal(posts.filter((p) => p.path === "/untaken").length, 0);
});

test("input binding: /v1.0/metadata lists the cron bindings as INPUT_BINDING", async () => {
  const res = await fetch(`http://127.0.0.1:${sc.httpPort}/v1.0/metadata`);
  const md = await res.json();
  const byName = Object.fromEntries(md.components.map((c) => [c.name, c]));
  assert.deepEqual(byName.tick.capabilities, ["INPUT_BINDING"]);
  assert.deepEqual(byName.untaken.capabilities, ["INPUT_BINDING"]);
  assert.equal(byName.tick.type, "bindings.cron");
});
