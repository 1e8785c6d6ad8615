package embedded

import (
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
