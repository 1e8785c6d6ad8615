package storemetrics

import (
	"testing"

	"github.com/VictoriaMetrics/metrics"
)

type fakeStore struct{ conns float64 }

func TestLiveGauge(t *testing.T) {
	var live Live[*fakeStore]
	const metric = `statecar_store_test_pool_conns{component="live-test",state="total"}`
	a, b := &fakeStore{conns: 3}, &fakeStore{conns: 7}
	if !live.Attach("live-test", a) {
		t.Fatal("first Attach reported false")
	}
	live.Gauge(metric, "live-test", func(s *fakeStore) float64 { return s.conns })
	g := metrics.GetOrCreateGauge(metric, nil)
	if v := g.Get(); v != 3 {
		t.Fatalf("gauge = %v, want 3", v)
	}
	if live.Attach("live-test", b) {
		t.Fatal("second Attach of one name reported true")
	}
	live.Detach("live-test", a) // a was replaced: b stays attached
	if v := g.Get(); v != 7 {
		t.Fatalf("gauge after detaching a replaced store = %v, want 7", v)
	}
	live.Detach("live-test", b)
	if v := g.Get(); v != 0 {
		t.Fatalf("gauge with no store = %v, want 0", v)
	}
}

func TestNewRequests(t *testing.T) {
	r := NewRequests("test", "req-test")
	if r.Get == nil || r.BulkGet == nil || r.Set == nil || r.Delete == nil || r.Multi == nil {
		t.Fatalf("missing histogram: %+v", r)
	}
	if r.Get == r.Set {
		t.Fatal("get and set share a histogram")
	}
	if Histogram("test", "req-test", "get") != r.Get {
		t.Fatal("Histogram does not return the existing histogram")
	}
}
