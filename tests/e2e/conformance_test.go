package e2e

import (
	"fmt"
	"testing"

	"github.com/statecar/statecar/internal/testutil"
)

// row is one conformance case: steps run in order against one sidecar.
type row struct {
	name  string
	need  []string // capabilities the store must have, else skipped
	skip  string   // non-empty: skipped with this reason
	steps []step
	// fn, when set, runs after steps: checks a table cannot express
	// (several clients, gRPC writes, metadata JSON).
	fn func(t *testing.T, tg target, vars map[string]string)
	// keepAlive runs the steps over one persistent connection.
	keepAlive bool
}

// TestStateHTTP runs the conformance table against every store profile, one
// sidecar per profile, rows in parallel (package Invariant 2).
func TestStateHTTP(t *testing.T) {
	for _, p := range profiles() {
		t.Run(p.typ, func(t *testing.T) {
			t.Parallel()
			meta, skip := p.setup(t)
			if skip != "" {
				t.Skip(skip)
			}
			dir := t.TempDir()
			testutil.WriteFile(t, dir, "statestore.yaml", p.componentYAML("statestore", meta, nil))
			sc := testutil.Start(t, testutil.Options{ResourcesDir: dir})
			// bad is an ETag no write ever produced. The spec's examples use
			// words ("bad", "nope"); stores whose ETags are integers
			// (Redis versions, PostgreSQL xmin) reject a word as an invalid
			// ETag (400, stores.md §2.3, §3.3), so they get a number.
			bad := "bad"
			if !p.native() {
				bad = "999999999"
			}
			tg := target{addr: sc.Addr(), sc: sc, vars: map[string]string{"store": "statestore", "app": sc.AppID, "bad": bad}}
			all := append(rows(p), customRows(p)...)
			// Every table row runs twice: one connection per request, and
			// all steps of the row over one keep-alive connection (errors,
			// 204s and HEAD replies must leave the connection usable).
			for _, r := range rows(p) {
				r.name = "keep-alive/" + r.name
				r.keepAlive = true
				all = append(all, r)
			}
			for _, r := range all {
				t.Run(r.name, func(t *testing.T) {
					if r.skip != "" {
						t.Skip(r.skip)
					}
					for _, c := range r.need {
						if !p.has(c) {
							t.Skipf("store %s lacks capability %s", p.typ, c)
						}
					}
					t.Parallel()
					vars := map[string]string{"k": uniquePrefix()}
					for k, v := range tg.vars {
						vars[k] = v
					}
					rtg := tg
					rtg.keepAlive = r.keepAlive
					runSteps(t, rtg, vars, r.steps)
					if r.fn != nil && !t.Failed() {
						r.fn(t, tg, vars)
					}
				})
			}
		})
	}
}

