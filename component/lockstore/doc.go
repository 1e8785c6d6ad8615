// Package lockstore defines the lock stores behind the Distributed Lock
// API (POST /v1.0-alpha1/lock/{store} and /v1.0-alpha1/unlock/{store};
// gRPC TryLockAlpha1 and UnlockAlpha1), as components-contrib 1.18 defines
// them: TryLock takes a lock on a resource for an owner for a number of
// seconds, or reports that someone holds it; Unlock releases a lock its
// owner holds.
//
// The one store daprd ships, lock.redis, lives in component/redis beside
// the state store whose connection code it shares. It registers itself with
// Register from an init function; Open creates a store by type.
package lockstore
