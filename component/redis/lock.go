package redis

import (
	"context"
	"errors"
	"fmt"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/statecar/statecar/component"
	"github.com/statecar/statecar/component/lockstore"
)

func init() {
	lockstore.Register("lock.redis", func(ctx context.Context, spec component.Spec, env component.Env) (lockstore.Store, error) {
		return OpenLock(ctx, spec, env)
	})
}

// LockStore is the "lock.redis" lock store (components-contrib
// StandaloneRedisLock): a lock is a Redis string holding its owner, set
// with SET NX EX and removed by a script only when the owner matches.
// Redis Cluster is refused, and so is a master with replicas outside
// failover (Sentinel) mode: a lock could be lost in a failover.
type LockStore struct {
	client goredis.UniversalClient
}

// unlockScript deletes KEYS[1] when it holds ARGV[1]: -1 when there is no
// lock, -2 when another owner holds it (contrib's script).
const unlockScript = `local v = redis.call("get",KEYS[1]); if v==false then return -1 end; if v~=ARGV[1] then return -2 else return redis.call("del",KEYS[1]) end`

var unlock = goredis.NewScript(unlockScript)

// OpenLock connects to Redis as the component spec says (the metadata of
// state.redis, with the state store's defaults, as contrib parses a lock
// store) and checks the connection and the replication setup.
func OpenLock(ctx context.Context, spec component.Spec, env component.Env) (*LockStore, error) {
	cfg, c, _, err := openPinged(ctx, spec, env, func(spec component.Spec) (*config, error) {
		cfg, err := parseConfig(spec)
		if err == nil && cfg.cluster {
			return nil, errors.New("this component does not support connecting to Redis Cluster")
		}
		return cfg, err
	}, func(_ string, err error) error {
		return fmt.Errorf("error connecting to Redis: %v", err)
	})
	if err != nil {
		return nil, err
	}
	ictx, cancel := context.WithTimeout(ctx, initStepTimeout(cfg))
	defer cancel()
	// contrib passes the check when INFO fails (some servers lack it).
	if info, err := c.Info(ictx, "replication").Result(); err == nil && connectedReplicas(info) > 0 && !cfg.failover {
		c.Close()
		return nil, errors.New("replication is not supported")
	}
	return &LockStore{client: c}, nil
}

// TryLock implements lockstore.Store with SET key owner NX EX expiry.
func (s *LockStore) TryLock(ctx context.Context, resource, owner string, expiry int32) (bool, error) {
	return s.client.SetNX(ctx, resource, owner, time.Duration(expiry)*time.Second).Result()
}

// Unlock implements lockstore.Store with the compare-and-delete script.
func (s *LockStore) Unlock(ctx context.Context, resource, owner string) (lockstore.Status, error) {
	n, err := unlock.Run(ctx, s.client, []string{resource}, owner).Int()
	if err != nil {
		return lockstore.InternalError, err
	}
	switch {
	case n >= 0:
		return lockstore.Success, nil
	case n == -1:
		return lockstore.LockDoesNotExist, nil
	case n == -2:
		return lockstore.LockBelongsToOthers, nil
	}
	return lockstore.InternalError, nil
}

// Client returns the underlying go-redis client (for tests and tools).
func (s *LockStore) Client() goredis.UniversalClient { return s.client }

// Close implements lockstore.Store.
func (s *LockStore) Close() error { return s.client.Close() }
