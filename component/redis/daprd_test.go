package redis

import (
	"context"
	"strings"
	"testing"

	goredis "github.com/redis/go-redis/v9"

	"github.com/statecar/statecar/component"
)

// daprdSetScript behaves like daprd's Redis save script as stores.md §2.3
// describes it (EVAL <script> 1 <key> <ver> <data> <fw>), so tests can play
// daprd's side of a shared Redis without daprd.
var daprdSetScript = goredis.NewScript(`
local ver = redis.pcall('HGET', KEYS[1], 'version')
if type(ver) == 'table' then redis.call('DEL', KEYS[1]); ver = false end
local fw = redis.pcall('HGET', KEYS[1], 'first-write')
if type(fw) == 'table' then fw = false end
if not ver or ver == '' or ver == ARGV[1] or (not fw and ARGV[1] == '0') then
  redis.call('HSET', KEYS[1], 'data', ARGV[2])
  if ARGV[3] == '0' then redis.call('HSET', KEYS[1], 'first-write', 0) end
  return redis.call('HINCRBY', KEYS[1], 'version', 1)
end
return redis.error_reply('failed to set key ' .. KEYS[1])
`)

// TestETagChainWithDaprd alternates writes by statecar and by daprd's
// script on one key (stores.md §7 items 2-3): each side accepts the other's
// ETag, a stale ETag fails on both, and the version grows by one per write.
func TestETagChainWithDaprd(t *testing.T) {
	s := newStore(t, nil)
	ctx := context.Background()
	rc := raw(t)
	k := key(t)
	daprdSave := func(etag, data string) error {
		return daprdSetScript.Run(ctx, rc, []string{k}, etag, data, "1").Err()
	}
	if err := daprdSave("0", `{"by":"daprd"}`); err != nil {
		t.Fatal(err)
	}
	r := get(t, s, k)
	if string(r.ETag) != "1" || string(r.Data) != `{"by":"daprd"}` {
		t.Fatalf("statecar reads daprd's write: %+v", r)
	}
	if err := set(s, k, `{"by":"statecar"}`, ptr("1"), nil, component.StateOptions{}); err != nil {
		t.Fatal(err)
	}
	// daprd with statecar's ETag (2) works; with the stale one (1) fails.
	if err := daprdSave("1", "stale"); err == nil || !strings.Contains(err.Error(), "failed to set key") {
		t.Fatalf("daprd with a stale ETag: %v", err)
	}
	if err := daprdSave("2", `{"by":"daprd2"}`); err != nil {
		t.Fatalf("daprd with statecar's ETag: %v", err)
	}
	wantETagErr(t, set(s, k, "x", ptr("2"), nil, component.StateOptions{}), component.ETagMismatch, "")
	if r := get(t, s, k); string(r.ETag) != "3" || string(r.Data) != `{"by":"daprd2"}` {
		t.Fatalf("after the chain: %+v", r)
	}
	// A statecar first-write key: daprd then refuses its no-ETag saves (its
	// rule) and accepts ETag saves, keeping the field.
	fk := key(t)
	if err := set(s, fk, "1", nil, nil, component.StateOptions{Concurrency: component.FirstWrite}); err != nil {
		t.Fatal(err)
	}
	if err := daprdSetScript.Run(ctx, rc, []string{fk}, "0", "2", "1").Err(); err == nil {
		t.Fatal("daprd overwrote a first-write key without an ETag")
	}
	if err := daprdSetScript.Run(ctx, rc, []string{fk}, "1", "2", "1").Err(); err != nil {
		t.Fatalf("daprd ETag save on a first-write key: %v", err)
	}
	if m := hgetall(t, fk); m["first-write"] != "0" || m["version"] != "2" || m["data"] != "2" {
		t.Fatalf("HGETALL %v", m)
	}
}
