package e2e

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	commonv1 "github.com/dapr/dapr/pkg/proto/common/v1"
	runtimev1 "github.com/dapr/dapr/pkg/proto/runtime/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// long enables the long variants of the concurrency rows (go test
// ./tests/e2e/ -long): more rounds, clients and transactions.
var long = flag.Bool("long", false, "run long concurrency variants")

// scale returns short, or long under -long.
func scale(short, long_ int) int {
	if *long {
		return long_
	}
	return short
}

// customRows are checks the step table cannot express; they run on the
// shared sidecar of a store profile like the table rows.
func customRows(p storeProfile) []row {
	return []row{
		{name: "§9 metadata lists the store with its capabilities", fn: func(t *testing.T, tg target, _ map[string]string) {
			checkMetadataCaps(t, tg.addr, "statestore", p)
		}},
		{name: "concurrency: racing first-write creates of one key, exactly one wins", need: []string{capETag}, fn: raceFirstWrite},
		{name: "concurrency: racing ETag updates of one key, exactly one wins per round", need: []string{capETag}, fn: raceETagUpdate},
		{name: "concurrency: bulk get never sees half a transaction", need: []string{capTx}, fn: txIsolation},
		{name: "statecar: embedded-store ETags are increasing decimal sequence numbers (docs/compatibility.md)", fn: func(t *testing.T, tg target, vars map[string]string) {
			if !p.native() {
				t.Skip("ETag format is the store's own")
			}
			key := vars["k"] + "seq"
			var last uint64
			for i := 0; i < 5; i++ {
				if r, err := rawDo(tg.addr, "POST", "/v1.0/state/statestore", nil, fmt.Sprintf(`[{"key":%q,"value":%d}]`, key, i)); err != nil || r.Status != 204 {
					t.Fatalf("save: %v %v", r, err)
				}
				r, err := rawDo(tg.addr, "GET", "/v1.0/state/statestore/"+key, nil, "")
				if err != nil || r.Status != 200 {
					t.Fatalf("get: %v %v", r, err)
				}
				n, err := strconv.ParseUint(r.Header.Get("Etag"), 10, 64)
				if err != nil || n == 0 || n <= last {
					t.Fatalf("write %d: Etag %q is not a decimal sequence number above %d", i, r.Header.Get("Etag"), last)
				}
				last = n
			}
		}},
		{name: "§7 ttlExpireTime is the write time plus ttlInSeconds, in UTC seconds", need: []string{capTTL}, fn: ttlExpireValue},
		{
			// §6.2/§13.6: daprd answers an empty 200 body; statecar emits
			// the bytes as a JSON string (docs/compatibility.md).
			name: "§13.6 statecar: bulk get over a non-JSON value written by gRPC (docs/compatibility.md)",
			fn:   func(t *testing.T, tg target, vars map[string]string) { nonJSONValue(t, tg, vars, p) },
		},
	}
}

// checkMetadataCaps asserts GET /v1.0/metadata lists store name with the
// profile's type and exactly its capabilities (§9, runtime-http.md §3.1).
func checkMetadataCaps(t *testing.T, addr, name string, p storeProfile) {
	t.Helper()
	resp, err := rawDo(addr, "GET", "/v1.0/metadata", nil, "")
	if err != nil {
		t.Fatal(err)
	}
	if resp.Status != 200 || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("GET /v1.0/metadata = %d %q, want 200 application/json", resp.Status, resp.Header.Get("Content-Type"))
	}
	if !strings.HasSuffix(string(resp.Body), "}\n") {
		t.Errorf("metadata body does not end with a newline: %q", resp.Body)
	}
	var md struct {
		ID         string `json:"id"`
		Components []struct {
			Name         string   `json:"name"`
			Type         string   `json:"type"`
			Version      string   `json:"version"`
			Capabilities []string `json:"capabilities"`
		} `json:"components"`
	}
	if err := json.Unmarshal(resp.Body, &md); err != nil {
		t.Fatalf("metadata is not JSON: %v\n%s", err, resp.Body)
	}
	for _, c := range md.Components {
		if c.Name != name {
			continue
		}
		if c.Type != p.typ || c.Version != "v1" {
			t.Errorf("component %s: type %q version %q, want %q v1", name, c.Type, c.Version, p.typ)
		}
		if fmt.Sprint(sortedCopy(c.Capabilities)) != fmt.Sprint(sortedCopy(p.caps)) {
			t.Errorf("component %s capabilities %v, want (any order) %v", name, c.Capabilities, p.caps)
		}
		return
	}
	t.Errorf("metadata has no component %q: %s", name, resp.Body)
}

