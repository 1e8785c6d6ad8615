package postgres

import (
	"context"
	"fmt"
	"testing"

	"github.com/statecar/statecar/component"
	"github.com/statecar/statecar/internal/storetest"
)

// TestServerRestart kills PostgreSQL (immediate shutdown, crash recovery on
// restart) under load: requests fail while it is down, succeed again after,
// and no acknowledged write is lost.
func TestServerRestart(t *testing.T) {
	s := open(t, "", map[string]string{"timeout": "2"})
	ctx := context.Background()
	storetest.KillDuringWrites(t, s, srv, func(w, i int) (map[string]string, error) {
		k, v := fmt.Sprintf("fault-%d-%d", w, i), fmt.Sprintf(`"v%d"`, i)
		// Alternate single saves and two-item transactions.
		if i%2 == 0 {
			if err := set(s, k, v, nil, nil, component.StateOptions{}); err != nil {
				return nil, err
			}
			return map[string]string{k: v}, nil
		}
		err := s.Multi(ctx, &component.TransactionRequest{Operations: []component.Operation{
			{Kind: component.OpUpsert, Set: component.SetRequest{Key: k, Value: []byte(v)}},
			{Kind: component.OpUpsert, Set: component.SetRequest{Key: k + "-b", Value: []byte(v)}},
		}})
		if err != nil {
			return nil, err
		}
		return map[string]string{k: v, k + "-b": v}, nil
	})
}
