package apitest

import (
	"context"
	"errors"

	"github.com/statecar/statecar/component"
)

// errBoom is the failure of failingStore.
var errBoom = errors.New("boom")

// failingStore fails every call with errBoom but advertises every feature.
type failingStore struct{}

func (failingStore) Features() []component.Feature {
	return []component.Feature{component.FeatureETag, component.FeatureTransactional, component.FeatureQueryAPI}
}
func (failingStore) Get(context.Context, *component.GetRequest, *component.GetResponse) error {
	return errBoom
}
func (failingStore) BulkGet(context.Context, []string, map[string]string, int) ([]component.BulkGetItem, error) {
	return nil, errBoom
}
func (failingStore) BulkSet(context.Context, []component.SetRequest) error       { return errBoom }
func (failingStore) BulkDelete(context.Context, []component.DeleteRequest) error { return errBoom }
func (failingStore) Multi(context.Context, *component.TransactionRequest) error  { return errBoom }
func (failingStore) Query(context.Context, *component.QueryRequest) (*component.QueryResponse, error) {
	return nil, errBoom
}
func (failingStore) Close() error { return nil }

// restricted hides features (and the Querier interface) of a store.
type restricted struct {
	component.Store
	noTx bool
}

func (r restricted) Features() []component.Feature {
	var out []component.Feature
	for _, f := range r.Store.Features() {
		if f == component.FeatureQueryAPI || (r.noTx && f == component.FeatureTransactional) {
			continue
		}
		out = append(out, f)
	}
	return out
}

// maxOps limits transactions to n operations.
type maxOps struct {
	component.Store
	n int
}

func (m maxOps) MultiMaxSize() int { return m.n }

// recording records the last transaction request and forwards.
type recording struct {
	component.Store
	last *component.TransactionRequest
}

func (r *recording) Multi(ctx context.Context, req *component.TransactionRequest) error {
	r.last = req
	return r.Store.Multi(ctx, req)
}
