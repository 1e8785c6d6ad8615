package e2e

import (
	"strings"
	"testing"

	"github.com/statecar/statecar/internal/testutil"
)

// TestSecretsAPI runs the Secrets API (other-building-blocks.md §2) on the
// binary over secretstores.local.env and secretstores.local.file, with a
// Configuration scope: daprd's bodies (encoding/json with a final newline,
// keys sorted, HTML characters escaped), statuses and error codes.
func TestSecretsAPI(t *testing.T) {
	dir := t.TempDir()
	file := testutil.WriteFile(t, t.TempDir(), "secrets.json",
		`{"redisPassword":"pw<&>","db":{"user":"u","port":5432,"hosts":["a","b"]},"n":1}`)
	testutil.WriteComponent(t, dir, "envsecrets", "secretstores.local.env", nil)
	testutil.WriteComponent(t, dir, "prefixed", "secretstores.local.env", map[string]string{"prefix": "SCT_"})
	testutil.WriteComponent(t, dir, "flat", "secretstores.local.file", map[string]string{"secretsFile": file})
	testutil.WriteComponent(t, dir, "multi", "secretstores.local.file", map[string]string{"secretsFile": file, "multiValued": "true"})
	conf := testutil.WriteConfiguration(t, t.TempDir(), "c", `metrics:
  recordErrorCodes: true
secrets:
  scopes:
  - storeName: envsecrets
    defaultAccess: deny
    allowedSecrets: ["SCT_ONE", "DAPR_HIDDEN"]
  - storeName: flat
    deniedSecrets: ["n"]`)
	sc := testutil.Start(t, testutil.Options{AppID: "secretapp", ResourcesDir: dir, ConfigFile: conf,
		Env: []string{"SCT_ONE=1", "SCT_TWO=two", "DAPR_HIDDEN=x"}})
	tg := target{addr: sc.Addr(), sc: sc}
	ct := "Content-Type: application/json"
	runSteps(t, tg, nil, []step{
		// local.env: a variable the scope allows; one it does not; an unset
		// one reads as empty; DAPR_* is never returned, even when allowed.
		req("GET", "/v1.0/secrets/envsecrets/SCT_ONE", "", 200, "{\"SCT_ONE\":\"1\"}\n", ct),
		req("GET", "/v1.0/secrets/envsecrets/SCT_TWO", "", 403,
			`{"errorCode":"ERR_PERMISSION_DENIED","message":"access denied by policy to get \"SCT_TWO\" from \"envsecrets\""}`, ct),
		req("GET", "/v1.0/secrets/envsecrets/DAPR_HIDDEN", "", 200, "{\"DAPR_HIDDEN\":\"\"}\n"),
		req("GET", "/v1.0/secrets/envsecrets/bulk", "", 200, "{\"SCT_ONE\":{\"SCT_ONE\":\"1\"}}\n", ct),
		// The prefix is prepended to names and cut from listed names.
		req("GET", "/v1.0/secrets/prefixed/TWO?metadata.namespace=x", "", 200, "{\"TWO\":\"two\"}\n"),
		req("GET", "/v1.0/secrets/prefixed/bulk", "", 200, "{\"ONE\":{\"ONE\":\"1\"},\"TWO\":{\"TWO\":\"two\"}}\n"),
		// local.file, flattened: nested names joined with ":", arrays by
		// index; "n" is denied by the scope and left out of bulk.
		req("GET", "/v1.0/secrets/flat/db:port", "", 200, "{\"db:port\":\"5432\"}\n"),
		req("GET", "/v1.0/secrets/flat/db:hosts:1", "", 200, "{\"db:hosts:1\":\"b\"}\n"),
		req("GET", "/v1.0/secrets/flat/redisPassword", "", 200, "{\"redisPassword\":\"pw\\u003c\\u0026\\u003e\"}\n"),
		req("GET", "/v1.0/secrets/flat/n", "", 403,
			`{"errorCode":"ERR_PERMISSION_DENIED","message":"access denied by policy to get \"n\" from \"flat\""}`),
		req("GET", "/v1.0/secrets/flat/db", "", 500,
			`{"errorCode":"ERR_SECRET_GET","message":"failed getting secret with key db from secret store flat: secret db not found"}`),
		req("GET", "/v1.0/secrets/flat/bulk", "", 200,
			"{\"db:hosts:0\":{\"db:hosts:0\":\"a\"},\"db:hosts:1\":{\"db:hosts:1\":\"b\"},\"db:port\":{\"db:port\":\"5432\"},\"db:user\":{\"db:user\":\"u\"},\"redisPassword\":{\"redisPassword\":\"pw\\u003c\\u0026\\u003e\"}}\n"),
		// local.file, multiValued: a top-level object is one secret.
		req("GET", "/v1.0/secrets/multi/db", "", 200, "{\"hosts:0\":\"a\",\"hosts:1\":\"b\",\"port\":\"5432\",\"user\":\"u\"}\n"),
		req("GET", "/v1.0/secrets/multi/bulk", "", 200,
			"{\"db\":{\"hosts:0\":\"a\",\"hosts:1\":\"b\",\"port\":\"5432\",\"user\":\"u\"},\"redisPassword\":{\"redisPassword\":\"pw\\u003c\\u0026\\u003e\"}}\n"),
		// Errors: an unknown store is 401 (sic, daprd); a body that is not
		// a protojson request is 400; a valid one is ignored.
		req("GET", "/v1.0/secrets/nope/x", "", 401, `{"errorCode":"ERR_SECRET_STORE_NOT_FOUND","message":"failed finding secret store with key nope"}`),
		req("GET", "/v1.0/secrets/nope/bulk", "", 401, `{"errorCode":"ERR_SECRET_STORE_NOT_FOUND","message":"failed finding secret store with key nope"}`),
		req("GET", "/v1.0/secrets/multi/db", `{"storeName":"other","key":"x"}`, 200, "{\"hosts:0\":\"a\",\"hosts:1\":\"b\",\"port\":\"5432\",\"user\":\"u\"}\n"),
		req("POST", "/v1.0/secrets/multi/db", "", 404, `{"errorCode":"ERR_DIRECT_INVOKE","message":"failed getting app id either from the URL path or the header dapr-app-id"}`),
	})
	r, err := rawDo(sc.Addr(), "GET", "/v1.0/secrets/multi/db", nil, "xx")
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != 400 || !strings.HasPrefix(string(r.Body), `{"errorCode":"ERR_MALFORMED_REQUEST","message":"failed deserializing HTTP body: proto:`) {
		t.Errorf("malformed body: %d %s", r.Status, r.Body)
	}
	md, err := rawDo(sc.Addr(), "GET", "/v1.0/metadata", nil, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`{"name":"envsecrets","type":"secretstores.local.env","version":"v1"}`,
		`{"name":"multi","type":"secretstores.local.file","version":"v1","capabilities":["MULTIPLE_KEY_VALUES_PER_SECRET"]}`,
		`{"name":"flat","type":"secretstores.local.file","version":"v1"}`,
	} {
		if !strings.Contains(string(md.Body), want) {
			t.Errorf("metadata lacks %s:\n%s", want, md.Body)
		}
	}
	m := scrape(t, sc)
	for _, want := range []string{
		`dapr_component_secret_count{app_id="secretapp",component="flat",namespace="",operation="get",success="false"} 1`,
		`dapr_component_secret_count{app_id="secretapp",component="multi",namespace="",operation="bulk_get",success="true"} 1`,
		`dapr_error_code_total{app_id="secretapp",category="secret",error_code="ERR_PERMISSION_DENIED"} 2`,
		`dapr_error_code_total{app_id="secretapp",category="secret",error_code="ERR_SECRET_STORE_NOT_FOUND"} 2`,
		`dapr_error_code_total{app_id="secretapp",category="common",error_code="ERR_MALFORMED_REQUEST"} 1`,
	} {
		if !strings.Contains(m, want) {
			t.Errorf("metrics lack %s:\n%s", want, grepLines(m, "secret"))
		}
	}
}

