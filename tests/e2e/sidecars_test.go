package e2e

import (
	"bufio"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/statecar/statecar/internal/testutil"
)

// TestKeyPrefix checks the keyPrefix strategies of state-http.md §4
// (§13.19) on one sidecar per store profile, and sharing between two
// sidecars (two app ids) where the store's backend can be shared.
func TestKeyPrefix(t *testing.T) {
	for _, p := range profiles() {
		t.Run(p.typ, func(t *testing.T) {
			t.Parallel()
			meta, skip := p.setup(t)
			if skip != "" {
				t.Skip(skip)
			}
			native := p.typ == "state.pebble" || p.typ == "state.in-memory"
			shared := p.typ == "state.redis" || p.typ == "state.postgresql"
			dir := t.TempDir()
			stores := map[string]map[string]string{
				"default":  nil,
				"byname":   {"keyPrefix": "name"},
				"nopfx":    {"keyPrefix": "none"},
				"custom":   {"keyPrefix": "MyPrefix"},
				"nsstore":  {"keyprefix": "namespace"}, // name matched case-insensitively
				"explicit": {"KEYPREFIX": "AppID"},     // value lower-cased
			}
			for name, extra := range stores {
				testutil.WriteFile(t, dir, name+".yaml", p.componentYAML(name, meta, extra))
			}
			a := testutil.Start(t, testutil.Options{AppID: "appa", ResourcesDir: dir, Env: []string{"NAMESPACE=ns1"}})
			tg := target{addr: a.Addr(), sc: a, vars: map[string]string{"app": "appa"}}

			notExist := func(store, stored string) step {
				body := `{{~any}}`
				if native {
					body = legacyErr("ERR_STATE_SAVE", "failed saving state in state store "+store+
						": possible etag mismatch. error from state store: state not exist or expired for key="+stored)
				}
				return req("POST", "/v1.0/state/"+store, `[{"key":"kp","value":1,"etag":"1"}]`, 409, body)
			}
			// The stored key appears in the store's ETag error text.
			t.Run("§4 stored key per strategy", func(t *testing.T) {
				if !native {
					t.Skip("stored keys are visible only in the embedded stores' error texts")
				}
				runSteps(t, tg, map[string]string{}, []step{
					notExist("default", "appa||kp"),
					notExist("explicit", "appa||kp"),
					notExist("byname", "byname||kp"),
					notExist("nopfx", "kp"),
					notExist("custom", "myprefix||kp"),
					notExist("nsstore", "ns1.appa||kp"),
				})
			})
			t.Run("§4 || is rejected for every strategy", func(t *testing.T) {
				var steps []step
				for name := range stores {
					steps = append(steps, req("GET", "/v1.0/state/"+name+"/a||b", "", 400, illegalKeyErr("a||b", name, true)))
				}
				runSteps(t, tg, map[string]string{}, steps)
			})
			t.Run("§4 bulk get returns client keys", func(t *testing.T) {
				var steps []step
				for name := range stores {
					steps = append(steps,
						req("POST", "/v1.0/state/"+name, `[{"key":"bk","value":"`+name+`"}]`, 204, ""),
						req("POST", "/v1.0/state/"+name+"/bulk", `{"keys":["bk"]}`, 200, `[{"key":"bk","data":"`+name+`","etag":"{{~etag}}"}]`+"\n"))
				}
				runSteps(t, tg, map[string]string{}, steps)
			})
			if p.has(capQuery) {
				t.Run("§4 query results carry client keys", func(t *testing.T) {
					var steps []step
					for _, name := range []string{"nopfx", "custom", "byname"} {
						steps = append(steps,
							req("POST", "/v1.0/state/"+name, `[{"key":"q1","value":{"tag":"kpq-`+name+`"}}]`, 204, ""),
							req("POST", "/v1.0-alpha1/state/"+name+"/query", `{"filter":{"EQ":{"tag":"kpq-`+name+`"}}}`, 200,
								`{"results":[{"key":"q1","data":{"tag":"kpq-`+name+`"},"etag":"{{~etag}}"}]}`+"\n"))
					}
					runSteps(t, tg, map[string]string{}, steps)
				})
			}
			t.Run("§4 namespace strategy without NAMESPACE is the app id", func(t *testing.T) {
				if !native {
					t.Skip("stored keys are visible only in the embedded stores' error texts")
				}
				c := testutil.Start(t, testutil.Options{AppID: "appc", ResourcesDir: dir})
				runSteps(t, target{addr: c.Addr(), sc: c}, map[string]string{}, []step{
					notExist("nsstore", "appc||kp"),
				})
			})
			if !shared {
				return
			}
			t.Run("§4 stores with the same prefix are shared between app ids", func(t *testing.T) {
				b := testutil.Start(t, testutil.Options{AppID: "appb", ResourcesDir: dir, Env: []string{"NAMESPACE=ns1"}})
				tb := target{addr: b.Addr(), sc: b}
				var steps []step
				for name := range stores {
					steps = append(steps, req("POST", "/v1.0/state/"+name, `[{"key":"sh","value":"`+name+`"}]`, 204, ""))
				}
				runSteps(t, tg, map[string]string{}, steps)
				steps = nil
				for _, name := range []string{"byname", "nopfx", "custom"} {
					steps = append(steps, req("GET", "/v1.0/state/"+name+"/sh", "", 200, `"`+name+`"`))
				}
				for _, name := range []string{"default", "explicit", "nsstore"} {
					steps = append(steps, req("GET", "/v1.0/state/"+name+"/sh", "", 204, ""))
				}
				runSteps(t, tb, map[string]string{}, steps)
			})
		})
	}
}

