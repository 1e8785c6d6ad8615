package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	commonv1pb "github.com/dapr/dapr/pkg/proto/common/v1"
	"google.golang.org/grpc/codes"
)

// The Actors API is not implemented: statecar has no placement service
// client, so it answers as daprd does when --placement-host-address is not
// set ("Actor runtime disabled"): every actor call ends in 400
// ERR_ACTOR_NO_PLACEMENT, after the checks daprd makes before it asks the
// actor runtime (pkg/api/http/actors.go, pkg/api/universal/actors.go).
// Those checks decode the body into daprd's own request types, so the
// types below copy them (names, package name "api" and all), for the
// decoding errors to read exactly as daprd's.

// Error codes of the Actors API (category "actor").
const (
	CodeActorNoPlacement  = "ERR_ACTOR_NO_PLACEMENT"
	CodeActorTypeReserved = "ERR_ACTOR_TYPE_RESERVED"
	CodeBadRequest        = "ERR_BAD_REQUEST"
)

// NewActorNoPlacement is daprd's ErrActorNoPlacement: 400 "placement
// service is not configured" (gRPC Unavailable), an APIError.
func NewActorNoPlacement() *Error {
	e := basic(http.StatusBadRequest, codes.Unavailable, CodeActorNoPlacement, "placement service is not configured")
	e.category = "actor"
	e.apiError = true
	return e
}

// internalActorTypePrefix marks the workflow runtime's own actor types
// (daprd pkg/acl/workflow).
const internalActorTypePrefix = "dapr.internal."

// RejectInternalActorType is daprd's check that the user-facing actor APIs
// do not reach the workflow runtime's actors: 403 ERR_ACTOR_TYPE_RESERVED
// (gRPC PermissionDenied).
func RejectInternalActorType(actorType string) *Error {
	if !strings.HasPrefix(actorType, internalActorTypePrefix) {
		return nil
	}
	e := basic(http.StatusForbidden, codes.PermissionDenied, CodeActorTypeReserved,
		fmt.Sprintf("actor type %q is reserved for the Dapr workflow runtime; direct actor API access is not permitted", actorType))
	e.category = "actor"
	e.apiError = true
	return e
}

// NewBadRequest is daprd's ErrBadRequest: 400 ERR_BAD_REQUEST "invalid
// request: {reason}" (category "common"), an APIError.
func NewBadRequest(reason string) *Error {
	e := basic(http.StatusBadRequest, codes.InvalidArgument, CodeBadRequest, "invalid request: "+reason)
	e.apiError = true
	return e
}

// ValidateName is daprd's method.ValidateName for actor, reminder and
// timer names: no '#', '?', NUL, '/', '\\', control characters, and not
// "." or "..".
func ValidateName(name string) error {
	if strings.ContainsAny(name, "#?\x00/\\") {
		return fmt.Errorf("name contains forbidden character: %q", name)
	}
	for i := range len(name) {
		if b := name[i]; b < 0x20 || b == 0x7f {
			return fmt.Errorf("name contains control character at position %d: %q", i, name)
		}
	}
	if name == "." || name == ".." {
		return fmt.Errorf("name is a path traversal sequence: %q", name)
	}
	return nil
}

// OperationType is an actor state transaction's operation (daprd
// pkg/actors/api).
type OperationType string

// TransactionalOperation is one operation of an actor state transaction,
// as daprd decodes POST /v1.0/actors/{type}/{id}/state.
type TransactionalOperation struct {
	Operation OperationType `json:"operation"`
	Request   any           `json:"request"`
}

// CreateReminderRequest is the body of POST
// /v1.0/actors/{type}/{id}/reminders/{name}, as daprd decodes it.
type CreateReminderRequest struct {
	Name          string
	ActorType     string
	ActorID       string
	Data          json.RawMessage              `json:"data"`
	DueTime       string                       `json:"dueTime"`
	Period        string                       `json:"period"`
	TTL           string                       `json:"ttl"`
	Overwrite     *bool                        `json:"overwrite"`
	FailurePolicy *commonv1pb.JobFailurePolicy `json:"failure_policy,omitempty"`
}

