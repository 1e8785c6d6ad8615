package embedded

import (
	"context"
	"math"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/statecar/statecar/api/apitest"
	"github.com/statecar/statecar/component"
	"github.com/statecar/statecar/kv"
)

// clock is a manual clock shared by a test's stores.
type clock struct {
	mu sync.Mutex
	t  time.Time // guarded by mu
}

func newClock() *clock { return &clock{t: time.Date(2026, 11, 22, 1, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func TestConformanceInMemory(t *testing.T) {
	clk := newClock()
	apitest.Run(t, func(t *testing.T) component.Store {
		s, err := OpenMemory(clk.Now)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}, apitest.Options{InMemoryTexts: true, ConsistentBulkGet: true, Advance: clk.Advance, Now: clk.Now})
}

func TestConformancePebble(t *testing.T) {
	clk := newClock()
	apitest.Run(t, func(t *testing.T) component.Store {
		s, err := Open(t.TempDir(), kv.Options{Now: clk.Now, Shards: 2})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}, apitest.Options{InMemoryTexts: true, ConsistentBulkGet: true, Advance: clk.Advance, Now: clk.Now})
}

// TestTTLPastNanosecondRange: a TTL whose expiry lies beyond what Unix
// nanoseconds hold (April 2262) keeps the item, expiring at the last
// representable instant, instead of wrapping into the past (a save that
// would read back as missing). daprd's in-memory store accepts any int.
func TestTTLPastNanosecondRange(t *testing.T) {
	s, err := OpenMemory(newClock().Now)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	for _, ttl := range []string{"8000000000", "99999999999", strconv.Itoa(math.MaxInt)} {
		if err := s.BulkSet(ctx, []component.SetRequest{{Key: "k", Value: []byte("1"), Metadata: map[string]string{"ttlInSeconds": ttl}}}); err != nil {
			t.Fatalf("ttl %s: %v", ttl, err)
		}
		var resp component.GetResponse
		if err := s.Get(ctx, &component.GetRequest{Key: []byte("k")}, &resp); err != nil {
			t.Fatal(err)
		}
		if !resp.Found || resp.Expiry.Year() != 2262 {
			t.Fatalf("ttl %s: found %v, expiry %v", ttl, resp.Found, resp.Expiry)
		}
	}
}
