package postgres

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/jackc/pgx/v5"

	"github.com/statecar/statecar/component"
	"github.com/statecar/statecar/internal/testsrv"
)

var (
	srv    *testsrv.Postgres
	srvErr error
	seq    atomic.Int64
)

func TestMain(m *testing.M) {
	flag.Parse()
	srv, srvErr = testsrv.StartPostgres()
	code := m.Run()
	srv.Close()
	os.Exit(code)
}

// names returns a table name and a metadata table name unique to this run.
func names() (table, meta string) {
	n := seq.Add(1)
	return fmt.Sprintf("t_%d", n), fmt.Sprintf("m_%d", n)
}

// open opens a store on the test server; md overrides the defaults (a
// fresh state table and metadata table, cleanup disabled).
func open(t testing.TB, version string, md map[string]string) *Store {
	t.Helper()
	testsrv.Require(t, srvErr)
	s, err := tryOpen(version, md)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func tryOpen(version string, md map[string]string) (*Store, error) {
	table, meta := names()
	m := map[string]string{"connectionString": srv.DSN, "tableName": table, "metadataTableName": meta, "cleanupInterval": "0"}
	if version == "v2" {
		delete(m, "tableName")
		m["tablePrefix"] = table + "_"
	}
	for k, v := range md {
		m[k] = v
	}
	return Open(context.Background(), component.Spec{Name: "pgtest", Type: "state.postgresql", Version: version, Metadata: m}, component.Env{})
}

func conn(t testing.TB) *pgx.Conn {
	t.Helper()
	c, err := pgx.Connect(context.Background(), srv.DSN)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

func exec(t testing.TB, sql string, args ...any) {
	t.Helper()
	if _, err := conn(t).Exec(context.Background(), sql, args...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

// rows returns every row of a query as strings joined by "|".
func rows(t testing.TB, sql string, args ...any) []string {
	t.Helper()
	r, err := conn(t).Query(context.Background(), sql, args...)
	if err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	defer r.Close()
	var out []string
	for r.Next() {
		vals, err := r.Values()
		if err != nil {
			t.Fatal(err)
		}
		parts := make([]string, len(vals))
		for i, v := range vals {
			parts[i] = fmt.Sprint(v)
		}
		out = append(out, strings.Join(parts, "|"))
	}
	if err := r.Err(); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return out
}

func one(t testing.TB, sql string, args ...any) string {
	t.Helper()
	r := rows(t, sql, args...)
	if len(r) != 1 {
		t.Fatalf("%s: %d rows", sql, len(r))
	}
	return r[0]
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
	return s.BulkSet(context.Background(), []component.SetRequest{{Key: k, Value: []byte(v), ETag: etag, Metadata: md, Options: o}})
}

func del(s *Store, k string, etag *string, o component.StateOptions) error {
	return s.BulkDelete(context.Background(), []component.DeleteRequest{{Key: k, ETag: etag, Options: o}})
}

func mustSet(t testing.TB, s *Store, k, v string) {
	t.Helper()
	if err := set(s, k, v, nil, nil, component.StateOptions{}); err != nil {
		t.Fatalf("set %s: %v", k, err)
	}
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

// columnsSQL describes a table's columns like \d+.
const columnsSQL = `SELECT a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull, coalesce(pg_get_expr(d.adbin, d.adrelid), ''), a.attidentity
FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum`

func TestSchemaV1(t *testing.T) {
	s := open(t, "", nil)
	tb, meta := s.cfg.table, s.cfg.metaTable
	want := []string{
		"key|text|true||",
		"value|jsonb|true||",
		"isbinary|boolean|true||",
		"insertdate|timestamp with time zone|true|now()|",
		"updatedate|timestamp with time zone|false||",
		"expiredate|timestamp with time zone|false||",
		"row_id|bigint|true||d",
	}
	got := rows(t, columnsSQL, tb)
	// attidentity is a "char"; normalise its rendering.
	for i := range got {
		got[i] = strings.Replace(got[i], "|0", "|", 1)
		if strings.HasSuffix(got[i], "|100") {
			got[i] = strings.TrimSuffix(got[i], "100") + "d"
		}
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("columns\n got %v\nwant %v", got, want)
	}
	idx := rows(t, `SELECT indexname FROM pg_indexes WHERE tablename = $1 ORDER BY 1`, tb)
	if fmt.Sprint(idx) != fmt.Sprintf("[%s_pkey %s_row_id_uidx]", tb, tb) {
		t.Fatalf("indexes %v", idx)
	}
	if got := rows(t, `SELECT key, value FROM `+meta+` ORDER BY key`); fmt.Sprint(got) != "[lock|lock migrations|3]" {
		t.Fatalf("metadata rows %v", got)
	}
	mcols := rows(t, columnsSQL, meta)
	if fmt.Sprint(mcols) != fmt.Sprint([]string{"key|text|true||0", "value|text|true||0"}) && len(mcols) != 2 {
		t.Fatalf("metadata columns %v", mcols)
	}
	// Reopening does not migrate again.
	s2, err := Open(context.Background(), component.Spec{Name: "pgtest", Metadata: map[string]string{"connectionString": srv.DSN, "tableName": tb, "metadataTableName": meta, "cleanupInterval": "0"}}, component.Env{})
	if err != nil {
		t.Fatal(err)
	}
	s2.Close()
	if got := one(t, `SELECT value FROM `+meta+` WHERE key = 'migrations'`); got != "3" {
		t.Fatalf("level %s", got)
	}
	if fmt.Sprint(component.Capabilities(s.Features())) != "[ETAG TRANSACTIONAL TTL QUERY_API ACTOR]" {
		t.Fatalf("capabilities %v", component.Capabilities(s.Features()))
	}
}

func TestSchemaV2(t *testing.T) {
	s := open(t, "v2", nil)
	tb, meta := s.cfg.table, s.cfg.metaTable
	got := rows(t, columnsSQL, tb)
	for i := range got {
		got[i] = strings.Replace(got[i], "|0", "|", 1)
		if strings.HasSuffix(got[i], "|100") {
			got[i] = strings.TrimSuffix(got[i], "100") + "d"
		}
	}
	want := []string{
		"key|text|true||",
		"value|bytea|true||",
		"etag|uuid|true|gen_random_uuid()|",
		"created_at|timestamp with time zone|true|now()|",
		"updated_at|timestamp with time zone|false||",
		"expires_at|timestamp with time zone|false||",
		"row_id|bigint|true||d",
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("columns\n got %v\nwant %v", got, want)
	}
	idx := rows(t, `SELECT indexname FROM pg_indexes WHERE tablename = $1 ORDER BY 1`, tb)
	if fmt.Sprint(idx) != fmt.Sprintf("[%s_expires_at_idx %s_pkey %s_row_id_uidx]", tb, tb, tb) {
		t.Fatalf("indexes %v", idx)
	}
	if got := rows(t, `SELECT key, value FROM `+meta+` ORDER BY key`); fmt.Sprint(got) != fmt.Sprintf("[lock|lock migrations-state-v2-%s|2]", s.cfg.tablePrefix) {
		t.Fatalf("metadata rows %v", got)
	}
	if fmt.Sprint(component.Capabilities(s.Features())) != "[ETAG TRANSACTIONAL TTL ACTOR]" {
		t.Fatalf("capabilities %v", component.Capabilities(s.Features()))
	}
}

func TestVersionSelection(t *testing.T) {
	testsrv.Require(t, srvErr)
	f, ok := component.LookupState("state.postgresql")
	if !ok {
		t.Fatal("state.postgresql not registered")
	}
	if _, ok := component.LookupState("state.postgres"); !ok {
		t.Fatal("state.postgres not registered")
	}
	table, meta := names()
	spec := component.Spec{Name: "x", Type: "state.postgresql", Metadata: map[string]string{"connectionString": srv.DSN, "tableName": table, "metadataTableName": meta, "cleanupInterval": "0"}}
	st, err := f(context.Background(), spec, component.Env{})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := st.(component.Querier); !ok {
		t.Fatalf("v1 store does not offer query")
	}
	st.Close()
	spec.Version = "V2"
	spec.Metadata["tablePrefix"] = table + "_"
	st, err = f(context.Background(), spec, component.Env{})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := st.(component.Querier); ok {
		t.Fatalf("v2 store offers query")
	}
	st.Close()
	spec.Version = "v3"
	if _, err = f(context.Background(), spec, component.Env{}); err == nil || err.Error() != "couldn't find state store state.postgresql/v3" {
		t.Fatalf("v3: %v", err)
	}
}

func TestV2OnV1TableFails(t *testing.T) {
	testsrv.Require(t, srvErr)
	table, _ := names()
	schema := "s" + table
	exec(t, `CREATE SCHEMA `+schema)
	open(t, "", map[string]string{"tableName": schema + ".state"})
	_, err := tryOpen("v2", map[string]string{"tablePrefix": schema + "."})
	if err == nil || !strings.Contains(err.Error(), `column "expires_at" does not exist`) {
		t.Fatalf("v2 on a v1 table: %v", err)
	}
}

// TestUpgradeLevel2 opens a daprd 1.16 (level 2) table: it is migrated to
// level 3 with row_id in (insertdate, key) order and its rows stay readable.
func TestUpgradeLevel2(t *testing.T) {
	testsrv.Require(t, srvErr)
	table, meta := names()
	exec(t, `CREATE TABLE `+meta+` (key text NOT NULL PRIMARY KEY, value text NOT NULL)`)
	exec(t, `INSERT INTO `+meta+` VALUES ('lock', 'lock'), ('migrations', '2')`)
	exec(t, `CREATE TABLE `+table+` (key text NOT NULL PRIMARY KEY, value jsonb NOT NULL, isbinary boolean NOT NULL,
insertdate TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW(), updatedate TIMESTAMP WITH TIME ZONE NULL, expiredate TIMESTAMP WITH TIME ZONE)`)
	exec(t, `INSERT INTO `+table+` (key, value, isbinary, insertdate) VALUES
('b', '{"x": 1}', false, '2026-01-01T00:00:00Z'), ('a', '2', false, '2026-01-02T00:00:00Z'), ('c', '"c"', false, '2026-01-01T00:00:00Z')`)
	s := open(t, "", map[string]string{"tableName": table, "metadataTableName": meta})
	if got := one(t, `SELECT value FROM `+meta+` WHERE key = 'migrations'`); got != "3" {
		t.Fatalf("level %s", got)
	}
	if got := rows(t, `SELECT key, row_id FROM `+table+` ORDER BY row_id`); fmt.Sprint(got) != "[b|1 c|2 a|3]" {
		t.Fatalf("row ids %v", got)
	}
	if r := get(t, s, "b"); string(r.Data) != `{"x": 1}` {
		t.Fatalf("read after upgrade: %q", r.Data)
	}
	mustSet(t, s, "d", "4")
	if got := one(t, `SELECT row_id FROM `+table+` WHERE key = 'd'`); got != "4" {
		t.Fatalf("new row_id %s", got)
	}
}

func TestSetGetV1(t *testing.T) {
	s := open(t, "", nil)
	tb := s.cfg.table
	if r := get(t, s, "app||k"); r.Found {
		t.Fatalf("found absent key")
	}
	mustSet(t, s, "app||k", `{"name":"Tatooine","b":1,"a":[1,2.50,"x<y"],"f":1.0}`)
	r := get(t, s, "app||k")
	if !r.Found || string(r.Data) != `{"a": [1, 2.50, "x<y"], "b": 1, "f": 1.0, "name": "Tatooine"}` || !r.Expiry.IsZero() {
		t.Fatalf("got %+v data %s", r, r.Data)
	}
	// ETag = xmin, as daprd.
	if x := one(t, `SELECT xmin::text FROM `+tb+` WHERE key = 'app||k'`); string(r.ETag) != x {
		t.Fatalf("ETag %s, xmin %s", r.ETag, x)
	}
	if got := one(t, `SELECT isbinary, updatedate IS NULL, expiredate IS NULL FROM `+tb+` WHERE key = 'app||k'`); got != "false|true|true" {
		t.Fatalf("row %s", got)
	}
	old := string(r.ETag)
	inserted := one(t, `SELECT insertdate FROM `+tb+` WHERE key = 'app||k'`)
	mustSet(t, s, "app||k", `"v2"`)
	if got := one(t, `SELECT insertdate FROM `+tb+` WHERE key = 'app||k'`); got != inserted {
		t.Fatalf("insertdate changed on update: %s -> %s", inserted, got)
	}
	r = get(t, s, "app||k")
	if string(r.ETag) == old || string(r.Data) != `"v2"` {
		t.Fatalf("after update %+v", r)
	}
	if got := one(t, `SELECT updatedate IS NOT NULL FROM `+tb+` WHERE key = 'app||k'`); got != "true" {
		t.Fatalf("updatedate not set")
	}
	// Bytes that are not JSON: base64 JSON string with isbinary.
	bin := []byte{0, 1, 0xfe, 'h', 'i'}
	if err := s.BulkSet(context.Background(), []component.SetRequest{{Key: "app||bin", Value: bin}}); err != nil {
		t.Fatal(err)
	}
	if got := one(t, `SELECT value::text, isbinary FROM `+tb+` WHERE key = 'app||bin'`); got != `"AAH+aGk="|true` {
		t.Fatalf("binary row %s", got)
	}
	if r := get(t, s, "app||bin"); !bytes.Equal(r.Data, bin) {
		t.Fatalf("binary read %q", r.Data)
	}
}

func TestETagsV1(t *testing.T) {
	s := open(t, "", nil)
	mustSet(t, s, "k", "1")
	e1 := string(get(t, s, "k").ETag)
	if err := set(s, "k", "2", &e1, nil, component.StateOptions{}); err != nil {
		t.Fatalf("matching ETag: %v", err)
	}
	e2 := string(get(t, s, "k").ETag)
	err := set(s, "k", "3", &e1, nil, component.StateOptions{})
	wantETagErr(t, err, component.ETagMismatch, fmt.Sprintf("possible etag mismatch. error from state store: state etag not match for key=k: current=%s, expect=%s", e2, e1))
	wantETagErr(t, set(s, "k", "3", ptr("abc"), nil, component.StateOptions{}), component.ETagInvalid,
		`invalid etag value: strconv.ParseUint: parsing "abc": invalid syntax`)
	wantETagErr(t, set(s, "absent", "3", ptr("5"), nil, component.StateOptions{}), component.ETagMismatch,
		"possible etag mismatch. error from state store: state not exist or expired for key=absent")
	if get(t, s, "absent").Found {
		t.Fatalf("ETag save created a row")
	}
	// Delete.
	wantETagErr(t, del(s, "k", &e1, component.StateOptions{}), component.ETagMismatch, "")
	wantETagErr(t, del(s, "k", ptr("x"), component.StateOptions{}), component.ETagInvalid, "")
	if err := del(s, "k", &e2, component.StateOptions{}); err != nil {
		t.Fatal(err)
	}
	if get(t, s, "k").Found {
		t.Fatalf("not deleted")
	}
	if err := del(s, "k", nil, component.StateOptions{}); err != nil {
		t.Fatalf("delete absent: %v", err)
	}
	if err := set(s, "k", "x", nil, nil, component.StateOptions{Concurrency: "bogus"}); err == nil || err.Error() != "unrecognized concurrency model 'bogus'" {
		t.Fatalf("bogus concurrency: %v", err)
	}
}

func TestFirstWrite(t *testing.T) {
	for _, v := range []string{"v1", "v2"} {
		t.Run(v, func(t *testing.T) {
			s := open(t, v, nil)
			fw := component.StateOptions{Concurrency: component.FirstWrite}
			if err := set(s, "k", `"a"`, nil, nil, fw); err != nil {
				t.Fatal(err)
			}
			wantETagErr(t, set(s, "k", `"b"`, nil, nil, fw), component.ETagMismatch,
				"possible etag mismatch. error from state store: item already exists and no etag was passed")
			e := string(get(t, s, "k").ETag)
			if err := set(s, "k", `"b"`, &e, nil, fw); err != nil {
				t.Fatalf("first-write with ETag: %v", err)
			}
			wantETagErr(t, del(s, "k", nil, fw), component.ETagMismatch, "")
			// An expired row is revived by a first-write save.
			exp := "expiredate"
			if v == "v2" {
				exp = "expires_at"
			}
			exec(t, `UPDATE `+s.cfg.table+` SET `+exp+` = now() - interval '1 hour' WHERE key = 'k'`)
			if get(t, s, "k").Found {
				t.Fatalf("expired row visible")
			}
			wantETagErr(t, set(s, "k", `"c"`, &e, nil, component.StateOptions{}), component.ETagMismatch, "")
			if err := set(s, "k", `"c"`, nil, nil, fw); err != nil {
				t.Fatalf("first-write over expired row: %v", err)
			}
			if r := get(t, s, "k"); string(r.Data) != `"c"` || !r.Expiry.IsZero() {
				t.Fatalf("revived %+v", r)
			}
		})
	}
}

func TestTTL(t *testing.T) {
	for _, v := range []string{"v1", "v2"} {
		t.Run(v, func(t *testing.T) {
			s := open(t, v, map[string]string{"cleanupInterval": "3600"})
			exp := "expiredate"
			if v == "v2" {
				exp = "expires_at"
			}
			before := time.Now()
			if err := set(s, "k", "1", nil, map[string]string{"ttlInSeconds": "100"}, component.StateOptions{}); err != nil {
				t.Fatal(err)
			}
			r := get(t, s, "k")
			if r.Expiry.Before(before.Add(99*time.Second)) || r.Expiry.After(time.Now().Add(101*time.Second)) {
				t.Fatalf("Expiry %v", r.Expiry)
			}
			if got := one(t, `SELECT (`+exp+` - now()) > interval '90 seconds' FROM `+s.cfg.table+` WHERE key = 'k'`); got != "true" {
				t.Fatalf("%s not set", exp)
			}
			// A save without TTL clears the expiry, as daprd.
			mustSet(t, s, "k", "2")
			if r := get(t, s, "k"); !r.Expiry.IsZero() {
				t.Fatalf("expiry kept: %v", r.Expiry)
			}
			for _, bad := range []string{"abc", "-2"} {
				err := set(s, "k", "3", nil, map[string]string{"ttlInSeconds": bad}, component.StateOptions{})
				if err == nil || !strings.HasPrefix(err.Error(), "error parsing TTL: incorrect value for metadata 'ttlInSeconds'") {
					t.Fatalf("ttl %s: %v", bad, err)
				}
			}
			// Expiry by the database clock, then cleanup.
			if err := set(s, "short", "1", nil, map[string]string{"ttlInSeconds": "1"}, component.StateOptions{}); err != nil {
				t.Fatal(err)
			}
			exec(t, `UPDATE `+s.cfg.table+` SET `+exp+` = now() - interval '1 second' WHERE key = 'short'`)
			if get(t, s, "short").Found {
				t.Fatalf("expired row visible")
			}
			items, err := s.BulkGet(context.Background(), []string{"short", "k"}, nil, 0)
			if err != nil || items[0].Found || !items[1].Found {
				t.Fatalf("bulk get with expired row: %+v %v", items, err)
			}
			exec(t, `DELETE FROM `+s.cfg.metaTable+` WHERE key LIKE 'last-cleanup%'`)
			n, err := s.CleanupExpired(context.Background())
			if err != nil || n != 1 {
				t.Fatalf("cleanup: %d %v", n, err)
			}
			if got := one(t, `SELECT count(*) FROM `+s.cfg.table+` WHERE key = 'short'`); got != "0" {
				t.Fatalf("expired row not deleted")
			}
			key := "last-cleanup"
			if v == "v2" {
				key = "last-cleanup-state-v2-" + s.cfg.tablePrefix
			}
			if got := one(t, `SELECT count(*) FROM `+s.cfg.metaTable+` WHERE key = $1 AND value::timestamptz > now() - interval '1 minute'`, key); got != "1" {
				t.Fatalf("no %s row", key)
			}
			// Another cleanup within the interval is skipped (the row coordinates sidecars).
			if n, err := s.CleanupExpired(context.Background()); err != nil || n != 0 {
				t.Fatalf("second cleanup: %d %v", n, err)
			}
		})
	}
}

func TestBulkAndTransactions(t *testing.T) {
	for _, v := range []string{"v1", "v2"} {
		t.Run(v, func(t *testing.T) {
			s := open(t, v, nil)
			ctx := context.Background()
			mustSet(t, s, "b", `"b0"`)
			eb := string(get(t, s, "b").ETag)
			bad := "1"
			if v == "v2" {
				bad = "00000000-0000-0000-0000-000000000000"
			}
			err := s.BulkSet(ctx, []component.SetRequest{
				{Key: "a", Value: []byte(`"a1"`)},
				{Key: "b", Value: []byte(`"b1"`), ETag: &bad},
				{Key: "c", Value: []byte(`"c1"`), ETag: &bad},
			})
			var be *component.BulkError
			if !errors.As(err, &be) || len(be.Errs) != 2 {
				t.Fatalf("got %v, want BulkError of 2", err)
			}
			if get(t, s, "a").Found || string(get(t, s, "b").Data) != `"b0"` {
				t.Fatalf("failed bulk save wrote something")
			}
			up := func(k, val string, etag *string) component.Operation {
				return component.Operation{Kind: component.OpUpsert, Set: component.SetRequest{Key: k, Value: []byte(val), ETag: etag}}
			}
			dl := func(k string, etag *string) component.Operation {
				return component.Operation{Kind: component.OpDelete, Delete: component.DeleteRequest{Key: k, ETag: etag}}
			}
			err = s.Multi(ctx, &component.TransactionRequest{Operations: []component.Operation{up("a", `"a1"`, nil), dl("b", &bad), up("c", `"c1"`, nil)}})
			wantETagErr(t, err, component.ETagMismatch, "")
			if get(t, s, "a").Found || !get(t, s, "b").Found || get(t, s, "c").Found {
				t.Fatalf("failed transaction changed state")
			}
			err = s.Multi(ctx, &component.TransactionRequest{Operations: []component.Operation{up("a", `"a1"`, nil), dl("b", &eb), up("c", `"c1"`, nil)}})
			if err != nil {
				t.Fatal(err)
			}
			ra, rc := get(t, s, "a"), get(t, s, "c")
			if string(ra.Data) != `"a1"` || string(rc.Data) != `"c1"` || get(t, s, "b").Found {
				t.Fatalf("transaction result a=%s c=%s", ra.Data, rc.Data)
			}
			if v == "v1" && string(ra.ETag) != string(rc.ETag) {
				t.Fatalf("rows of one transaction have different xmin: %s %s", ra.ETag, rc.ETag)
			}
			items, err := s.BulkGet(ctx, []string{"c", "missing", "a"}, nil, 0)
			if err != nil {
				t.Fatal(err)
			}
			if len(items) != 3 || items[0].Key != "c" || string(items[0].Data) != `"c1"` || items[1].Found || items[1].Key != "missing" ||
				items[2].Key != "a" || items[2].ETag != string(ra.ETag) {
				t.Fatalf("bulk get %+v", items)
			}
			if err := s.BulkDelete(ctx, []component.DeleteRequest{{Key: "a"}, {Key: "c", ETag: &bad}}); !errors.As(err, &be) {
				t.Fatalf("bulk delete: %v", err)
			}
			if !get(t, s, "a").Found {
				t.Fatalf("failed bulk delete removed a")
			}
			if err := s.BulkDelete(ctx, []component.DeleteRequest{{Key: "a"}, {Key: "c"}}); err != nil {
				t.Fatal(err)
			}
			if get(t, s, "a").Found || get(t, s, "c").Found {
				t.Fatalf("bulk delete left rows")
			}
		})
	}
}

func TestV2Values(t *testing.T) {
	s := open(t, "v2", nil)
	tb := s.cfg.table
	mustSet(t, s, "k", `{"b":1,"a":"<"}`)
	r := get(t, s, "k")
	if string(r.Data) != `{"b":1,"a":"<"}` {
		t.Fatalf("bytea not verbatim: %s", r.Data)
	}
	if x := one(t, `SELECT etag::text FROM `+tb+` WHERE key = 'k'`); string(r.ETag) != x || len(x) != 36 {
		t.Fatalf("ETag %s, column %s", r.ETag, x)
	}
	if got := one(t, `SELECT updated_at IS NULL, expires_at IS NULL, created_at <= now() FROM `+tb+` WHERE key = 'k'`); got != "true|true|true" {
		t.Fatalf("new v2 row %s", got)
	}
	wantETagErr(t, set(s, "k", "1", ptr("abc"), nil, component.StateOptions{}), component.ETagMismatch,
		"possible etag mismatch. error from state store: invalid UUID length: 3")
	e := strings.ToUpper(string(r.ETag))
	if err := set(s, "k", "2", &e, nil, component.StateOptions{}); err != nil {
		t.Fatalf("upper-case UUID ETag: %v", err)
	}
	if r2 := get(t, s, "k"); string(r2.ETag) == string(r.ETag) {
		t.Fatalf("ETag unchanged")
	}
	if got := one(t, `SELECT updated_at IS NOT NULL FROM `+tb+` WHERE key = 'k'`); got != "true" {
		t.Fatalf("updated_at not set on update")
	}
	// daprd-seeded row.
	exec(t, `INSERT INTO `+tb+` (key, value, etag) VALUES ('d', '\x00ff'::bytea, 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11')`)
	if r := get(t, s, "d"); !bytes.Equal(r.Data, []byte{0, 0xff}) || string(r.ETag) != "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11" {
		t.Fatalf("seeded row %+v", r)
	}
}

// TestDaprdRowsV1 seeds rows the way daprd writes them and reads them back.
func TestDaprdRowsV1(t *testing.T) {
	s := open(t, "", nil)
	tb := s.cfg.table
	exec(t, `INSERT INTO `+tb+` (key, value, isbinary, expiredate) VALUES
('sc11||k1', '{"name":"Tatooine","b":1}', false, NULL),
('sc11||k2', '"aGVsbG8="', true, NULL),
('sc11||k3', '12', false, now() + interval '60 seconds')`)
	r := get(t, s, "sc11||k1")
	if string(r.Data) != `{"b": 1, "name": "Tatooine"}` {
		t.Fatalf("k1 %s", r.Data)
	}
	if x := one(t, `SELECT xmin::text FROM `+tb+` WHERE key = 'sc11||k1'`); x != string(r.ETag) {
		t.Fatalf("ETag %s xmin %s", r.ETag, x)
	}
	if r := get(t, s, "sc11||k2"); string(r.Data) != "hello" {
		t.Fatalf("k2 %q", r.Data)
	}
	if r := get(t, s, "sc11||k3"); string(r.Data) != "12" || r.Expiry.IsZero() {
		t.Fatalf("k3 %+v", r)
	}
	e := string(r.ETag)
	if err := set(s, "sc11||k1", `{"c":3}`, &e, nil, component.StateOptions{}); err != nil {
		t.Fatalf("ETag save on a daprd row: %v", err)
	}
}

func TestConfig(t *testing.T) {
	f := func(version string, md map[string]string, wantErr string, check func(c *config) bool) {
		t.Helper()
		c, err := parseConfig(component.Spec{Type: "state.postgresql", Version: version, Metadata: md})
		if wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), wantErr) {
				t.Fatalf("%v: got %v, want %q", md, err, wantErr)
			}
			return
		}
		if err != nil {
			t.Fatalf("%v: %v", md, err)
		}
		if !check(c) {
			t.Fatalf("%v: unexpected %+v", md, c)
		}
	}
	dsn := "host=h port=5432 user=u dbname=d sslmode=disable"
	f("", map[string]string{}, "missing connection string", nil)
	f("", map[string]string{"connectionString": dsn}, "", func(c *config) bool {
		return !c.v2 && c.table == "state" && c.metaTable == "dapr_metadata" && c.timeout == 20*time.Second && c.cleanupInterval == time.Hour
	})
	f("v2", map[string]string{"url": dsn, "tablePrefix": "pfx_"}, "", func(c *config) bool { return c.v2 && c.table == "pfx_state" })
	f("", map[string]string{"connectionString": dsn, "tableName": "s.tab", "metadataTableName": "meta", "timeoutInSeconds": "5", "cleanupIntervalInSeconds": "3"}, "", func(c *config) bool {
		return c.table == "s.tab" && c.metaTable == "meta" && c.timeout == 5*time.Second && c.cleanupInterval == 3*time.Second
	})
	f("", map[string]string{"connectionString": dsn, "cleanupInterval": "-1"}, "", func(c *config) bool { return c.cleanupInterval == 0 })
	f("", map[string]string{"connectionString": dsn, "cleanupInterval": ""}, "", func(c *config) bool { return c.cleanupInterval == time.Hour })
	f("", map[string]string{"connectionString": dsn, "timeout": "500ms"}, "must be greater than 1s", nil)
	f("", map[string]string{"connectionString": dsn, "tableName": "x; DROP TABLE y"}, "invalid table name", nil)
	f("", map[string]string{"connectionString": dsn, "maxConns": "7", "connectionMaxIdleTime": "30", "queryExecMode": "exec"}, "", func(c *config) bool {
		return c.pool.MaxConns == 7 && c.pool.MaxConnIdleTime == 30*time.Second && c.pool.ConnConfig.DefaultQueryExecMode == pgx.QueryExecModeExec
	})
	f("", map[string]string{"connectionString": dsn, "queryExecMode": "fast"}, "invalid queryExecMode", nil)
	f("", map[string]string{"connectionString": dsn, "host": "other", "port": "6000", "user": "v", "password": "p", "database": "db2"}, "", func(c *config) bool {
		cc := c.pool.ConnConfig
		return cc.Host == "other" && cc.Port == 6000 && cc.User == "v" && cc.Password == "p" && cc.Database == "db2"
	})
	f("", map[string]string{"connectionString": dsn, "useAzureAD": "true"}, "not supported", nil)
	f("v9", map[string]string{"connectionString": dsn}, "couldn't find state store state.postgresql/v9", nil)
	// "", "v0" and "v1" all select the initial version (runtime-http.md §7.1).
	f("V0", map[string]string{"connectionString": dsn}, "", func(c *config) bool { return !c.v2 })
}

func TestParseUUID(t *testing.T) {
	f := func(in, want, wantErr string) {
		t.Helper()
		got, err := parseUUID(in)
		if wantErr != "" {
			if err == nil || err.Error() != wantErr {
				t.Fatalf("%q: got %v, want error %q", in, err, wantErr)
			}
			return
		}
		if err != nil || got != want {
			t.Fatalf("%q: got %q %v, want %q", in, got, err, want)
		}
	}
	const u = "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"
	f(u, u, "")
	f(strings.ToUpper(u), u, "")
	f("{"+u+"}", u, "")
	f("urn:uuid:"+u, u, "")
	f(strings.ReplaceAll(u, "-", ""), u, "")
	f("abc", "", "invalid UUID length: 3")
	f("a0eebc99x9c0b-4ef8-bb6d-6bb9bd380a11", "", "invalid UUID format")
	f("g0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "", "invalid UUID format")
}

func TestMetrics(t *testing.T) {
	s := open(t, "", nil)
	get(t, s, "x")
	var buf bytes.Buffer
	metrics.WritePrometheus(&buf, false)
	for _, want := range []string{
		`statecar_store_postgres_request_duration_seconds_count{component="pgtest",op="get"}`,
		`statecar_store_postgres_pool_conns{component="pgtest",state="total"}`,
	} {
		if !strings.Contains(buf.String(), want) {
			t.Fatalf("metrics output lacks %s", want)
		}
	}
}

// TestCleanupLoop checks that the background cleanup deletes expired rows
// on its own (interval 1s).
func TestCleanupLoop(t *testing.T) {
	s := open(t, "", map[string]string{"cleanupInterval": "1"})
	if err := set(s, "gone", "1", nil, map[string]string{"ttlInSeconds": "1"}, component.StateOptions{}); err != nil {
		t.Fatal(err)
	}
	exec(t, `UPDATE `+s.cfg.table+` SET expiredate = now() - interval '1 second' WHERE key = 'gone'`)
	for i := 0; one(t, `SELECT count(*) FROM `+s.cfg.table) != "0"; i++ {
		if i > 200 {
			t.Fatalf("cleanup never deleted the expired row")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if got := one(t, `SELECT count(*) FROM `+s.cfg.metaTable+` WHERE key = 'last-cleanup'`); got != "1" {
		t.Fatalf("no last-cleanup row")
	}
}

// TestSecondTableSameMetadata: daprd keeps one migration level per metadata
// table, so a second tableName never gets created; statecar creates it.
func TestSecondTableSameMetadata(t *testing.T) {
	s1 := open(t, "", nil)
	table2, _ := names()
	s2 := open(t, "", map[string]string{"metadataTableName": s1.cfg.metaTable, "tableName": table2})
	mustSet(t, s2, "k", "1")
	if r := get(t, s2, "k"); string(r.Data) != "1" {
		t.Fatalf("read %q", r.Data)
	}
	if got := len(rows(t, columnsSQL, table2)); got != 7 {
		t.Fatalf("second table has %d columns, want 7", got)
	}
	if got := one(t, `SELECT value FROM `+s1.cfg.metaTable+` WHERE key = 'migrations'`); got != "3" {
		t.Fatalf("level %s", got)
	}
}

// TestQueryExecModes runs the basic operations under every queryExecMode
// (the SQL must not depend on prepared-statement type inference).
func TestQueryExecModes(t *testing.T) {
	for _, mode := range []string{"cache_statement", "cache_describe", "describe_exec", "exec", "simple_protocol"} {
		for _, v := range []string{"v1", "v2"} {
			t.Run(mode+"/"+v, func(t *testing.T) {
				s := open(t, v, map[string]string{"queryExecMode": mode})
				ctx := context.Background()
				if err := set(s, "k", `{"a":1}`, nil, map[string]string{"ttlInSeconds": "100"}, component.StateOptions{}); err != nil {
					t.Fatal(err)
				}
				if err := s.BulkSet(ctx, []component.SetRequest{{Key: "bin", Value: []byte{0, 1, 2}}}); err != nil {
					t.Fatal(err)
				}
				r := get(t, s, "k")
				if !r.Found || r.Expiry.IsZero() {
					t.Fatalf("get %+v", r)
				}
				e := string(r.ETag)
				if err := set(s, "k", `2`, &e, nil, component.StateOptions{}); err != nil {
					t.Fatalf("ETag save: %v", err)
				}
				items, err := s.BulkGet(ctx, []string{"bin", "k", "none"}, nil, 0)
				if err != nil || string(items[0].Data) != "\x00\x01\x02" || string(items[1].Data) != "2" || items[2].Found {
					t.Fatalf("bulk get %+v %v", items, err)
				}
				e = items[1].ETag
				if err := del(s, "k", &e, component.StateOptions{}); err != nil {
					t.Fatalf("ETag delete: %v", err)
				}
				if v == "v1" {
					if _, err := runQuery(t, s, `{"filter":{"IN":{"a":[1,2]}},"sort":[{"key":"a"}],"page":{"limit":2}}`); err != nil {
						t.Fatalf("query: %v", err)
					}
				}
			})
		}
	}
}

// TestMultiConditionsBeforeTransaction: conditions are checked against the
// state before the transaction, then operations apply in order.
func TestMultiConditionsBeforeTransaction(t *testing.T) {
	for _, v := range []string{"v1", "v2"} {
		t.Run(v, func(t *testing.T) {
			s := open(t, v, nil)
			ctx := context.Background()
			mustSet(t, s, "a", "1")
			e := string(get(t, s, "a").ETag)
			up := func(k, val string, etag *string) component.Operation {
				return component.Operation{Kind: component.OpUpsert, Set: component.SetRequest{Key: k, Value: []byte(val), ETag: etag}}
			}
			// The second operation's ETag is the one before the transaction.
			err := s.Multi(ctx, &component.TransactionRequest{Operations: []component.Operation{up("a", "2", nil), up("a", "3", &e)}})
			if err != nil {
				t.Fatal(err)
			}
			if r := get(t, s, "a"); string(r.Data) != "3" {
				t.Fatalf("a = %s, want 3", r.Data)
			}
			// Delete then upsert with the pre-transaction ETag: written.
			e = string(get(t, s, "a").ETag)
			err = s.Multi(ctx, &component.TransactionRequest{Operations: []component.Operation{
				{Kind: component.OpDelete, Delete: component.DeleteRequest{Key: "a"}}, up("a", "4", &e),
			}})
			if err != nil {
				t.Fatal(err)
			}
			if r := get(t, s, "a"); string(r.Data) != "4" {
				t.Fatalf("a = %s, want 4", r.Data)
			}
			// First-write of a key an earlier operation created in the same
			// transaction: the key did not exist before, so it is allowed.
			fw := up("n", "2", nil)
			fw.Set.Options.Concurrency = component.FirstWrite
			if err := s.Multi(ctx, &component.TransactionRequest{Operations: []component.Operation{up("n", "1", nil), fw}}); err != nil {
				t.Fatal(err)
			}
			if r := get(t, s, "n"); string(r.Data) != "2" {
				t.Fatalf("n = %s, want 2", r.Data)
			}
			// Validation errors write nothing.
			err = s.Multi(ctx, &component.TransactionRequest{Operations: []component.Operation{up("z", "1", nil), up("a", "1", ptr("not-an-etag"))}})
			if err == nil || get(t, s, "z").Found {
				t.Fatalf("bad ETag: %v", err)
			}
		})
	}
}

func TestInitUnreachable(t *testing.T) {
	_, err := Open(context.Background(), component.Spec{Name: "x", Metadata: map[string]string{
		"connectionString": "host=127.0.0.1 port=1 user=postgres sslmode=disable connect_timeout=1", "timeout": "1"}}, component.Env{})
	if err == nil || !strings.HasPrefix(err.Error(), "failed to ping the database: ") {
		t.Fatalf("unreachable server: %v", err)
	}
}

// TestETagChainWithDaprd plays daprd's side with its SQL (stores.md §3.4):
// daprd's ETag update accepts statecar's ETag (xmin), and statecar accepts
// the ETag after daprd's write.
func TestETagChainWithDaprd(t *testing.T) {
	s := open(t, "", nil)
	tb := s.cfg.table
	ctx := context.Background()
	mustSet(t, s, "k", `{"by":"statecar"}`)
	e := string(get(t, s, "k").ETag)
	tag, err := conn(t).Exec(ctx, `UPDATE `+tb+` SET value = $2, isbinary = $3, updatedate = CURRENT_TIMESTAMP, expiredate = NULL
WHERE key = $1 AND xmin = $4 AND (expiredate IS NULL OR expiredate > CURRENT_TIMESTAMP)`, "k", `{"by":"daprd"}`, false, e)
	if err != nil || tag.RowsAffected() != 1 {
		t.Fatalf("daprd's update with statecar's ETag: %v rows %d", err, tag.RowsAffected())
	}
	wantETagErr(t, set(s, "k", "1", &e, nil, component.StateOptions{}), component.ETagMismatch, "")
	r := get(t, s, "k")
	if string(r.Data) != `{"by": "daprd"}` {
		t.Fatalf("statecar reads daprd's write: %s", r.Data)
	}
	e2 := string(r.ETag)
	if err := set(s, "k", `{"by":"statecar2"}`, &e2, nil, component.StateOptions{}); err != nil {
		t.Fatalf("statecar with daprd's ETag: %v", err)
	}
}

// TestTLS runs the store against a server with ssl on and a private CA:
// sslmode=verify-full or verify-ca with sslRootCert (PEM text or a file)
// connects and round-trips a value over TLS, without sslRootCert the
// server's certificate is refused, and sslRootCert without TLS in the
// connection string is an init error.
func TestTLS(t *testing.T) {
	pg, err := testsrv.StartPostgresWith(testsrv.PostgresOptions{TLS: true})
	testsrv.Require(t, err)
	defer pg.Close()
	ctx := context.Background()
	dsn := func(mode string) string {
		return fmt.Sprintf("host=127.0.0.1 port=%d user=postgres dbname=postgres sslmode=%s connect_timeout=5", pg.Port, mode)
	}
	openTLS := func(md map[string]string) (*Store, error) {
		m := map[string]string{"tableName": "tls_state", "metadataTableName": "tls_meta", "cleanupInterval": "0", "timeout": "5"}
		for k, v := range md {
			m[k] = v
		}
		return Open(ctx, component.Spec{Name: "pgtls", Type: "state.postgresql", Metadata: m}, component.Env{})
	}
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, []byte(pg.PKI.CAPEM), 0o600); err != nil {
		t.Fatal(err)
	}
	for i, tc := range []struct{ mode, root string }{
		{"verify-full", pg.PKI.CAPEM},
		{"verify-ca", pg.PKI.CAPEM},
		{"verify-full", caFile},
	} {
		s, err := openTLS(map[string]string{"connectionString": dsn(tc.mode), "sslRootCert": tc.root})
		if err != nil {
			t.Fatalf("%s with sslRootCert %.20q: %v", tc.mode, tc.root, err)
		}
		k := fmt.Sprintf("tls||%d", i)
		if err := set(s, k, `{"a":1}`, nil, nil, component.StateOptions{}); err != nil {
			t.Fatal(err)
		}
		if g := get(t, s, k); string(g.Data) != `{"a": 1}` {
			t.Fatalf("%s: read back %q", tc.mode, g.Data)
		}
		// The store's connections are TLS ones.
		var inUse int
		if err := s.db.QueryRow(ctx, `SELECT count(*) FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) WHERE s.ssl AND a.datname = 'postgres' AND s.pid = pg_backend_pid()`).Scan(&inUse); err != nil || inUse != 1 {
			t.Fatalf("%s: connection not TLS (%d, %v)", tc.mode, inUse, err)
		}
		s.Close()
	}
	for _, mode := range []string{"verify-full", "verify-ca"} {
		if _, err := openTLS(map[string]string{"connectionString": dsn(mode)}); err == nil || !strings.Contains(err.Error(), "certificate") {
			t.Fatalf("%s without sslRootCert: %v", mode, err)
		}
	}
	if _, err := openTLS(map[string]string{"connectionString": dsn("disable"), "sslRootCert": pg.PKI.CAPEM}); err == nil || !strings.Contains(err.Error(), "does not enable TLS") {
		t.Fatalf("sslRootCert with sslmode=disable: %v", err)
	}
}
