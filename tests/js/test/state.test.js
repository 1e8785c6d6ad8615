// The official Dapr JavaScript SDK (@dapr/dapr 3.18.0, HTTP protocol)
// against the statecar binary: state save/get/getBulk/delete/transaction/
// query, ETag conflicts, TTL metadata and the metadata API.
"use strict";

const { test, before, after } = require("node:test");
const assert = require("node:assert/strict");
const {
  DaprClient,
  CommunicationProtocolEnum,
  LogLevel,
  StateConcurrencyEnum,
} = require("@dapr/dapr");
const { start } = require("../lib/sidecar");

const STORE = "statestore"; // state.pebble
const MEM = "memstore"; // state.in-memory

let sc;
let client;

before(async () => {
  sc = await start({
    components: [
      { name: STORE, type: "state.pebble" },
      { name: MEM, type: "state.in-memory" },
    ],
  });
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
});

// sdkError unpacks the SDK's HTTP error (an Error whose message is JSON
// {error, error_msg, status}) into {status, body}.
function sdkError(e) {
  assert.ok(e instanceof Error, `expected an Error, got ${e}`);
  const outer = JSON.parse(e.message);
  return { status: outer.status, body: JSON.parse(outer.error_msg) };
}

async function etagOf(store, key) {
  const [item] = await client.state.getBulk(store, [key]);
  assert.equal(item.key, key);
  assert.equal(typeof item.etag, "string", `no etag for ${key}: ${JSON.stringify(item)}`);
  return item.etag;
}