// TestCustomPrefixWithBars: a custom keyPrefix containing || makes the
// component fail to initialise, and daprd exits with code 1 (§4).
func TestCustomPrefixWithBars(t *testing.T) {
	dir := t.TempDir()
	testutil.WriteComponent(t, dir, "bad", "state.in-memory", map[string]string{"keyPrefix": "a||b"})
	sc := testutil.Start(t, testutil.Options{ResourcesDir: dir, NoWait: true})
	if code := sc.Wait(30 * time.Second); code != 1 {
		t.Fatalf("exit code %d, want 1; output:\n%s", code, sc.Output())
	}
}

// TestBodyLimit: bodies above --max-body-size are 400 "stream too large"
// (§2.2, §13.25), using a 1 KiB limit to keep the test small.
func TestBodyLimit(t *testing.T) {
	dir := t.TempDir()
	testutil.WriteComponent(t, dir, "statestore", "state.in-memory", nil)
	sc := testutil.Start(t, testutil.Options{ResourcesDir: dir, ExtraArgs: []string{"--max-body-size", "1Ki"}})
	big := strings.Repeat("x", 2000)
	fits := strings.Repeat("y", 900)
	// Over one keep-alive connection too: after a too-large body the
	// server may close the connection, but only after saying so
	// (Connection: close), never by dropping a later request.
	for _, keepAlive := range []bool{false, true} {
		tg := target{addr: sc.Addr(), sc: sc, keepAlive: keepAlive}
		bodyLimitSteps(t, tg, big, fits)
	}
}

