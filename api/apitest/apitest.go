package apitest

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/statecar/statecar/api"
	"github.com/statecar/statecar/component"
)

// Options tune the suite to a store.
type Options struct {
	// InMemoryTexts: the store returns daprd's in-memory store texts for
	// ETag failures and bad TTLs (state not exist or expired for key=...,
	// strconv.Atoi: ...), and decimal-free ETag semantics: any ETag not
	// produced by the store mismatches.
	InMemoryTexts bool
	// NonAtomicBulk: a multi-item save whose ETag check fails for one item
	// may still write the others (daprd's behaviour); skips the
	// all-or-nothing assertions.
	NonAtomicBulk bool
	// ConsistentBulkGet: a bulk get sees one consistent state (enables the
	// torn-transaction reader test).
	ConsistentBulkGet bool
	// SkipETagRules: the store keeps another daprd store's ETag semantics
	// (Redis: an ETag on a missing key creates it, first-write over a live
	// key succeeds; PostgreSQL: first-write conflicts are 500); skips the
	// ETag / first-write rule assertions of §5 (ETag presence, error shapes
	// and everything else still run).
	SkipETagRules bool
	// TTLQuirks: the store reports no ttlExpireTime or keeps a TTL across
	// rewrites (daprd's Redis store); only checks that a TTL save works.
	TTLQuirks bool
	// ValuesNotVerbatim: the store does not return stored bytes verbatim
	// but an equivalent JSON text (PostgreSQL jsonb adds spaces); values
	// read back are compared after canonicalisation.
	ValuesNotVerbatim bool
	// Advance moves the store's clock forward (for TTL expiry tests); nil
	// skips the expiry assertions.
	Advance func(d time.Duration)
	// Now is the store's clock, used to compute expected ttlExpireTime;
	// nil = time.Now.
	Now func() time.Time
}

const (
	appID     = "myapp"
	storeName = "statestore"
)

// env is one State over one store.
type env struct {
	t     *testing.T
	ctx   context.Context
	store component.Store
	s     *api.State
	opts  Options
}

func newEnv(t *testing.T, newStore func(t *testing.T) component.Store, opts Options, meta map[string]string) *env {
	t.Helper()
	st := newStore(t)
	t.Cleanup(func() { _ = st.Close() })
	return newEnvOver(t, st, opts, storeName, meta)
}

func newEnvOver(t *testing.T, st component.Store, opts Options, name string, meta map[string]string) *env {
	t.Helper()
	s, err := api.New(api.Config{AppID: appID, DisableMetrics: true, Stores: []api.StoreEntry{{
		Spec:  component.Spec{Name: name, Type: "state.test", Metadata: meta},
		Store: st,
	}}})
	if err != nil {
		t.Fatalf("cannot create State: %v", err)
	}
	return &env{t: t, ctx: context.Background(), store: st, s: s, opts: opts}
}

func (e *env) save(body string, meta api.Metadata) *api.Error {
	return e.s.HTTPSave(e.ctx, []byte(storeName), []byte(body), false, meta)
}

func (e *env) mustSave(body string) {
	e.t.Helper()
	if err := e.save(body, nil); err != nil {
		e.t.Fatalf("save %s: %s", body, err.AppendHTTPBody(nil))
	}
}

func (e *env) get(key string) api.GetResult {
	e.t.Helper()
	var out api.GetResult
	if err := e.s.HTTPGet(e.ctx, []byte(storeName), []byte(key), nil, nil, &out); err != nil {
		e.t.Fatalf("get %s: %s", key, err.AppendHTTPBody(nil))
	}
	if e.opts.ValuesNotVerbatim && out.Found {
		if c, err := api.Canonicalize(nil, out.Data); err == nil {
			out.Data = c
		}
	}
	return out
}

// etagRules reports whether the §5 ETag rules are asserted for st.
func etagRules(st component.Store, opts Options) bool {
	return has(st, component.FeatureETag) && !opts.SkipETagRules
}

func (e *env) etag(key string) string {
	e.t.Helper()
	r := e.get(key)
	if !r.Found {
		e.t.Fatalf("get %s: not found", key)
	}
	return string(r.ETag)
}

func (e *env) bulk(body string) (string, *api.Error) {
	out, err := e.s.HTTPBulkGet(e.ctx, []byte(storeName), []byte(body), false, nil, nil)
	return string(out), err
}

func (e *env) del(key, ifMatch, concurrency, consistency string) *api.Error {
	return e.s.HTTPDelete(e.ctx, []byte(storeName), []byte(key), []byte(ifMatch), []byte(concurrency), []byte(consistency), nil)
}

func (e *env) tx(body string, meta api.Metadata) *api.Error {
	return e.s.HTTPTransaction(e.ctx, []byte(storeName), []byte(body), false, meta)
}

// wantBody asserts an HTTP error's status and exact body.
func wantBody(t *testing.T, err *api.Error, status int, body string) {
	t.Helper()
	if err == nil {
		t.Fatalf("got success, want %d %s", status, body)
	}
	if got := string(err.AppendHTTPBody(nil)); got != body {
		t.Fatalf("body:\n got %s\nwant %s", got, body)
	}
	if err.HTTPStatus() != status {
		t.Fatalf("status: got %d, want %d (%s)", err.HTTPStatus(), status, body)
	}
}

// wantErr asserts status, errorCode and that the message has prefix.
func wantErr(t *testing.T, err *api.Error, status int, code, msgPrefix string) {
	t.Helper()
	if err == nil {
		t.Fatalf("got success, want %d %s %q", status, code, msgPrefix)
	}
	if err.HTTPStatus() != status || err.ErrorCode() != code || !strings.HasPrefix(err.Message(), msgPrefix) {
		t.Fatalf("got %d %s %q, want %d %s %q...", err.HTTPStatus(), err.ErrorCode(), err.Message(), status, code, msgPrefix)
	}
}

func noErr(t *testing.T, err *api.Error) {
	t.Helper()
	if err != nil {
		t.Fatalf("unexpected error %d: %s", err.HTTPStatus(), err.AppendHTTPBody(nil))
	}
}

func has(st component.Store, f component.Feature) bool {
	return component.HasFeature(st.Features(), f)
}

// Run runs the whole suite against stores made by newStore.
func Run(t *testing.T, newStore func(t *testing.T) component.Store, opts Options) {
	for _, tc := range []struct {
		name string
		fn   func(t *testing.T, newStore func(t *testing.T) component.Store, opts Options)
	}{
		{"SaveGet", testSaveGet},
		{"ValueEncoding", testValueEncoding},
		{"BulkGet", testBulkGet},
		{"SaveDecodeErrors", testSaveDecodeErrors},
		{"SaveValidation", testSaveValidation},
		{"ETags", testETags},
		{"FirstWrite", testFirstWrite},
		{"Options", testOptions},
		{"IllegalKey", testIllegalKey},
		{"Delete", testDelete},
		{"Transaction", testTransaction},
		{"TransactionDecode", testTransactionDecode},
		{"TTL", testTTL},
		{"KeyPrefix", testKeyPrefix},
		{"StoreLookup", testStoreLookup},
		{"Query", testQuery},
		{"JSONDecoding", testJSONDecoding},
		{"BodyTooLarge", testBodyTooLarge},
		{"StoreFailures", testStoreFailures},
		{"Capabilities", testCapabilities},
		{"Typed", testTyped},
		{"TypedErrors", testTypedErrors},
		{"FirstWriteRace", testFirstWriteRace},
		{"TransactionIsolation", testTransactionIsolation},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, newStore, opts) })
	}
}
