package torture

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/statecar/statecar/internal/testutil"
)

// lossyTarget restarts like its inner target, then "loses" data behind the
// ledger's back through the API: it deletes one single-writer key, one key
// of a transaction group and resets a counter. Run must report each.
type lossyTarget struct {
	sidecarTarget
	store string
}

func (t lossyTarget) Restart() (time.Duration, error) {
	d, err := t.sidecarTarget.Restart()
	if err != nil {
		return d, err
	}
	c := newClient(t.BaseURL(), t.store, 1)
	defer c.close()
	ctx := context.Background()
	for j := range kvKeys {
		c.del(ctx, "w0-k"+string(rune('0'+j)), "")
	}
	c.del(ctx, "x2-0", "")
	c.save(ctx, saveItem{Key: "c0", Value: []byte("0")})
	return d, nil
}

// TestTortureDetectsLoss proves the checker can fail: losses injected after
// the restart are reported as violations.
func TestTortureDetectsLoss(t *testing.T) {
	s := testutil.Start(t, testutil.Options{})
	rep, err := Run(context.Background(), lossyTarget{sidecarTarget{s}, "statestore"}, Config{Cycles: 1, Duration: 800 * time.Millisecond, Workers: 4, Seed: 7})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"key w0-k", "transaction group x2-0", "counter c0"}
	for _, w := range want {
		found := false
		for _, v := range rep.Violations {
			found = found || strings.Contains(v, w)
		}
		if !found {
			t.Errorf("no violation mentions %q; violations: %q (acked %v)", w, rep.Violations, rep.Acked)
		}
	}
}
