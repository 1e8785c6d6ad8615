package redis

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"
	goredis "github.com/redis/go-redis/v9"

	"github.com/statecar/statecar/component"
	"github.com/statecar/statecar/internal/testsrv"
)

// srv is the package's one Redis server (started by TestMain); srvErr is
// why it could not start.
var (
	srv    *testsrv.Redis
	srvErr error
)

func TestMain(m *testing.M) {
	flag.Parse()
	srv, srvErr = testsrv.StartRedis(testsrv.RedisOptions{})
	code := m.Run()
	srv.Close()
	os.Exit(code)
}

var keySeq atomic.Int64

// key returns a key unique to this test run.
func key(t testing.TB) string {
	return fmt.Sprintf("app||%s-%d", strings.ReplaceAll(t.Name(), "/", "-"), keySeq.Add(1))
}

func newStore(t testing.TB, md map[string]string) *Store {
	t.Helper()
	testsrv.Require(t, srvErr)
	return newStoreAt(t, srv.Addr, md)
}

func newStoreAt(t testing.TB, addr string, md map[string]string) *Store {
	t.Helper()
	meta := map[string]string{"redisHost": addr}
	for k, v := range md {
		meta[k] = v
	}
	s, err := New(context.Background(), component.Spec{Name: "redistest", Type: "state.redis", Metadata: meta}, component.Env{})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func raw(t testing.TB) *goredis.Client {
	c := goredis.NewClient(&goredis.Options{Addr: srv.Addr})
	t.Cleanup(func() { c.Close() })
	return c
}

func ptr(s string) *string { return &s }

func get(t testing.TB, s *Store, k string) component.GetResponse {
	t.Helper()
	var resp component.GetResponse
	if err := s.Get(context.Background(), &component.GetRequest{Key: []byte(k)}, &resp); err != nil {
		t.Fatalf("Get(%s): %v", k, err)
	}
	return resp
}

func set(s *Store, k, v string, etag *string, md map[string]string, o component.StateOptions) error {
	return s.Set(context.Background(), &component.SetRequest{Key: k, Value: []byte(v), ETag: etag, Metadata: md, Options: o})
}

func del(s *Store, k string, etag *string, o component.StateOptions) error {
	return s.BulkDelete(context.Background(), []component.DeleteRequest{{Key: k, ETag: etag, Options: o}})
}

func wantETagErr(t testing.TB, err error, kind component.ETagErrorKind, text string) {
	t.Helper()
	var ee *component.ETagError
	if !errors.As(err, &ee) || ee.Kind != kind {
		t.Fatalf("got %v (%T), want ETagError %q", err, err, kind)
	}
	if text != "" && err.Error() != text {
		t.Fatalf("error text\n got %q\nwant %q", err.Error(), text)
	}
}

func hgetall(t testing.TB, k string) map[string]string {
	t.Helper()
	m, err := raw(t).HGetAll(context.Background(), k).Result()
	if err != nil {
		t.Fatalf("HGETALL %s: %v", k, err)
	}
	return m
}

func TestFeatures(t *testing.T) {
	s := newStore(t, nil)
	got := component.Capabilities(s.Features())
	want := []string{"ETAG", "TRANSACTIONAL", "TTL", "ACTOR"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("capabilities %v, want %v", got, want)
	}
	if f, ok := component.LookupState("state.redis"); !ok || f == nil {
		t.Fatalf("state.redis not registered")
	}
}

func TestSetGetLayout(t *testing.T) {
	s := newStore(t, nil)
	k := key(t)
	if r := get(t, s, k); r.Found {
		t.Fatalf("found absent key: %+v", r)
	}
	if err := set(s, k, `{"a":1}`, nil, nil, component.StateOptions{}); err != nil {
		t.Fatal(err)
	}
	r := get(t, s, k)
	if !r.Found || string(r.Data) != `{"a":1}` || string(r.ETag) != "1" || !r.Expiry.IsZero() {
		t.Fatalf("got %+v", r)
	}
	// Layout: exactly daprd's hash.
	if typ := raw(t).Type(context.Background(), k).Val(); typ != "hash" {
		t.Fatalf("TYPE %s", typ)
	}
	if m := hgetall(t, k); fmt.Sprint(m) != fmt.Sprint(map[string]string{"data": `{"a":1}`, "version": "1"}) {
		t.Fatalf("HGETALL %v", m)
	}
	if err := set(s, k, `"hello"`, nil, nil, component.StateOptions{}); err != nil {
		t.Fatal(err)
	}
	if m := hgetall(t, k); m["data"] != `"hello"` || m["version"] != "2" || len(m) != 2 {
		t.Fatalf("HGETALL after 2nd write %v", m)
	}
	if ttl := raw(t).TTL(context.Background(), k).Val(); ttl != -1 {
		t.Fatalf("TTL %v, want -1 (none)", ttl)
	}
	// Binary bytes verbatim.
	bin := []byte{0, 1, 2, 0xff, 'x'}
	if err := s.Set(context.Background(), &component.SetRequest{Key: k, Value: bin}); err != nil {
		t.Fatal(err)
	}
	if r := get(t, s, k); !bytes.Equal(r.Data, bin) {
		t.Fatalf("binary round trip: %q", r.Data)
	}
}

func TestETags(t *testing.T) {
	s := newStore(t, nil)
	k := key(t)
	if err := set(s, k, "1", nil, nil, component.StateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := set(s, k, "2", ptr("1"), nil, component.StateOptions{}); err != nil {
		t.Fatalf("matching ETag: %v", err)
	}
	err := set(s, k, "3", ptr("1"), nil, component.StateOptions{})
	wantETagErr(t, err, component.ETagMismatch, "possible etag mismatch. error from state store: state etag not match for key="+k+": current=2, expect=1")
	// last-write with an ETag still checks it (reference semantics).
	err = set(s, k, "3", ptr("9"), nil, component.StateOptions{Concurrency: component.LastWrite})
	wantETagErr(t, err, component.ETagMismatch, "")
	// Leading zeros are normalised like daprd's strconv.Atoi.
	if err := set(s, k, "3", ptr("002"), nil, component.StateOptions{}); err != nil {
		t.Fatalf("ETag 002: %v", err)
	}
	err = set(s, k, "x", ptr("abc"), nil, component.StateOptions{})
	wantETagErr(t, err, component.ETagInvalid, `invalid etag value: strconv.Atoi: parsing "abc": invalid syntax`)
	absent := key(t)
	err = set(s, absent, "x", ptr("1"), nil, component.StateOptions{})
	wantETagErr(t, err, component.ETagMismatch, "possible etag mismatch. error from state store: state not exist or expired for key="+absent)
	if r := get(t, s, absent); r.Found {
		t.Fatalf("failed save created the key")
	}
	if r := get(t, s, k); string(r.Data) != "3" || string(r.ETag) != "3" {
		t.Fatalf("final %q etag %q", r.Data, r.ETag)
	}
}

func TestFirstWrite(t *testing.T) {
	s := newStore(t, nil)
	fw := component.StateOptions{Concurrency: component.FirstWrite}
	k := key(t)
	if err := set(s, k, "1", nil, nil, fw); err != nil {
		t.Fatal(err)
	}
	if m := hgetall(t, k); fmt.Sprint(m) != fmt.Sprint(map[string]string{"data": "1", "version": "1", "first-write": "0"}) {
		t.Fatalf("HGETALL %v", m)
	}
	err := set(s, k, "2", nil, nil, fw)
	wantETagErr(t, err, component.ETagMismatch, "possible etag mismatch. error from state store: item already exists and no etag was passed")
	if err := set(s, k, "2", ptr("1"), nil, fw); err != nil {
		t.Fatalf("first-write with ETag: %v", err)
	}
	// Unlike daprd, a no-ETag last-write save may change a key that has the
	// first-write field.
	if err := set(s, k, "3", nil, nil, component.StateOptions{}); err != nil {
		t.Fatalf("last-write over first-write key: %v", err)
	}
	if m := hgetall(t, k); m["version"] != "3" || m["first-write"] != "0" {
		t.Fatalf("HGETALL %v", m)
	}
	// first-write delete without ETag on a live key fails, like in-memory.
	err = del(s, k, nil, fw)
	wantETagErr(t, err, component.ETagMismatch, "")
	err = set(s, "", "x", nil, nil, component.StateOptions{Concurrency: "bogus"})
	if err == nil || err.Error() != "unrecognized concurrency model 'bogus'" {
		t.Fatalf("bogus concurrency: %v", err)
	}
}

func TestDelete(t *testing.T) {
	s := newStore(t, nil)
	k := key(t)
	if err := del(s, k, nil, component.StateOptions{}); err != nil {
		t.Fatalf("delete absent: %v", err)
	}
	err := del(s, k, ptr("1"), component.StateOptions{})
	wantETagErr(t, err, component.ETagMismatch, "possible etag mismatch. error from state store: state not exist or expired for key="+k)
	if err := set(s, k, "1", nil, nil, component.StateOptions{}); err != nil {
		t.Fatal(err)
	}
	wantETagErr(t, del(s, k, ptr("2"), component.StateOptions{}), component.ETagMismatch, "")
	wantETagErr(t, del(s, k, ptr("abc"), component.StateOptions{}), component.ETagMismatch, "")
	if r := get(t, s, k); !r.Found {
		t.Fatalf("failed delete removed the key")
	}
	if err := del(s, k, ptr("1"), component.StateOptions{}); err != nil {
		t.Fatal(err)
	}
	if n := raw(t).Exists(context.Background(), k).Val(); n != 0 {
		t.Fatalf("key still exists")
	}
	err = del(s, k, nil, component.StateOptions{Consistency: "bogus"})
	if err == nil || !strings.Contains(err.Error(), "unrecognized consistency model 'bogus'") {
		t.Fatalf("bogus consistency: %v", err)
	}
	// A deleted key restarts at version 1.
	if err := set(s, k, "x", nil, nil, component.StateOptions{}); err != nil {
		t.Fatal(err)
	}
	if r := get(t, s, k); string(r.ETag) != "1" {
		t.Fatalf("ETag after re-create %q", r.ETag)
	}
}

func TestTTL(t *testing.T) {
	s := newStore(t, nil)
	ctx := context.Background()
	k := key(t)
	before := time.Now()
	if err := set(s, k, "1", nil, map[string]string{"ttlInSeconds": "100"}, component.StateOptions{}); err != nil {
		t.Fatal(err)
	}
	if ttl := raw(t).TTL(ctx, k).Val(); ttl <= 90*time.Second || ttl > 100*time.Second {
		t.Fatalf("TTL %v", ttl)
	}
	r := get(t, s, k)
	if r.Expiry.Before(before.Add(99*time.Second)) || r.Expiry.After(time.Now().Add(101*time.Second)) {
		t.Fatalf("Expiry %v", r.Expiry)
	}
	// A save without TTL removes the expiry (reference semantics).
	if err := set(s, k, "2", nil, nil, component.StateOptions{}); err != nil {
		t.Fatal(err)
	}
	if ttl := raw(t).TTL(ctx, k).Val(); ttl != -1 {
		t.Fatalf("TTL after plain save %v, want -1", ttl)
	}
	if err := set(s, k, "3", nil, map[string]string{"ttlInSeconds": "100"}, component.StateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := set(s, k, "4", nil, map[string]string{"ttlInSeconds": "-1"}, component.StateOptions{}); err != nil {
		t.Fatal(err)
	}
	if ttl := raw(t).TTL(ctx, k).Val(); ttl != -1 {
		t.Fatalf("TTL after -1 %v", ttl)
	}
	err := set(s, k, "5", nil, map[string]string{"ttlInSeconds": "abc"}, component.StateOptions{})
	if err == nil || err.Error() != `failed to parse ttl from metadata: strconv.ParseInt: parsing "abc": invalid syntax` {
		t.Fatalf("bad ttl: %v", err)
	}
	// Expiry: the key disappears and an ETag on it then fails.
	short := key(t)
	if err := set(s, short, "x", nil, map[string]string{"ttlInSeconds": "1"}, component.StateOptions{}); err != nil {
		t.Fatal(err)
	}
	for i := 0; get(t, s, short).Found; i++ {
		if i > 100 {
			t.Fatalf("key with TTL 1s never expired")
		}
		time.Sleep(50 * time.Millisecond)
	}
	wantETagErr(t, set(s, short, "y", ptr("1"), nil, component.StateOptions{}), component.ETagMismatch, "")
	// Component default TTL applies when the request has none.
	sd := newStore(t, map[string]string{"ttlInSeconds": "30"})
	k2 := key(t)
	if err := set(sd, k2, "1", nil, nil, component.StateOptions{}); err != nil {
		t.Fatal(err)
	}
	if ttl := raw(t).TTL(ctx, k2).Val(); ttl <= 20*time.Second || ttl > 30*time.Second {
		t.Fatalf("default TTL %v", ttl)
	}
}

func TestBulkSetAtomic(t *testing.T) {
	s := newStore(t, nil)
	ctx := context.Background()
	a, b, c := key(t), key(t), key(t)
	if err := set(s, b, "b0", nil, nil, component.StateOptions{}); err != nil {
		t.Fatal(err)
	}
	err := s.BulkSet(ctx, []component.SetRequest{
		{Key: a, Value: []byte("a1")},
		{Key: b, Value: []byte("b1"), ETag: ptr("7")},
		{Key: c, Value: []byte("c1"), ETag: ptr("1")},
	})
	var be *component.BulkError
	if !errors.As(err, &be) || len(be.Errs) != 2 {
		t.Fatalf("got %v, want BulkError of 2", err)
	}
	var ee *component.ETagError
	if !errors.As(err, &ee) || ee.Kind != component.ETagMismatch {
		t.Fatalf("BulkError does not read as an ETag mismatch: %v", err)
	}
	if get(t, s, a).Found || get(t, s, c).Found || string(get(t, s, b).Data) != "b0" {
		t.Fatalf("failed bulk save wrote something")
	}
	err = s.BulkSet(ctx, []component.SetRequest{
		{Key: a, Value: []byte("a1")},
		{Key: b, Value: []byte("b1"), ETag: ptr("1")},
	})
	if err != nil {
		t.Fatal(err)
	}
	if string(get(t, s, a).Data) != "a1" || string(get(t, s, b).Data) != "b1" {
		t.Fatalf("bulk save lost an item")
	}
	// Bulk delete: all or nothing.
	err = s.BulkDelete(ctx, []component.DeleteRequest{{Key: a}, {Key: b, ETag: ptr("1")}})
	if !errors.As(err, &be) || len(be.Errs) != 1 {
		t.Fatalf("bulk delete: %v", err)
	}
	if !get(t, s, a).Found {
		t.Fatalf("failed bulk delete removed a")
	}
	if err := s.BulkDelete(ctx, []component.DeleteRequest{{Key: a}, {Key: b, ETag: ptr("2")}}); err != nil {
		t.Fatal(err)
	}
	if get(t, s, a).Found || get(t, s, b).Found {
		t.Fatalf("bulk delete left keys")
	}
}

func TestMulti(t *testing.T) {
	s := newStore(t, nil)
	ctx := context.Background()
	a, b, c := key(t), key(t), key(t)
	if err := set(s, c, "c0", nil, nil, component.StateOptions{}); err != nil {
		t.Fatal(err)
	}
	up := func(k, v string, etag *string, md map[string]string) component.Operation {
		return component.Operation{Kind: component.OpUpsert, Set: component.SetRequest{Key: k, Value: []byte(v), ETag: etag, Metadata: md}}
	}
	dl := func(k string, etag *string) component.Operation {
		return component.Operation{Kind: component.OpDelete, Delete: component.DeleteRequest{Key: k, ETag: etag}}
	}
	// A failing condition in the middle leaves nothing written.
	err := s.Multi(ctx, &component.TransactionRequest{Operations: []component.Operation{
		up(a, "a1", nil, nil), up(b, "b1", ptr("5"), nil), dl(c, nil),
	}})
	wantETagErr(t, err, component.ETagMismatch, "possible etag mismatch. error from state store: state not exist or expired for key="+b)
	if get(t, s, a).Found || !get(t, s, c).Found {
		t.Fatalf("failed transaction changed state")
	}
	// First-write is enforced in transactions, without the first-write field.
	fwOp := up(c, "c1", nil, nil)
	fwOp.Set.Options.Concurrency = component.FirstWrite
	wantETagErr(t, s.Multi(ctx, &component.TransactionRequest{Operations: []component.Operation{fwOp}}), component.ETagMismatch, "")
	err = s.Multi(ctx, &component.TransactionRequest{Operations: []component.Operation{
		up(a, "a1", nil, map[string]string{"ttlInSeconds": "100"}), up(b, "b1", nil, nil), dl(c, ptr("1")),
		up(a, "a2", nil, nil), // later op on the same key wins
	}})
	if err != nil {
		t.Fatal(err)
	}
	if r := get(t, s, a); string(r.Data) != "a2" || string(r.ETag) != "2" || !r.Expiry.IsZero() {
		t.Fatalf("a: %+v", r)
	}
	if r := get(t, s, b); string(r.Data) != "b1" {
		t.Fatalf("b: %+v", r)
	}
	if get(t, s, c).Found {
		t.Fatalf("c not deleted")
	}
	if m := hgetall(t, b); len(m) != 2 {
		t.Fatalf("transaction wrote extra fields: %v", m)
	}
	err = s.Multi(ctx, &component.TransactionRequest{Operations: []component.Operation{up(a, "x", ptr("zz"), nil)}})
	wantETagErr(t, err, component.ETagInvalid, "")
}

func TestBulkGet(t *testing.T) {
	s := newStore(t, nil)
	ctx := context.Background()
	a, b, missing, legacy := key(t), key(t), key(t), key(t)
	if err := set(s, a, "A", nil, map[string]string{"ttlInSeconds": "100"}, component.StateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := set(s, b, "B", nil, nil, component.StateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := set(s, b, "B2", nil, nil, component.StateOptions{}); err != nil {
		t.Fatal(err)
	}
	raw(t).Set(ctx, legacy, "old", 0)
	items, err := s.BulkGet(ctx, []string{b, missing, a, legacy}, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		key, data, etag string
		found, ttl      bool
	}{{b, "B2", "2", true, false}, {missing, "", "", false, false}, {a, "A", "1", true, true}, {legacy, "old", "", true, false}}
	if len(items) != len(want) {
		t.Fatalf("%d items", len(items))
	}
	for i, w := range want {
		it := items[i]
		if it.Key != w.key || it.Found != w.found || string(it.Data) != w.data || it.ETag != w.etag || it.Expiry.IsZero() == w.ttl || it.Error != "" {
			t.Fatalf("item %d: %+v, want %+v", i, it, w)
		}
	}
	if items, err := s.BulkGet(ctx, nil, nil, 0); err != nil || len(items) != 0 {
		t.Fatalf("empty bulk get: %v %v", items, err)
	}
}

// TestDaprdLayoutRead seeds keys the way daprd writes them and reads them
// back through the store (stores.md §7 items 1-4).
func TestDaprdLayoutRead(t *testing.T) {
	s := newStore(t, nil)
	ctx := context.Background()
	rc := raw(t)
	k := key(t)
	rc.HSet(ctx, k, "data", `{"name":"Tatooine","b":1}`, "version", "5")
	r := get(t, s, k)
	if string(r.Data) != `{"name":"Tatooine","b":1}` || string(r.ETag) != "5" {
		t.Fatalf("got %+v", r)
	}
	if err := set(s, k, `"x"`, ptr("5"), nil, component.StateOptions{}); err != nil {
		t.Fatal(err)
	}
	if m := hgetall(t, k); m["version"] != "6" || m["data"] != `"x"` {
		t.Fatalf("HGETALL %v", m)
	}
	// daprd first-write key: an ETag save works and keeps the field.
	fk := key(t)
	rc.HSet(ctx, fk, "data", `"a"`, "first-write", "0", "version", "1")
	if err := set(s, fk, `"b"`, ptr("1"), nil, component.StateOptions{}); err != nil {
		t.Fatal(err)
	}
	if m := hgetall(t, fk); fmt.Sprint(m) != fmt.Sprint(map[string]string{"data": `"b"`, "first-write": "0", "version": "2"}) {
		t.Fatalf("HGETALL %v", m)
	}
	// Legacy string key: read without ETag; a save turns it into a hash.
	lk := key(t)
	rc.Set(ctx, lk, "legacy", 0)
	if r := get(t, s, lk); !r.Found || string(r.Data) != "legacy" || len(r.ETag) != 0 {
		t.Fatalf("legacy read %+v", r)
	}
	if err := set(s, lk, "new", nil, nil, component.StateOptions{}); err != nil {
		t.Fatal(err)
	}
	if m := hgetall(t, lk); fmt.Sprint(m) != fmt.Sprint(map[string]string{"data": "new", "version": "1"}) {
		t.Fatalf("HGETALL %v", m)
	}
	// A hash without version is a store error, as in daprd.
	bk := key(t)
	rc.HSet(ctx, bk, "data", "x")
	var resp component.GetResponse
	err := s.Get(ctx, &component.GetRequest{Key: []byte(bk)}, &resp)
	if err == nil || err.Error() != "required hash field 'data' or 'version' was not found" {
		t.Fatalf("broken hash: %v", err)
	}
	// daprd's TTL (EXPIRE) is visible as Expiry.
	tk := key(t)
	rc.HSet(ctx, tk, "data", "1", "version", "1")
	rc.Expire(ctx, tk, 50*time.Second)
	if r := get(t, s, tk); r.Expiry.IsZero() {
		t.Fatalf("no expiry for a key with EXPIRE")
	}
}

func TestRedisDB(t *testing.T) {
	s := newStore(t, map[string]string{"redisDB": "2"})
	k := key(t)
	if err := set(s, k, "1", nil, nil, component.StateOptions{}); err != nil {
		t.Fatal(err)
	}
	c := goredis.NewClient(&goredis.Options{Addr: srv.Addr, DB: 2})
	defer c.Close()
	if v := c.HGet(context.Background(), k, "data").Val(); v != "1" {
		t.Fatalf("key not in DB 2: %q", v)
	}
	if n := raw(t).Exists(context.Background(), k).Val(); n != 0 {
		t.Fatalf("key also in DB 0")
	}
}

func TestConfig(t *testing.T) {
	f := func(md map[string]string, wantErr string, check func(c *config) bool) {
		t.Helper()
		c, err := parseConfig(component.Spec{Metadata: md})
		if wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), wantErr) {
				t.Fatalf("%v: got %v, want error %q", md, err, wantErr)
			}
			return
		}
		if err != nil {
			t.Fatalf("%v: %v", md, err)
		}
		if !check(c) {
			t.Fatalf("%v: unexpected config %+v", md, c)
		}
	}
	f(map[string]string{}, "redisHost is required", nil)
	f(map[string]string{"redisHost": "h"}, "", func(c *config) bool {
		return c.addrs[0] == "h:6379" && c.maxRetries == 3 && c.defaultTTL == nil && !c.cluster
	})
	f(map[string]string{"REDISHOST": "h:1,g", "redisType": "cluster", "redisPassword": "p", "redisUsername": "u"}, "", func(c *config) bool {
		return fmt.Sprint(c.addrs) == "[h:1 g:6379]" && c.cluster && c.password == "p" && c.username == "u"
	})
	f(map[string]string{"redisHost": "h", "redisPort": "7000"}, "", func(c *config) bool { return c.addrs[0] == "h:7000" })
	f(map[string]string{"redisHost": "h:1", "redisPort": "7000"}, "conflicts", nil)
	f(map[string]string{"redisHost": "h", "redisType": "weird"}, "unknown redisType", nil)
	f(map[string]string{"redisHost": "h", "failover": "true"}, "sentinelMasterName is required", nil)
	f(map[string]string{"redisHost": "h", "failover": "true", "sentinelMasterName": "m"}, "", func(c *config) bool { return c.failover && c.sentinelMaster == "m" })
	f(map[string]string{"redisHost": "h", "dialTimeout": "250", "readTimeout": "2s", "writeTimeout": "-1", "idleTimeout": "5m", "maxConnAge": "1h", "poolTimeout": "1s"}, "", func(c *config) bool {
		return c.dialTimeout == 250*time.Millisecond && c.readTimeout == 2*time.Second && c.writeTimeout == -1 &&
			c.connMaxIdleTime == 5*time.Minute && c.connMaxLifetime == time.Hour && c.poolTimeout == time.Second
	})
	f(map[string]string{"redisHost": "h", "redisMaxRetries": "7", "poolSize": "20", "minIdleConns": "2", "redisMinRetryInterval": "10ms", "redisMaxRetryInterval": "1s"}, "", func(c *config) bool {
		return c.maxRetries == 7 && c.poolSize == 20 && c.minIdleConns == 2 && c.minRetryBackoff == 10*time.Millisecond && c.maxRetryBackoff == time.Second
	})
	// daprd's defaults (stores.md §2.8), writeTimeout following readTimeout; negative disables (-1).
	f(map[string]string{"redisHost": "h"}, "", func(c *config) bool {
		return c.dialTimeout == 5*time.Second && c.readTimeout == 3*time.Second && c.writeTimeout == 3*time.Second &&
			c.minRetryBackoff == 2*time.Second && c.maxRetryBackoff == 512*time.Millisecond && c.maxRetries == 3
	})
	f(map[string]string{"redisHost": "h", "readTimeout": "1500"}, "", func(c *config) bool {
		return c.readTimeout == 1500*time.Millisecond && c.writeTimeout == 1500*time.Millisecond
	})
	f(map[string]string{"redisHost": "h", "readTimeout": "-1", "dialTimeout": "-5", "redisMinRetryInterval": "-1s", "redisMaxRetryInterval": "-1"}, "", func(c *config) bool {
		return c.readTimeout == -1 && c.writeTimeout == -1 && c.dialTimeout == -1 && c.minRetryBackoff == -1 && c.maxRetryBackoff == -1
	})
	f(map[string]string{"redisHost": "h", "maxRetries": "1", "maxRetryBackoff": "5000000"}, "", func(c *config) bool {
		return c.maxRetries == 1 && c.minRetryBackoff == 5*time.Millisecond
	})
	f(map[string]string{"redisHost": "h", "enableTLS": "true", "insecureSkipTLSVerify": "true"}, "", func(c *config) bool { return c.tls != nil && c.tls.InsecureSkipVerify })
	f(map[string]string{"redisHost": "h", "enableTLS": "false"}, "", func(c *config) bool { return c.tls == nil })
	f(map[string]string{"redisHost": "h", "enableTLS": "true", "clientCert": "x"}, "together", nil)
	f(map[string]string{"redisHost": "h", "ttlInSeconds": "30", "redisDB": "3"}, "", func(c *config) bool { return *c.defaultTTL == 30 && c.db == 3 })
	f(map[string]string{"redisHost": "h", "ttlInSeconds": "x"}, "ttlInSeconds", nil)
	f(map[string]string{"redisHost": "h", "useEntraID": "true"}, "not supported", nil)
	f(map[string]string{"redisHost": "h", "dialTimeout": "soon"}, "dialTimeout", nil)
}

func TestInitErrors(t *testing.T) {
	_, err := New(context.Background(), component.Spec{Name: "x", Type: "state.redis", Version: "V2", Metadata: map[string]string{"redisHost": "127.0.0.1:1"}}, component.Env{})
	var ve *component.VersionError
	if !errors.As(err, &ve) || err.Error() != "couldn't find state store state.redis/v2" {
		t.Fatalf("version v2: %v", err)
	}
	_, err = New(context.Background(), component.Spec{Name: "x", Metadata: map[string]string{"redisHost": "127.0.0.1:1", "dialTimeout": "200ms", "redisMaxRetries": "0"}}, component.Env{})
	if err == nil || !strings.HasPrefix(err.Error(), "redis store: error connecting to redis at 127.0.0.1:1: ") {
		t.Fatalf("unreachable server: %v", err)
	}
}

func TestKeySlot(t *testing.T) {
	f := func(k string, want uint16) {
		t.Helper()
		if got := keySlot(k); got != want {
			t.Fatalf("keySlot(%q) = %d, want %d", k, got, want)
		}
	}
	if crc16("123456789") != 0x31C3 {
		t.Fatalf("crc16 check value %#x", crc16("123456789"))
	}
	f("foo", 12182)
	f("bar", 5061)
	f("{user1000}.following", keySlot("user1000"))
	f("{}x", keySlot("{}x")) // empty tag: whole key
	if keySlot("{}x") == keySlot("x") {
		t.Fatalf("empty hash tag must hash the whole key")
	}
	if !sameSlot([]op{{key: "{a}1"}, {key: "{a}2"}}) || sameSlot([]op{{key: "foo"}, {key: "bar"}}) {
		t.Fatalf("sameSlot")
	}
}

func TestMetrics(t *testing.T) {
	s := newStore(t, nil)
	get(t, s, key(t))
	var buf bytes.Buffer
	metrics.WritePrometheus(&buf, false)
	out := buf.String()
	for _, want := range []string{
		`statecar_store_redis_request_duration_seconds_count{component="redistest",op="get"}`,
		`statecar_store_redis_pool_conns{component="redistest",state="total"}`,
	} {
		if !strings.Contains(out, want) {
			t.Fatalf("metrics output lacks %s", want)
		}
	}
}

func TestAuth(t *testing.T) {
	r, err := testsrv.StartRedis(testsrv.RedisOptions{Password: "s3cret"})
	testsrv.Require(t, err)
	defer r.Close()
	_, err = New(context.Background(), component.Spec{Name: "x", Metadata: map[string]string{"redisHost": r.Addr}}, component.Env{})
	if err == nil || !strings.Contains(err.Error(), "NOAUTH") {
		t.Fatalf("no password: %v", err)
	}
	s := newStoreAt(t, r.Addr, map[string]string{"redisPassword": "s3cret"})
	k := key(t)
	if err := set(s, k, "1", nil, nil, component.StateOptions{}); err != nil {
		t.Fatal(err)
	}
	if r := get(t, s, k); string(r.Data) != "1" {
		t.Fatalf("read %q", r.Data)
	}
	// An ACL user (redisUsername) who may only touch keys under "app||u:".
	admin := goredis.NewClient(&goredis.Options{Addr: r.Addr, Password: "s3cret"})
	defer admin.Close()
	if err := admin.Do(context.Background(), "ACL", "SETUSER", "alice", "on", ">pw", "~app||u:*", "+@all").Err(); err != nil {
		t.Fatal(err)
	}
	if _, err := New(context.Background(), component.Spec{Name: "x", Metadata: map[string]string{"redisHost": r.Addr, "redisUsername": "alice", "redisPassword": "nope"}}, component.Env{}); err == nil || !strings.Contains(err.Error(), "WRONGPASS") {
		t.Fatalf("wrong ACL password: %v", err)
	}
	u := newStoreAt(t, r.Addr, map[string]string{"redisUsername": "alice", "redisPassword": "pw"})
	if err := set(u, "app||u:1", "2", nil, nil, component.StateOptions{}); err != nil {
		t.Fatalf("ACL user save: %v", err)
	}
	if r := get(t, u, "app||u:1"); string(r.Data) != "2" {
		t.Fatalf("ACL user read %q", r.Data)
	}
	// The server enforces the user's key pattern: the store talks as alice.
	if err := set(u, k, "3", nil, nil, component.StateOptions{}); err == nil || !strings.Contains(err.Error(), "NOPERM") {
		t.Fatalf("ACL user wrote outside its keys: %v", err)
	}
}

// TestWrongType: a key of another Redis type is a per-item error in bulk
// gets and a store error on get, never a crash.
func TestWrongType(t *testing.T) {
	s := newStore(t, nil)
	ctx := context.Background()
	lk, ok := key(t), key(t)
	raw(t).RPush(ctx, lk, "x")
	if err := set(s, ok, "1", nil, nil, component.StateOptions{}); err != nil {
		t.Fatal(err)
	}
	var resp component.GetResponse
	if err := s.Get(ctx, &component.GetRequest{Key: []byte(lk)}, &resp); err == nil || !strings.Contains(err.Error(), "WRONGTYPE") {
		t.Fatalf("get of a list: %v", err)
	}
	items, err := s.BulkGet(ctx, []string{lk, ok}, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	if items[0].Found || !strings.Contains(items[0].Error, "WRONGTYPE") || !items[1].Found || string(items[1].Data) != "1" {
		t.Fatalf("bulk get %+v", items)
	}
	// A save replaces the list with a hash (like a legacy string key).
	if err := set(s, lk, "2", nil, nil, component.StateOptions{}); err != nil {
		t.Fatal(err)
	}
	if r := get(t, s, lk); string(r.Data) != "2" || string(r.ETag) != "1" {
		t.Fatalf("after save %+v", r)
	}
}

// TestSentinel connects through a sentinel (failover=true) to the master.
func TestSentinel(t *testing.T) {
	testsrv.Require(t, srvErr)
	sn, err := testsrv.StartSentinel(srv)
	testsrv.Require(t, err)
	defer sn.Close()
	s := newStoreAt(t, sn.Addr, map[string]string{"failover": "true", "sentinelMasterName": sn.MasterName})
	k := key(t)
	if err := set(s, k, "1", nil, nil, component.StateOptions{}); err != nil {
		t.Fatal(err)
	}
	if m := hgetall(t, k); m["data"] != "1" || m["version"] != "1" {
		t.Fatalf("write through the sentinel did not reach the master: %v", m)
	}
}

// TestNoPartialWrites: what would make a write command fail inside the
// script is refused before anything is written.
func TestNoPartialWrites(t *testing.T) {
	s := newStore(t, nil)
	ctx := context.Background()
	bad, good := key(t), key(t)
	raw(t).HSet(ctx, bad, "data", "x", "version", "abc")
	err := s.BulkSet(ctx, []component.SetRequest{{Key: good, Value: []byte("1")}, {Key: bad, Value: []byte("2")}})
	if err == nil || !strings.Contains(err.Error(), `version field "abc" is not an integer`) {
		t.Fatalf("bad version: %v", err)
	}
	if get(t, s, good).Found || hgetall(t, bad)["data"] != "x" {
		t.Fatal("partial write")
	}
	err = set(s, good, "1", nil, map[string]string{"ttlInSeconds": "99999999999999"}, component.StateOptions{})
	if err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Fatalf("huge ttl: %v", err)
	}
	if get(t, s, good).Found {
		t.Fatal("write with a huge ttl happened")
	}
}

// TestStrongConsistencyWaitsForReplica: with a replica connected at init,
// a consistency=strong save returns only after the replica has it (WAIT).
func TestStrongConsistencyWaitsForReplica(t *testing.T) {
	testsrv.Require(t, srvErr)
	master, err := testsrv.StartRedis(testsrv.RedisOptions{})
	testsrv.Require(t, err)
	defer master.Close()
	replica, err := testsrv.StartRedis(testsrv.RedisOptions{ReplicaOf: master.Addr})
	testsrv.Require(t, err)
	defer replica.Close()
	s := newStoreAt(t, master.Addr, nil)
	if s.replicas != 1 {
		t.Fatalf("replicas seen at init: %d, want 1", s.replicas)
	}
	rc := goredis.NewClient(&goredis.Options{Addr: replica.Addr})
	defer rc.Close()
	ctx := context.Background()
	for i := 0; i < 20; i++ {
		k := fmt.Sprintf("strong-%d", i)
		if err := set(s, k, "v", nil, nil, component.StateOptions{Consistency: component.Strong}); err != nil {
			t.Fatal(err)
		}
		if v := rc.HGet(ctx, k, "data").Val(); v != "v" {
			t.Fatalf("replica lacks %s right after a strong save", k)
		}
	}
}

// TestExpiryWithoutPExpireTime covers servers older than Redis 7 (PTTL
// relative to the local clock).
func TestExpiryWithoutPExpireTime(t *testing.T) {
	s := newStore(t, nil)
	if !s.pexpiretime {
		t.Fatal("Redis 7 not detected as having PEXPIRETIME")
	}
	s.pexpiretime = false
	k := key(t)
	before := time.Now()
	if err := set(s, k, "1", nil, map[string]string{"ttlInSeconds": "100"}, component.StateOptions{}); err != nil {
		t.Fatal(err)
	}
	r := get(t, s, k)
	if r.Expiry.Before(before.Add(98*time.Second)) || r.Expiry.After(time.Now().Add(101*time.Second)) {
		t.Fatalf("Expiry %v", r.Expiry)
	}
	items, err := s.BulkGet(context.Background(), []string{k}, nil, 0)
	if err != nil || items[0].Expiry.IsZero() {
		t.Fatalf("bulk %+v %v", items, err)
	}
}

// TestMultiSameKeyTwice: operations on one key apply in order within the
// script, also when the key starts as a legacy string.
func TestMultiSameKeyTwice(t *testing.T) {
	s := newStore(t, nil)
	ctx := context.Background()
	k := key(t)
	raw(t).Set(ctx, k, "legacy", 0)
	up := func(v string) component.Operation {
		return component.Operation{Kind: component.OpUpsert, Set: component.SetRequest{Key: k, Value: []byte(v)}}
	}
	if err := s.Multi(ctx, &component.TransactionRequest{Operations: []component.Operation{up("1"), up("2")}}); err != nil {
		t.Fatal(err)
	}
	if m := hgetall(t, k); fmt.Sprint(m) != fmt.Sprint(map[string]string{"data": "2", "version": "2"}) {
		t.Fatalf("HGETALL %v", m)
	}
	del := component.Operation{Kind: component.OpDelete, Delete: component.DeleteRequest{Key: k, ETag: ptr("2")}}
	if err := s.Multi(ctx, &component.TransactionRequest{Operations: []component.Operation{del, up("3")}}); err != nil {
		t.Fatal(err)
	}
	if m := hgetall(t, k); m["version"] != "1" || m["data"] != "3" {
		t.Fatalf("after delete+upsert %v", m)
	}
}

// TestClientDefaults checks the client options daprd's metadata defaults
// give (stores.md §2.8): dialTimeout 5s, readTimeout 3s, writeTimeout =
// readTimeout, redisMinRetryInterval 2s, redisMaxRetryInterval 512ms; a
// negative integer disables (go-redis's -1).
func TestClientDefaults(t *testing.T) {
	s := newStore(t, map[string]string{"busyPoll": "0"})
	o := s.Client().(*goredis.Client).Options()
	if o.DialTimeout != 5*time.Second || o.ReadTimeout != 3*time.Second || o.WriteTimeout != 3*time.Second ||
		o.MinRetryBackoff != 2*time.Second || o.MaxRetryBackoff != 512*time.Millisecond || o.MaxRetries != 3 {
		t.Fatalf("defaults: dial %v read %v write %v minRetry %v maxRetry %v retries %d",
			o.DialTimeout, o.ReadTimeout, o.WriteTimeout, o.MinRetryBackoff, o.MaxRetryBackoff, o.MaxRetries)
	}
	s = newStore(t, map[string]string{"readTimeout": "1500"})
	if o := s.Client().(*goredis.Client).Options(); o.ReadTimeout != 1500*time.Millisecond || o.WriteTimeout != 1500*time.Millisecond {
		t.Fatalf("readTimeout 1500: read %v write %v", o.ReadTimeout, o.WriteTimeout)
	}
	s = newStore(t, map[string]string{"readTimeout": "-1", "writeTimeout": "-5", "redisMinRetryInterval": "-1", "redisMaxRetryInterval": "-1"})
	if o := s.Client().(*goredis.Client).Options(); o.ReadTimeout != 0 || o.WriteTimeout != 0 || o.MinRetryBackoff != 0 || o.MaxRetryBackoff != 0 {
		t.Fatalf("negative disables: read %v write %v minRetry %v maxRetry %v", o.ReadTimeout, o.WriteTimeout, o.MinRetryBackoff, o.MaxRetryBackoff)
	}
	s = newStore(t, map[string]string{"maxRetryBackoff": "5000000"})
	if o := s.Client().(*goredis.Client).Options(); o.MinRetryBackoff != 5*time.Millisecond {
		t.Fatalf("legacy maxRetryBackoff: minRetry %v", o.MinRetryBackoff)
	}
}

// TestTLS runs the store against a TLS-only redis-server with a private CA:
// enableTLS with insecureSkipTLSVerify works (with statecar's busy-polling
// dialer and with go-redis's own), certificates are verified otherwise,
// plain text fails, and a server that requires client certificates takes
// clientCert/clientKey and refuses a client without them.
func TestTLS(t *testing.T) {
	r, err := testsrv.StartRedis(testsrv.RedisOptions{TLS: true})
	testsrv.Require(t, err)
	defer r.Close()
	ctx := context.Background()
	open := func(md map[string]string) (*Store, error) {
		meta := map[string]string{"redisHost": r.Addr, "redisMaxRetries": "-1", "dialTimeout": "2s"}
		for k, v := range md {
			meta[k] = v
		}
		return New(ctx, component.Spec{Name: "tls", Type: "state.redis", Metadata: meta}, component.Env{})
	}
	for _, busy := range []string{"", "0"} {
		md := map[string]string{"enableTLS": "true", "insecureSkipTLSVerify": "true"}
		if busy != "" {
			md["busyPoll"] = busy
		}
		s, err := open(md)
		if err != nil {
			t.Fatalf("busyPoll %q: TLS init: %v", busy, err)
		}
		k := key(t)
		if err := set(s, k, `{"a":1}`, nil, nil, component.StateOptions{}); err != nil {
			t.Fatal(err)
		}
		if g := get(t, s, k); string(g.Data) != `{"a":1}` || string(g.ETag) != "1" {
			t.Fatalf("busyPoll %q: read back %+v", busy, g)
		}
		s.Close()
	}
	// The server's certificate is signed by a CA the system does not trust.
	if _, err := open(map[string]string{"enableTLS": "true"}); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("unverified certificate accepted: %v", err)
	}
	// Plain text to a TLS port fails at init.
	if _, err := open(map[string]string{"readTimeout": "1s"}); err == nil {
		t.Fatal("plain-text client initialised against a TLS-only server")
	}

	m, err := testsrv.StartRedis(testsrv.RedisOptions{TLS: true, ClientAuth: true})
	testsrv.Require(t, err)
	defer m.Close()
	r = m
	if _, err := open(map[string]string{"enableTLS": "true", "insecureSkipTLSVerify": "true"}); err == nil {
		t.Fatal("client without a certificate initialised against tls-auth-clients yes")
	}
	s, err := open(map[string]string{"enableTLS": "true", "insecureSkipTLSVerify": "true",
		"clientCert": m.PKI.ClientCertPEM, "clientKey": m.PKI.ClientKeyPEM})
	if err != nil {
		t.Fatalf("mutual TLS init: %v", err)
	}
	defer s.Close()
	k := key(t)
	if err := set(s, k, "2", nil, nil, component.StateOptions{}); err != nil {
		t.Fatal(err)
	}
	if g := get(t, s, k); string(g.Data) != "2" {
		t.Fatalf("mutual TLS read back %+v", g)
	}
}
