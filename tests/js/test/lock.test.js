// The Distributed Lock API through the Dapr JavaScript SDK (@dapr/dapr
// 3.18.0, HTTP): client.lock.lock and unlock over lock.redis on a real
// redis-server, including the numeric unlock status the SDK maps, and the
// SDK's view of daprd's errors.
"use strict";

const { test, before, after } = require("node:test");
const assert = require("node:assert/strict");
const { DaprClient, CommunicationProtocolEnum, LogLevel } = require("@dapr/dapr");
const { LockStatus } = require("@dapr/dapr/types/lock/UnlockResponse");
const { start } = require("../lib/sidecar");
const { startRedis } = require("../lib/redis");

let redis;
let sc;
let client;

before(async () => {
  redis = await startRedis();
  sc = await start({ components: [{ name: "redislock", type: "lock.redis", meta: { redisHost: redis.addr } }] });
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

test("lock: one owner at a time, unlock outcomes", async () => {
  assert.deepEqual(await client.lock.lock("redislock", "job-7", "worker-a", 30), { success: true });
  assert.equal(await redis.get("lock||jsapp||job-7"), "worker-a");
  assert.deepEqual(await client.lock.lock("redislock", "job-7", "worker-b", 30), { success: false });
  assert.deepEqual(await client.lock.unlock("redislock", "job-7", "worker-b"), { status: LockStatus.LockBelongsToOthers });
  assert.deepEqual(await client.lock.unlock("redislock", "job-7", "worker-a"), { status: LockStatus.Success });
  assert.equal(await redis.get("lock||jsapp||job-7"), null);
  assert.deepEqual(await client.lock.unlock("redislock", "job-7", "worker-a"), { status: LockStatus.LockDoesNotExist });
  assert.deepEqual(await client.lock.lock("redislock", "job-7", "worker-b", 30), { success: true });
});

test("lock: a lock lapses after its expiry", async () => {
  assert.deepEqual(await client.lock.lock("redislock", "short", "a", 1), { success: true });
  const deadline = Date.now() + 10000;
  for (;;) {
    const r = await client.lock.lock("redislock", "short", "b", 30);
    if (r.success) break;
    assert.ok(Date.now() < deadline, "the 1-second lock never lapsed");
    await new Promise((res) => setTimeout(res, 100));
  }
});

test("lock: daprd's errors reach the SDK", async () => {
  await assert.rejects(client.lock.lock("redislock", "job-8", "worker-a", 0), (e) => {
    assert.match(String(e.message), /ExpiryInSeconds is not positive in lock store redislock/);
    return true;
  });
  await assert.rejects(client.lock.unlock("nolock", "job-8", "worker-a"), (e) => {
    assert.match(String(e.message), /ERR_LOCK_STORE_NOT_FOUND/);
    return true;
  });
});
