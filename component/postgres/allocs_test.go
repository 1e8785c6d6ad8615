package postgres

import (
	"context"
	"testing"

	"github.com/statecar/statecar/component"
)

// TestGetAllocs guards the allocations of the Get path. It cannot be zero:
// pgx allocates per query; the bound catches regressions in this package's
// own work (26 allocations when written).
func TestGetAllocs(t *testing.T) {
	s := open(t, "", nil)
	mustSet(t, s, "k", `{"a":1}`)
	ctx := context.Background()
	req := &component.GetRequest{Key: []byte("k")}
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
