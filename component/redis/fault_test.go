package redis

import (
	"fmt"
	"testing"

	"github.com/statecar/statecar/component"
	"github.com/statecar/statecar/internal/storetest"
	"github.com/statecar/statecar/internal/testsrv"
)

// TestServerRestart kills Redis (AOF, appendfsync always) under load and
// starts it again: requests fail while it is down, succeed again after, and
// no acknowledged write is lost.
func TestServerRestart(t *testing.T) {
	r, err := testsrv.StartRedis(testsrv.RedisOptions{AppendOnly: true})
	testsrv.Require(t, err)
	defer r.Close()
	s := newStoreAt(t, r.Addr, map[string]string{"dialTimeout": "200ms", "readTimeout": "1s", "redisMaxRetries": "1"})
	storetest.KillDuringWrites(t, s, r, func(w, i int) (map[string]string, error) {
		k, v := fmt.Sprintf("fault-%d-%d", w, i), fmt.Sprintf("v%d", i)
		if err := set(s, k, v, nil, nil, component.StateOptions{}); err != nil {
			return nil, err
		}
		return map[string]string{k: v}, nil
	})
}
