package server

import (
	"net/http"
	"strconv"

	runtimev1pb "github.com/dapr/dapr/pkg/proto/runtime/v1"
)

// The Distributed Lock API over HTTP (other-building-blocks.md §11; daprd
// pkg/api/http/lock.go): universal handlers, so the body is a protojson
// TryLockRequest or UnlockRequest whose storeName the path overrides.

// handleTryLock is POST /v1.0-alpha1/lock/{store}: 200 {"success":true}
// or {"success":false} (daprd emits unpopulated fields).
func (s *Runtime) handleTryLock(w response, r request) {
	sc := getScratch()
	defer putScratch(sc)
	var in runtimev1pb.TryLockRequest
	if e := universalBody(r, &in); e != nil {
		s.writeError(w, e, sc)
		return
	}
	ok, e := s.cfg.Locks.TryLock(r.context(), string(r.param(0)), in.GetResourceId(), in.GetLockOwner(), in.GetExpiryInSeconds())
	if e != nil {
		s.writeError(w, e, sc)
		return
	}
	w.addHeader("Content-Type", ctJSON)
	w.setStatus(http.StatusOK)
	if ok {
		w.write(bodyLockTrue)
	} else {
		w.write(bodyLockFalse)
	}
}

var (
	bodyLockTrue  = []byte(`{"success":true}`)
	bodyLockFalse = []byte(`{"success":false}`)
)

// handleUnlock is POST /v1.0-alpha1/unlock/{store}: 200 {"status":N} with
// the status as a number (0 SUCCESS, 1 LOCK_DOES_NOT_EXIST,
// 2 LOCK_BELONGS_TO_OTHERS, 3 INTERNAL_ERROR), as daprd writes it.
func (s *Runtime) handleUnlock(w response, r request) {
	sc := getScratch()
	defer putScratch(sc)
	var in runtimev1pb.UnlockRequest
	if e := universalBody(r, &in); e != nil {
		s.writeError(w, e, sc)
		return
	}
	st, e := s.cfg.Locks.Unlock(r.context(), string(r.param(0)), in.GetResourceId(), in.GetLockOwner())
	if e != nil {
		s.writeError(w, e, sc)
		return
	}
	sc.buf = strconv.AppendInt(append(sc.buf[:0], `{"status":`...), int64(st), 10)
	sc.buf = append(sc.buf, '}')
	w.addHeader("Content-Type", ctJSON)
	w.setStatus(http.StatusOK)
	w.write(sc.buf)
}
