package e2e

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestHarnessDetectsMismatches proves the harness fails rows that differ
// from the server's answer in status, body, header value, presence or
// absence, and accepts the exact answer (templates and wildcards included).
func TestHarnessDetectsMismatches(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.RawPath != "" && r.URL.RawPath != r.URL.Path {
			w.Header().Set("X-Raw", r.URL.RawPath)
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Etag", "42")
		w.Header().Set("Metadata.ttlExpireTime", "2026-11-22T01:30:23Z")
		w.WriteHeader(409)
		w.Write([]byte(`{"errorCode":"X","message":"key=myapp||r1-a"}`))
	}))
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "http://")
	resp, err := rawDo(addr, "GET", "/v1.0/state/s/a%2Fb", nil, "")
	if err != nil {
		t.Fatal(err)
	}
	if got := resp.Header.Get("X-Raw"); got != "/v1.0/state/s/a%2Fb" {
		t.Fatalf("request-target was not sent verbatim: server saw raw path %q", got)
	}
	vars := map[string]string{"app": "myapp", "k": "r1-", "e": "42"}
	body := `{"errorCode":"X","message":"key={{app}}||{{k}}a"}`
	good := req("GET", "/", "", 409, body, "Etag: {{e}}", "Metadata.ttlexpiretime: {{~time}}", "CONTENT-TYPE", "!Traceparent")
	if p := checkResponse(good, resp, vars); len(p) != 0 {
		t.Fatalf("exact expectation rejected: %v", p)
	}
	bad := map[string]step{
		"status":           req("GET", "/", "", 400, body),
		"body":             req("GET", "/", "", 409, `{"errorCode":"Y","message":"key={{app}}||{{k}}a"}`),
		"body prefix":      req("GET", "/", "", 409, `{"errorCode":"X"`),
		"variable":         req("GET", "/", "", 409, `{"errorCode":"X","message":"key={{app}}||{{k}}b"}`),
		"header value":     req("GET", "/", "", 409, body, "Etag: 43"),
		"header wildcard":  req("GET", "/", "", 409, body, "Etag: {{~time}}"),
		"header present":   req("GET", "/", "", 409, body, "!Etag"),
		"header absent":    req("GET", "/", "", 409, body, "Traceparent"),
		"204 content-type": req("GET", "/", "", 204, ""),
		"unknown var":      req("GET", "/", "", 409, `{{nope}}`),
	}
	for name, s := range bad {
		if p := checkResponse(s, resp, vars); len(p) == 0 {
			t.Errorf("%s: mismatch not detected", name)
		}
	}
	// An error body implies Content-Type: application/json exactly.
	resp.Header.Set("Content-Type", "application/json; charset=utf-8")
	if p := checkResponse(req("GET", "/", "", 409, `{"errorCode"{{~any}}`), resp, vars); len(p) == 0 {
		t.Error("wrong Content-Type on an error body not detected")
	}
}