func bodyLimitSteps(t *testing.T, tg target, big, fits string) {
	runSteps(t, tg, map[string]string{"store": "statestore"}, []step{
		req("POST", "/v1.0/state/statestore", `[{"key":"big","value":"`+big+`"}]`, 400, legacyErr("ERR_MALFORMED_REQUEST", "stream too large")),
		miss("big"),
		req("POST", "/v1.0/state/statestore/bulk", `{"keys":["`+big+`"]}`, 400, legacyErr("ERR_MALFORMED_REQUEST", "failed deserializing HTTP body: stream too large")),
		req("POST", "/v1.0/state/statestore/transaction", `{"operations":[{"operation":"upsert","request":{"key":"big","value":"`+big+`"}}]}`, 400,
			legacyErr("ERR_MALFORMED_REQUEST", "failed deserializing HTTP body: stream too large")),
		miss("big"),
		// Query reads the body before the store lookup: ERR_BODY_READ.
		req("POST", "/v1.0-alpha1/state/statestore/query", `{"filter":{"EQ":{"v":"`+big+`"}}}`, 400,
			legacyErr("ERR_BODY_READ", "failed to read request body: stream too large")),
		req("PUT", "/v1.0-alpha1/state/nostore/query", `{"filter":{"EQ":{"v":"`+big+`"}}}`, 400,
			legacyErr("ERR_BODY_READ", "failed to read request body: stream too large")),
		save(`[{"key":"fits","value":"` + fits + `"}]`),
		getv("fits", `"`+fits+`"`),
	})
}

// TestNoStateStore: with no state store component at all, daprd answers
// every state route with 500 ERR_STATE_STORE_NOT_CONFIGURED (§3.2, §13.22).
// statecar deliberately serves an embedded default store named statestore
// in that case (README "Run it", docs/operations.md), so the spec rows run
// only if the binary started without one; otherwise the default store is
// checked instead and the spec rows are skipped with that reason.
func TestNoStateStore(t *testing.T) {
	dir := t.TempDir()
	testutil.WriteComponent(t, dir, "envsecrets", "secretstores.local.env", nil)
	sc := testutil.Start(t, testutil.Options{AppID: "emptyapp", ResourcesDir: dir})
	tg := target{addr: sc.Addr(), sc: sc}
	md, err := rawDo(sc.Addr(), "GET", "/v1.0/metadata", nil, "")
	if err != nil {
		t.Fatal(err)
	}
	defaultStore := strings.Contains(string(md.Body), `"name":"statestore","type":"state.`)
	t.Run("without recordErrorCodes no error-code series", func(t *testing.T) {
		if _, err := rawDo(sc.Addr(), "GET", "/v1.0/state/nostore/x", nil, ""); err != nil {
			t.Fatal(err)
		}
		if m := scrape(t, sc); strings.Contains(m, "dapr_error_code_total{") {
			t.Errorf("dapr_error_code_total recorded without recordErrorCodes:\n%s", grepLines(m, "dapr_error_code_total"))
		}
	})
	t.Run("statecar: the embedded default store is served (README)", func(t *testing.T) {
		if !defaultStore {
			t.Skip("the binary started without a default store")
		}
		checkMetadataCaps(t, sc.Addr(), "statestore", profiles()[0])
		runSteps(t, tg, map[string]string{"store": "statestore"}, []step{
			save(`[{"key":"d","value":1}]`),
			getv("d", `1`),
			req("GET", "/v1.0/state/other/x", "", 400, storeNotFoundErr("other", "emptyapp")),
		})
	})
	t.Run("§13.22 no state store at all is 500 ERR_STATE_STORE_NOT_CONFIGURED", func(t *testing.T) {
		if defaultStore {
			t.Skip("unreachable in statecar: with no state store component it serves the embedded default store statestore (README, docs/operations.md)")
		}
		nc := storeNotConfiguredErr("statestore", "emptyapp")
		runSteps(t, tg, map[string]string{}, []step{
			req("POST", "/v1.0/state/statestore", `[{"key":"x","value":1}]`, 500, nc),
			req("GET", "/v1.0/state/statestore/x", "", 500, nc),
			req("DELETE", "/v1.0/state/statestore/x", "", 500, nc),
			req("POST", "/v1.0/state/statestore/bulk", `{"keys":["x"]}`, 500, nc),
			req("POST", "/v1.0/state/statestore/transaction", `{}`, 500, nc),
			req("POST", "/v1.0-alpha1/state/statestore/query", `{}`, 500, storeNotConfiguredErr("statestore", "")),
		})
	})
}

