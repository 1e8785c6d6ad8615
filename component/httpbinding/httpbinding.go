package httpbinding

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/statecar/statecar/component"
	"github.com/statecar/statecar/component/binding"
	"github.com/statecar/statecar/internal/quantity"
)

func init() {
	binding.Register("bindings.http", func(_ context.Context, spec component.Spec, _ component.Env) (binding.Output, error) {
		return Open(spec)
	})
}

// defaultMaxResponseBody is contrib's maxResponseBodySize default (100 MB).
const defaultMaxResponseBody = 100 << 20

// HTTP is one bindings.http component. It is immutable after Open and safe
// for concurrent use.
type HTTP struct {
	url           string
	token, header string        // securityToken sent in securityTokenHeader
	timeout       time.Duration // responseTimeout; 0: none
	maxBody       int64         // maxResponseBodySize; <= 0: unlimited
	errorIfNot2XX bool
	client        *http.Client
}

// Open reads the component metadata as contrib does.
func Open(spec component.Spec) (*HTTP, error) {
	if err := component.CheckVersion(spec); err != nil {
		return nil, err
	}
	meta := func(name string) string { v, _ := spec.Meta(name); return v }
	h := &HTTP{url: meta("url"), token: meta("securityToken"), header: meta("securityTokenHeader"),
		maxBody: defaultMaxResponseBody, errorIfNot2XX: true}
	if v := meta("responseTimeout"); v != "" {
		d, err := parseDuration(v)
		if err != nil {
			return nil, fmt.Errorf("decoding 'responseTimeout': %w", err)
		}
		h.timeout = d
	}
	if v := meta("maxResponseBodySize"); v != "" {
		n, err := quantity.Parse(v)
		if err != nil {
			return nil, fmt.Errorf("invalid value for maxResponseBodySize: %w", err)
		}
		h.maxBody = n
	}
	if v := meta("errorIfNot2XX"); v != "" {
		h.errorIfNot2XX = truthy(v)
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if ca := meta("mtlsRootCA"); ca != "" {
		b, err := pemBytes("MTLSRootCA", ca)
		if err != nil {
			return nil, err
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(b) {
			return nil, errors.New("failed to add root certificate to certpool")
		}
		tc.RootCAs = pool
	}
	if cert, key := meta("mtlsClientCert"), meta("mtlsClientKey"); cert != "" && key != "" {
		cb, err := pemBytes("MTLSClientCert", cert)
		if err != nil {
			return nil, err
		}
		kb, err := pemBytes("MTLSClientKey", key)
		if err != nil {
			return nil, err
		}
		pair, err := tls.X509KeyPair(cb, kb)
		if err != nil {
			return nil, fmt.Errorf("failed to load client certificate: %w", err)
		}
		tc.Certificates = []tls.Certificate{pair}
	}
	switch v := meta("mtlsRenegotiation"); v {
	case "":
	case "RenegotiateNever":
		tc.Renegotiation = tls.RenegotiateNever
	case "RenegotiateOnceAsClient":
		tc.Renegotiation = tls.RenegotiateOnceAsClient
	case "RenegotiateFreelyAsClient":
		tc.Renegotiation = tls.RenegotiateFreelyAsClient
	default:
		return nil, fmt.Errorf("invalid renegotiation value: %s", v)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.DialContext = (&net.Dialer{Timeout: 15 * time.Second}).DialContext
	tr.TLSHandshakeTimeout = 15 * time.Second
	tr.TLSClientConfig = tc
	h.client = &http.Client{Transport: tr}
	return h, nil
}

// parseDuration is dapr/kit's metadata rule: a Go duration, else whole
// seconds.
func parseDuration(v string) (time.Duration, error) {
	d, err := time.ParseDuration(v)
	if err == nil {
		return d, nil
	}
	s, perr := strconv.ParseInt(v, 10, 64)
	if perr != nil {
		return 0, errors.Join(err, perr)
	}
	return time.Duration(s) * time.Second, nil
}

// truthy is dapr/kit's IsTruthy.
func truthy(v string) bool {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "y", "yes", "true", "t", "on", "1":
		return true
	}
	return false
}

// pemBytes takes PEM text as written, or else reads it from the file named.
func pemBytes(name, v string) ([]byte, error) {
	if b, _ := pem.Decode([]byte(v)); b != nil {
		return []byte(v), nil
	}
	b, err := os.ReadFile(v)
	if err != nil {
		return nil, fmt.Errorf("provided %q value is neither a valid file path or nor a valid pem encoded string: %w", name, err)
	}
	return b, nil
}

// Operations implements binding.Output.
func (h *HTTP) Operations() []string {
	return []string{binding.OpCreate, "get", "head", "post", "put", "patch", "delete", "options", "trace"}
}

// Invoke implements binding.Output: one HTTP request, the response as data
// and metadata (also on a non-2xx error).
func (h *HTTP) Invoke(ctx context.Context, req *binding.InvokeRequest) (*binding.InvokeResponse, error) {
	u := h.url
	if p := req.Metadata["path"]; p != "" {
		u = strings.TrimRight(u, "/") + "/" + strings.TrimLeft(p, "/")
	}
	errorIfNot2XX := h.errorIfNot2XX
	if v := req.Metadata["errorIfNot2XX"]; v != "" {
		errorIfNot2XX = truthy(v)
	}
	method := strings.ToUpper(req.Operation)
	if method == "CREATE" {
		method = http.MethodPost
	}
	var body io.Reader
	switch method {
	case http.MethodPut, http.MethodPost, http.MethodPatch:
		body = bytes.NewReader(req.Data)
	case http.MethodGet, http.MethodHead, http.MethodDelete, http.MethodOptions, http.MethodTrace:
	default:
		return nil, fmt.Errorf("invalid operation: %s", req.Operation)
	}
	if h.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, h.timeout)
		defer cancel()
	}
	hr, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return nil, err
	}
	if body != nil {
		if _, ok := req.Metadata["Content-Type"]; !ok {
			hr.Header.Set("Content-Type", "application/json; charset=utf-8")
		}
	}
	if _, ok := req.Metadata["Accept"]; !ok {
		hr.Header.Set("Accept", "application/json; charset=utf-8")
	}
	if h.token != "" && h.header != "" {
		hr.Header.Set(h.header, h.token)
	}
	for k, v := range req.Metadata {
		if k != "" && k[0] >= 'A' && k[0] <= 'Z' {
			hr.Header.Set(k, v)
		}
	}
	for _, k := range []string{"traceparent", "tracestate", "baggage"} {
		if v := req.Metadata[k]; v != "" {
			hr.Header.Set(k, v)
		}
	}
	resp, err := h.client.Do(hr)
	if err != nil {
		return nil, err
	}
	defer func() {
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
	}()
	var rb io.Reader = resp.Body
	if h.maxBody > 0 {
		rb = io.LimitReader(resp.Body, h.maxBody)
	}
	b, err := io.ReadAll(rb)
	if err != nil {
		return nil, err
	}
	md := make(map[string]string, len(resp.Header)+2)
	md["statusCode"] = strconv.Itoa(resp.StatusCode)
	md["status"] = resp.Status
	for k, vs := range resp.Header {
		md[k] = strings.Join(vs, ", ")
	}
	out := &binding.InvokeResponse{Data: b, Metadata: md}
	if errorIfNot2XX && resp.StatusCode/100 != 2 {
		return out, fmt.Errorf("received status code %d", resp.StatusCode)
	}
	return out, nil
}

// Close implements binding.Output.
func (h *HTTP) Close() error {
	h.client.CloseIdleConnections()
	return nil
}
