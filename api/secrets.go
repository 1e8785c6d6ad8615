package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"google.golang.org/grpc/codes"

	"github.com/statecar/statecar/component/secretstore"
)

// Error codes of the Secrets API (daprd pkg/messages/errorcodes; category
// "secret" in dapr_error_code_total).
const (
	CodeSecretStoresNotConfig = "ERR_SECRET_STORES_NOT_CONFIGURED"
	CodeSecretStoreNotFound   = "ERR_SECRET_STORE_NOT_FOUND"
	CodeSecretPermission      = "ERR_PERMISSION_DENIED"
	CodeSecretGet             = "ERR_SECRET_GET"
)

// secretErr is a Secrets API error. daprd builds them as
// messages.APIError (no gRPC details).
func secretErr(httpStatus int, code codes.Code, tag, msg string) *Error {
	e := basic(httpStatus, code, tag, msg)
	e.category = "secret"
	e.apiError = true
	return e
}

// SecretStore is one loaded secret store as the Secrets API serves it.
type SecretStore struct {
	Name  string
	Store secretstore.Store
	// Allowed reports whether the API may return secret name
	// (Configuration spec.secrets.scopes); nil allows every secret.
	Allowed func(name string) bool
}

// SecretsConfig configures NewSecrets.
type SecretsConfig struct {
	AppID, Namespace string
	Stores           []SecretStore
	// LatencyBuckets are the dapr_component_secret_latencies buckets in ms
	// (nil: daprd's defaults).
	LatencyBuckets []float64
	// DisableMetrics turns off dapr_component_secret_* recording.
	DisableMetrics bool
}

// Secrets serves the Secrets API (other-building-blocks.md §2) over the
// loaded secret stores. It is immutable after NewSecrets and safe for
// concurrent use.
type Secrets struct {
	stores map[string]*secretEntry
}

type secretEntry struct {
	SecretStore
	ops componentOps // operations "get" (0) and "bulk_get" (1)
}

// NewSecrets builds the Secrets API. Its metric series are created here, so
// that they exist (at 0) from the start, like the state store series.
func NewSecrets(cfg SecretsConfig) *Secrets {
	s := &Secrets{stores: make(map[string]*secretEntry, len(cfg.Stores))}
	buckets := cfg.LatencyBuckets
	if buckets == nil {
		buckets = defaultLatencyBuckets
	}
	for _, st := range cfg.Stores {
		e := &secretEntry{SecretStore: st}
		if !cfg.DisableMetrics {
			e.ops = newComponentOps("dapr_component_secret", cfg.AppID, cfg.Namespace, st.Name, []string{"get", "bulk_get"}, buckets)
		}
		s.stores[st.Name] = e
	}
	return s
}

func (s *Secrets) lookup(store string) (*secretEntry, *Error) {
	if s == nil || len(s.stores) == 0 {
		return nil, secretErr(http.StatusInternalServerError, codes.FailedPrecondition, CodeSecretStoresNotConfig, "secret store is not configured")
	}
	e, ok := s.stores[store]
	if !ok {
		return nil, secretErr(http.StatusUnauthorized, codes.InvalidArgument, CodeSecretStoreNotFound, "failed finding secret store with key "+store)
	}
	return e, nil
}

// Get returns the key/value pairs of secret key of store, daprd's
// GetSecret: the store must exist, the secret must be allowed by the
// store's scope, then the store is asked.
func (s *Secrets) Get(ctx context.Context, store, key string, meta map[string]string) (map[string]string, *Error) {
	e, err := s.lookup(store)
	if err != nil {
		return nil, err
	}
	if e.Allowed != nil && !e.Allowed(key) {
		return nil, secretErr(http.StatusForbidden, codes.PermissionDenied, CodeSecretPermission,
			fmt.Sprintf("access denied by policy to get %q from %q", key, store))
	}
	start := time.Now()
	data, gerr := e.Store.Get(ctx, key, meta)
	e.ops.record(0, start, gerr == nil)
	if gerr != nil {
		return nil, secretErr(http.StatusInternalServerError, codes.Internal, CodeSecretGet,
			fmt.Sprintf("failed getting secret with key %s from secret store %s: %s", key, store, gerr))
	}
	return data, nil
}

// BulkGet returns every secret of store the scope allows (the others are
// left out silently, as daprd does).
func (s *Secrets) BulkGet(ctx context.Context, store string, meta map[string]string) (map[string]map[string]string, *Error) {
	e, err := s.lookup(store)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	data, gerr := e.Store.BulkGet(ctx, meta)
	e.ops.record(1, start, gerr == nil)
	if gerr != nil {
		return nil, secretErr(http.StatusInternalServerError, codes.Internal, CodeSecretGet,
			fmt.Sprintf("failed getting secrets from secret store %s: %v", store, gerr))
	}
	if e.Allowed != nil {
		for name := range data {
			if !e.Allowed(name) {
				delete(data, name)
			}
		}
	}
	return data, nil
}

// Features returns the capabilities of store (nil when it is not loaded).
func (s *Secrets) Features(store string) []string {
	if s == nil {
		return nil
	}
	if e, ok := s.stores[store]; ok {
		return e.Store.Features()
	}
	return nil
}

// AppendSecretJSON appends v as daprd's HTTP Secrets API writes it
// (encoding/json's Encoder: keys sorted, <, > and & escaped, a final
// newline).
func AppendSecretJSON(dst []byte, v any) []byte {
	var b bytes.Buffer
	_ = json.NewEncoder(&b).Encode(v) // maps of strings always encode
	return append(dst, b.Bytes()...)
}