// TestErrorCodeMetrics: with Configuration spec.metrics.recordErrorCodes,
// each error response counts in dapr_error_code_total{app_id,category,
// error_code} (runtime-http.md §5).
func TestErrorCodeMetrics(t *testing.T) {
	dir := t.TempDir()
	testutil.WriteComponent(t, dir, "statestore", "state.in-memory", nil)
	cfg := testutil.WriteConfiguration(t, t.TempDir(), "daprConfig", "metrics:\n  enabled: true\n  recordErrorCodes: true\n")
	sc := testutil.Start(t, testutil.Options{AppID: "metapp", ResourcesDir: dir, ConfigFile: cfg})
	tg := target{addr: sc.Addr(), sc: sc}
	series := func(cat, code string) string {
		return `dapr_error_code_total{app_id="metapp",category="` + cat + `",error_code="` + code + `"}`
	}
	names := []string{
		series("state", "ERR_STATE_SAVE"),
		series("common", "ERR_MALFORMED_REQUEST"),
		series("state", "ERR_MALFORMED_REQUEST"),
		series("state", "ERR_STATE_STORE_NOT_FOUND"),
		series("state", "ERR_STATE_DELETE"),
	}
	before := map[string]float64{}
	m := scrape(t, sc)
	for _, n := range names {
		before[n] = metricValue(m, n)
	}
	runSteps(t, tg, map[string]string{"store": "statestore"}, []step{
		req("POST", "/v1.0/state/statestore", `[{"key":"m1","value":1,"etag":"9"}]`, 409, "").any(),
		req("POST", "/v1.0/state/statestore", `[{"key":"m1","value":1,"options":{"concurrency":"bogus"}}]`, 500, "").any(),
		req("POST", "/v1.0/state/statestore", `[{"key":"m1","value":1,"etag":"9"}]`, 409, "").any(),
		req("POST", "/v1.0/state/statestore", `not json`, 400, "").any(),
		req("GET", "/v1.0/state/statestore/a||b", "", 400, "").any(),
		req("GET", "/v1.0/state/nostore/x", "", 400, "").any(),
		req("DELETE", "/v1.0/state/statestore/m1?consistency=bogus", "", 500, "").any(),
	})
	want := map[string]float64{names[0]: 3, names[1]: 1, names[2]: 1, names[3]: 1, names[4]: 1}
	m = scrape(t, sc)
	for _, n := range names {
		if got := metricValue(m, n) - before[n]; got != want[n] {
			t.Errorf("%s moved by %v, want %v; metrics:\n%s", n, got, want[n], grepLines(m, "dapr_error_code_total"))
		}
	}
}

// scrape returns the metrics exposition of sc.
func scrape(t *testing.T, sc *testutil.Sidecar) string {
	t.Helper()
	addr := "127.0.0.1:" + strconv.Itoa(sc.MetricsPort)
	resp, err := rawDo(addr, "GET", "/metrics", nil, "")
	if err != nil {
		t.Fatal(err)
	}
	if resp.Status != 200 {
		t.Fatalf("GET /metrics = %d", resp.Status)
	}
	return string(resp.Body)
}

