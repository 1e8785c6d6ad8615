package torture

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"time"
)

// outcome classifies one HTTP operation for the ledger.
type outcome uint8

const (
	// acked: the server answered with the route's success status; the
	// operation must be durable.
	acked outcome = iota
	// refused: the server answered with a definite refusal (409 ETag
	// mismatch); nothing was written.
	refused
	// unknown: no answer (connection reset by the kill, timeout) or an
	// unexpected status; the operation may or may not have been applied.
	unknown
)

// client is a tiny Dapr State API client over net/http. Safe for concurrent
// use (http.Client is).
type client struct {
	base  string // "http://127.0.0.1:port"
	store string
	hc    *http.Client
}

func newClient(base, store string, conns int) *client {
	tr := &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
		MaxIdleConns:        conns * 2,
		MaxIdleConnsPerHost: conns * 2,
		IdleConnTimeout:     30 * time.Second,
		DisableCompression:  true,
	}
	return &client{base: base, store: store, hc: &http.Client{Transport: tr, Timeout: 30 * time.Second}}
}

func (c *client) close() { c.hc.CloseIdleConnections() }

// do sends one request and returns the status and body; err is set when no
// complete answer arrived.
func (c *client) do(ctx context.Context, method, path string, body []byte, hdr map[string]string) (int, []byte, http.Header, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return 0, nil, nil, fmt.Errorf("cannot build request: %w", err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, nil, nil, err
	}
	return resp.StatusCode, b, resp.Header, nil
}

// saveItem is one element of a save body.
type saveItem struct {
	Key     string          `json:"key"`
	Value   json.RawMessage `json:"value"`
	ETag    string          `json:"etag,omitempty"`
	Options *saveOptions    `json:"options,omitempty"`
}

type saveOptions struct {
	Concurrency string `json:"concurrency,omitempty"`
}

// save posts one item; 204 is acked, 409 refused, anything else unknown.
func (c *client) save(ctx context.Context, it saveItem) (outcome, string) {
	body, _ := json.Marshal([]saveItem{it})
	st, b, _, err := c.do(ctx, http.MethodPost, "/v1.0/state/"+c.store, body, nil)
	return classify(st, b, err, http.StatusNoContent)
}

// del deletes key with an optional If-Match.
func (c *client) del(ctx context.Context, key, etag string) (outcome, string) {
	var h map[string]string
	if etag != "" {
		h = map[string]string{"If-Match": etag}
	}
	st, b, _, err := c.do(ctx, http.MethodDelete, "/v1.0/state/"+c.store+"/"+key, nil, h)
	return classify(st, b, err, http.StatusNoContent)
}

// txOp is one transaction operation.
type txOp struct {
	Operation string    `json:"operation"`
	Request   saveItemT `json:"request"`
}

type saveItemT struct {
	Key   string          `json:"key"`
	Value json.RawMessage `json:"value,omitempty"`
}

// transaction posts the operations as one transaction.
func (c *client) transaction(ctx context.Context, ops []txOp) (outcome, string) {
	body, _ := json.Marshal(struct {
		Operations []txOp `json:"operations"`
	}{ops})
	st, b, _, err := c.do(ctx, http.MethodPost, "/v1.0/state/"+c.store+"/transaction", body, nil)
	return classify(st, b, err, http.StatusNoContent)
}

// get reads key: found, raw value, etag. err is set for anything but 200/204.
func (c *client) get(ctx context.Context, key string) (bool, []byte, string, error) {
	st, b, h, err := c.do(ctx, http.MethodGet, "/v1.0/state/"+c.store+"/"+key, nil, nil)
	if err != nil {
		return false, nil, "", err
	}
	switch st {
	case http.StatusOK:
		return true, b, h.Get("Etag"), nil
	case http.StatusNoContent:
		return false, nil, "", nil
	}
	return false, nil, "", fmt.Errorf("GET %s: status %d: %s", key, st, b)
}

// bulkItem is one element of a bulk-get answer.
type bulkItem struct {
	Key   string          `json:"key"`
	Data  json.RawMessage `json:"data"`
	ETag  *string         `json:"etag"`
	Error string          `json:"error"`
}

// bulkGet reads keys (in chunks of 100) and returns key -> raw value for the
// keys found.
func (c *client) bulkGet(ctx context.Context, keys []string) (map[string][]byte, error) {
	out := make(map[string][]byte, len(keys))
	for len(keys) > 0 {
		n := min(len(keys), 100)
		body, _ := json.Marshal(struct {
			Keys []string `json:"keys"`
		}{keys[:n]})
		st, b, _, err := c.do(ctx, http.MethodPost, "/v1.0/state/"+c.store+"/bulk", body, nil)
		if err != nil {
			return nil, err
		}
		if st != http.StatusOK {
			return nil, fmt.Errorf("bulk get: status %d: %s", st, b)
		}
		var items []bulkItem
		if err := json.Unmarshal(b, &items); err != nil {
			return nil, fmt.Errorf("cannot decode bulk answer: %w", err)
		}
		for _, it := range items {
			if it.Error != "" {
				return nil, fmt.Errorf("bulk get %s: %s", it.Key, it.Error)
			}
			if it.ETag != nil && len(it.Data) > 0 {
				out[it.Key] = it.Data
			}
		}
		keys = keys[n:]
	}
	return out, nil
}

// healthy reports whether GET /v1.0/healthz answers 204.
func (c *client) healthy(ctx context.Context) bool {
	st, _, _, err := c.do(ctx, http.MethodGet, "/v1.0/healthz", nil, nil)
	return err == nil && st == http.StatusNoContent
}

func classify(st int, body []byte, err error, ok int) (outcome, string) {
	switch {
	case err != nil:
		if errors.Is(err, context.Canceled) {
			return unknown, ""
		}
		return unknown, ""
	case st == ok:
		return acked, ""
	case st == http.StatusConflict:
		return refused, ""
	}
	return unknown, "status " + strconv.Itoa(st) + ": " + string(body)
}

// parseInt decodes a stored JSON number written by the workload.
func parseInt(raw []byte) (int64, error) {
	return strconv.ParseInt(string(bytes.TrimSpace(raw)), 10, 64)
}
