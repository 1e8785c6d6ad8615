package postgres

import (
	"fmt"
	"sync"

	"github.com/VictoriaMetrics/metrics"
)

// storeMetrics holds one store's metrics (created once per component name
// in the default set; labels sorted by name).
type storeMetrics struct {
	store                         *Store
	name                          string
	get, bulkGet, set, del, multi *metrics.Histogram
	query                         *metrics.Histogram
	cleaned                       *metrics.Counter
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
		return metrics.GetOrCreateHistogram(fmt.Sprintf(`statecar_store_postgres_request_duration_seconds{component=%q,op=%q}`, name, op))
	}
	m := &storeMetrics{store: s, name: name, get: h("get"), bulkGet: h("bulk_get"), set: h("set"), del: h("delete"), multi: h("multi"), query: h("query"),
		cleaned: metrics.GetOrCreateCounter(fmt.Sprintf(`statecar_store_postgres_cleanup_deleted_total{component=%q}`, name))}
	live.Lock()
	defer live.Unlock()
	if live.stores == nil {
		live.stores, live.made = map[string]*Store{}, map[string]bool{}
	}
	live.stores[name] = s
	if !live.made[name] {
		live.made[name] = true
		g := func(state string, f func(st *Store) int32) {
			metrics.GetOrCreateGauge(fmt.Sprintf(`statecar_store_postgres_pool_conns{component=%q,state=%q}`, name, state), func() float64 {
				live.Lock()
				st := live.stores[name]
				live.Unlock()
				if st == nil {
					return 0
				}
				return float64(f(st))
			})
		}
		g("total", func(st *Store) int32 { return st.db.Stat().TotalConns() })
		g("idle", func(st *Store) int32 { return st.db.Stat().IdleConns() })
		g("acquired", func(st *Store) int32 { return st.db.Stat().AcquiredConns() })
		g("max", func(st *Store) int32 { return st.db.Stat().MaxConns() })
	}
	return m
}

// close detaches the gauges from the store.
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