// metricValue returns the value of the series with exactly this name and
// label set, 0 if absent.
func metricValue(exposition, series string) float64 {
	sc := bufio.NewScanner(strings.NewReader(exposition))
	for sc.Scan() {
		line := sc.Text()
		if rest, ok := strings.CutPrefix(line, series+" "); ok {
			v, err := strconv.ParseFloat(strings.Fields(rest)[0], 64)
			if err == nil {
				return v
			}
		}
	}
	return 0
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// TestRestart: on durable stores every acknowledged write survives a
// graceful restart and a crash (SIGKILL), TTLs keep their expiry time across
// restarts, and a key whose TTL passes while the sidecar is down is gone.
func TestRestart(t *testing.T) {
	for _, p := range profiles() {
		if !p.durable {
			continue
		}
		t.Run(p.typ, func(t *testing.T) {
			t.Parallel()
			meta, skip := p.setup(t)
			if skip != "" {
				t.Skip(skip)
			}
			dir := t.TempDir()
			testutil.WriteFile(t, dir, "statestore.yaml", p.componentYAML("statestore", meta, nil))
			sc := testutil.Start(t, testutil.Options{ResourcesDir: dir})
			tg := target{addr: sc.Addr(), sc: sc}
			vars := map[string]string{"store": "statestore", "k": uniquePrefix()}
			var items []string
			for i := 0; i < 50; i++ {
				items = append(items, fmt.Sprintf(`{"key":"{{k}}d%d","value":%d}`, i, i))
			}
			runSteps(t, tg, vars, []step{
				save("[" + strings.Join(items, ",") + "]"),
				tx(`{"operations":[{"operation":"upsert","request":{"key":"{{k}}tx","value":"t"}},{"operation":"delete","request":{"key":"{{k}}d0"}}]}`, 204, ""),
				req("POST", "/v1.0/state/{{store}}?metadata.ttlInSeconds=1000", `[{"key":"{{k}}long","value":1}]`, 204, ""),
				req("POST", "/v1.0/state/{{store}}?metadata.ttlInSeconds=2", `[{"key":"{{k}}short","value":1}]`, 204, ""),
				getv("{{k}}d7", `7`).capture("e7"),
			})
			r, err := rawDo(tg.addr, "GET", "/v1.0/state/statestore/"+vars["k"]+"long", nil, "")
			if err != nil || r.Status != 200 {
				t.Fatalf("get long: %v %v", r, err)
			}
			vars["exp"] = r.Header.Get("Metadata.ttlexpiretime")
			after := []step{
				miss("{{k}}d0"),
				get("{{k}}d7", 200, `7`, "Etag: {{e7}}"),
				getv("{{k}}d49", `49`),
				getv("{{k}}tx", `"t"`),
				get("{{k}}long", 200, `1`, "Metadata.ttlexpiretime: {{exp}}"),
				miss("{{k}}short").eventually(),
			}
			sc.Restart()
			runSteps(t, tg, vars, after)
			// A crash right after acknowledged writes loses none of them.
			runSteps(t, tg, vars, []step{
				save(`[{"key":"{{k}}c1","value":"c"}]`),
				tx(`{"operations":[{"operation":"upsert","request":{"key":"{{k}}c2","value":"c"}},{"operation":"delete","request":{"key":"{{k}}d1"}}]}`, 204, ""),
			})
			sc.CrashRestart()
			runSteps(t, tg, vars, append(after,
				getv("{{k}}c1", `"c"`),
				getv("{{k}}c2", `"c"`),
				miss("{{k}}d1"),
			))
		})
	}
}

// TestAPIToken: with DAPR_API_TOKEN set, state routes need the
// dapr-api-token header (401 text/plain "invalid api token\n" otherwise);
// the health routes are exempt (§2.5).
func TestAPIToken(t *testing.T) {
	dir := t.TempDir()
	testutil.WriteComponent(t, dir, "statestore", "state.in-memory", nil)
	sc := testutil.Start(t, testutil.Options{ResourcesDir: dir, Env: []string{"DAPR_API_TOKEN=s3cret"}})
	tg := target{addr: sc.Addr(), sc: sc}
	tok := "dapr-api-token: s3cret"
	runSteps(t, tg, map[string]string{"store": "statestore"}, []step{
		req("POST", "/v1.0/state/statestore", `[{"key":"t","value":1}]`, 401, "invalid api token\n", "Content-Type: text/plain; charset=utf-8"),
		req("GET", "/v1.0/state/statestore/t", "", 401, "invalid api token\n", "Content-Type: text/plain; charset=utf-8"),
		req("GET", "/v1.0/state/statestore/t", "", 401, "invalid api token\n").h("dapr-api-token: wrong"),
		save(`[{"key":"t","value":1}]`).h(tok),
		getv("t", `1`).h(tok),
		req("GET", "/v1.0/healthz", "", 204, ""),
		req("GET", "/v1.0/healthz/outbound", "", 204, ""),
	})
}