// UnmarshalJSON decodes through the same wrapper as daprd's, so that its
// errors name the same types.
func (req *CreateReminderRequest) UnmarshalJSON(data []byte) error {
	type createReminderAlias CreateReminderRequest
	*req = CreateReminderRequest{}
	m := &struct {
		Data          json.RawMessage              `json:"data"`
		FailurePolicy *commonv1pb.JobFailurePolicy `json:"failure_policy,omitempty"`
		*createReminderAlias
	}{
		createReminderAlias: (*createReminderAlias)(req),
	}
	if err := json.Unmarshal(data, &m); err != nil {
		return err
	}
	req.Data, req.FailurePolicy = m.Data, m.FailurePolicy
	return nil
}

// CreateTimerRequest is the body of POST
// /v1.0/actors/{type}/{id}/timers/{name}, as daprd decodes it.
type CreateTimerRequest struct {
	Name      string
	ActorType string
	ActorID   string
	DueTime   string          `json:"dueTime"`
	Period    string          `json:"period"`
	TTL       string          `json:"ttl"`
	Callback  string          `json:"callback"`
	Data      json.RawMessage `json:"data"`
}

// UnmarshalJSON decodes through the same wrapper as daprd's.
func (req *CreateTimerRequest) UnmarshalJSON(data []byte) error {
	type createTimerAlias CreateTimerRequest
	*req = CreateTimerRequest{}
	m := &struct {
		Data json.RawMessage `json:"data"`
		*createTimerAlias
	}{
		createTimerAlias: (*createTimerAlias)(req),
	}
	if err := json.Unmarshal(data, &m); err != nil {
		return err
	}
	req.Data = m.Data
	return nil
}

// DecodeActorBody decodes an actor API body as daprd does
// (json.NewDecoder(r.Body).Decode: the first JSON value; an empty body is
// "EOF"), or returns daprd's 400 ERR_MALFORMED_REQUEST.
func DecodeActorBody(body []byte, into any) *Error {
	if err := json.NewDecoder(bytes.NewReader(body)).Decode(into); err != nil {
		return NewMalformedRequest("failed deserializing HTTP body: " + err.Error())
	}
	return nil
}

// Error codes of the Cryptography API (category "crypto") and daprd's
// answer for an API its build leaves out.
const (
	CodeCryptoProvidersNotConfigured = "ERR_CRYPTO_PROVIDERS_NOT_CONFIGURED"
	CodeCrypto                       = "ERR_CRYPTO"
	CodeAPIUnimplemented             = "ERR_API_UNIMPLEMENTED"
)

// NewCryptoProvidersNotConfigured is daprd's
// ErrCryptoProvidersNotConfigured: 500 "crypto providers not configured"
// (gRPC Internal), an APIError. statecar loads no crypto components, so
// every encrypt and decrypt call ends here.
func NewCryptoProvidersNotConfigured() *Error {
	e := basic(http.StatusInternalServerError, codes.Internal, CodeCryptoProvidersNotConfigured, "crypto providers not configured")
	e.category = "crypto"
	e.apiError = true
	return e
}

// NewCryptoOperation is daprd's ErrCryptoOperation: 500 ERR_CRYPTO
// "failed to perform operation: {err}".
func NewCryptoOperation(err error) *Error {
	e := basic(http.StatusInternalServerError, codes.Internal, CodeCrypto, "failed to perform operation: "+err.Error())
	e.category = "crypto"
	e.apiError = true
	return e
}

// NewAPIUnimplemented is daprd's ErrAPIUnimplemented: 501 "this API is
// currently not implemented" (gRPC Unimplemented), which daprd's default
// build answers for the subtle crypto API.
func NewAPIUnimplemented() *Error {
	e := basic(http.StatusNotImplemented, codes.Unimplemented, CodeAPIUnimplemented, "this API is currently not implemented")
	e.apiError = true
	return e
}
