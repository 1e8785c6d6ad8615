package redis

import (
	"context"
	"testing"

	goredis "github.com/redis/go-redis/v9"

	"github.com/statecar/statecar/api/apitest"
	"github.com/statecar/statecar/component"
)

// TestConformance runs the API layer's conformance suite over state.redis.
// Every store gets an emptied Redis database 1.
func TestConformance(t *testing.T) {
	newStore(t, nil) // skips when redis-server is absent
	apitest.Run(t, func(t *testing.T) component.Store {
		c := goredis.NewClient(&goredis.Options{Addr: srv.Addr, DB: 1})
		defer c.Close()
		if err := c.FlushDB(context.Background()).Err(); err != nil {
			t.Fatal(err)
		}
		return newStore(t, map[string]string{"redisDB": "1"})
	}, apitest.Options{ConsistentBulkGet: true})
}
