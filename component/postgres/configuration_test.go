package postgres

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/statecar/statecar/component"
	"github.com/statecar/statecar/component/configstore"
)

// confTable creates the table and notify trigger of Dapr's
// configuration.postgresql docs, with a table and channel unique to the
// test.
func confTable(t *testing.T) string {
	t.Helper()
	if srvErr != nil {
		t.Fatal(srvErr)
	}
	name, _ := names()
	c := conn(t)
	for _, q := range []string{
		`CREATE TABLE ` + name + ` (KEY VARCHAR NOT NULL, VALUE VARCHAR NOT NULL, VERSION VARCHAR NOT NULL, METADATA JSON)`,
		`CREATE OR REPLACE FUNCTION notify_` + name + `() RETURNS TRIGGER AS $$ BEGIN
			PERFORM pg_notify('` + name + `', json_build_object('table', TG_TABLE_NAME, 'action', TG_OP, 'data', row_to_json(NEW))::text);
			RETURN NULL; END; $$ LANGUAGE plpgsql`,
		`CREATE TRIGGER trg_` + name + ` AFTER INSERT OR UPDATE ON ` + name + ` FOR EACH ROW EXECUTE PROCEDURE notify_` + name + `()`,
	} {
		if _, err := c.Exec(context.Background(), q); err != nil {
			t.Fatal(err)
		}
	}
	return name
}

func openConf(t *testing.T, md map[string]string) (configstore.Store, error) {
	m := map[string]string{"connectionString": srv.DSN}
	for k, v := range md {
		m[k] = v
	}
	s, err := configstore.Open(context.Background(), component.Spec{Name: "conf", Type: "configuration.postgres", Metadata: m}, component.Env{})
	if err == nil {
		t.Cleanup(func() { _ = s.Close() })
	}
	return s, err
}

func TestConfigurationOpenErrors(t *testing.T) {
	if srvErr != nil {
		t.Fatal(srvErr)
	}
	for _, tc := range []struct {
		md   map[string]string
		want string
	}{
		{map[string]string{}, "missing postgreSQL configuration table name"},
		{map[string]string{"table": "Bad"}, "invalid table name 'Bad'. non-alphanumerics or upper cased table names are not supported"},
		{map[string]string{"table": strings.Repeat("a", 65)}, "table name is too long"},
		{map[string]string{"table": "nosuchtable"}, "postgreSQL configuration table 'nosuchtable' does not exist"},
		{map[string]string{"table": "t", "notifyChannel": "Bad"}, `invalid notifyChannel name "Bad"`},
		{map[string]string{"table": "t", "timeout": "500ms"}, "invalid value for 'timeout': must be greater than 1s"},
	} {
		_, err := openConf(t, tc.md)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: got %v, want %q", tc.md, err, tc.want)
		}
	}
}

func TestConfigurationGetAndSubscribe(t *testing.T) {
	table := confTable(t)
	s, err := openConf(t, map[string]string{"table": table, "notifyChannel": table})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	c := conn(t)
	exec := func(q string, args ...any) {
		t.Helper()
		if _, err := c.Exec(ctx, q, args...); err != nil {
			t.Fatal(err)
		}
	}
	ins := "INSERT INTO " + table + " VALUES ($1, $2, $3, $4)"
	exec(ins, "a", "a1", "1", `{"m":"x"}`)
	exec(ins, "a", "a10", "10", nil)
	exec(ins, "a", "a2", "2", nil)
	exec(ins, "b", "b", "v", nil)
	items, err := s.Get(ctx, []string{"a", "b", "missing"}, nil)
	if err != nil || len(items) != 2 || items["a"].Value != "a10" || items["b"].Version != "v" {
		t.Fatalf("get: %+v %v", items, err)
	}
	all, err := s.Get(ctx, nil, nil)
	if err != nil || len(all) != 2 {
		t.Fatalf("get all: %+v %v", all, err)
	}
	one, err := s.Get(ctx, []string{"a"}, nil)
	if err != nil || one["a"].Value != "a10" {
		t.Fatalf("get a: %+v %v", one, err)
	}
	if _, err := s.Get(ctx, []string{"bad key"}, nil); err == nil || err.Error() != "invalid key : 'bad key'" {
		t.Fatalf("bad key: %v", err)
	}

	ch := make(chan *configstore.UpdateEvent, 16)
	id, err := s.Subscribe(ctx, []string{"a"}, nil, func(_ context.Context, ev *configstore.UpdateEvent) error { ch <- ev; return nil })
	if err != nil || len(id) != 36 {
		t.Fatalf("subscribe: %q %v", id, err)
	}
	exec(ins, "b", "ignored", "1", nil) // not subscribed
	exec(ins, "a", "new", "11", `{"k":"v"}`)
	select {
	case ev := <-ch:
		if ev.ID != id || len(ev.Items) != 1 || ev.Items["a"].Value != "new" || ev.Items["a"].Version != "11" || ev.Items["a"].Metadata["k"] != "v" {
			t.Fatalf("event: %+v %+v", ev, ev.Items["a"])
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no event")
	}
	if err := s.Unsubscribe(ctx, id); err != nil {
		t.Fatal(err)
	}
	exec(ins, "a", "after", "12", nil)
	select {
	case ev := <-ch:
		t.Fatalf("event after unsubscribe: %+v", ev)
	case <-time.After(300 * time.Millisecond):
	}
	if err := s.Unsubscribe(ctx, id); err == nil || err.Error() != "unable to find subscription with ID : "+id {
		t.Fatalf("unknown id: %v", err)
	}
}

func TestConfigurationChannelFromRequest(t *testing.T) {
	table := confTable(t)
	s, err := openConf(t, map[string]string{"table": table})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	h := func(context.Context, *configstore.UpdateEvent) error { return nil }
	if _, err := s.Subscribe(ctx, nil, nil, h); err == nil ||
		err.Error() != `unable to subscribe to "`+table+`". notifyChannel must be set in component metadata or request metadata` {
		t.Fatalf("no channel: %v", err)
	}
	ch := make(chan *configstore.UpdateEvent, 4)
	if _, err := s.Subscribe(ctx, nil, map[string]string{"PGNotifyChannel": table}, func(_ context.Context, ev *configstore.UpdateEvent) error { ch <- ev; return nil }); err != nil {
		t.Fatal(err)
	}
	if _, err := conn(t).Exec(ctx, "INSERT INTO "+table+" VALUES ('x', 'vx', '1', NULL)"); err != nil {
		t.Fatal(err)
	}
	select {
	case ev := <-ch:
		if ev.Items["x"] == nil || ev.Items["x"].Value != "vx" {
			t.Fatalf("event: %+v", ev)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no event")
	}
	// Close ends the subscription and returns.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}
