package postgres

import (
	"fmt"

	"github.com/VictoriaMetrics/metrics"

	"github.com/statecar/statecar/internal/storemetrics"
)

// storeMetrics holds one store's metrics (created once per component name
// in the default set; labels sorted by name).
type storeMetrics struct {
	store *Store
	name  string
	storemetrics.Requests
	query   *metrics.Histogram
	cleaned *metrics.Counter
}

// live maps a component name to its open store, read by the pool gauges.
// Gauges are registered once per name and outlive stores (the default set
// cannot hold two metrics of one name); a closed store's gauges read 0.
var live storemetrics.Live[*Store]

func newStoreMetrics(name string, s *Store) *storeMetrics {
	m := &storeMetrics{store: s, name: name, Requests: storemetrics.NewRequests("postgres", name),
		query:   storemetrics.Histogram("postgres", name, "query"),
		cleaned: metrics.GetOrCreateCounter(fmt.Sprintf(`statecar_store_postgres_cleanup_deleted_total{component=%q}`, name))}
	if !live.Attach(name, s) {
		return m
	}
	g := func(state string, f func(st *Store) int32) {
		live.Gauge(fmt.Sprintf(`statecar_store_postgres_pool_conns{component=%q,state=%q}`, name, state), name, func(st *Store) float64 {
			return float64(f(st))
		})
	}
	g("total", func(st *Store) int32 { return st.db.Stat().TotalConns() })
	g("idle", func(st *Store) int32 { return st.db.Stat().IdleConns() })
	g("acquired", func(st *Store) int32 { return st.db.Stat().AcquiredConns() })
	g("max", func(st *Store) int32 { return st.db.Stat().MaxConns() })
	return m
}

// close detaches the gauges from the store (they read 0 until a store of
// the same name opens).
func (m *storeMetrics) close() {
	if m == nil {
		return
	}
	live.Detach(m.name, m.store)
}
