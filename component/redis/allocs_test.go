package redis

import (
	"context"
	"testing"

	"github.com/statecar/statecar/component"
)

// TestGetAllocs guards the allocations of the Get path. It cannot be zero:
// go-redis allocates the command and its reply; the bound catches
// regressions in this package's own work (26 allocations when written:
// a two-command pipeline costs more allocations than one EVALSHA but far
// less server CPU).
func TestGetAllocs(t *testing.T) {
	s := newStore(t, nil)
	k := key(t)
	if err := set(s, k, `"v"`, nil, nil, component.StateOptions{}); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	req := &component.GetRequest{Key: []byte(k)}
	var resp component.GetResponse
	n := testing.AllocsPerRun(200, func() {
		if err := s.Get(ctx, req, &resp); err != nil || !resp.Found {
			t.Fatal(err)
		}
	})
	if n > 30 {
		t.Fatalf("Get allocates %.0f times per call, want <= 30", n)
	}
}
