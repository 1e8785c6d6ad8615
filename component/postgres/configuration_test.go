package postgres

import (
	"context"
	"fmt"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/statecar/statecar/component"
	"github.com/statecar/statecar/component/configstore"
	"github.com/statecar/statecar/internal/testsrv"
)

const eventWait = 5 * time.Second

// cfgTable creates a configuration table as the Dapr docs prescribe, with
// the docs' trigger notifying channel "config", and returns its name.
func cfgTable(t *testing.T) string {
	t.Helper()
	testsrv.Require(t, srvErr)
	table := fmt.Sprintf("config_%d", seq.Add(1))
	exec(t, `CREATE OR REPLACE FUNCTION notify_event() RETURNS TRIGGER AS $$
    DECLARE
        data json;
        notification json;
    BEGIN
        IF (TG_OP = 'DELETE') THEN
            data = row_to_json(OLD);
        ELSE
            data = row_to_json(NEW);
        END IF;
        notification = json_build_object(
                          'table',TG_TABLE_NAME,
                          'action', TG_OP,
                          'data', data);
        PERFORM pg_notify('config',notification::text);
        RETURN NULL;
    END;
$$ LANGUAGE plpgsql`)
	exec(t, `CREATE TABLE `+table+` (KEY VARCHAR NOT NULL, VALUE VARCHAR NOT NULL, VERSION VARCHAR NOT NULL, METADATA JSON)`)
	exec(t, `CREATE TRIGGER `+table+`_trg AFTER INSERT OR UPDATE ON `+table+` FOR EACH ROW EXECUTE PROCEDURE notify_event()`)
	t.Cleanup(func() { exec(t, "DROP TABLE "+table) })
	return table
}

func cfgSpec(table string, md map[string]string) component.Spec {
	m := map[string]string{"connectionString": srv.DSN, "table": table}
	for k, v := range md {
		m[k] = v
	}
	return component.Spec{Name: "pgconfig", Type: "configuration.postgresql", Version: "v1", Metadata: m}
}

