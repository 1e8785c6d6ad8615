// The Secrets API through the Dapr JavaScript SDK (@dapr/dapr 3.18.0, HTTP):
// client.secret.get and getBulk over secretstores.local.env and
// secretstores.local.file (multiValued), and the SDK's view of daprd's
// error for an unknown store.
"use strict";

const { test, before, after } = require("node:test");
const assert = require("node:assert/strict");
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const { DaprClient, CommunicationProtocolEnum, LogLevel } = require("@dapr/dapr");
const { start } = require("../lib/sidecar");

let sc;
let client;
let dir;

before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "statecar-js-secrets-"));
  const file = path.join(dir, "secrets.json");
  fs.writeFileSync(file, JSON.stringify({ redisPassword: "pw", db: { user: "u", port: 5432 } }));
  sc = await start({
    components: [
      { name: "envsecrets", type: "secretstores.local.env" },
      { name: "files", type: "secretstores.local.file", meta: { secretsFile: file, multiValued: "true" } },
    ],
    env: { JS_SECRET: "s3cret" },
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
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

test("secrets: get and getBulk from local.env", async () => {
  assert.deepEqual(await client.secret.get("envsecrets", "JS_SECRET"), { JS_SECRET: "s3cret" });
  assert.deepEqual(await client.secret.get("envsecrets", "JS_UNSET_VARIABLE"), { JS_UNSET_VARIABLE: "" });
  const bulk = await client.secret.getBulk("envsecrets");
  assert.deepEqual(bulk.JS_SECRET, { JS_SECRET: "s3cret" });
  assert.equal(Object.keys(bulk).some((k) => k.toUpperCase().startsWith("DAPR_")), false);
});

test("secrets: a multiValued local.file secret holds several pairs", async () => {
  assert.deepEqual(await client.secret.get("files", "db"), { port: "5432", user: "u" });
  assert.deepEqual(await client.secret.getBulk("files"), {
    db: { port: "5432", user: "u" },
    redisPassword: { redisPassword: "pw" },
  });
});

test("secrets: an unknown store is daprd's 401 ERR_SECRET_STORE_NOT_FOUND", async () => {
  await assert.rejects(client.secret.get("nope", "x"), (e) => {
    const outer = JSON.parse(e.message);
    assert.equal(outer.status, 401);
    assert.deepEqual(JSON.parse(outer.error_msg), {
      errorCode: "ERR_SECRET_STORE_NOT_FOUND",
      message: "failed finding secret store with key nope",
    });
    return true;
  });
});
