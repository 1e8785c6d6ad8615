package redis

import (
	"fmt"

	"github.com/statecar/statecar/internal/storemetrics"
)

// storeMetrics holds one store's request histograms (created once per
// component name in the default set; labels sorted by name).
type storeMetrics struct {
	store *Store
	name  string
	storemetrics.Requests
}

// live maps a component name to its open store, read by the pool gauges.
// Gauges are registered once per name and outlive stores (the default set
// cannot hold two metrics of one name); a closed store's gauges read 0.
var live storemetrics.Live[*Store]

func newStoreMetrics(name string, s *Store) *storeMetrics {
	m := &storeMetrics{store: s, name: name, Requests: storemetrics.NewRequests("redis", name)}
	if !live.Attach(name, s) {
		return m
	}
	g := func(metric, label, value string, f func(ps poolStats) uint32) {
		live.Gauge(fmt.Sprintf(`statecar_store_redis_%s{component=%q,%s=%q}`, metric, name, label, value), name, func(st *Store) float64 {
			ps := st.client.PoolStats()
			return float64(f(poolStats{ps.TotalConns, ps.IdleConns, ps.StaleConns, ps.Hits, ps.Misses, ps.Timeouts}))
		})
	}
	g("pool_conns", "state", "total", func(p poolStats) uint32 { return p.total })
	g("pool_conns", "state", "idle", func(p poolStats) uint32 { return p.idle })
	g("pool_conns", "state", "stale", func(p poolStats) uint32 { return p.stale })
	g("pool_events", "event", "hits", func(p poolStats) uint32 { return p.hits })
	g("pool_events", "event", "misses", func(p poolStats) uint32 { return p.misses })
	g("pool_events", "event", "timeouts", func(p poolStats) uint32 { return p.timeouts })
	return m
}

type poolStats struct{ total, idle, stale, hits, misses, timeouts uint32 }

// close detaches the gauges from the store (they read 0 until a store of
// the same name opens).
func (m *storeMetrics) close() {
	if m == nil {
		return
	}
	live.Detach(m.name, m.store)
}