func openCfg(t *testing.T, table string, md map[string]string) *ConfigStore {
	t.Helper()
	s, err := OpenConfiguration(context.Background(), cfgSpec(table, md), component.Env{})
	if err != nil {
		t.Fatalf("OpenConfiguration: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// recorder collects the events of subscriptions.
type recorder chan *configstore.UpdateEvent

func newRecorder() recorder { return make(recorder, 100) }

func (r recorder) handler(_ context.Context, e *configstore.UpdateEvent) error {
	r <- e
	return nil
}

func (r recorder) next(t *testing.T) *configstore.UpdateEvent {
	t.Helper()
	select {
	case e := <-r:
		return e
	case <-time.After(eventWait):
		t.Fatal("no update event within 5s")
		return nil
	}
}

func (r recorder) none(t *testing.T) {
	t.Helper()
	select {
	case e := <-r:
		t.Fatalf("unexpected event %+v", e)
	default:
	}
}

func wantEvent(t *testing.T, e *configstore.UpdateEvent, id, key string, it configstore.Item) {
	t.Helper()
	if e.ID != id {
		t.Errorf("event ID = %q, want %q", e.ID, id)
	}
	if len(e.Items) != 1 || e.Items[key] == nil {
		t.Fatalf("event items = %+v, want only %q", e.Items, key)
	}
	if got := *e.Items[key]; !reflect.DeepEqual(got, it) {
		t.Errorf("event item %q = %+v, want %+v", key, got, it)
	}
}

func TestConfigurationGet(t *testing.T) {
	table := cfgTable(t)
	exec(t, `INSERT INTO `+table+` VALUES
		('k1', 'old', '1', NULL), ('k1', 'new', '3', NULL), ('k1', 'mid', '2', NULL), ('k1', 'text', 'x', NULL),
		('k2', 'v2', '1', '{"a":"b","c":"d"}'),
		('k3', 'first', 'abc', NULL), ('k3', 'second', 'def', NULL),
		('k4', 'v4', '7', NULL), ('k4', 'tie', '7', NULL),
		('a.b/c_d', 'path', '1', NULL)`)
	s := openCfg(t, table, nil)
	ctx := context.Background()

	got, err := s.Get(ctx, []string{"k1"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]*configstore.Item{"k1": {Value: "new", Version: "3"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Get k1 = %v, want %v", dump(got), dump(want))
	}

	got, err = s.Get(ctx, []string{"k2", "k3", "k4", "missing"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	want = map[string]*configstore.Item{
		"k2": {Value: "v2", Version: "1", Metadata: map[string]string{"a": "b", "c": "d"}},
		"k3": {Value: "first", Version: "abc"},
		"k4": {Value: "v4", Version: "7"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Get many = %v, want %v", dump(got), dump(want))
	}

	got, err = s.Get(ctx, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 5 || got["k1"].Value != "new" || got["a.b/c_d"].Value != "path" || got["k2"].Metadata["c"] != "d" {
		t.Errorf("Get all = %v", dump(got))
	}

	// daprd's metadata clause compares the bound name with the bound value.
	if got, err = s.Get(ctx, []string{"k1"}, map[string]string{"a": "b"}); err != nil || len(got) != 0 {
		t.Errorf("Get with metadata a=b = %v, %v; want no item", dump(got), err)
	}
	if got, err = s.Get(ctx, []string{"k1"}, map[string]string{"a": "a", "b": "b"}); err != nil || len(got) != 1 {
		t.Errorf("Get with metadata a=a,b=b = %v, %v; want k1", dump(got), err)
	}
	// Without keys the metadata is ignored.
	if got, err = s.Get(ctx, nil, map[string]string{"a": "b"}); err != nil || len(got) != 5 {
		t.Errorf("Get all with metadata = %v, %v; want 5 items", dump(got), err)
	}

	for _, k := range []string{"k 1", "k'1", "k;DROP", "ké"} {
		if _, err := s.Get(ctx, []string{"k1", k}, nil); err == nil || err.Error() != "invalid key : '"+k+"'" {
			t.Errorf("Get %q: err = %v", k, err)
		}
	}
}

func dump(m map[string]*configstore.Item) string {
	var b strings.Builder
	for k, v := range m {
		fmt.Fprintf(&b, "%s=%+v ", k, *v)
	}
	return b.String()
}

func TestConfigurationOpenErrors(t *testing.T) {
	table := cfgTable(t)
	long := strings.Repeat("a", 65)
	cases := []struct {
		md   map[string]string
		want string // a regexp
	}{
		{map[string]string{"table": ""}, `^missing postgreSQL configuration table name$`},
		{map[string]string{"table": "nosuchtable"}, `^postgreSQL configuration table 'nosuchtable' does not exist$`},
		{map[string]string{"table": long}, `^table name is too long - tableName : '` + long + `'. max allowed field length is 64$`},
		{map[string]string{"table": "Config"}, `^invalid table name 'Config'. non-alphanumerics or upper cased table names are not supported$`},
		{map[string]string{"table": "config;drop"}, `^invalid table name 'config;drop'`},
		{map[string]string{"notifyChannel": "Chan"}, `^invalid notifyChannel name "Chan". non-alphanumerics or upper cased names are not supported$`},
		{map[string]string{"pgNotifyChannel": "a-b"}, `^invalid notifyChannel name "a-b"`},
		{map[string]string{"notifyChannel": long}, `^notifyChannel name is too long - "` + long + `". max allowed length is 64$`},
		{map[string]string{"timeout": "500ms"}, `^invalid value for 'timeout': must be greater than 1s$`},
		{map[string]string{"timeoutInSeconds": "0"}, `^invalid value for 'timeout': must be greater than 1s$`},
		{map[string]string{"timeout": ""}, `^invalid value for 'timeout': must be greater than 1s$`},
		{map[string]string{"timeout": "soon"}, `^invalid value for 'timeout'`},
		{map[string]string{"useAzureAD": "true"}, `^useAzureAD is not supported by statecar$`},
		{map[string]string{"useAWSIAM": "true"}, `^useAWSIAM is not supported by statecar$`},
		{map[string]string{"connectionString": ""}, `^failed to build connection string$`},
		{map[string]string{"queryExecMode": "fast"}, `invalid queryExecMode`},
		{map[string]string{"connectionString": "host=127.0.0.1 port=1 user=postgres sslmode=disable"}, `^PostgreSQL configuration store (ping|connection) error: `},
	}
	for _, c := range cases {
		s, err := OpenConfiguration(context.Background(), cfgSpec(table, c.md), component.Env{})
		if err == nil {
			s.Close()
			t.Errorf("%v: no error", c.md)
			continue
		}
		if !regexp.MustCompile(c.want).MatchString(err.Error()) {
			t.Errorf("%v: error %q, want /%s/", c.md, err, c.want)
		}
	}
	// Valid variants: seconds, durations, aliases.
	for _, md := range []map[string]string{
		{"timeout": "5"}, {"timeoutInSeconds": "30"}, {"timeout": "1m"},
		{"connMaxIdleTime": "10"}, {"connectionMaxIdleTime": "1m", "maxConns": "3", "queryExecMode": "exec"},
		{"useAzureAD": "false"}, {"notifyChannel": "config"}, {"pgNotifyChannel": "a.b/c_9"},
	} {
		s, err := OpenConfiguration(context.Background(), cfgSpec(table, md), component.Env{})
		if err != nil {
			t.Errorf("%v: %v", md, err)
			continue
		}
		s.Close()
	}
	s := openCfg(t, table, map[string]string{"connMaxIdleTime": "10"})
	if d := s.Pool().Config().MaxConnIdleTime; d != 10*time.Second {
		t.Errorf("connMaxIdleTime 10: MaxConnIdleTime = %v", d)
	}
	s = openCfg(t, table, map[string]string{"connMaxIdleTime": "10", "connectionMaxIdleTime": "1m", "timeout": "3"})
	if d := s.Pool().Config().MaxConnIdleTime; d != time.Minute {
		t.Errorf("connectionMaxIdleTime wins: MaxConnIdleTime = %v", d)
	}
	if s.cfg.timeout != 3*time.Second {
		t.Errorf("timeout 3 = %v", s.cfg.timeout)
	}
}

func TestConfigurationRegistered(t *testing.T) {
	table := cfgTable(t)
	for _, typ := range []string{"configuration.postgresql", "configuration.postgres"} {
		spec := cfgSpec(table, nil)
		spec.Type = typ
		s, err := configstore.Open(context.Background(), spec, component.Env{})
		if err != nil {
			t.Fatalf("%s: %v", typ, err)
		}
		if _, ok := s.(*ConfigStore); !ok {
			t.Errorf("%s: %T", typ, s)
		}
		s.Close()
	}
}

func TestConfigurationSubscribeKeys(t *testing.T) {
	table := cfgTable(t)
	s := openCfg(t, table, map[string]string{"notifyChannel": "config"})
	r := newRecorder()
	id, err := s.Subscribe(context.Background(), []string{"k1", "k2"}, nil, r.handler)
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`).MatchString(id) {
		t.Errorf("subscription ID %q is not a UUID v4", id)
	}
	// Right after Subscribe returns: LISTEN has completed.
	exec(t, `INSERT INTO `+table+` VALUES ('k1', 'v1', '1', '{"m":"x"}')`)
	wantEvent(t, r.next(t), id, "k1", configstore.Item{Value: "v1", Version: "1", Metadata: map[string]string{"m": "x"}})

	exec(t, `INSERT INTO `+table+` VALUES ('other', 'o', '1', NULL)`)
	exec(t, `UPDATE `+table+` SET VALUE = 'v1b', VERSION = '2', METADATA = NULL WHERE KEY = 'k1'`)
	// The first event is the update: "other" was filtered out.
	wantEvent(t, r.next(t), id, "k1", configstore.Item{Value: "v1b", Version: "2", Metadata: map[string]string{}})

	exec(t, `INSERT INTO `+table+` VALUES ('k2', 'v2', 'abc', NULL)`)
	wantEvent(t, r.next(t), id, "k2", configstore.Item{Value: "v2", Version: "abc", Metadata: map[string]string{}})
	r.none(t)

	// A payload of another shape on the channel is skipped.
	exec(t, `SELECT pg_notify('config', 'not json')`)
	exec(t, `SELECT pg_notify('config', '{"data": 1}')`)
	exec(t, `SELECT pg_notify('config', '{"data": {"key": "k1", "value": 5}}')`)
	exec(t, `SELECT pg_notify('config', '{"DATA": {"key": "k1"}}')`)
	exec(t, `SELECT pg_notify('config', '{"data": {"value": "nokey"}}')`)
	exec(t, `SELECT pg_notify('config', '{"data": {"KEY": "k2", "Value": "hand", "VERSION": "9", "MetaData": {"z": "y"}}}')`)
	wantEvent(t, r.next(t), id, "k2", configstore.Item{Value: "hand", Version: "9", Metadata: map[string]string{"z": "y"}})
	r.none(t)
}

func TestConfigurationSubscribeAll(t *testing.T) {
	table := cfgTable(t)
	s := openCfg(t, table, map[string]string{"pgNotifyChannel": "config"})
	r := newRecorder()
	id, err := s.Subscribe(context.Background(), nil, nil, r.handler)
	if err != nil {
		t.Fatal(err)
	}
	exec(t, `INSERT INTO `+table+` VALUES ('a', '1', '1', NULL)`)
	exec(t, `INSERT INTO `+table+` VALUES ('b', '2', '1', NULL)`)
	wantEvent(t, r.next(t), id, "a", configstore.Item{Value: "1", Version: "1", Metadata: map[string]string{}})
	wantEvent(t, r.next(t), id, "b", configstore.Item{Value: "2", Version: "1", Metadata: map[string]string{}})
	// A row without a key field is the item "" (daprd delivers it too).
	exec(t, `SELECT pg_notify('config', '{"data": {"value": "nokey"}}')`)
	wantEvent(t, r.next(t), id, "", configstore.Item{Value: "nokey", Metadata: map[string]string{}})

	// A failing handler keeps receiving.
	failing := newRecorder()
	id2, err := s.Subscribe(context.Background(), nil, nil, func(ctx context.Context, e *configstore.UpdateEvent) error {
		failing <- e
		return fmt.Errorf("app is down")
	})
	if err != nil {
		t.Fatal(err)
	}
	exec(t, `UPDATE `+table+` SET VALUE = '3' WHERE KEY = 'a'`)
	exec(t, `UPDATE `+table+` SET VALUE = '4' WHERE KEY = 'a'`)
	wantEvent(t, failing.next(t), id2, "a", configstore.Item{Value: "3", Version: "1", Metadata: map[string]string{}})
	wantEvent(t, failing.next(t), id2, "a", configstore.Item{Value: "4", Version: "1", Metadata: map[string]string{}})
}

func TestConfigurationSubscribeChannel(t *testing.T) {
	table := cfgTable(t)
	s := openCfg(t, table, nil)
	ctx := context.Background()
	r := newRecorder()

	_, err := s.Subscribe(ctx, []string{"k"}, nil, r.handler)
	want := `unable to subscribe to "` + table + `". notifyChannel must be set in component metadata or request metadata`
	if err == nil || err.Error() != want {
		t.Errorf("no channel: err = %v, want %s", err, want)
	}
	if _, err = s.Subscribe(ctx, nil, map[string]string{"pgNotifyChannel": "Config"}, r.handler); err == nil ||
		err.Error() != `invalid notifyChannel name "Config". non-alphanumerics or upper cased names are not supported` {
		t.Errorf("bad channel: err = %v", err)
	}

	// The request metadata names the channel, in any case.
	id, err := s.Subscribe(ctx, []string{"k"}, map[string]string{"PGNOTIFYCHANNEL": "config"}, r.handler)
	if err != nil {
		t.Fatal(err)
	}
	exec(t, `INSERT INTO `+table+` VALUES ('k', 'v', '1', NULL)`)
	wantEvent(t, r.next(t), id, "k", configstore.Item{Value: "v", Version: "1", Metadata: map[string]string{}})

	// The component's notifyChannel wins over the request metadata.
	s2 := openCfg(t, table, map[string]string{"notifyChannel": "config"})
	r2 := newRecorder()
	id2, err := s2.Subscribe(ctx, []string{"k"}, map[string]string{"pgNotifyChannel": "elsewhere"}, r2.handler)
	if err != nil {
		t.Fatal(err)
	}
	exec(t, `UPDATE `+table+` SET VALUE = 'w' WHERE KEY = 'k'`)
	wantEvent(t, r2.next(t), id2, "k", configstore.Item{Value: "w", Version: "1", Metadata: map[string]string{}})
	wantEvent(t, r.next(t), id, "k", configstore.Item{Value: "w", Version: "1", Metadata: map[string]string{}})
}

// listening returns the channels the store's idle connections listen on.
func listening(t *testing.T, s *ConfigStore) []string {
	t.Helper()
	ctx := context.Background()
	conns := s.Pool().AcquireAllIdle(ctx)
	var out []string
	for _, c := range conns {
		var chans []string
		if err := c.QueryRow(ctx, "SELECT coalesce(array_agg(c), '{}') FROM pg_listening_channels() c").Scan(&chans); err != nil {
			t.Fatal(err)
		}
		out = append(out, chans...)
		c.Release()
	}
	return out
}

func TestConfigurationUnsubscribe(t *testing.T) {
	table := cfgTable(t)
	s := openCfg(t, table, map[string]string{"notifyChannel": "config"})
	ctx := context.Background()
	ra, rb := newRecorder(), newRecorder()
	ida, err := s.Subscribe(ctx, nil, nil, ra.handler)
	if err != nil {
		t.Fatal(err)
	}
	idb, err := s.Subscribe(ctx, nil, nil, rb.handler)
	if err != nil {
		t.Fatal(err)
	}
	if ida == idb {
		t.Fatalf("two subscriptions with ID %s", ida)
	}
	exec(t, `INSERT INTO `+table+` VALUES ('k', '1', '1', NULL)`)
	wantEvent(t, ra.next(t), ida, "k", configstore.Item{Value: "1", Version: "1", Metadata: map[string]string{}})
	wantEvent(t, rb.next(t), idb, "k", configstore.Item{Value: "1", Version: "1", Metadata: map[string]string{}})

	if err := s.Unsubscribe(ctx, ida); err != nil {
		t.Fatal(err)
	}
	if ch := listening(t, s); len(ch) != 0 {
		t.Errorf("after Unsubscribe, pooled connections listen on %v", ch)
	}
	exec(t, `UPDATE `+table+` SET VALUE = '2' WHERE KEY = 'k'`)
	wantEvent(t, rb.next(t), idb, "k", configstore.Item{Value: "2", Version: "1", Metadata: map[string]string{}})
	ra.none(t)

	for _, id := range []string{ida, "nope"} {
		if err := s.Unsubscribe(ctx, id); err == nil || err.Error() != "unable to find subscription with ID : "+id {
			t.Errorf("Unsubscribe %s: err = %v", id, err)
		}
	}

	// A handler may unsubscribe its own subscription.
	var self string
	rc := newRecorder()
	self, err = s.Subscribe(ctx, []string{"k"}, nil, func(ctx context.Context, e *configstore.UpdateEvent) error {
		rc <- e
		return s.Unsubscribe(ctx, e.ID)
	})
	if err != nil {
		t.Fatal(err)
	}
	exec(t, `UPDATE `+table+` SET VALUE = '3' WHERE KEY = 'k'`)
	wantEvent(t, rc.next(t), self, "k", configstore.Item{Value: "3", Version: "1", Metadata: map[string]string{}})
	wantEvent(t, rb.next(t), idb, "k", configstore.Item{Value: "3", Version: "1", Metadata: map[string]string{}})
	exec(t, `UPDATE `+table+` SET VALUE = '4' WHERE KEY = 'k'`)
	wantEvent(t, rb.next(t), idb, "k", configstore.Item{Value: "4", Version: "1", Metadata: map[string]string{}})
	rc.none(t)
}

func TestConfigurationSubscribeContext(t *testing.T) {
	table := cfgTable(t)
	s := openCfg(t, table, map[string]string{"notifyChannel": "config"})
	ctx, cancel := context.WithCancel(context.Background())
	r := newRecorder()
	id, err := s.Subscribe(ctx, nil, nil, r.handler)
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	deadline := time.Now().Add(eventWait)
	for {
		err := s.Unsubscribe(context.Background(), id)
		if err != nil && strings.HasPrefix(err.Error(), "unable to find subscription") {
			break
		}
		if err != nil || time.Now().After(deadline) {
			t.Fatalf("subscription still there after its context ended (err %v)", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestConfigurationClose(t *testing.T) {
	table := cfgTable(t)
	s, err := OpenConfiguration(context.Background(), cfgSpec(table, map[string]string{"notifyChannel": "config"}), component.Env{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	r := newRecorder()
	var ids []string
	for i := 0; i < 2; i++ {
		id, err := s.Subscribe(ctx, nil, nil, r.handler)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	exec(t, `INSERT INTO `+table+` VALUES ('k', '1', '1', NULL)`)
	r.next(t)
	r.next(t)

	done := make(chan struct{})
	go func() { s.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(eventWait):
		t.Fatal("Close did not return")
	}
	s.Close() // idempotent
	if n := len(s.subs); n != 0 {
		t.Errorf("%d subscriptions left after Close", n)
	}
	exec(t, `UPDATE `+table+` SET VALUE = '2' WHERE KEY = 'k'`)
	// No listener is left on the server for this store's database session.
	var n int
	if err := conn(t).QueryRow(ctx, "SELECT count(*) FROM pg_stat_activity WHERE query ILIKE 'listen config'").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Errorf("%d sessions still listening after Close", n)
	}
	r.none(t)
	if _, err := s.Subscribe(ctx, nil, nil, r.handler); err == nil || err.Error() != "configuration store is closed" {
		t.Errorf("Subscribe after Close: err = %v", err)
	}
	if err := s.Unsubscribe(ctx, ids[0]); err == nil || err.Error() != "configuration store is closed" {
		t.Errorf("Unsubscribe after Close: err = %v", err)
	}
}

// A connection returned to the pool keeps no notification for the next
// subscription.
func TestConfigurationUnlistenDrains(t *testing.T) {
	table := cfgTable(t)
	s := openCfg(t, table, map[string]string{"maxConns": "2"})
	ctx := context.Background()
	c, err := s.Pool().Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Exec(ctx, "listen config"); err != nil {
		t.Fatal(err)
	}
	// Delivered to this session at commit, during the query: pgx buffers it.
	if _, err := c.Exec(ctx, "SELECT pg_notify('config', 'stale')"); err != nil {
		t.Fatal(err)
	}
	s.unlisten(c, "config")
	done, stop := context.WithCancel(ctx)
	stop()
	for _, c := range s.Pool().AcquireAllIdle(ctx) {
		if n, err := c.Conn().WaitForNotification(done); err == nil {
			t.Errorf("pooled connection still holds notification %+v", n)
		}
		c.Release()
	}
}
