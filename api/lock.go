package api

import (
	"context"
	"net/http"

	"google.golang.org/grpc/codes"

	"github.com/statecar/statecar/component/lockstore"
)

// Error codes of the Distributed Lock API (daprd pkg/messages/errorcodes;
// category "lock" in dapr_error_code_total).
const (
	CodeLockNotConfigured = "ERR_LOCK_STORE_NOT_CONFIGURED"
	CodeLockNotFound      = "ERR_LOCK_STORE_NOT_FOUND"
	CodeTryLock           = "ERR_TRY_LOCK"
	CodeUnlock            = "ERR_UNLOCK"
)

// lockErr is a Lock API error. daprd builds them all as messages.APIError
// (no gRPC details).
func lockErr(httpStatus int, code codes.Code, tag, msg string) *Error {
	e := basic(httpStatus, code, tag, msg)
	e.category = "lock"
	e.apiError = true
	return e
}

// lockMalformed is daprd's ErrResourceIDEmpty, ErrLockOwnerEmpty and
// ErrExpiryInSecondsNotPositive: 400 ERR_MALFORMED_REQUEST (category
// "common"), an APIError.
func lockMalformed(msg string) *Error {
	e := NewMalformedRequest(msg)
	e.apiError = true
	return e
}

// LockStore is one loaded lock store as the Lock API serves it.
type LockStore struct {
	Name  string
	Store lockstore.Store
	// KeyPrefix is the component's key prefix strategy
	// (lockstore.KeyPrefix).
	KeyPrefix string
}

// Locks serves the Distributed Lock API (other-building-blocks.md §11;
// daprd pkg/api/universal/lock.go) over the loaded lock stores. It is
// immutable after NewLocks and safe for concurrent use; a nil *Locks
// answers as daprd without lock stores.
type Locks struct {
	appID  string
	stores map[string]LockStore
}

// NewLocks builds the Lock API for appID over stores.
func NewLocks(appID string, stores []LockStore) *Locks {
	l := &Locks{appID: appID, stores: make(map[string]LockStore, len(stores))}
	for _, s := range stores {
		l.stores[s.Name] = s
	}
	return l
}

// lookup validates a request in daprd's order: stores configured, then
// resource ID and owner present, then the store found; it returns the store
// and the stored key of resource.
func (l *Locks) lookup(store, resource, owner string) (LockStore, *Error) {
	if l == nil || len(l.stores) == 0 {
		return LockStore{}, lockErr(http.StatusInternalServerError, codes.FailedPrecondition, CodeLockNotConfigured, "lock store is not configured")
	}
	if resource == "" {
		return LockStore{}, lockMalformed("ResourceId is empty in lock store " + store)
	}
	if owner == "" {
		return LockStore{}, lockMalformed("LockOwner is empty in lock store " + store)
	}
	s, ok := l.stores[store]
	if !ok {
		return LockStore{}, lockErr(http.StatusBadRequest, codes.InvalidArgument, CodeLockNotFound, "lock store "+store+" not found")
	}
	return s, nil
}

// TryLock takes the lock on resource in store for owner for expiry
// seconds and reports whether it did (daprd's TryLockAlpha1). The expiry
// is checked before anything else, as daprd does.
func (l *Locks) TryLock(ctx context.Context, store, resource, owner string, expiry int32) (bool, *Error) {
	if expiry <= 0 {
		return false, lockMalformed("ExpiryInSeconds is not positive in lock store " + store)
	}
	s, e := l.lookup(store, resource, owner)
	if e != nil {
		return false, e
	}
	key, err := lockstore.Key(s.KeyPrefix, resource, store, l.appID)
	if err != nil {
		return false, tryLockFailed(err)
	}
	ok, err := s.Store.TryLock(ctx, key, owner, expiry)
	if err != nil {
		return false, tryLockFailed(err)
	}
	return ok, nil
}

func tryLockFailed(err error) *Error {
	return lockErr(http.StatusInternalServerError, codes.Internal, CodeTryLock, "failed to try acquiring lock: "+err.Error())
}

// Unlock releases the lock on resource in store if owner holds it
// (daprd's UnlockAlpha1).
func (l *Locks) Unlock(ctx context.Context, store, resource, owner string) (lockstore.Status, *Error) {
	s, e := l.lookup(store, resource, owner)
	if e != nil {
		return lockstore.InternalError, e
	}
	key, err := lockstore.Key(s.KeyPrefix, resource, store, l.appID)
	if err != nil {
		return lockstore.InternalError, unlockFailed(err)
	}
	st, err := s.Store.Unlock(ctx, key, owner)
	if err != nil {
		return lockstore.InternalError, unlockFailed(err)
	}
	return st, nil
}

func unlockFailed(err error) *Error {
	return lockErr(http.StatusInternalServerError, codes.Internal, CodeUnlock, "failed to release lock: "+err.Error())
}

// Close closes every store.
func (l *Locks) Close() error {
	if l == nil {
		return nil
	}
	var first error
	for _, s := range l.stores {
		if err := s.Store.Close(); err != nil && first == nil {
			first = err
		}
	}
	return first
}
