package redis

import (
	"fmt"
	"sync"

	"github.com/VictoriaMetrics/metrics"
)

// storeMetrics holds one store's request histograms (created once per
// component name in the default set; labels sorted by name).
type storeMetrics struct {
	store                         *Store
	name                          string
	get, bulkGet, set, del, multi *metrics.Histogram
}

// live maps a component name to its open store, read by the pool gauges.
// Gauges are registered once per name and outlive stores (the default set
// cannot hold two metrics of one name); a closed store's gauges read 0.
var live struct {
	sync.Mutex
	stores map[string]*Store // guarded by the mutex
	made   map[string]bool   // names whose gauges exist; guarded by the mutex
}

func newStoreMetrics(name string, s *Store) *storeMetrics {
	h := func(op string) *metrics.Histogram {
		return metrics.GetOrCreateHistogram(fmt.Sprintf(`statecar_store_redis_request_duration_seconds{component=%q,op=%q}`, name, op))
	}
	m := &storeMetrics{store: s, name: name, get: h("get"), bulkGet: h("bulk_get"), set: h("set"), del: h("delete"), multi: h("multi")}
	live.Lock()
	defer live.Unlock()
	if live.stores == nil {
		live.stores, live.made = map[string]*Store{}, map[string]bool{}
	}
	live.stores[name] = s
	if !live.made[name] {
		live.made[name] = true
		pool := func(field func(st poolStats) uint32) func() float64 {
			return func() float64 {
				live.Lock()
				st := live.stores[name]
				live.Unlock()
				if st == nil {
					return 0
				}
				ps := st.client.PoolStats()
				return float64(field(poolStats{ps.TotalConns, ps.IdleConns, ps.StaleConns, ps.Hits, ps.Misses, ps.Timeouts}))
			}
		}
		g := func(metric, label, value string, f func(poolStats) uint32) {
			metrics.GetOrCreateGauge(fmt.Sprintf(`statecar_store_redis_%s{component=%q,%s=%q}`, metric, name, label, value), pool(f))
		}
		g("pool_conns", "state", "total", func(p poolStats) uint32 { return p.total })
		g("pool_conns", "state", "idle", func(p poolStats) uint32 { return p.idle })
		g("pool_conns", "state", "stale", func(p poolStats) uint32 { return p.stale })
		g("pool_events", "event", "hits", func(p poolStats) uint32 { return p.hits })
		g("pool_events", "event", "misses", func(p poolStats) uint32 { return p.misses })
		g("pool_events", "event", "timeouts", func(p poolStats) uint32 { return p.timeouts })
	}
	return m
}

type poolStats struct{ total, idle, stale, hits, misses, timeouts uint32 }

// close detaches the gauges from the store (they read 0 until a store of
// the same name opens).
func (m *storeMetrics) close() {
	if m == nil {
		return
	}
	live.Lock()
	if live.stores[m.name] == m.store {
		delete(live.stores, m.name)
	}
	live.Unlock()
}
