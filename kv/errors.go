package kv

import (
	"errors"
	"fmt"
	"strings"

	"github.com/statecar/statecar/wal"
)

var (
	// ErrConditionFailed is matched (errors.Is) by every *ConditionError.
	ErrConditionFailed = errors.New("kv: condition failed")
	// ErrETagMismatch is also matched by every *ConditionError: in Dapr
	// terms every failed condition (ETag or first-write) is a mismatch.
	ErrETagMismatch = errors.New("kv: etag mismatch")
	// ErrClosed is returned by every method after Close.
	ErrClosed = errors.New("kv: closed")
	// ErrCorruption is wrapped when the store finds damaged data; it also
	// wraps wal.ErrCorruption so either sentinel matches.
	ErrCorruption error = corruptionError{}
)

// corruptionError is ErrCorruption: its text is kv's, and it unwraps to
// wal.ErrCorruption so errors.Is matches either sentinel.
type corruptionError struct{}

// Error returns "kv: corruption".
func (corruptionError) Error() string { return "kv: corruption" }

// Unwrap returns wal.ErrCorruption.
func (corruptionError) Unwrap() error { return wal.ErrCorruption }

// Reason says why a condition failed.
type Reason uint8

// Condition failure reasons.
const (
	// NotFound: CondETag on an absent or expired key.
	NotFound Reason = iota + 1
	// Mismatch: CondETag on a live key with a different ETag.
	Mismatch
	// Exists: CondNotExists on a live key.
	Exists
)

// String names the reason.
func (r Reason) String() string {
	switch r {
	case NotFound:
		return "not found"
	case Mismatch:
		return "etag mismatch"
	case Exists:
		return "exists"
	}
	return fmt.Sprintf("reason(%d)", uint8(r))
}

// Failure is one failed condition of a batch.
type Failure struct {
	Index   int    // index of the op in the batch
	Key     []byte // the op's key (a copy owned by the error)
	Reason  Reason
	Current uint64 // current ETag when the key exists (Mismatch, Exists)
}

// ConditionError lists every failed condition of a rejected batch. Nothing
// of the batch was written. errors.Is(err, ErrConditionFailed) is true.
type ConditionError struct {
	Failures []Failure
}

// Error names every failed key and its reason.
func (e *ConditionError) Error() string {
	var sb strings.Builder
	sb.WriteString("kv: condition failed:")
	for i, f := range e.Failures {
		if i > 0 {
			sb.WriteByte(';')
		}
		fmt.Fprintf(&sb, " key %q: %s", f.Key, f.Reason)
		if f.Reason == Mismatch || f.Reason == Exists {
			fmt.Fprintf(&sb, " (current etag %d)", f.Current)
		}
	}
	return sb.String()
}

// Is makes errors.Is(err, ErrConditionFailed) and
// errors.Is(err, ErrETagMismatch) true.
func (e *ConditionError) Is(target error) bool {
	return target == ErrConditionFailed || target == ErrETagMismatch
}
