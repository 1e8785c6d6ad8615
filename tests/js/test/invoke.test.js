// Service invocation through the Dapr JavaScript SDK (@dapr/dapr 3.18.0,
// HTTP): client.invoker.invoke calls /v1.0/invoke/{appId}/method/{method}
// on statecar, which calls the app's server.invoker.listen handler of the
// same app id; the handler sees the body, query and headers, and its JSON
// answer comes back to the client. A call to another app id fails with
// daprd's ERR_DIRECT_INVOKE.
"use strict";

const { test, before, after } = require("node:test");
const assert = require("node:assert/strict");
const { DaprServer, DaprClient, CommunicationProtocolEnum, HttpMethod, LogLevel } = require("@dapr/dapr");
const { start, freePort } = require("../lib/sidecar");

let sc;
let server;
let client;
const seen = [];

before(async () => {
  const appPort = await freePort();
  sc = await start({ appId: "jsinvoke", args: ["--app-port", String(appPort)], readyPath: "/v1.0/healthz/outbound" });
  const logger = { level: LogLevel.Error };
  const clientOptions = { daprHost: "127.0.0.1", daprPort: String(sc.httpPort), communicationProtocol: CommunicationProtocolEnum.HTTP, logger };
  server = new DaprServer({
    serverHost: "127.0.0.1",
    serverPort: String(appPort),
    communicationProtocol: CommunicationProtocolEnum.HTTP,
    logger,
    clientOptions,
  });
  await server.invoker.listen(
    "orders",
    async (data) => {
      seen.push(data);
      return { received: JSON.parse(data.body), query: data.query, custom: data.headers["x-custom"] };
    },
    { method: HttpMethod.POST },
  );
  await server.invoker.listen("hello", async () => ({ hello: "world" }), { method: HttpMethod.GET });
  await server.start();
  client = new DaprClient(clientOptions);
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

test("invoke: POST with a JSON body and headers reaches the app and its answer comes back", async () => {
  const out = await client.invoker.invoke("jsinvoke", "orders?id=7", HttpMethod.POST, { item: "book", qty: 2 }, { headers: { "X-Custom": "c1" } });
  assert.deepEqual(out, { received: { item: "book", qty: 2 }, query: "/orders?id=7", custom: "c1" });
  assert.equal(seen.length, 1);
  assert.equal(seen[0].metadata.contentType, "application/json");
});

test("invoke: GET without a body", async () => {
  assert.deepEqual(await client.invoker.invoke("jsinvoke", "hello", HttpMethod.GET), { hello: "world" });
});

test("invoke: an unknown method is the app's 404, another app id daprd's error", async () => {
  await assert.rejects(client.invoker.invoke("jsinvoke", "missing", HttpMethod.GET), (err) => {
    assert.match(err.message, /"status":404/);
    return true;
  });
  await assert.rejects(client.invoker.invoke("nobody", "hello", HttpMethod.GET), (err) => {
    assert.match(err.message, /ERR_DIRECT_INVOKE/);
    assert.match(err.message, /couldn't find service: nobody/);
    assert.match(err.message, /"status":500/);
    return true;
  });
});
