// The Pub/sub API through the Dapr JavaScript SDK (@dapr/dapr 3.18.0,
// HTTP), over pubsub.redis on a real redis-server and over
// pubsub.in-memory: client.pubsub.publish (a JSON object, a string, a
// cloudevent.type override in the metadata) and publishBulk, received by
// the SDK's own app server (DaprServer: its /dapr/subscribe and routes),
// a handler's DROP sent to the dead-letter topic, daprd's error for an
// unknown pubsub, the programmatic subscriptions in /v1.0/metadata and the
// Redis stream layout (a "data" field holding the CloudEvent).
"use strict";

const { test, before, after } = require("node:test");
const assert = require("node:assert/strict");
const net = require("node:net");
const { randomUUID } = require("node:crypto");
const { DaprClient, DaprServer, DaprPubSubStatusEnum, CommunicationProtocolEnum, LogLevel } = require("@dapr/dapr");
const { start, freePort } = require("../lib/sidecar");
const { startRedis } = require("../lib/redis");

const APP_ID = "jsapp";
const BROKERS = [
  { name: "redispubsub", label: "redis" },
  { name: "mempubsub", label: "in-memory" },
];
const TOPICS = ["ready", "orders", "fragile", "fragile-dead", "bulk"];
const WAIT_MS = 15000;

let redis;
let sc;
let server;
let client;

// inbox collects what the subscriber callbacks received, keyed by
// "<pubsub>/<topic>", and lets a test wait (with a deadline) for an entry
// matching a predicate. envelopes are the CloudEvents as statecar POSTed
// them to the app (the SDK hands the callbacks only their data).
const inbox = {
  got: new Map(),
  waiters: [],
  envelopes: [],
  push(key, entry) {
    if (!this.got.has(key)) this.got.set(key, []);
    this.got.get(key).push(entry);
    this.waiters = this.waiters.filter((w) => {
      if (w.key !== key || !w.pred(entry)) return true;
      clearTimeout(w.timer);
      w.resolve(entry);
      return false;
    });
  },
  waitFor(key, pred, what) {
    const found = (this.got.get(key) || []).find(pred);
    if (found) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const w = { key, pred, resolve };
      w.timer = setTimeout(() => {
        this.waiters = this.waiters.filter((x) => x !== w);
        reject(new Error(`${key}: ${what} not delivered within ${WAIT_MS} ms; got ${JSON.stringify(this.got.get(key) || [])}\nstatecar:\n${sc.output()}`));
      }, WAIT_MS);
      this.waiters.push(w);
    });
  },
  // envelope returns the CloudEvent POSTed to the app whose data satisfies pred.
  envelope(pred) {
    return this.envelopes.find((e) => e.body && typeof e.body === "object" && pred(e.body.data));
  },
};

// record returns a subscriber callback that files what it receives under
// pubsub/topic and answers status (undefined: the SDK's SUCCESS).
function record(pubsub, topic, status) {
  return async (data, headers) => {
    inbox.push(`${pubsub}/${topic}`, { data, headers });
    return status;
  };
}

async function getJSON(port, urlPath) {
  const res = await fetch(`http://127.0.0.1:${port}${urlPath}`);
  return { status: res.status, body: res.status === 204 ? null : await res.json() };
}

async function until(what, fn, timeoutMs = 30000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const r = await fn();
    if (r) return r;
    if (Date.now() > deadline) throw new Error(`${what} within ${timeoutMs} ms; statecar:\n${sc.output()}`);
    await new Promise((res) => setTimeout(res, 50));
  }
}

// parseRESP parses one RESP2 reply from buf at i: [value, next] or null
// when incomplete. Errors come back as Error values.
function parseRESP(buf, i = 0) {
  const eol = buf.indexOf("\r\n", i);
  if (eol < 0) return null;
  const line = buf.toString("utf8", i + 1, eol);
  const next = eol + 2;
  switch (String.fromCharCode(buf[i])) {
    case "+":
      return [line, next];
    case "-":
      return [new Error(line), next];
    case ":":
      return [Number(line), next];
    case "$": {
      const n = Number(line);
      if (n < 0) return [null, next];
      if (buf.length < next + n + 2) return null;
      return [buf.toString("utf8", next, next + n), next + n + 2];
    }
    case "*": {
      const n = Number(line);
      if (n < 0) return [null, next];
      const out = [];
      let at = next;
      for (let k = 0; k < n; k++) {
        const r = parseRESP(buf, at);
        if (!r) return null;
        out.push(r[0]);
        at = r[1];
      }
      return [out, at];
    }
    default:
      throw new Error(`unexpected RESP reply ${JSON.stringify(line)}`);
  }
}