// raceFirstWrite: N clients save one new key with first-write at once:
// exactly one gets 204, every other one 409 (DESIGN.md write path step 3).
func raceFirstWrite(t *testing.T, tg target, vars map[string]string) {
	n := scale(16, 64)
	for round := 0; round < scale(5, 100); round++ {
		key := fmt.Sprintf("%sfw%d", vars["k"], round)
		codes := make([]int, n)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				<-start
				body := fmt.Sprintf(`[{"key":%q,"value":%d,"options":{"concurrency":"first-write"}}]`, key, i)
				resp, err := rawDo(tg.addr, "POST", "/v1.0/state/statestore", nil, body)
				if err != nil {
					t.Error(err)
					return
				}
				codes[i] = resp.Status
			}(i)
		}
		close(start)
		wg.Wait()
		won, lost := 0, 0
		for _, c := range codes {
			switch c {
			case 204:
				won++
			case 409:
				lost++
			}
		}
		if won != 1 || lost != n-1 {
			t.Fatalf("round %d: statuses %v, want exactly one 204 and %d 409", round, codes, n-1)
		}
	}
}

// raceETagUpdate: N clients update one key with the same current ETag:
// exactly one succeeds.
func raceETagUpdate(t *testing.T, tg target, vars map[string]string) {
	n := scale(8, 32)
	key := vars["k"] + "eu"
	if r, err := rawDo(tg.addr, "POST", "/v1.0/state/statestore", nil, fmt.Sprintf(`[{"key":%q,"value":0}]`, key)); err != nil || r.Status != 204 {
		t.Fatalf("initial save: %v %v", r, err)
	}
	for round := 0; round < scale(5, 100); round++ {
		r, err := rawDo(tg.addr, "GET", "/v1.0/state/statestore/"+key, nil, "")
		if err != nil || r.Status != 200 {
			t.Fatalf("get: %v %v", r, err)
		}
		etag := r.Header.Get("Etag")
		codes := make([]int, n)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				<-start
				body := fmt.Sprintf(`[{"key":%q,"value":%d,"etag":%q}]`, key, i, etag)
				resp, err := rawDo(tg.addr, "POST", "/v1.0/state/statestore", nil, body)
				if err != nil {
					t.Error(err)
					return
				}
				codes[i] = resp.Status
			}(i)
		}
		close(start)
		wg.Wait()
		won := 0
		for _, c := range codes {
			if c == 204 {
				won++
			} else if c != 409 {
				t.Fatalf("round %d: unexpected status in %v", round, codes)
			}
		}
		if won != 1 {
			t.Fatalf("round %d: statuses %v, want exactly one 204", round, codes)
		}
	}
}

// txIsolation: a writer runs transactions that set three keys to the same
// counter value while readers poll bulk get of the three keys: every read
// must show one value for all three (all-or-nothing visibility).
func txIsolation(t *testing.T, tg target, vars map[string]string) {
	keys := []string{vars["k"] + "a", vars["k"] + "b", vars["k"] + "c"}
	txs := scale(150, 3000)
	done := make(chan struct{})
	var wg sync.WaitGroup
	var reads sync.Map
	for r := 0; r < 3; r++ {
		wg.Add(1)
		go func(r int) {
			defer wg.Done()
			body := fmt.Sprintf(`{"keys":[%q,%q,%q]}`, keys[0], keys[1], keys[2])
			n := 0
			for {
				select {
				case <-done:
					reads.Store(r, n)
					return
				default:
				}
				resp, err := rawDo(tg.addr, "POST", "/v1.0/state/statestore/bulk", nil, body)
				if err != nil {
					t.Error(err)
					return
				}
				var items []struct {
					Key  string          `json:"key"`
					Data json.RawMessage `json:"data"`
				}
				if err := json.Unmarshal(resp.Body, &items); err != nil || len(items) != 3 {
					t.Errorf("bulk get: %d %q (%v)", resp.Status, resp.Body, err)
					return
				}
				if string(items[0].Data) != string(items[1].Data) || string(items[1].Data) != string(items[2].Data) {
					t.Errorf("bulk get saw half a transaction: %s", resp.Body)
					return
				}
				n++
			}
		}(r)
	}
	for i := 1; i <= txs && !t.Failed(); i++ {
		body := fmt.Sprintf(`{"operations":[{"operation":"upsert","request":{"key":%q,"value":%d}},{"operation":"upsert","request":{"key":%q,"value":%d}},{"operation":"upsert","request":{"key":%q,"value":%d}}]}`,
			keys[0], i, keys[1], i, keys[2], i)
		resp, err := rawDo(tg.addr, "POST", "/v1.0/state/statestore/transaction", nil, body)
		if err != nil || resp.Status != 204 {
			t.Errorf("transaction %d: %v %v", i, resp, err)
			break
		}
	}
	close(done)
	wg.Wait()
	if r, err := rawDo(tg.addr, "POST", "/v1.0/state/statestore/bulk", nil, fmt.Sprintf(`{"keys":[%q]}`, keys[2])); err != nil ||
		!strings.Contains(string(r.Body), fmt.Sprintf(`"data":%d,`, txs)) {
		t.Errorf("after %d transactions the last value is not visible: %v %v", txs, r, err)
	}
}

