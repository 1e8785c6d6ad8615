package storemetrics

import (
	"fmt"
	"sync"

	"github.com/VictoriaMetrics/metrics"
)

// Requests are one store's request-duration histograms, one per operation:
// statecar_store_<kind>_request_duration_seconds{component, op}.
type Requests struct {
	Get, BulkGet, Set, Delete, Multi *metrics.Histogram
}

// NewRequests returns (creating them the first time) the request histograms
// of component name of a store kind ("redis", "postgres").
func NewRequests(kind, name string) Requests {
	return Requests{
		Get:     Histogram(kind, name, "get"),
		BulkGet: Histogram(kind, name, "bulk_get"),
		Set:     Histogram(kind, name, "set"),
		Delete:  Histogram(kind, name, "delete"),
		Multi:   Histogram(kind, name, "multi"),
	}
}

// Histogram returns the request histogram of one operation (labels sorted
// by name).
func Histogram(kind, name, op string) *metrics.Histogram {
	return metrics.GetOrCreateHistogram(fmt.Sprintf(`statecar_store_%s_request_duration_seconds{component=%q,op=%q}`, kind, name, op))
}

// Live maps a component name to its open store (S is a store pointer), for
// gauges that outlive stores (see the package documentation). The zero
// value is ready to use.
type Live[S comparable] struct {
	mu     sync.Mutex
	stores map[string]S    // open store by component name; guarded by mu
	made   map[string]bool // names whose gauges exist; guarded by mu
}

// Attach makes s the open store of name. It returns true the first time
// name is attached in this process: the caller then registers the gauges
// of name with Gauge (Invariant 2).
func (l *Live[S]) Attach(name string, s S) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.stores == nil {
		l.stores, l.made = map[string]S{}, map[string]bool{}
	}
	l.stores[name] = s
	if l.made[name] {
		return false
	}
	l.made[name] = true
	return true
}

// Detach removes s as the store of name, unless another store of that name
// has been attached since.
func (l *Live[S]) Detach(name string, s S) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if st, ok := l.stores[name]; ok && st == s {
		delete(l.stores, name)
	}
}

// store returns the open store of name and whether there is one.
func (l *Live[S]) store(name string) (S, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	st, ok := l.stores[name]
	return st, ok
}

// Gauge registers the gauge metric (a full name with labels) reading
// f(store of name), or 0 while none is attached (Invariant 1). f runs
// without l's lock held.
func (l *Live[S]) Gauge(metric, name string, f func(S) float64) {
	metrics.GetOrCreateGauge(metric, func() float64 {
		st, ok := l.store(name)
		if !ok {
			return 0
		}
		return f(st)
	})
}