// rows returns the table for store profile p. Rule numbers refer to
// shared/spec/state-http.md (§13.n = checklist item n).
func rows(p storeProfile) []row {
	// st is a store-specific error text: statecar's embedded stores use the
	// texts of daprd's in-memory store (state-http.md §3.2 notes); other
	// stores have their own, so only the API's part of the message is
	// checked for them.
	native := p.native()
	st := func(s string) string {
		if native {
			return s
		}
		return "{{~any}}"
	}
	malformed := func(body, msg string) step {
		return req("POST", "/v1.0/state/{{store}}", body, 400, legacyErr("ERR_MALFORMED_REQUEST", msg))
	}
	saveErr := func(body string, status int, msg string) step {
		return req("POST", "/v1.0/state/{{store}}", body, status,
			legacyErr("ERR_STATE_SAVE", "failed saving state in state store {{store}}: "+msg))
	}
	etagPrefix := "possible etag mismatch. error from state store: "
	notExist := func(key string) string { return st("state not exist or expired for key={{app}}||" + key) }
	mismatch := func(key, cur, exp string) string {
		return st("state etag not match for key={{app}}||" + key + ": current=" + cur + ", expect=" + exp)
	}
	firstWrite := st("item already exists and no etag was passed")
	txErr := func(body string, status int, code, msg string) step {
		return tx(body, status, legacyErr(code, msg))
	}
	badTx := func(body, msg string) step {
		return txErr(body, 400, "ERR_MALFORMED_REQUEST", "failed deserializing HTTP body: "+msg)
	}
	delWith := func(key, query string, hdr []string, status int, resp string) step {
		return req("DELETE", "/v1.0/state/{{store}}/"+key+query, "", status, resp).h(hdr...)
	}
	delErr := func(key, query string, hdr []string, status int, msg string) step {
		return delWith(key, query, hdr, status, legacyErr("ERR_STATE_DELETE", "failed deleting state with key "+key+": "+msg))
	}
	qParse := func(body, msg string) step {
		return query(body, 500, queryParseErr("{{store}}", msg))
	}
	ttlHdr := "Metadata.ttlexpiretime: {{~time}}"
	// gv expects a GET to return value v (encoding/json bytes), as the
	// store renders it; dv is v as embedded in bulk get / query results.
	gv := func(key, v string) step {
		if p.jsonb {
			v = jsonbText(v)
		}
		return getv(key, v)
	}
	dv := func(v string) string {
		if p.jsonb {
			return jsonbEmbedded(v)
		}
		return v
	}
	// person is the value of the query rows' records.
	person := func(city, org string, id int, state string) string {
		return dv(fmt.Sprintf(`{"city":%q,"person":{"id":%d,"org":%q},"state":%q,"tag":"{{k}}"}`, city, id, org, state))
	}

	return []row{
		// ---- save / get (§8.1, §8.2) -------------------------------------
		{name: "§13.1 save then get returns the JSON value with Etag", steps: []step{
			save(`[{"key":"{{k}}a","value":"v"}]`),
			gv("{{k}}a", `"v"`),
		}},
		{name: "§8.1 PUT saves like POST", steps: []step{
			req("PUT", "/v1.0/state/{{store}}", `[{"key":"{{k}}a","value":{"x":1}}]`, 204, ""),
			gv("{{k}}a", `{"x":1}`),
		}},
		{name: "§8.1 empty array saves nothing and succeeds", steps: []step{
			save(`[]`),
			save(`[] garbage after`),
		}},
		{name: "§2.2 a JSON null body decodes to nothing (Go's decoder): empty save, bulk and transaction", steps: []step{
			save(`null`),
			bulk(`null`, 200, "[]\n"),
			tx(`null`, 204, ""),
			bulk(`{"keys":["{{k}}a"]} trailing`, 200, `[{"key":"{{k}}a"}]`+"\n"),
			tx(`{"operations":[{"operation":"upsert","request":{"key":"{{k}}a","value":1}}]} trailing`, 204, ""),
			gv("{{k}}a", `1`),
		}},
		{name: "§13.2 get of a missing key is 204 without Etag or Content-Type", steps: []step{
			miss("{{k}}nokey"),
		}},
		{name: "§13.3 values are re-serialised like Go encoding/json", steps: []step{
			save(`[{"key":"{{k}}o","value":{"b":1,"a":2.50,"h":"<"}}]`),
			gv("{{k}}o", `{"a":2.5,"b":1,"h":"\u003c"}`),
			save(`[{"key":"{{k}}s","value":"he said \"hi\" <b>"}]`),
			gv("{{k}}s", `"he said \"hi\" \u003cb\u003e"`),
			save(`[{"key":"{{k}}w","value": { "z" : [ 1 , 12.0, { "y":true , "x":null } ], "amp":"&>" } }]`),
			gv("{{k}}w", `{"amp":"\u0026\u003e","z":[1,12,{"x":null,"y":true}]}`),
			save(`[{"key":"{{k}}n","value":12.0},{"key":"{{k}}b","value":false},{"key":"{{k}}arr","value":[1,"a",null]}]`),
			gv("{{k}}n", `12`),
			gv("{{k}}b", `false`),
			gv("{{k}}arr", `[1,"a",null]`),
		}},
		{
			// docs/compatibility.md: statecar keeps number literals that
			// float64 cannot hold exactly (daprd returns 12345678901234567000).
			name: "statecar: large integers keep their precision (docs/compatibility.md)", steps: []step{
				save(`[{"key":"{{k}}p","value":{"name":"Tatooine","b":1,"a":[1,2.50,12345678901234567890],"h":"<&>"}}]`),
				gv("{{k}}p", `{"a":[1,2.5,12345678901234567890],"b":1,"h":"\u003c\u0026\u003e","name":"Tatooine"}`),
				save(`[{"key":"{{k}}i","value":12345678901234567890}]`),
				gv("{{k}}i", `12345678901234567890`),
				save(`[{"key":"{{k}}f","value":[0.1000000000000000055511,0.1,1.5]}]`),
				gv("{{k}}f", `[0.1000000000000000055511,0.1,1.5]`),
			}},
		{
			name: "statecar: numbers float64 holds are formatted like json.Marshal (docs/compatibility.md)",
			skip: func() string {
				if p.jsonb {
					return "PostgreSQL prints jsonb numbers in its own notation"
				}
				return ""
			}(),
			steps: []step{
				save(`[{"key":"{{k}}e","value":[1e21,1E2,2.50,1e-7,100e-2,-0.0e0]}]`),
				gv("{{k}}e", `[1e+21,100,2.5,1e-7,1,-0]`),
			}},
		{name: "§13.4 absent or null value is stored as null and is present", steps: []step{
			save(`[{"key":"{{k}}a"}]`),
			gv("{{k}}a", `null`),
			save(`[{"key":"{{k}}b","value":null}]`),
			gv("{{k}}b", `null`),
		}},
		{name: "§2.2 request Content-Type is ignored", steps: []step{
			save(`[{"key":"{{k}}a","value":1}]`).h("Content-Type: text/plain"),
			gv("{{k}}a", `1`),
		}},

		// ---- bulk get (§8.3) ---------------------------------------------
		{name: "§13.5 bulk get returns data/etag per key in order, misses as key only", steps: []step{
			save(`[{"key":"{{k}}a","value":"v"}]`),
			gv("{{k}}a", `"v"`).capture("e"),
			bulk(`{"keys":["{{k}}a","{{k}}missing","{{k}}a"]}`, 200,
				`[{"key":"{{k}}a","data":"v","etag":"{{e}}"},{"key":"{{k}}missing"},{"key":"{{k}}a","data":"v","etag":"{{e}}"}]`+"\n"),
			req("PUT", "/v1.0/state/{{store}}/bulk", `{"keys":["{{k}}a"],"parallelism":10,"metadata":{"partitionKey":"p"}}`, 200,
				`[{"key":"{{k}}a","data":"v","etag":"{{e}}"}]`+"\n", "Content-Type: application/json"),
		}},
		{name: "§8.3 bulk get embeds values of every JSON type raw", steps: []step{
			save(`[{"key":"{{k}}n1","value":12},{"key":"{{k}}b1","value":true},{"key":"{{k}}arr","value":[1,"a",null]},{"key":"{{k}}s1","value":"he said \"hi\" <b>"},{"key":"{{k}}nl"}]`),
			bulk(`{"keys":["{{k}}n1","{{k}}b1","{{k}}arr","{{k}}s1","{{k}}nl"],"parallelism":10}`, 200,
				`[{"key":"{{k}}n1","data":12,"etag":"{{~etag}}"},{"key":"{{k}}b1","data":true,"etag":"{{~etag}}"},{"key":"{{k}}arr","data":[1,"a",null],"etag":"{{~etag}}"},{"key":"{{k}}s1","data":"he said \"hi\" \u003cb\u003e","etag":"{{~etag}}"},{"key":"{{k}}nl","data":null,"etag":"{{~etag}}"}]`+"\n"),
		}},
		{name: "§13.5 bulk get with no keys is []", steps: []step{
			bulk(`{}`, 200, "[]\n"),
			req("PUT", "/v1.0/state/{{store}}/bulk", `{"keys":[]}`, 200, "[]\n", "Content-Type: application/json"),
		}},
		{name: "§8.3 bulk get body errors", steps: []step{
			bulk(``, 400, legacyErr("ERR_MALFORMED_REQUEST", "failed deserializing HTTP body: EOF")),
			bulk(`{"keys":"x"}`, 400, legacyErr("ERR_MALFORMED_REQUEST", "failed deserializing HTTP body: json: cannot unmarshal string into Go struct field BulkGetRequest.keys of type []string")),
			bulk(`{"keys":["{{k}}a||b"]}`, 400, illegalKeyErr("{{k}}a||b", "{{store}}", true)),
		}},

		// ---- save body errors (§13.7, §13.8, §2.2) -------------------------
		{name: "§13.7 malformed save bodies give Go's JSON errors", steps: []step{
			malformed(`[{"key":"{{k}}x","value":"v2","etag":1}]`, "json: cannot unmarshal number into Go struct field SetRequest.etag of type string"),
			malformed(``, "EOF"),
			malformed(`{"key":"{{k}}x","value":1}`, "json: cannot unmarshal object into Go value of type []state.SetRequest"),
			malformed(`x`, "invalid character 'x' looking for beginning of value"),
			malformed(`[{"key":`, "unexpected EOF"),
			malformed(`[{"key":"{{k}}x","value":1,"metadata":{"ttlInSeconds":10}}]`, "json: cannot unmarshal number into Go struct field SetRequest.metadata of type string"),
			malformed(`[{"key":1,"value":1}]`, "json: cannot unmarshal number into Go struct field SetRequest.key of type string"),
			malformed(" \n\t ", "EOF"),
			miss("{{k}}x"),
		}},
		{name: "§13.8 items are validated before any is written", steps: []step{
			malformed(`[{"key":"{{k}}ok","value":1},{"key":""}]`, `"key" is a required field`),
			miss("{{k}}ok"),
			malformed(`[{"value":1}]`, `"key" is a required field`),
			req("POST", "/v1.0/state/{{store}}", `[{"key":"{{k}}ok2","value":1},{"key":"{{k}}a||b","value":1}]`, 400, illegalKeyErr("{{k}}a||b", "{{store}}", true)),
			miss("{{k}}ok2"),
		}},
		{name: "§13.24 field names are case-insensitive, last duplicate wins, trailing bytes ignored", steps: []step{
			save(`[{"KEY":"{{k}}c","Value":1}]`),
			gv("{{k}}c", `1`),
			save(`[{"key":"{{k}}d","value":1,"value":2}]`),
			gv("{{k}}d", `2`),
			save(`[{"key":"{{k}}g","value":3,"unknown":{"x":1}}] trailing garbage`),
			gv("{{k}}g", `3`),
			save(`[{"key":"{{k}}c","value":4,"ETAG":""}]`),
			gv("{{k}}c", `4`),
			bulk(`{"KEYS":["{{k}}c"]}`, 200, `[{"key":"{{k}}c","data":4,"etag":"{{~etag}}"}]`+"\n"),
			tx(`{"Operations":[{"Operation":"upsert","Request":{"KEY":"{{k}}m","VALUE":5}}]}`, 204, ""),
			gv("{{k}}m", `5`),
		}},

		// ---- ETags and concurrency (§5, §13.9–§13.11, §13.14) -------------
		{name: "§5 a write produces a new ETag and a stale ETag is rejected", steps: []step{
			save(`[{"key":"{{k}}a","value":1}]`),
			gv("{{k}}a", `1`).capture("e1"),
			save(`[{"key":"{{k}}a","value":2,"etag":"{{e1}}"}]`),
			gv("{{k}}a", `2`).capture("e2"),
			saveErr(`[{"key":"{{k}}a","value":3,"etag":"{{e1}}"}]`, 409, etagPrefix+mismatch("{{k}}a", "{{e2}}", "{{e1}}")),
			saveErr(`[{"key":"{{k}}a","value":3,"etag":"{{e1}}","options":{"concurrency":"last-write"}}]`, 409, etagPrefix+mismatch("{{k}}a", "{{e2}}", "{{e1}}")),
			get("{{k}}a", 200, `2`, "Etag: {{e2}}"),
		}},
		{
			// daprd writes b (non-atomic parallel saves); statecar writes
			// nothing (docs/compatibility.md), same error text.
			name: "§13.9 statecar: multi-item save failing an ETag check writes nothing (docs/compatibility.md)", steps: []step{
				save(`[{"key":"{{k}}a","value":1}]`),
				gv("{{k}}a", `1`).capture("ea"),
				saveErr(`[{"key":"{{k}}a","value":2,"etag":"{{bad}}"},{"key":"{{k}}b","value":3}]`, 409,
					etagPrefix+etagPrefix+mismatch("{{k}}a", "{{ea}}", "{{bad}}")),
				miss("{{k}}b"),
				get("{{k}}a", 200, `1`, "Etag: {{ea}}"),
			}},
		{name: "§3.2 a non-integer ETag is 400 invalid etag value on stores with integer ETags", skip: func() string {
			if native {
				return "the embedded stores treat any unknown ETag as a mismatch (409), like daprd's in-memory store"
			}
			return ""
		}(), steps: []step{
			save(`[{"key":"{{k}}a","value":1}]`),
			saveErr(`[{"key":"{{k}}a","value":2,"etag":"word"}]`, 400, "invalid etag value: {{~any}}"),
			gv("{{k}}a", `1`),
		}},
		{name: "§13.10 ETag on a missing key is 409; empty ETag means none", steps: []step{
			saveErr(`[{"key":"{{k}}m","value":"x","etag":"{{bad}}","options":{"concurrency":"first-write","consistency":"strong"}}]`, 409,
				etagPrefix+notExist("{{k}}m")),
			miss("{{k}}m"),
			save(`[{"key":"{{k}}m","value":"x","etag":""}]`),
			gv("{{k}}m", `"x"`),
			save(`[{"key":"{{k}}m","value":"y","etag":null}]`),
			gv("{{k}}m", `"y"`),
		}},
		{name: "§13.11 first-write without ETag on an existing key is 409 on save and delete", steps: []step{
			save(`[{"key":"{{k}}f","value":1,"options":{"concurrency":"first-write"}}]`),
			gv("{{k}}f", `1`).capture("e"),
			saveErr(`[{"key":"{{k}}f","value":2,"options":{"concurrency":"first-write"}}]`, 409, etagPrefix+firstWrite),
			save(`[{"key":"{{k}}f","value":3,"etag":"{{e}}","options":{"concurrency":"first-write"}}]`),
			gv("{{k}}f", `3`).capture("e3"),
			delErr("{{k}}f", "?concurrency=first-write", nil, 409, etagPrefix+firstWrite),
			delWith("{{k}}f", "?concurrency=first-write", []string{"If-Match: {{e3}}"}, 204, ""),
			miss("{{k}}f"),
			delWith("{{k}}f", "?concurrency=first-write", nil, 204, ""),
		}},
		{name: "§13.12 bad option values are store errors (save/delete 500), ignored on get", steps: []step{
			saveErr(`[{"key":"{{k}}x","value":1,"options":{"concurrency":"bogus"}}]`, 500, "unrecognized concurrency model 'bogus'"),
			saveErr(`[{"key":"{{k}}x","value":1,"options":{"consistency":"bogus"}}]`, 500, "unrecognized consistency model 'bogus'"),
			saveErr(`[{"key":"{{k}}x","value":1,"options":{"concurrency":"bogus","consistency":"bogus2"}}]`, 500, "unrecognized consistency model 'bogus2'").
				note("state.CheckRequestOptions checks consistency first"),
			miss("{{k}}x"),
			save(`[{"key":"{{k}}x","value":1,"options":{"concurrency":"last-write","consistency":"eventual"}}]`),
			gv("{{k}}x", `1`),
		}},
		{name: "§13.12 bad consistency/concurrency on delete is 500, consistency on get ignored", skip: func() string {
			if p.typ == "state.postgresql" {
				return "PostgreSQL's delete ignores the options (stores.md §1): the next row"
			}
			return ""
		}(), steps: []step{
			save(`[{"key":"{{k}}x","value":1}]`),
			delErr("{{k}}x", "?consistency=bogus", nil, 500, "unrecognized consistency model 'bogus'"),
			delErr("{{k}}x", "?concurrency=bogus", nil, 500, "unrecognized concurrency model 'bogus'"),
			delErr("{{k}}x", "?concurrency=bogus&consistency=bogus2", nil, 500, "unrecognized consistency model 'bogus2'").
				note("state.CheckRequestOptions checks consistency first"),
			get("{{k}}x?consistency=bogus", 200, `1`, "Etag"),
			get("{{k}}x?consistency=strong", 200, `1`, "Etag"),
			delWith("{{k}}x", "?consistency=strong&concurrency=last-write", nil, 204, ""),
			miss("{{k}}x"),
		}},
		{name: "stores.md §1 PostgreSQL: bad consistency/concurrency on delete are ignored (204), as daprd", skip: func() string {
			if p.typ != "state.postgresql" {
				return "only state.postgresql ignores them"
			}
			return ""
		}(), steps: []step{
			save(`[{"key":"{{k}}x","value":1}]`),
			delWith("{{k}}x", "?consistency=bogus", nil, 204, ""),
			miss("{{k}}x"),
			save(`[{"key":"{{k}}x","value":1}]`),
			delWith("{{k}}x", "?concurrency=bogus", nil, 204, ""),
			miss("{{k}}x"),
			saveErr(`[{"key":"{{k}}x","value":1,"options":{"concurrency":"bogus"}}]`, 500, "unrecognized concurrency model 'bogus'"),
			tx(`{"operations":[{"operation":"upsert","request":{"key":"{{k}}t","value":1}},{"operation":"delete","request":{"key":"{{k}}t","options":{"consistency":"bogus"}}}]}`, 204, ""),
			miss("{{k}}t"),
		}},
		{name: "§13.14 delete: missing key 204, If-Match checks, empty If-Match is absent", steps: []step{
			delWith("{{k}}missing", "", nil, 204, ""),
			delErr("{{k}}missing", "", []string{"If-Match: {{bad}}"}, 409, etagPrefix+notExist("{{k}}missing")),
			save(`[{"key":"{{k}}d","value":1}]`),
			gv("{{k}}d", `1`).capture("e"),
			delErr("{{k}}d", "", []string{"If-Match: {{bad}}"}, 409, etagPrefix+mismatch("{{k}}d", "{{e}}", "{{bad}}")),
			gv("{{k}}d", `1`),
			delWith("{{k}}d", "", []string{"If-Match: {{e}}"}, 204, ""),
			miss("{{k}}d"),
			save(`[{"key":"{{k}}d","value":2}]`),
			delWith("{{k}}d", "", []string{"If-Match:"}, 204, ""),
			miss("{{k}}d"),
		}},

		// ---- illegal keys (§4, §13.13) -------------------------------------
		{name: "§13.13 keys containing || are rejected on every route", steps: []step{
			req("POST", "/v1.0/state/{{store}}", `[{"key":"{{k}}a||b","value":1}]`, 400, illegalKeyErr("{{k}}a||b", "{{store}}", true)),
			get("{{k}}a||b", 400, illegalKeyErr("{{k}}a||b", "{{store}}", true)),
			get("{{k}}a%7C%7Cb", 400, illegalKeyErr("{{k}}a||b", "{{store}}", true)),
			del("{{k}}a%7c%7cb", 400, illegalKeyErr("{{k}}a||b", "{{store}}", true)),
			bulk(`{"keys":["{{k}}ok","{{k}}a||b"]}`, 400, illegalKeyErr("{{k}}a||b", "{{store}}", true)),
			tx(`{"operations":[{"operation":"upsert","request":{"key":"{{k}}a||b","value":1}}]}`, 400, illegalKeyErr("{{k}}a||b", "{{store}}", false)),
			tx(`{"operations":[{"operation":"upsert","request":{"key":"{{k}}ok","value":1}},{"operation":"delete","request":{"key":"{{k}}x||"}}]}`, 400, illegalKeyErr("{{k}}x||", "{{store}}", false)),
			miss("{{k}}ok"),
		}},

		// ---- transactions (§8.5, §13.15–§13.17) ----------------------------
		{name: "§8.5 transaction upserts and deletes", steps: []step{
			save(`[{"key":"{{k}}k9","value":9}]`),
			tx(`{"operations":[{"operation":"upsert","request":{"key":"{{k}}t1","value":"newValue1"}},{"operation":"delete","request":{"key":"{{k}}k9"}}]}`, 204, ""),
			bulk(`{"keys":["{{k}}t1","{{k}}k9"]}`, 200, `[{"key":"{{k}}t1","data":"newValue1","etag":"{{~etag}}"},{"key":"{{k}}k9"}]`+"\n"),
			req("PUT", "/v1.0/state/{{store}}/transaction", `{"operations":[{"operation":"delete","request":{"key":"{{k}}t1"}}]}`, 204, ""),
			miss("{{k}}t1"),
		}},
		{name: "§13.15 transaction ETag mismatch is 500 ERR_STATE_TRANSACTION", steps: []step{
			save(`[{"key":"{{k}}t1","value":1}]`),
			gv("{{k}}t1", `1`).capture("e"),
			txErr(`{"operations":[{"operation":"upsert","request":{"key":"{{k}}t1","value":1,"etag":"{{bad}}"}}]}`, 500, "ERR_STATE_TRANSACTION",
				"error while executing state transaction: "+etagPrefix+mismatch("{{k}}t1", "{{e}}", "{{bad}}")),
			txErr(`{"operations":[{"operation":"delete","request":{"key":"{{k}}none","etag":"{{bad}}"}}]}`, 500, "ERR_STATE_TRANSACTION",
				"error while executing state transaction: "+etagPrefix+notExist("{{k}}none")),
			tx(`{"operations":[{"operation":"upsert","request":{"key":"{{k}}t1","value":2,"etag":"{{e}}"}}]}`, 204, ""),
			gv("{{k}}t1", `2`).capture("e2"),
			tx(`{"operations":[{"operation":"delete","request":{"key":"{{k}}t1","etag":"{{e2}}"}}]}`, 204, ""),
			miss("{{k}}t1"),
		}},
		{name: "§8.5 transactions are atomic: a failed condition writes nothing", steps: []step{
			save(`[{"key":"{{k}}a","value":1}]`),
			gv("{{k}}a", `1`).capture("ea"),
			tx(`{"operations":[{"operation":"upsert","request":{"key":"{{k}}b","value":1}},{"operation":"delete","request":{"key":"{{k}}a"}},{"operation":"upsert","request":{"key":"{{k}}c","value":1,"etag":"{{bad}}"}}]}`, 500, "").any(),
			miss("{{k}}b"),
			get("{{k}}a", 200, `1`, "Etag: {{ea}}"),
			txErr(`{"operations":[{"operation":"upsert","request":{"key":"{{k}}d","value":1,"options":{"concurrency":"first-write"}}},{"operation":"upsert","request":{"key":"{{k}}a","value":2,"options":{"concurrency":"first-write"}}}]}`, 500,
				"ERR_STATE_TRANSACTION", "error while executing state transaction: "+etagPrefix+firstWrite),
			miss("{{k}}d"),
		}},
		{name: "§8.5 later operations on the same key override earlier ones", steps: []step{
			tx(`{"operations":[{"operation":"upsert","request":{"key":"{{k}}x","value":1}},{"operation":"upsert","request":{"key":"{{k}}x","value":2}}]}`, 204, ""),
			gv("{{k}}x", `2`),
			tx(`{"operations":[{"operation":"upsert","request":{"key":"{{k}}y","value":1}},{"operation":"delete","request":{"key":"{{k}}y"}}]}`, 204, ""),
			miss("{{k}}y"),
			tx(`{"operations":[{"operation":"delete","request":{"key":"{{k}}x"}},{"operation":"upsert","request":{"key":"{{k}}x","value":3}}]}`, 204, ""),
			gv("{{k}}x", `3`),
		}},
		{name: "§13.15 operation names are case-sensitive upsert/delete", steps: []step{
			txErr(`{"operations":[{"operation":"merge","request":{"key":"{{k}}t1"}}]}`, 400, "ERR_NOT_SUPPORTED_STATE_OPERATION", "operation type merge not supported"),
			txErr(`{"operations":[{"operation":"UPSERT","request":{"key":"{{k}}t1","value":1}}]}`, 400, "ERR_NOT_SUPPORTED_STATE_OPERATION", "operation type UPSERT not supported"),
			txErr(`{"operations":[{"operation":"upsert","request":{"key":"{{k}}t2","value":1}},{"operation":"Delete","request":{"key":"{{k}}t1"}}]}`, 400, "ERR_NOT_SUPPORTED_STATE_OPERATION", "operation type Delete not supported"),
			miss("{{k}}t1"),
			miss("{{k}}t2"),
		}},
		{name: "§5 bad option values in a transaction are 500 ERR_STATE_TRANSACTION", steps: []step{
			txErr(`{"operations":[{"operation":"upsert","request":{"key":"{{k}}a","value":1,"options":{"concurrency":"bogus"}}}]}`, 500,
				"ERR_STATE_TRANSACTION", "error while executing state transaction: unrecognized concurrency model 'bogus'"),
			miss("{{k}}a"),
		}},
		{name: "§8.5 transaction body errors", steps: []step{
			badTx(``, "EOF"),
			badTx(`{"operations":[{"operation":"upsert","request":{"key":"{{k}}t1","value":1,"etag":5}}]}`,
				"1 error(s) decoding:\n\n* 'ETag' expected type 'string', got unconvertible type 'float64', value: '5'"),
			badTx(`{"operations":[{"operation":"upsert","request":{"key":"{{k}}t1","value":1,"metadata":{"a":1}}}]}`,
				"1 error(s) decoding:\n\n* 'Metadata[a]' expected type 'string', got unconvertible type 'float64', value: '1'"),
			tx(`{}`, 204, ""),
			tx(`{"operations":[]}`, 204, ""),
			miss("{{k}}t1"),
		}},
		{name: "§13.15 an operation without request upserts the empty key with null", steps: []step{
			tx(`{"operations":[{"operation":"upsert"}]}`, 204, ""),
			bulk(`{"keys":[""]}`, 200, `[{"key":"","data":null,"etag":"{{~etag}}"}]`+"\n"),
			tx(`{"operations":[{"operation":"delete","request":{"key":""}}]}`, 204, ""),
			bulk(`{"keys":[""]}`, 200, `[{"key":""}]`+"\n"),
		}},
		{name: "§13.16 transaction on a store without TRANSACTIONAL", skip: "no statecar store type lacks TRANSACTIONAL (state.pebble, state.in-memory, state.redis and state.postgresql all have it)"},
		{name: "§13.17 transaction TTL comes from the URL or the operation, not the body metadata", need: []string{capTTL}, steps: []step{
			tx(`{"operations":[{"operation":"upsert","request":{"key":"{{k}}a","value":1}}],"metadata":{"ttlInSeconds":"100"}}`, 204, ""),
			get("{{k}}a", 200, `1`, "!Metadata.ttlexpiretime"),
			req("POST", "/v1.0/state/{{store}}/transaction?metadata.ttlInSeconds=100", `{"operations":[{"operation":"upsert","request":{"key":"{{k}}b","value":1}}]}`, 204, ""),
			get("{{k}}b", 200, `1`, ttlHdr),
			tx(`{"operations":[{"operation":"upsert","request":{"key":"{{k}}c","value":1,"metadata":{"ttlInSeconds":"100"}}}]}`, 204, ""),
			get("{{k}}c", 200, `1`, ttlHdr),
		}},

		// ---- TTL (§7, §13.18) ----------------------------------------------
		{name: "§13.18 ttlInSeconds sets ttlExpireTime on get and bulk get", need: []string{capTTL}, steps: []step{
			req("POST", "/v1.0/state/{{store}}?metadata.ttlInSeconds=100", `[{"key":"{{k}}t","value":"t"}]`, 204, ""),
			get("{{k}}t", 200, `"t"`, ttlHdr, "Etag", "Content-Type: application/json"),
			bulk(`{"keys":["{{k}}t"]}`, 200, `[{"key":"{{k}}t","data":"t","etag":"{{~etag}}","metadata":{"ttlExpireTime":"{{~time}}"}}]`+"\n"),
			save(`[{"key":"{{k}}i","value":1,"metadata":{"ttlInSeconds":"100"}}]`),
			get("{{k}}i", 200, `1`, ttlHdr),
			save(`[{"key":"{{k}}i","value":2}]`).note("a write without TTL removes the TTL"),
			get("{{k}}i", 200, `2`, "!Metadata.ttlexpiretime"),
			save(`[{"key":"{{k}}j","value":1,"metadata":{"ttlInSeconds":"-1"}}]`),
			get("{{k}}j", 200, `1`, "!Metadata.ttlexpiretime"),
			req("POST", "/v1.0/state/{{store}}?metadata.ttlInSeconds=100&metadata.ttlInSeconds=abc", `[{"key":"{{k}}f","value":1}]`, 204, "").note("first value of a repeated parameter wins"),
			get("{{k}}f", 200, `1`, ttlHdr),
			req("POST", "/v1.0/state/{{store}}?Metadata.ttlInSeconds=abc", `[{"key":"{{k}}g","value":1}]`, 204, "").note("the metadata. prefix is case-sensitive"),
			get("{{k}}g", 200, `1`, "!Metadata.ttlexpiretime"),
			req("POST", "/v1.0/state/{{store}}?metadata.ttlInSeconds=-1", `[{"key":"{{k}}h","value":1,"metadata":{"ttlInSeconds":"100"}}]`, 204, "").note("URL metadata overrides item metadata"),
			get("{{k}}h", 200, `1`, "!Metadata.ttlexpiretime"),
			save(`[{"key":"{{k}}z","value":1,"metadata":{"ttlInSeconds":"0"}}]`).note("0 means no expiry"),
			get("{{k}}z", 200, `1`, "!Metadata.ttlexpiretime"),
			save(`[{"key":"{{k}}e","value":1,"metadata":{"ttlInSeconds":"100"}}]`),
			req("POST", "/v1.0/state/{{store}}?metadata.ttlInSeconds=", `[{"key":"{{k}}e","value":2}]`, 204, "").
				note("an empty ttlInSeconds is no TTL: every store parser tests val != \"\" first"),
			get("{{k}}e", 200, `2`, "!Metadata.ttlexpiretime"),
			save(`[{"key":"{{k}}e","value":3,"metadata":{"ttlInSeconds":""}}]`).note("an empty ttlInSeconds is no TTL"),
			get("{{k}}e", 200, `3`, "!Metadata.ttlexpiretime"),
		}},
		{name: "§13.18 a non-integer ttlInSeconds is 500 ERR_STATE_SAVE", need: []string{capTTL}, steps: []step{
			req("POST", "/v1.0/state/{{store}}?metadata.ttlInSeconds=abc", `[{"key":"{{k}}x","value":1}]`, 500,
				legacyErr("ERR_STATE_SAVE", "failed saving state in state store {{store}}: "+st(`strconv.Atoi: parsing "abc": invalid syntax`))),
			miss("{{k}}x"),
		}},
		{name: "§7 an expired key is gone for get, bulk get and ETag checks", need: []string{capTTL}, steps: []step{
			req("POST", "/v1.0/state/{{store}}?metadata.ttlInSeconds=1", `[{"key":"{{k}}e","value":"x"}]`, 204, ""),
			save(`[{"key":"{{k}}o","value":"y","metadata":{"ttlInSeconds":"1"}}]`),
			tx(`{"operations":[{"operation":"upsert","request":{"key":"{{k}}t","value":"z","metadata":{"ttlInSeconds":"1"}}}]}`, 204, ""),
			miss("{{k}}e").eventually(),
			miss("{{k}}o").eventually(),
			miss("{{k}}t").eventually(),
			bulk(`{"keys":["{{k}}e","{{k}}o","{{k}}t"]}`, 200, `[{"key":"{{k}}e"},{"key":"{{k}}o"},{"key":"{{k}}t"}]`+"\n"),
			saveErr(`[{"key":"{{k}}e","value":1,"etag":"123"}]`, 409, etagPrefix+notExist("{{k}}e")),
			save(`[{"key":"{{k}}e","value":2,"options":{"concurrency":"first-write"}}]`).note("an expired key does not exist for first-write"),
			get("{{k}}e", 200, `2`, "!Metadata.ttlexpiretime"),
		}},

		// ---- paths and routing (§1, §2.1, §13.20, §13.21) -------------------
		{name: "§13.20 path parameters are query-unescaped once (+ is a space)", steps: []step{
			save(`[{"key":"{{k}}a/b c+d%","value":1}]`),
			gv("{{k}}a%2Fb%20c%2Bd%25", `1`),
			gv("{{k}}a%2Fb+c%2Bd%25", `1`),
			save(`[{"key":"{{k}}x y","value":2}]`),
			gv("{{k}}x+y", `2`),
			del("{{k}}a%2Fb+c%2Bd%25", 204, ""),
			miss("{{k}}a%2Fb%20c%2Bd%25"),
		}},
		{name: "§13.20 paths are cleaned before routing", steps: []step{
			save(`[{"key":"{{k}}k9","value":9}]`),
			gv("{{k}}k9/", `9`),
			req("GET", "//v1.0//state/{{store}}//{{k}}k9", "", 200, `9`),
			req("GET", "/v1.0/state/{{store}}/x/../{{k}}k9", "", 200, `9`),
			req("GET", "/v1.0/./state/{{store}}/{{k}}k9", "", 200, `9`),
			req("POST", "/v1.0/state/{{store}}/", `[{"key":"{{k}}s","value":1}]`, 204, ""),
			gv("{{k}}s", `1`),
		}},
		{name: "§13.20 an unescaped / in a key matches no route", steps: []step{
			get("{{k}}a/b", 404, directInvokeErr),
			del("{{k}}a/b", 404, directInvokeErr),
		}},
		{name: "§2.1 a malformed escape is a 400", steps: []step{
			get("{{k}}a%zz", 400, "").any(),
		}},
		{name: "§13.21 wrong methods and unknown paths fall back to service invocation (404 ERR_DIRECT_INVOKE)", steps: []step{
			req("POST", "/v1.0/state/{{store}}/{{k}}k", `[{"key":"{{k}}k","value":1}]`, 404, directInvokeErr),
			req("GET", "/v1.0/state/{{store}}", "", 404, directInvokeErr),
			req("DELETE", "/v1.0/state/{{store}}", "", 404, directInvokeErr),
			req("HEAD", "/v1.0/state/{{store}}/{{k}}k", "", 404, "").any(),
			req("POST", "/v1.0/state/{{store}}/query", `{}`, 404, directInvokeErr),
			req("PATCH", "/v1.0/state/{{store}}/{{k}}k", `[]`, 404, directInvokeErr),
			req("OPTIONS", "/v1.0/state/{{store}}/{{k}}k", "", 404, directInvokeErr),
			req("GET", "/v1.0-alpha1/state/{{store}}/query", "", 404, directInvokeErr),
			req("POST", "/v1.0-beta1/state/{{store}}/query", `{}`, 404, directInvokeErr),
			req("GET", "/v1.0/nothing/here", "", 404, directInvokeErr),
			miss("{{k}}k"),
		}},
		{name: "§1 GET/DELETE of bulk and transaction address keys of those names", steps: []step{
			save(`[{"key":"bulk","value":"b"},{"key":"transaction","value":"t"}]`),
			req("GET", "/v1.0/state/{{store}}/bulk", "", 200, `"b"`, "Etag"),
			req("GET", "/v1.0/state/{{store}}/transaction", "", 200, `"t"`, "Etag"),
			req("DELETE", "/v1.0/state/{{store}}/bulk", "", 204, ""),
			req("DELETE", "/v1.0/state/{{store}}/transaction", "", 204, ""),
			req("GET", "/v1.0/state/{{store}}/bulk", "", 204, ""),
		}},
		{name: "§2.3 metadata query parameters are accepted on every route", steps: []step{
			req("POST", "/v1.0/state/{{store}}?metadata.partitionKey=p&metadata.contentType=application/json&other=1", `[{"key":"{{k}}a","value":1}]`, 204, ""),
			req("GET", "/v1.0/state/{{store}}/{{k}}a?metadata.partitionKey=p&metadata.contentType=application/json", "", 200, `1`),
			req("POST", "/v1.0/state/{{store}}/bulk?metadata.partitionKey=p", `{"keys":["{{k}}a"]}`, 200, `[{"key":"{{k}}a","data":1,"etag":"{{~etag}}"}]`+"\n"),
			req("DELETE", "/v1.0/state/{{store}}/{{k}}a?metadata.partitionKey=p", "", 204, ""),
			miss("{{k}}a"),
		}},

		// ---- unknown store (§13.22) ------------------------------------------
		{name: "§13.22 unknown store is 400 ERR_STATE_STORE_NOT_FOUND with appID (query: null)", steps: []step{
			req("POST", "/v1.0/state/nostore", `[{"key":"x","value":1}]`, 400, storeNotFoundErr("nostore", "{{app}}")),
			req("PUT", "/v1.0/state/nostore", `garbage`, 400, storeNotFoundErr("nostore", "{{app}}")),
			req("GET", "/v1.0/state/nostore/x", "", 400, storeNotFoundErr("nostore", "{{app}}")),
			req("GET", "/v1.0/state/nostore/a||b", "", 400, storeNotFoundErr("nostore", "{{app}}")),
			req("DELETE", "/v1.0/state/nostore/x", "", 400, storeNotFoundErr("nostore", "{{app}}")),
			req("POST", "/v1.0/state/nostore/bulk", `{"keys":["x"]}`, 400, storeNotFoundErr("nostore", "{{app}}")),
			req("POST", "/v1.0/state/nostore/transaction", `garbage`, 400, storeNotFoundErr("nostore", "{{app}}")),
			req("POST", "/v1.0-alpha1/state/nostore/query", `{"filter":{}}`, 400, storeNotFoundErr("nostore", "")),
			req("GET", "/v1.0/state/StateStore/x", "", 400, storeNotFoundErr("StateStore", "{{app}}")).note("store names are case-sensitive"),
		}},

		// ---- query (§8.6, §13.23) --------------------------------------------
		{name: "§13.23 query filters, sorts and pages; no match is 204", need: []string{capQuery}, steps: []step{
			save(`[{"key":"{{k}}1","value":{"tag":"{{k}}","person":{"org":"Dev Ops","id":1036},"city":"Seattle","state":"WA"}},` +
				`{"key":"{{k}}2","value":{"tag":"{{k}}","person":{"org":"Hardware","id":1028},"city":"Portland","state":"OR"}},` +
				`{"key":"{{k}}3","value":{"tag":"{{k}}","person":{"org":"Finance","id":1071},"city":"Sacramento","state":"CA"}},` +
				`{"key":"{{k}}4","value":{"tag":"{{k}}","person":{"org":"Dev Ops","id":1042},"city":"Spokane","state":"WA"}}]`),
			query(`{"filter":{"AND":[{"EQ":{"tag":"{{k}}"}},{"EQ":{"state":"WA"}}]},"sort":[{"key":"person.id","order":"DESC"}],"page":{"limit":1}}`, 200,
				`{"results":[{"key":"{{k}}4","data":`+person("Spokane", "Dev Ops", 1042, "WA")+`,"etag":"{{~etag}}"}],"token":"1"}`+"\n"),
			query(`{"filter":{"AND":[{"EQ":{"tag":"{{k}}"}},{"EQ":{"state":"WA"}}]},"sort":[{"key":"person.id","order":"DESC"}],"page":{"limit":1,"token":"1"}}`, 200,
				`{"results":[{"key":"{{k}}1","data":`+person("Seattle", "Dev Ops", 1036, "WA")+`,"etag":"{{~etag}}"}],"token":"2"}`+"\n"),
			query(`{"filter":{"AND":[{"EQ":{"tag":"{{k}}"}},{"IN":{"state":["CA","OR"]}}]},"sort":[{"key":"person.id"}]}`, 200,
				`{"results":[{"key":"{{k}}2","data":`+person("Portland", "Hardware", 1028, "OR")+`,"etag":"{{~etag}}"},`+
					`{"key":"{{k}}3","data":`+person("Sacramento", "Finance", 1071, "CA")+`,"etag":"{{~etag}}"}]}`+"\n"),
			req("PUT", "/v1.0-alpha1/state/{{store}}/query", `{"filter":{"AND":[{"EQ":{"tag":"{{k}}"}},{"OR":[{"EQ":{"person.org":"Finance"}},{"GT":{"person.id":1040}}]}]},"sort":[{"key":"person.id","order":"ASC"}]}`, 200,
				`{"results":[{"key":"{{k}}4","data":`+person("Spokane", "Dev Ops", 1042, "WA")+`,"etag":"{{~etag}}"},`+
					`{"key":"{{k}}3","data":`+person("Sacramento", "Finance", 1071, "CA")+`,"etag":"{{~etag}}"}]}`+"\n",
				"Content-Type: application/json"),
			query(`{"filter":{"AND":[{"EQ":{"tag":"{{k}}"}},{"EQ":{"state":"NY"}}]}}`, 204, ""),
		}},
		{name: "§8.6 query parse errors are 500 ERR_STATE_QUERY with the parser's text", need: []string{capQuery}, steps: []step{
			qParse(``, "unexpected end of JSON input"),
			qParse(`{"filter":{"XX":{"a":1}}}`, `unsupported filter "XX"`),
			qParse(`{"filter":{"AND":[{"EQ":{"a":1}}]}}`, "AND filter must contain at least two entries"),
			qParse(`{"filter":{"OR":[{"EQ":{"a":1}}]}}`, "OR filter must contain at least two entries"),
			qParse(`{"filter":{"OR":{"EQ":{"a":1}}}}`, "OR filter must be an array"),
			qParse(`{"filter":{"EQ":{"a":1,"b":2}}}`, "EQ filter must contain a single key/value pair"),
			qParse(`{"filter":{"EQ":1}}`, "EQ filter must be a map"),
			qParse(`{"filter":{"IN":{"a":1}}}`, "IN filter value must be an array"),
			qParse(`{"filter":{"EQ":{"a":1},"NEQ":{"b":1}}}`, "filter unit must have a single element"),
			qParse(`{"filter":{"AND":[1,{"EQ":{"a":1}}]}}`, "filter unit must be a map"),
		}},
		{name: "statecar: a query page token that is not an offset fails (docs/compatibility.md)", need: []string{capQuery}, skip: func() string {
			if !native {
				return "the token format of this store is its own"
			}
			return ""
		}(), steps: []step{
			query(`{"filter":{"EQ":{"tag":"{{k}}"}},"page":{"limit":1,"token":"x"}}`, 500,
				`{"errorCode":"ERR_STATE_QUERY","message":"state store {{store}} query failed: invalid page token \"x\": {{~any}}","details":[`+
					resourceInfo("{{store}}")+`,`+errInfo+`null,"reason":"DAPR_STATE_QUERY_FAILED"}]}`),
		}},
		{name: "§13.23 query on a store without QUERY_API is 500 not supported", steps: func() []step {
			if p.has(capQuery) {
				return nil
			}
			return []step{query(`{"filter":{}}`, 500, queryNotSupportedErr("{{store}}"))}
		}(), skip: func() string {
			if p.has(capQuery) {
				return "store supports QUERY_API"
			}
			return ""
		}()},
	}
}
