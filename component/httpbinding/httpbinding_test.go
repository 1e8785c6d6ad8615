package httpbinding

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/statecar/statecar/component"
	"github.com/statecar/statecar/component/binding"
	"github.com/statecar/statecar/internal/testsrv"
)

// seen is one request the test server received.
type seen struct {
	method, path, body string
	header             http.Header
}

func server(t *testing.T, h http.HandlerFunc) (*httptest.Server, func() seen) {
	t.Helper()
	var mu sync.Mutex
	var last seen
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		last = seen{r.Method, r.URL.RequestURI(), string(b), r.Header.Clone()}
		mu.Unlock()
		h(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv, func() seen { mu.Lock(); defer mu.Unlock(); return last }
}

func open(t *testing.T, meta map[string]string) *HTTP {
	t.Helper()
	h, err := Open(component.Spec{Name: "web", Type: "bindings.http", Metadata: meta})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return h
}

func invoke(h *HTTP, op string, data string, meta map[string]string) (*binding.InvokeResponse, error) {
	return h.Invoke(context.Background(), &binding.InvokeRequest{Operation: op, Data: []byte(data), Metadata: meta})
}

// TestHTTPRequests: the method per operation, the body, the path metadata,
// the default and overridden headers, upper-case metadata as headers, the
// security token, and the response as data and metadata.
func TestHTTPRequests(t *testing.T) {
	srv, last := server(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Reply", "yes")
		w.Header().Add("X-Multi", "a")
		w.Header().Add("X-Multi", "b")
		_, _ = io.WriteString(w, "reply to "+r.Method)
	})
	h := open(t, map[string]string{"url": srv.URL + "/api/", "securityToken": "tok", "securityTokenHeader": "X-Token"})

	resp, err := invoke(h, "create", `{"a":1}`, map[string]string{"path": "/orders?x=1", "X-Custom": "c", "lowercase": "not a header"})
	if err != nil || string(resp.Data) != "reply to POST" {
		t.Fatalf("create: %v %v", resp, err)
	}
	got := last()
	if got.method != "POST" || got.path != "/api/orders?x=1" || got.body != `{"a":1}` ||
		got.header.Get("Content-Type") != "application/json; charset=utf-8" || got.header.Get("Accept") != "application/json; charset=utf-8" ||
		got.header.Get("X-Custom") != "c" || got.header.Get("Lowercase") != "" || got.header.Get("X-Token") != "tok" {
		t.Fatalf("request %+v", got)
	}
	if resp.Metadata["statusCode"] != "200" || resp.Metadata["status"] != "200 OK" || resp.Metadata["X-Reply"] != "yes" || resp.Metadata["X-Multi"] != "a, b" {
		t.Fatalf("response metadata %v", resp.Metadata)
	}
	for _, op := range []string{"get", "head", "post", "put", "patch", "delete", "options", "trace"} {
		if _, err := invoke(h, op, "d", map[string]string{"Content-Type": "text/plain", "Accept": "*/*"}); err != nil {
			t.Fatalf("%s: %v", op, err)
		}
		got := last()
		wantBody := ""
		if op == "post" || op == "put" || op == "patch" {
			wantBody = "d"
		}
		if got.method != strings.ToUpper(op) || got.body != wantBody || got.header.Get("Accept") != "*/*" {
			t.Fatalf("%s sent %+v", op, got)
		}
	}
	if _, err := invoke(h, "list", "", nil); err == nil || err.Error() != "invalid operation: list" {
		t.Fatalf("list: %v", err)
	}
}

