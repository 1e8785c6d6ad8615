package server

import (
	"strings"
	"testing"
)

// TestRouteTablesAgree: the h1 router's patterns (h1Routes) and the
// net/http adapter's matcher (match) name the same route for every
// pattern, with the parameters in the same order, so that a route added to
// one table and forgotten in the other fails here.
func TestRouteTablesAgree(t *testing.T) {
	for _, e := range h1Routes {
		var want []string
		segs := strings.Split(strings.TrimPrefix(e.pattern, "/"), "/")
		for i, s := range segs {
			switch {
			case strings.HasPrefix(s, "{"):
				segs[i] = "p" + string(rune('0'+len(want)))
				want = append(want, segs[i])
			case s == "*":
				segs[i] = "topic"
			}
		}
		p := "/" + strings.Join(segs, "/")
		id, params := match(e.method, p)
		if id != e.id {
			t.Errorf("%s %s (%s): match gives route %d, the h1 table %d", e.method, e.pattern, p, id, e.id)
			continue
		}
		for i, w := range want {
			if i < len(params) && params[i] != w && !routes[id].rawParams {
				t.Errorf("%s %s: param %d = %q, want %q", e.method, e.pattern, i, params[i], w)
			}
		}
		if legacyRoutes[id] == "" && routes[id].group != "" {
			t.Errorf("%s %s: route %d has no legacy path for the allow lists", e.method, e.pattern, id)
		}
	}
}
