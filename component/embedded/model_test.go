package embedded

import (
	"context"
	"errors"
	"flag"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/statecar/statecar/component"
)

var long = flag.Bool("long", false, "run long randomized variants")

// modelItem is the reference state of one key.
type modelItem struct {
	value  string
	etag   string
	expiry time.Time // zero = none
}

// model is daprd's in-memory store semantics with atomic multi-item writes.
type model struct {
	now   func() time.Time
	items map[string]modelItem
}

func (m *model) live(k string) (modelItem, bool) {
	it, ok := m.items[k]
	if !ok || (!it.expiry.IsZero() && !m.now().Before(it.expiry)) {
		return modelItem{}, false
	}
	return it, true
}

// check returns the failure kind ("" = ok) of a condition.
func (m *model) check(k string, etag *string, firstWrite bool) string {
	it, ok := m.live(k)
	switch {
	case etag != nil && *etag != "":
		if !ok {
			return "notfound"
		}
		if it.etag != *etag {
			return "mismatch"
		}
	case firstWrite && ok:
		return "exists"
	}
	return ""
}

func kindOf(err error) string {
	if err == nil {
		return ""
	}
	var ee *component.ETagError
	if !errors.As(err, &ee) {
		return "other: " + err.Error()
	}
	switch msg := ee.Error(); {
	case strings.Contains(msg, "state not exist or expired"):
		return "notfound"
	case strings.Contains(msg, "state etag not match"):
		return "mismatch"
	case strings.Contains(msg, "item already exists"):
		return "exists"
	}
	return "etag: " + ee.Error()
}

// TestModel drives random single-item and transactional writes, TTLs and
// clock jumps against the store and the model, comparing every outcome and
// the full state after each step.
func TestModel(t *testing.T) {
	steps := 3000
	if *long {
		steps = 200000
	}
	clk := newClock()
	s, err := OpenMemory(clk.Now)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	m := &model{now: clk.Now, items: map[string]modelItem{}}
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(1, 2))
	keys := []string{"a", "b", "c", "d"}
	pickETag := func(k string) *string {
		switch rng.IntN(4) {
		case 0:
			return nil
		case 1:
			e := ""
			return &e
		case 2:
			e := "12345678"
			return &e
		default:
			e := m.items[k].etag // possibly stale (expired) or ""
			return &e
		}
	}
	var resp component.GetResponse
	for step := range steps {
		k := keys[rng.IntN(len(keys))]
		etag := pickETag(k)
		fw := rng.IntN(4) == 0
		opts := component.StateOptions{}
		if fw {
			opts.Concurrency = component.FirstWrite
		}
		var err error
		var want string
		switch op := rng.IntN(10); {
		case op < 5: // set
			ttl := map[string]string(nil)
			var exp time.Time
			if rng.IntN(3) == 0 {
				n := rng.IntN(5) - 1
				ttl = map[string]string{"ttlInSeconds": strconv.Itoa(n)}
				if n > 0 {
					exp = clk.Now().Add(time.Duration(n) * time.Second)
				}
			}
			v := strconv.Itoa(step)
			want = m.check(k, etag, fw)
			err = s.BulkSet(ctx, []component.SetRequest{{Key: k, Value: []byte(v), ETag: etag, Metadata: ttl, Options: opts}})
			if err == nil {
				if gerr := s.Get(ctx, &component.GetRequest{Key: []byte(k)}, &resp); gerr != nil {
					t.Fatal(gerr)
				}
				m.items[k] = modelItem{value: v, etag: string(resp.ETag), expiry: exp}
			}
		case op < 7: // delete
			want = m.check(k, etag, fw)
			err = s.BulkDelete(ctx, []component.DeleteRequest{{Key: k, ETag: etag, Options: opts}})
			if err == nil {
				delete(m.items, k)
			}
		case op < 9: // transaction on two keys
			k2 := keys[rng.IntN(len(keys))]
			e2 := pickETag(k2)
			want = m.check(k, etag, fw)
			if want == "" {
				want = m.check(k2, e2, false)
			}
			v := "tx" + strconv.Itoa(step)
			err = s.Multi(ctx, &component.TransactionRequest{Operations: []component.Operation{
				{Kind: component.OpUpsert, Set: component.SetRequest{Key: k, Value: []byte(v), ETag: etag, Options: opts}},
				{Kind: component.OpDelete, Delete: component.DeleteRequest{Key: k2, ETag: e2}},
			}})
			if err == nil {
				delete(m.items, k2)
				if k != k2 {
					if gerr := s.Get(ctx, &component.GetRequest{Key: []byte(k)}, &resp); gerr != nil {
						t.Fatal(gerr)
					}
					m.items[k] = modelItem{value: v, etag: string(resp.ETag)}
				}
			}
		default:
			clk.Advance(time.Duration(rng.IntN(3000)) * time.Millisecond)
			continue
		}
		if got := kindOf(err); got != want {
			t.Fatalf("step %d key %s etag %v fw %v: got %q, want %q", step, k, etag, fw, got, want)
		}
		// Compare the whole visible state.
		for _, key := range keys {
			if err := s.Get(ctx, &component.GetRequest{Key: []byte(key)}, &resp); err != nil {
				t.Fatal(err)
			}
			it, ok := m.live(key)
			if resp.Found != ok || (ok && (string(resp.Data) != it.value || string(resp.ETag) != it.etag || !resp.Expiry.Equal(it.expiry))) {
				t.Fatalf("step %d key %s: store found=%v %q etag %s exp %v; model found=%v %+v", step, key, resp.Found, resp.Data, resp.ETag, resp.Expiry, ok, it)
			}
		}
	}
}