async function eventually(fn, what) {
  const deadline = Date.now() + 20000;
  for (;;) {
    if (await fn()) return;
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

for (const store of [STORE, MEM]) {
  test(`${store}: save, get, getBulk, delete`, async () => {
    const res = await client.state.save(store, [
      { key: "js-k1", value: { hello: "world", n: 1 } },
      { key: "js-k2", value: "v2" },
    ]);
    assert.equal(res.error, undefined, `save failed: ${res.error}`);
    assert.deepEqual(await client.state.get(store, "js-k1"), { hello: "world", n: 1 });
    assert.equal(await client.state.get(store, "js-k2"), "v2");
    assert.equal(await client.state.get(store, "js-missing"), "", "a missing key reads as empty (204)");

    const bulk = await client.state.getBulk(store, ["js-k1", "js-missing", "js-k2"]);
    assert.equal(bulk.length, 3);
    assert.deepEqual(bulk[0].data, { hello: "world", n: 1 });
    assert.equal(typeof bulk[0].etag, "string");
    assert.deepEqual(bulk[1], { key: "js-missing" });
    assert.equal(bulk[2].data, "v2");

    const del = await client.state.delete(store, "js-k1");
    assert.equal(del.error, undefined, `delete failed: ${del.error}`);
    assert.equal(await client.state.get(store, "js-k1"), "");
  });

  test(`${store}: transaction upserts and deletes atomically`, async () => {
    await client.state.save(store, [{ key: "js-t0", value: 0 }]);
    await client.state.transaction(store, [
      { operation: "upsert", request: { key: "js-t1", value: { a: 1 } } },
      { operation: "upsert", request: { key: "js-t2", value: [1, 2] } },
      { operation: "delete", request: { key: "js-t0" } },
    ]);
    const got = await client.state.getBulk(store, ["js-t0", "js-t1", "js-t2"]);
    assert.deepEqual(got.map((i) => [i.key, i.data]), [
      ["js-t0", undefined],
      ["js-t1", { a: 1 }],
      ["js-t2", [1, 2]],
    ]);

    // A stale ETag fails the whole transaction: 500 ERR_STATE_TRANSACTION.
    const stale = await etagOf(store, "js-t1");
    await client.state.save(store, [{ key: "js-t1", value: { a: 2 } }]);
    await assert.rejects(
      client.state.transaction(store, [
        { operation: "upsert", request: { key: "js-t3", value: 3 } },
        { operation: "upsert", request: { key: "js-t1", value: { a: 3 }, etag: stale } },
      ]),
      (e) => {
        const { status, body } = sdkError(e);
        assert.equal(status, 500);
        assert.equal(body.errorCode, "ERR_STATE_TRANSACTION");
        assert.match(body.message, /^error while executing state transaction: possible etag mismatch/);
        return true;
      },
    );
    assert.equal(await client.state.get(store, "js-t3"), "", "a failed transaction wrote nothing");
    assert.deepEqual(await client.state.get(store, "js-t1"), { a: 2 });
  });

  test(`${store}: first-write and stale ETags are rejected with 409`, async () => {
    const fw = { concurrency: StateConcurrencyEnum.CONCURRENCY_FIRST_WRITE };
    let res = await client.state.save(store, [{ key: "js-fw", value: 1, options: fw }]);
    assert.equal(res.error, undefined, `first first-write save failed: ${res.error}`);
    res = await client.state.save(store, [{ key: "js-fw", value: 2, options: fw }]);
    let { status, body } = sdkError(res.error);
    assert.equal(status, 409);
    assert.equal(body.errorCode, "ERR_STATE_SAVE");
    assert.equal(
      body.message,
      `failed saving state in state store ${store}: possible etag mismatch. error from state store: item already exists and no etag was passed`,
    );

    const e1 = await etagOf(store, "js-fw");
    res = await client.state.save(store, [{ key: "js-fw", value: 3, etag: e1 }]);
    assert.equal(res.error, undefined, `save with the current etag failed: ${res.error}`);
    const e2 = await etagOf(store, "js-fw");
    assert.notEqual(e2, e1, "a write must produce a new ETag");

    res = await client.state.save(store, [{ key: "js-fw", value: 4, etag: e1 }]);
    ({ status, body } = sdkError(res.error));
    assert.equal(status, 409);
    assert.equal(body.errorCode, "ERR_STATE_SAVE");
    assert.equal(
      body.message,
      `failed saving state in state store ${store}: possible etag mismatch. error from state store: state etag not match for key=${sc.appId}||js-fw: current=${e2}, expect=${e1}`,
    );

    res = await client.state.delete(store, "js-fw", { etag: e1 });
    ({ status, body } = sdkError(res.error));
    assert.equal(status, 409);
    assert.equal(body.errorCode, "ERR_STATE_DELETE");
    assert.deepEqual(await client.state.get(store, "js-fw"), 3);

    res = await client.state.delete(store, "js-fw", { etag: e2 });
    assert.equal(res.error, undefined, `delete with the current etag failed: ${res.error}`);
    assert.equal(await client.state.get(store, "js-fw"), "");
  });

  test(`${store}: TTL metadata`, async () => {
    const before = Date.now();
    let res = await client.state.save(store, [{ key: "js-ttl", value: "t" }], { metadata: { ttlInSeconds: "100" } });
    assert.equal(res.error, undefined, `save with ttl failed: ${res.error}`);
    const after = Date.now();
    const [item] = await client.state.getBulk(store, ["js-ttl"]);
    const exp = item.metadata && item.metadata.ttlExpireTime;
    assert.match(exp ?? "", /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/, `ttlExpireTime: ${JSON.stringify(item)}`);
    const t = Date.parse(exp);
    assert.ok(t >= Math.floor(before / 1000) * 1000 + 99000 && t <= after + 101000, `ttlExpireTime ${exp} not ~100 s after the save`);

    res = await client.state.save(store, [{ key: "js-ttl1", value: "gone soon", metadata: { ttlInSeconds: "1" } }]);
    assert.equal(res.error, undefined, `save with item ttl failed: ${res.error}`);
    await eventually(async () => (await client.state.get(store, "js-ttl1")) === "", "js-ttl1 to expire");
    const [gone] = await client.state.getBulk(store, ["js-ttl1"]);
    assert.deepEqual(gone, { key: "js-ttl1" });
  });
}

test("unknown store: the SDK surfaces 400 ERR_STATE_STORE_NOT_FOUND", async () => {
  await assert.rejects(client.state.get("nostore", "k"), (e) => {
    const { status, body } = sdkError(e);
    assert.equal(status, 400);
    assert.equal(body.errorCode, "ERR_STATE_STORE_NOT_FOUND");
    assert.equal(body.message, "state store nostore is not found");
    return true;
  });
});

test("query on state.pebble (QUERY_API)", async () => {
  const items = [
    { key: "js-q1", value: { tag: "jsq", n: 1, city: "Seattle" } },
    { key: "js-q2", value: { tag: "jsq", n: 2, city: "Portland" } },
    { key: "js-q3", value: { tag: "jsq", n: 3, city: "Seattle" } },
    { key: "js-q4", value: { tag: "other", n: 4, city: "Seattle" } },
  ];
  const res = await client.state.save(STORE, items);
  assert.equal(res.error, undefined, `save failed: ${res.error}`);
  const page1 = await client.state.query(STORE, {
    filter: { EQ: { tag: "jsq" } },
    sort: [{ key: "n", order: "DESC" }],
    page: { limit: 2 },
  });
  assert.deepEqual(page1.results.map((r) => r.key), ["js-q3", "js-q2"]);
  assert.deepEqual(page1.results[0].data, { city: "Seattle", n: 3, tag: "jsq" });
  assert.equal(typeof page1.results[0].etag, "string");
  assert.equal(page1.token, "2");
  const page2 = await client.state.query(STORE, {
    filter: { EQ: { tag: "jsq" } },
    sort: [{ key: "n", order: "DESC" }],
    page: { limit: 2, token: page1.token },
  });
  assert.deepEqual(page2.results.map((r) => r.key), ["js-q1"]);
  const both = await client.state.query(STORE, {
    filter: { AND: [{ EQ: { city: "Seattle" } }, { IN: { tag: ["jsq", "other"] } }] },
    sort: [{ key: "n" }],
  });
  assert.deepEqual(both.results.map((r) => r.key), ["js-q1", "js-q3", "js-q4"]);
  const none = await client.state.query(STORE, { filter: { EQ: { tag: "nothing-matches" } } });
  assert.deepEqual(none.results, [], "204 (no results) reads as an empty result list");
});

test("metadata API lists the stores and their capabilities", async () => {
  const md = await client.metadata.get();
  assert.equal(md.id, sc.appId);
  const byName = Object.fromEntries((md.components || []).map((c) => [c.name, c]));
  assert.ok(byName[STORE], `no ${STORE} in ${JSON.stringify(md)}`);
  assert.equal(byName[STORE].type, "state.pebble");
  for (const cap of ["ETAG", "TRANSACTIONAL", "TTL", "QUERY_API", "ACTOR"]) {
    assert.ok(byName[STORE].capabilities.includes(cap), `${STORE} lacks ${cap}: ${byName[STORE].capabilities}`);
  }
  assert.ok(byName[MEM], `no ${MEM} in ${JSON.stringify(md)}`);
  assert.equal(byName[MEM].type, "state.in-memory");
  for (const cap of ["ETAG", "TRANSACTIONAL", "TTL", "ACTOR"]) {
    assert.ok(byName[MEM].capabilities.includes(cap), `${MEM} lacks ${cap}: ${byName[MEM].capabilities}`);
  }
  assert.equal(await client.metadata.set("jsKey", "hello-value"), true);
  const md2 = await client.metadata.get();
  assert.equal(md2.extended.jsKey, "hello-value");
});