// redisCommand runs one command on the test's redis-server and resolves
// with the parsed reply (lib/redis.js reads single-line replies only).
function redisCommand(...args) {
  const [host, port] = redis.addr.split(":");
  return new Promise((resolve, reject) => {
    const sock = net.connect(Number(port), host);
    let buf = Buffer.alloc(0);
    sock.setTimeout(5000, () => sock.destroy(new Error("redis command timed out")));
    sock.on("connect", () => {
      let s = `*${args.length}\r\n`;
      for (const a of args) s += `$${Buffer.byteLength(a)}\r\n${a}\r\n`;
      sock.write(s);
    });
    sock.on("data", (d) => {
      buf = Buffer.concat([buf, d]);
      const r = parseRESP(buf);
      if (r) {
        sock.end();
        resolve(r[0]);
      }
    });
    sock.on("error", reject);
  });
}

// streamEntries returns the entries of a stream as [{id, fields}].
async function streamEntries(stream) {
  const reply = await redisCommand("XRANGE", stream, "-", "+");
  if (reply instanceof Error) throw reply;
  return reply.map(([id, kv]) => {
    const fields = {};
    for (let k = 0; k < kv.length; k += 2) fields[kv[k]] = kv[k + 1];
    return { id, names: kv.filter((_, k) => k % 2 === 0), fields };
  });
}

