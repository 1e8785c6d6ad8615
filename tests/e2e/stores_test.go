package e2e

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	goredis "github.com/redis/go-redis/v9"

	"github.com/statecar/statecar/internal/testsrv"
	"github.com/statecar/statecar/internal/testutil"
)

// storeProfile describes one state store type the suite runs against.
type storeProfile struct {
	// typ is the component type, e.g. "state.pebble".
	typ string
	// caps is the exact capability set /v1.0/metadata must list for the
	// store (order-insensitive, ACTOR included). Rows needing a capability
	// the store lacks are skipped with a reason.
	caps []string
	// durable says acknowledged writes survive a restart of the sidecar.
	durable bool
	// jsonb says reads return PostgreSQL's jsonb text instead of the
	// encoding/json bytes that were written (stores.md §3.2).
	jsonb bool
	// setup starts whatever the store needs (a server) for the lifetime of
	// t and returns the component metadata (besides keyPrefix) for a store
	// of this type. It returns a non-empty skip reason if the store cannot
	// run here.
	setup func(t *testing.T) (meta map[string]string, skip string)
}

// native reports whether the store is one of statecar's embedded stores,
// which use the error texts of daprd's in-memory store.
func (p storeProfile) native() bool { return p.typ == "state.pebble" || p.typ == "state.in-memory" }

func (p storeProfile) has(c string) bool {
	for _, x := range p.caps {
		if x == c {
			return true
		}
	}
	return false
}

// componentYAML returns the Component document of a store of this profile
// named name with the extra metadata (keyPrefix, ...).
func (p storeProfile) componentYAML(name string, meta, extra map[string]string) string {
	m := map[string]string{}
	for k, v := range meta {
		m[k] = v
	}
	for k, v := range extra {
		m[k] = v
	}
	return testutil.ComponentYAML(name, p.typ, m)
}

// Capability names (runtime-http.md §3.1).
const (
	capETag  = "ETAG"
	capTx    = "TRANSACTIONAL"
	capTTL   = "TTL"
	capQuery = "QUERY_API"
	capActor = "ACTOR"
)

func noSetup(*testing.T) (map[string]string, string) { return nil, "" }

// profiles lists the stores the suite runs against. Adding a store is one
// entry here.
func profiles() []storeProfile {
	ps := []storeProfile{
		{typ: "state.pebble", caps: []string{capETag, capTx, capTTL, capQuery, capActor}, durable: true, setup: noSetup},
		{typ: "state.in-memory", caps: []string{capETag, capTx, capTTL, capQuery, capActor}, setup: noSetup},
	}
	// The Redis and PostgreSQL stores run when the binary links them in
	// (cmd/statecar imports their packages, which register the types).
	// STATECAR_E2E_STORES (comma-separated types) forces profiles on, for
	// a prebuilt STATECAR_BIN that links more stores than this tree's
	// cmd/statecar.
	force := os.Getenv("STATECAR_E2E_STORES")
	if binaryLinksStore("redis") || strings.Contains(force, "state.redis") {
		ps = append(ps, storeProfile{typ: "state.redis", caps: []string{capETag, capTx, capTTL, capActor}, durable: true, setup: redisSetup})
	}
	if binaryLinksStore("postgres") || strings.Contains(force, "state.postgresql") {
		ps = append(ps, storeProfile{typ: "state.postgresql", caps: []string{capETag, capTx, capTTL, capQuery, capActor}, durable: true, jsonb: true, setup: postgresSetup})
	}
	return ps
}

// binaryLinksStore reports whether cmd/statecar imports package
// component/<name>.
func binaryLinksStore(name string) bool {
	root, err := testutil.ModuleRoot()
	if err != nil {
		return false
	}
	m, _ := filepath.Glob(filepath.Join(root, "cmd", "statecar", "*.go"))
	for _, f := range m {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		b, err := os.ReadFile(f)
		if err == nil && strings.Contains(string(b), `"github.com/statecar/statecar/component/`+name+`"`) {
			return true
		}
	}
	return false
}

// serverMissing returns a skip reason when a backing server binary is
// absent and we are not on CI (where its absence is a failure).
func serverMissing(t *testing.T, err error) string {
	if os.Getenv("CI") == "" {
		return "backing server unavailable: " + err.Error()
	}
	t.Fatalf("backing server unavailable under CI: %v", err)
	return ""
}

func redisSetup(t *testing.T) (map[string]string, string) {
	r, err := testsrv.StartRedis(testsrv.RedisOptions{AppendOnly: true})
	if err != nil {
		return nil, serverMissing(t, err)
	}
	t.Cleanup(r.Close)
	return map[string]string{"redisHost": r.Addr}, ""
}

// startRedisWithClient starts a throwaway redis-server (skipping the test
// without one, failing it under CI) and a plain client of it, both closed
// at cleanup.
func startRedisWithClient(t *testing.T) (*testsrv.Redis, *goredis.Client) {
	t.Helper()
	r, err := testsrv.StartRedis(testsrv.RedisOptions{})
	if err != nil {
		t.Skip(serverMissing(t, err))
	}
	t.Cleanup(r.Close)
	rc := goredis.NewClient(&goredis.Options{Addr: r.Addr})
	t.Cleanup(func() { _ = rc.Close() })
	return r, rc
}

func postgresSetup(t *testing.T) (map[string]string, string) {
	pg, err := testsrv.StartPostgres()
	if err != nil {
		return nil, serverMissing(t, err)
	}
	t.Cleanup(pg.Close)
	return map[string]string{"connectionString": pg.DSN}, ""
}

// sortedCopy returns s sorted.
func sortedCopy(s []string) []string {
	c := append([]string(nil), s...)
	sort.Strings(c)
	return c
}