// TestSecretsAPIAbsent: without a secret store the routes answer 500
// ERR_SECRET_STORES_NOT_CONFIGURED; denied by the Configuration's API
// list they are not routes at all (404 ERR_DIRECT_INVOKE), as in daprd.
func TestSecretsAPIAbsent(t *testing.T) {
	sc := testutil.Start(t, testutil.Options{})
	notConfigured := `{"errorCode":"ERR_SECRET_STORES_NOT_CONFIGURED","message":"secret store is not configured"}`
	runSteps(t, target{addr: sc.Addr(), sc: sc}, nil, []step{
		req("GET", "/v1.0/secrets/s/k", "", 500, notConfigured),
		req("GET", "/v1.0/secrets/s/bulk", "", 500, notConfigured),
	})

	dir := t.TempDir()
	testutil.WriteComponent(t, dir, "envsecrets", "secretstores.local.env", nil)
	conf := testutil.WriteConfiguration(t, t.TempDir(), "c", `api:
  denied:
  - {name: secrets, version: v1, protocol: http}`)
	sc = testutil.Start(t, testutil.Options{ResourcesDir: dir, ConfigFile: conf})
	runSteps(t, target{addr: sc.Addr(), sc: sc}, nil, []step{
		req("GET", "/v1.0/secrets/envsecrets/HOME", "", 404, `{"errorCode":"ERR_DIRECT_INVOKE","message":"failed getting app id either from the URL path or the header dapr-app-id"}`),
	})
}
