package component

import (
	"errors"
	"fmt"
	"strings"
)

// ETagErrorKind distinguishes a failed condition from a malformed ETag.
type ETagErrorKind string

// ETag error kinds; their text is the prefix daprd (components-contrib
// state.ETagError) prints.
const (
	ETagMismatch ETagErrorKind = "possible etag mismatch. error from state store"
	ETagInvalid  ETagErrorKind = "invalid etag value"
)

// ETagError is returned by stores when an ETag / first-write condition fails
// (ETagMismatch: 409 / Aborted) or an ETag is malformed (ETagInvalid: 400 /
// InvalidArgument). Its text matches components-contrib's state.ETagError.
type ETagError struct {
	Kind ETagErrorKind
	Err  error
}

func (e *ETagError) Error() string {
	if e.Err != nil {
		return string(e.Kind) + ": " + e.Err.Error()
	}
	return string(e.Kind)
}

// Unwrap returns the underlying cause.
func (e *ETagError) Unwrap() error { return e.Err }

// NewETagError wraps err in an ETagError of the given kind.
func NewETagError(kind ETagErrorKind, err error) *ETagError {
	return &ETagError{Kind: kind, Err: err}
}

// ErrFirstWriteExists is the cause when first-write is requested without an
// ETag on a key that exists (daprd's in-memory text).
var ErrFirstWriteExists = errors.New("item already exists and no etag was passed")

// NewETagNotFoundError is the mismatch for an ETag given on a key that is
// absent or expired; storedKey is the prefixed key.
func NewETagNotFoundError(storedKey string) *ETagError {
	return NewETagError(ETagMismatch, fmt.Errorf("state not exist or expired for key=%s", storedKey))
}

// NewETagMismatchError is the mismatch for an ETag that differs from the
// current one.
func NewETagMismatchError(storedKey, current, expect string) *ETagError {
	return NewETagError(ETagMismatch, fmt.Errorf("state etag not match for key=%s: current=%s, expect=%s", storedKey, current, expect))
}

// NewFirstWriteError is the mismatch for first-write without ETag on an
// existing key.
func NewFirstWriteError() *ETagError {
	return NewETagError(ETagMismatch, ErrFirstWriteExists)
}

// BulkError reports the failures of a multi-item save or delete. When every
// failure is an ETag mismatch, it behaves like daprd's joined error wrapped
// in one more ETagError (message with the doubled prefix and the per-item
// errors joined by "\n"); otherwise it is a plain error.
type BulkError struct {
	Errs []error
}

func (e *BulkError) Error() string {
	parts := make([]string, len(e.Errs))
	for i, err := range e.Errs {
		parts[i] = err.Error()
	}
	joined := strings.Join(parts, "\n")
	if e.allETag() {
		return string(ETagMismatch) + ": " + joined
	}
	return joined
}

func (e *BulkError) allETag() bool {
	if len(e.Errs) == 0 {
		return false
	}
	for _, err := range e.Errs {
		var ee *ETagError
		if !errors.As(err, &ee) || ee.Kind != ETagMismatch {
			return false
		}
	}
	return true
}

// As lets errors.As find an *ETagError (kind mismatch) when every item
// failed with an ETag mismatch, as daprd does.
func (e *BulkError) As(target any) bool {
	if t, ok := target.(**ETagError); ok && e.allETag() {
		*t = &ETagError{Kind: ETagMismatch, Err: errors.New(strings.TrimPrefix(e.Error(), string(ETagMismatch)+": "))}
		return true
	}
	return false
}

// CheckOptions validates concurrency and consistency values the way
// components-contrib's state.CheckRequestOptions does, in its order:
// consistency first, so that with both bad the consistency error wins.
func CheckOptions(o StateOptions) error {
	switch o.Consistency {
	case "", Strong, Eventual:
	default:
		return fmt.Errorf("unrecognized consistency model '%s'", o.Consistency)
	}
	switch o.Concurrency {
	case "", FirstWrite, LastWrite:
	default:
		return fmt.Errorf("unrecognized concurrency model '%s'", o.Concurrency)
	}
	return nil
}