// TestHTTPStatus: a non-2xx status is an error that still carries the
// response, unless errorIfNot2XX is false in the component or the request.
func TestHTTPStatus(t *testing.T) {
	srv, _ := server(t, func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusTeapot)
		_, _ = io.WriteString(w, "short and stout")
	})
	h := open(t, map[string]string{"url": srv.URL})
	resp, err := invoke(h, "get", "", nil)
	if err == nil || err.Error() != "received status code 418" || resp == nil || resp.Metadata["statusCode"] != "418" || string(resp.Data) != "short and stout" {
		t.Fatalf("418: %v %v", resp, err)
	}
	if _, err := invoke(h, "get", "", map[string]string{"errorIfNot2XX": "false"}); err != nil {
		t.Fatalf("errorIfNot2XX=false in the request: %v", err)
	}
	h2 := open(t, map[string]string{"url": srv.URL, "errorIfNot2XX": "no"})
	if _, err := invoke(h2, "get", "", nil); err != nil {
		t.Fatalf("errorIfNot2XX=no in the component: %v", err)
	}
	if _, err := invoke(h2, "get", "", map[string]string{"errorIfNot2XX": "true"}); err == nil {
		t.Fatal("errorIfNot2XX=true in the request did not win")
	}
}

// TestHTTPLimits: responseTimeout ends a slow call; maxResponseBodySize
// cuts the body.
func TestHTTPLimits(t *testing.T) {
	release := make(chan struct{})
	srv, _ := server(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			select {
			case <-release:
			case <-r.Context().Done():
			}
			return
		}
		_, _ = io.WriteString(w, strings.Repeat("x", 5000))
	})
	defer close(release)
	h := open(t, map[string]string{"url": srv.URL, "responseTimeout": "100ms", "maxResponseBodySize": "1Ki"})
	start := time.Now()
	if _, err := invoke(h, "get", "", map[string]string{"path": "slow"}); err == nil || !strings.Contains(err.Error(), "context deadline exceeded") {
		t.Fatalf("slow call: %v", err)
	}
	if time.Since(start) > 10*time.Second {
		t.Fatal("responseTimeout not applied")
	}
	resp, err := invoke(h, "get", "", nil)
	if err != nil || len(resp.Data) != 1024 {
		t.Fatalf("body of %d bytes, want 1024 (err %v)", len(resp.Data), err)
	}
	for meta, want := range map[string]string{
		"responseTimeout":     "decoding 'responseTimeout': ",
		"maxResponseBodySize": "invalid value for maxResponseBodySize: ",
		"mtlsRenegotiation":   "invalid renegotiation value: soon",
		"mtlsRootCA":          `provided "MTLSRootCA" value is neither a valid file path or nor a valid pem encoded string: `,
	} {
		_, err := Open(component.Spec{Name: "web", Type: "bindings.http", Metadata: map[string]string{"url": srv.URL, meta: "soon"}})
		if err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("%s=soon: %v, want %q...", meta, err, want)
		}
	}
}

// TestHTTPMutualTLS: mtlsRootCA (a file) and mtlsClientCert/Key (PEM text)
// make a call to a server that requires a client certificate.
func TestHTTPMutualTLS(t *testing.T) {
	pki, err := testsrv.NewPKI(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	cert, err := tls.LoadX509KeyPair(pki.CertFile, pki.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM([]byte(pki.CAPEM))
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "hello "+r.TLS.PeerCertificates[0].Subject.CommonName)
	}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}, ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: pool, MinVersion: tls.VersionTLS12}
	srv.StartTLS()
	defer srv.Close()
	url := strings.Replace(srv.URL, "127.0.0.1", "localhost", 1)

	h := open(t, map[string]string{"url": url, "mtlsRootCA": pki.CAFile, "mtlsClientCert": pki.ClientCertPEM, "mtlsClientKey": pki.ClientKeyPEM})
	resp, err := invoke(h, "get", "", nil)
	if err != nil || !strings.HasPrefix(string(resp.Data), "hello ") {
		t.Fatalf("mTLS call: %v %v", resp, err)
	}
	noClient := open(t, map[string]string{"url": url, "mtlsRootCA": pki.CAPEM})
	if _, err := invoke(noClient, "get", "", nil); err == nil {
		t.Fatal("a call without a client certificate succeeded")
	}
}