// nonJSONValue writes raw bytes over gRPC and reads them over HTTP: GET
// returns them verbatim (§6.2, observed daprd behaviour); bulk get emits
// them as a JSON string instead of daprd's empty body (statecar deviation,
// docs/compatibility.md).
func nonJSONValue(t *testing.T, tg target, vars map[string]string, p storeProfile) {
	conn, err := grpc.NewClient(tg.sc.GRPCAddr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	key := vars["k"] + "raw"
	_, err = runtimev1.NewDaprClient(conn).SaveState(ctx, &runtimev1.SaveStateRequest{
		StoreName: "statestore",
		States:    []*commonv1.StateItem{{Key: key, Value: []byte("hello")}},
	})
	if err != nil {
		t.Fatalf("gRPC SaveState: %v", err)
	}
	// contentType application/json: the bytes are decoded and re-marshalled
	// like an HTTP write (§6.2, state-grpc.md).
	_, err = runtimev1.NewDaprClient(conn).SaveState(ctx, &runtimev1.SaveStateRequest{
		StoreName: "statestore",
		States: []*commonv1.StateItem{{Key: key + "json", Value: []byte(`{ "b":1, "a":"<" }`),
			Metadata: map[string]string{"contentType": "application/json"}}},
	})
	if err != nil {
		t.Fatalf("gRPC SaveState with contentType: %v", err)
	}
	jsonValue := `{"a":"\u003c","b":1}`
	if p.jsonb {
		jsonValue = jsonbText(jsonValue)
	}
	runSteps(t, tg, vars, []step{
		getv("{{k}}rawjson", jsonValue),
		getv("{{k}}raw", `hello`),
		bulk(`{"keys":["{{k}}raw"]}`, 200, `[{"key":"{{k}}raw","data":"hello","etag":"{{~etag}}"}]`+"\n"),
	})
}

// ttlExpireValue: a save with ttlInSeconds=100 reports an expiry between
// (time before the request, truncated to seconds) + 100 s and (time after
// the response) + 100 s, on GET and on bulk get.
func ttlExpireValue(t *testing.T, tg target, vars map[string]string) {
	key := vars["k"] + "ttl"
	before := time.Now().Truncate(time.Second)
	r, err := rawDo(tg.addr, "POST", "/v1.0/state/statestore?metadata.ttlInSeconds=100", nil, fmt.Sprintf(`[{"key":%q,"value":1}]`, key))
	if err != nil || r.Status != 204 {
		t.Fatalf("save: %v %v", r, err)
	}
	after := time.Now()
	r, err = rawDo(tg.addr, "GET", "/v1.0/state/statestore/"+key, nil, "")
	if err != nil || r.Status != 200 {
		t.Fatalf("get: %v %v", r, err)
	}
	hdr := r.Header.Get("Metadata.ttlexpiretime")
	exp, err := time.Parse(time.RFC3339, hdr)
	if err != nil || !strings.HasSuffix(hdr, "Z") {
		t.Fatalf("Metadata.ttlexpiretime %q is not RFC 3339 UTC: %v", hdr, err)
	}
	lo, hi := before.Add(100*time.Second), after.Add(100*time.Second)
	if exp.Before(lo) || exp.After(hi) {
		t.Errorf("ttlExpireTime %s not within [%s, %s]", hdr, lo.UTC().Format(time.RFC3339), hi.UTC().Format(time.RFC3339))
	}
	r, err = rawDo(tg.addr, "POST", "/v1.0/state/statestore/bulk", nil, fmt.Sprintf(`{"keys":[%q]}`, key))
	if err != nil || !strings.Contains(string(r.Body), `"metadata":{"ttlExpireTime":"`+hdr+`"}`) {
		t.Errorf("bulk get does not carry the same ttlExpireTime %s: %v %v", hdr, r, err)
	}
}
