package grpcserver

import (
	"context"
	"strconv"
	"sync"
	"time"

	"github.com/statecar/statecar/component"
)

// memStore is a small map-backed component.Store with the reference
// ETag/first-write/TTL semantics of daprd's in-memory store (state-http.md
// §5, §7), using component's error helpers for the exact texts. It keeps
// this package's tests independent of the engine's progress.
type memStore struct {
	mu   sync.Mutex // guards seq and data
	seq  uint64
	data map[string]memItem
}

type memItem struct {
	value  []byte
	etag   string
	expiry time.Time
}

func newMemStore() *memStore { return &memStore{data: map[string]memItem{}} }

func (*memStore) Features() []component.Feature {
	return []component.Feature{component.FeatureETag, component.FeatureTransactional, component.FeatureTTL}
}

func (m *memStore) liveLocked(key string) (memItem, bool) {
	it, ok := m.data[key]
	if ok && !it.expiry.IsZero() && !time.Now().Before(it.expiry) {
		delete(m.data, key)
		return memItem{}, false
	}
	return it, ok
}

func (m *memStore) Get(_ context.Context, req *component.GetRequest, resp *component.GetResponse) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	it, ok := m.liveLocked(string(req.Key))
	resp.Found = ok
	resp.Data = append(resp.Data[:0], it.value...)
	resp.ETag = append(resp.ETag[:0], it.etag...)
	resp.Expiry = it.expiry
	return nil
}

func (m *memStore) BulkGet(_ context.Context, keys []string, _ map[string]string, _ int) ([]component.BulkGetItem, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]component.BulkGetItem, len(keys))
	for i, k := range keys {
		it, ok := m.liveLocked(k)
		out[i] = component.BulkGetItem{Key: k, Found: ok, Data: it.value, ETag: it.etag, Expiry: it.expiry}
	}
	return out, nil
}

// checkLocked applies the ETag rules of one write or delete.
func (m *memStore) checkLocked(key string, etag *string, concurrency string, isDelete bool) error {
	it, ok := m.liveLocked(key)
	switch {
	case etag != nil && *etag != "":
		if !ok {
			return component.NewETagNotFoundError(key)
		}
		if it.etag != *etag {
			return component.NewETagMismatchError(key, it.etag, *etag)
		}
	case concurrency == component.FirstWrite && ok && !isDelete:
		return component.NewFirstWriteError()
	}
	return nil
}

func (m *memStore) setLocked(r component.SetRequest) error {
	var expiry time.Time
	if v, ok := r.Metadata["ttlInSeconds"]; ok {
		n, err := strconv.Atoi(v)
		if err != nil {
			return err
		}
		if n > 0 {
			expiry = time.Now().Add(time.Duration(n) * time.Second)
		}
	}
	m.seq++
	m.data[r.Key] = memItem{value: append([]byte(nil), r.Value...), etag: strconv.FormatUint(m.seq, 10), expiry: expiry}
	return nil
}

func (m *memStore) BulkSet(_ context.Context, reqs []component.SetRequest) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	var errs []error
	for _, r := range reqs {
		if err := component.CheckOptions(r.Options); err != nil {
			errs = append(errs, err)
			continue
		}
		if err := m.checkLocked(r.Key, r.ETag, r.Options.Concurrency, false); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) == 1 && len(reqs) == 1 {
		return errs[0]
	}
	if len(errs) > 0 {
		return &component.BulkError{Errs: errs}
	}
	for _, r := range reqs {
		if err := m.setLocked(r); err != nil {
			return err
		}
	}
	return nil
}

func (m *memStore) BulkDelete(_ context.Context, reqs []component.DeleteRequest) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	var errs []error
	for _, r := range reqs {
		if err := m.checkLocked(r.Key, r.ETag, r.Options.Concurrency, true); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) == 1 && len(reqs) == 1 {
		return errs[0]
	}
	if len(errs) > 0 {
		return &component.BulkError{Errs: errs}
	}
	for _, r := range reqs {
		delete(m.data, r.Key)
	}
	return nil
}

func (m *memStore) Multi(_ context.Context, req *component.TransactionRequest) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, op := range req.Operations {
		var err error
		if op.Kind == component.OpUpsert {
			err = m.checkLocked(op.Set.Key, op.Set.ETag, op.Set.Options.Concurrency, false)
		} else {
			err = m.checkLocked(op.Delete.Key, op.Delete.ETag, op.Delete.Options.Concurrency, true)
		}
		if err != nil {
			return err
		}
	}
	for _, op := range req.Operations {
		if op.Kind == component.OpUpsert {
			if err := m.setLocked(op.Set); err != nil {
				return err
			}
		} else {
			delete(m.data, op.Delete.Key)
		}
	}
	return nil
}

func (*memStore) Close() error { return nil }