before(async () => {
  redis = await startRedis();
  const appPort = await freePort();
  // With --app-port, /v1.0/healthz stays 500 until the app listens, and
  // the app server below needs the sidecar's port: wait for the outbound
  // health only, then start the app; statecar polls the app port and then
  // asks GET /dapr/subscribe.
  sc = await start({
    appId: APP_ID,
    components: [
      { name: "redispubsub", type: "pubsub.redis", meta: { redisHost: redis.addr } },
      { name: "mempubsub", type: "pubsub.in-memory" },
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
    clientOptions: {
      daprHost: "127.0.0.1",
      daprPort: String(sc.httpPort),
      communicationProtocol: CommunicationProtocolEnum.HTTP,
      logger,
    },
  });
  // Keep every envelope statecar POSTs: this middleware runs after the
  // SDK's body parsers (added by the constructor) and before the
  // subscription routes (added by subscribe).
  server.daprServer.getServer().use((req, _res, next) => {
    if (req.method === "POST") inbox.envelopes.push({ path: req.path, contentType: req.headers["content-type"], body: req.body });
    next();
  });
  for (const { name } of BROKERS) {
    await server.pubsub.subscribe(name, "ready", record(name, "ready"));
    await server.pubsub.subscribe(name, "orders", record(name, "orders"));
    await server.pubsub.subscribeWithOptions(name, "fragile", {
      deadLetterTopic: "fragile-dead",
      callback: record(name, "fragile", DaprPubSubStatusEnum.DROP),
    });
    await server.pubsub.subscribe(name, "fragile-dead", record(name, "fragile-dead"));
    await server.pubsub.subscribe(name, "bulk", record(name, "bulk"));
  }
  await server.start();
  client = new DaprClient({
    daprHost: "127.0.0.1",
    daprPort: String(sc.httpPort),
    communicationProtocol: CommunicationProtocolEnum.HTTP,
    logger,
  });

  await until("/v1.0/healthz never answered 204 once the app listened", async () => (await getJSON(sc.httpPort, "/v1.0/healthz")).status === 204);
  await until("the app's subscriptions were never listed in /v1.0/metadata", async () => {
    const md = await getJSON(sc.httpPort, "/v1.0/metadata");
    return (md.body.subscriptions || []).length === BROKERS.length * TOPICS.length;
  });
  // Listed subscriptions may still be subscribing to their broker (an
  // in-memory topic drops what is published before): publish probes until
  // one arrives on each broker.
  for (const { name } of BROKERS) {
    let n = 0;
    await until(`no probe reached ${name}/ready`, async () => {
      if ((inbox.got.get(`${name}/ready`) || []).length > 0) return true;
      const r = await client.pubsub.publish(name, "ready", { probe: n++ });
      assert.equal(r.error, undefined);
      await new Promise((res) => setTimeout(res, 150));
      return (inbox.got.get(`${name}/ready`) || []).length > 0;
    });
  }
});

after(async () => {
  if (client) await client.stop();
  if (sc) {
    const code = await sc.stop();
    assert.equal(code, 0, `statecar exit code after SIGTERM; output:\n${sc.output()}`);
  }
  if (server) {
    await server.stop();
    await server.client.stop();
  }
  if (redis) redis.stop();
});

test("pubsub: /v1.0/metadata lists the SDK app's programmatic subscriptions", async () => {
  const md = await getJSON(sc.httpPort, "/v1.0/metadata");
  assert.equal(md.status, 200);
  const subs = md.body.subscriptions;
  const key = (s) => `${s.pubsubname}/${s.topic}`;
  const want = BROKERS.flatMap(({ name }) => TOPICS.map((t) => `${name}/${t}`)).sort();
  assert.deepEqual(subs.map(key).sort(), want);
  for (const s of subs) {
    assert.equal(s.type, "PROGRAMMATIC", JSON.stringify(s));
    // The SDK routes every topic to /<pubsub>--<topic>--default.
    assert.deepEqual(s.rules, [{ path: `/${s.pubsubname}--${s.topic}--default` }], JSON.stringify(s));
    assert.equal(s.deadLetterTopic, s.topic === "fragile" ? "fragile-dead" : "", JSON.stringify(s));
  }
  const comps = md.body.components.map((c) => `${c.name}:${c.type}`).sort();
  assert.ok(comps.includes("redispubsub:pubsub.redis"), comps.join(", "));
  assert.ok(comps.includes("mempubsub:pubsub.in-memory"), comps.join(", "));
});

for (const { name, label } of BROKERS) {
  test(`pubsub (${label}): a JSON object, a string and a cloudevent.type override reach the subscriber`, async () => {
    const run = randomUUID();
    const order = { run, order: 7, items: ["a", "b"], nested: { ok: true } };
    assert.deepEqual(await client.pubsub.publish(name, "orders", order), {});
    const got = await inbox.waitFor(`${name}/orders`, (e) => e.data && e.data.run === run && e.data.order === 7, "the JSON object");
    // The SDK unwraps the CloudEvent: the callback gets the object itself.
    assert.deepEqual(got.data, order);
    const env = inbox.envelope((d) => d && d.run === run && d.order === 7);
    assert.ok(env, "no envelope recorded");
    assert.equal(env.path, `/${name}--orders--default`);
    assert.match(env.contentType, /^application\/cloudevents\+json/);
    assert.equal(env.body.specversion, "1.0");
    assert.equal(env.body.source, APP_ID);
    assert.equal(env.body.type, "com.dapr.event.sent");
    assert.equal(env.body.pubsubname, name);
    assert.equal(env.body.topic, "orders");
    assert.equal(env.body.datacontenttype, "application/json");
    assert.match(env.body.id, /^[0-9a-f-]{36}$/);

    const text = `plain text ${run}`;
    assert.deepEqual(await client.pubsub.publish(name, "orders", text), {});
    const gotText = await inbox.waitFor(`${name}/orders`, (e) => e.data === text, "the string");
    assert.equal(gotText.data, text);
    const envText = inbox.envelope((d) => d === text);
    assert.equal(envText.body.datacontenttype, "text/plain");

    const vip = { run, order: 8, vip: true };
    const r = await client.pubsub.publish(name, "orders", vip, { metadata: { "cloudevent.type": "vip.order", "cloudevent.id": `id-${run}` } });
    assert.deepEqual(r, {});
    const gotVip = await inbox.waitFor(`${name}/orders`, (e) => e.data && e.data.run === run && e.data.order === 8, "the publish with metadata");
    assert.deepEqual(gotVip.data, vip);
    const envVip = inbox.envelope((d) => d && d.run === run && d.order === 8);
    assert.equal(envVip.body.type, "vip.order");
    assert.equal(envVip.body.id, `id-${run}`);
    assert.equal(envVip.body.source, APP_ID);
  });

  test(`pubsub (${label}): a handler's DROP sends the event to the dead-letter topic`, async () => {
    const run = randomUUID();
    const msg = { run, fragile: true };
    assert.deepEqual(await client.pubsub.publish(name, "fragile", msg), {});
    const dropped = await inbox.waitFor(`${name}/fragile`, (e) => e.data && e.data.run === run, "the event to drop");
    assert.deepEqual(dropped.data, msg);
    const dead = await inbox.waitFor(`${name}/fragile-dead`, (e) => e.data && e.data.run === run, "the dead letter");
    assert.deepEqual(dead.data, msg);
    // As in daprd, the dead letter is the original CloudEvent, republished
    // as is: same id, topic still the original one.
    const envs = inbox.envelopes.filter((e) => e.body && e.body.data && e.body.data.run === run);
    assert.deepEqual(envs.map((e) => e.path).sort(), [`/${name}--fragile--default`, `/${name}--fragile-dead--default`]);
    assert.equal(envs[0].body.id, envs[1].body.id);
    for (const e of envs) assert.equal(e.body.topic, "fragile");
  });

  test(`pubsub (${label}): publishBulk delivers every message`, async () => {
    const run = randomUUID();
    const messages = [
      { run, n: 1 },
      { run, n: 2, list: [1, 2, 3] },
      `bulk text ${run}`,
      { entryID: `e4-${run}`, event: { run, n: 4 }, contentType: "application/json" },
    ];
    const r = await client.pubsub.publishBulk(name, "bulk", messages);
    assert.deepEqual(r, { failedMessages: [] });
    for (const n of [1, 2, 4]) {
      const got = await inbox.waitFor(`${name}/bulk`, (e) => e.data && e.data.run === run && e.data.n === n, `bulk entry ${n}`);
      assert.equal(got.data.n, n);
    }
    await inbox.waitFor(`${name}/bulk`, (e) => e.data === `bulk text ${run}`, "the bulk string");
    const ofRun = inbox.got.get(`${name}/bulk`).filter((e) => (e.data && e.data.run === run) || e.data === `bulk text ${run}`);
    assert.equal(ofRun.length, 4, JSON.stringify(ofRun));
    const env = inbox.envelope((d) => d && d.run === run && d.n === 2);
    assert.equal(env.body.source, APP_ID);
    assert.equal(env.body.topic, "bulk");
    assert.deepEqual(env.body.data, { run, n: 2, list: [1, 2, 3] });
  });
}

test("pubsub: daprd's error for an unknown pubsub reaches the SDK", async () => {
  // publish does not reject: it resolves with { error }.
  const r = await client.pubsub.publish("nope", "orders", { a: 1 });
  assert.ok(r.error instanceof Error, `publish resolved with ${JSON.stringify(r)}`);
  assert.match(String(r.error.message), /ERR_PUBSUB_NOT_FOUND/);
  assert.match(String(r.error.message), /pubsub nope is not found/);
  // publishBulk resolves with every message failed, each with the error.
  const msgs = [{ a: 1 }, "two"];
  const b = await client.pubsub.publishBulk("nope", "orders", msgs);
  assert.equal(b.failedMessages.length, 2);
  for (const f of b.failedMessages) {
    assert.match(String(f.error.message), /ERR_PUBSUB_NOT_FOUND/);
  }
  assert.deepEqual(b.failedMessages.map((f) => f.message.event), msgs);
});

test("pubsub (redis): the stream holds each message with a \"data\" field: the CloudEvent", async () => {
  const run = randomUUID();
  assert.deepEqual(await client.pubsub.publish("redispubsub", "orders", { run, stream: 1 }), {});
  assert.deepEqual(await client.pubsub.publish("redispubsub", "orders", { run, stream: 2 }, { metadata: { "cloudevent.type": "t2" } }), {});
  await inbox.waitFor("redispubsub/orders", (e) => e.data && e.data.run === run && e.data.stream === 2, "the second message");
  const entries = (await streamEntries("orders")).filter((e) => e.fields.data && e.fields.data.includes(run));
  assert.equal(entries.length, 2, JSON.stringify(entries));
  const [one, two] = entries;
  const ce1 = JSON.parse(one.fields.data);
  assert.deepEqual(ce1.data, { run, stream: 1 });
  assert.equal(ce1.source, APP_ID);
  assert.equal(ce1.type, "com.dapr.event.sent");
  assert.equal(ce1.topic, "orders");
  assert.equal(ce1.pubsubname, "redispubsub");
  assert.ok(one.names.includes("data"), JSON.stringify(one.names));
  const ce2 = JSON.parse(two.fields.data);
  assert.equal(ce2.type, "t2");
  assert.equal(ce2.source, APP_ID);
  // The publish metadata travels in the entry's "metadata" field.
  assert.ok(two.names.includes("metadata"), JSON.stringify(two.names));
  assert.equal(JSON.parse(two.fields.metadata)["cloudevent.type"], "t2");
  // The SDK app's subscriptions read through the consumer group named
  // after the app ID.
  const groups = await redisCommand("XINFO", "GROUPS", "orders");
  assert.ok(!(groups instanceof Error), String(groups));
  const names = groups.map((g) => g[g.indexOf("name") + 1]);
  assert.deepEqual(names, [APP_ID]);
});
