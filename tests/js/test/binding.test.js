// Output bindings through the Dapr JavaScript SDK (@dapr/dapr 3.18.0,
// HTTP): client.binding.send over bindings.redis on a real redis-server:
// create (the data JSON-encoded, as daprd passes it), get, increment,
// delete, and daprd's error for an unsupported operation.
"use strict";

const { test, before, after } = require("node:test");
const assert = require("node:assert/strict");
const { DaprClient, CommunicationProtocolEnum, LogLevel } = require("@dapr/dapr");
const { start } = require("../lib/sidecar");
const { startRedis } = require("../lib/redis");

let redis;
let sc;
let client;

before(async () => {
  redis = await startRedis();
  sc = await start({ components: [{ name: "redisbinding", type: "bindings.redis", meta: { redisHost: redis.addr } }] });
  client = new DaprClient({
    daprHost: "127.0.0.1",
    daprPort: String(sc.httpPort),
    communicationProtocol: CommunicationProtocolEnum.HTTP,
    logger: { level: LogLevel.Error },
  });
});

after(async () => {
  if (client) await client.stop();
  if (sc) {
    const code = await sc.stop();
    assert.equal(code, 0, `statecar exit code after SIGTERM; output:\n${sc.output()}`);
  }
  if (redis) redis.stop();
});

test("binding: create and get a JSON document", async () => {
  await client.binding.send("redisbinding", "create", { order: 7, items: ["a", "b"] }, { key: "order-7" });
  // daprd re-encodes data with encoding/json: keys sorted.
  assert.equal(await redis.get("order-7"), '{"items":["a","b"],"order":7}');
  assert.deepEqual(await client.binding.send("redisbinding", "get", undefined, { key: "order-7" }), { items: ["a", "b"], order: 7 });
  await client.binding.send("redisbinding", "create", "plain text", { key: "text" });
  assert.equal(await redis.get("text"), '"plain text"');
});

test("binding: increment and delete", async () => {
  await client.binding.send("redisbinding", "increment", undefined, { key: "hits" });
  await client.binding.send("redisbinding", "increment", undefined, { key: "hits", ttlInSeconds: "60" });
  assert.equal(await redis.get("hits"), "2");
  await client.binding.send("redisbinding", "delete", undefined, { key: "hits" });
  assert.equal(await redis.get("hits"), null);
});

test("binding: daprd's error for an unsupported operation reaches the SDK", async () => {
  await assert.rejects(client.binding.send("redisbinding", "list", undefined, { key: "k" }), (e) => {
    assert.match(String(e.message), /ERR_INVOKE_OUTPUT_BINDING/);
    assert.match(String(e.message), /does not support operation list/);
    return true;
  });
});
