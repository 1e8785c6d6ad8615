package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/statecar/statecar/internal/testutil"
)

// rawResponse is one HTTP response as read from the socket.
type rawResponse struct {
	Status int
	Header http.Header // names canonicalised; lookups are case-insensitive
	Body   []byte
}

// rawDo sends one request with exactly the given request-target (no
// escaping or cleaning) over a fresh TCP connection and reads the response.
// hdrs are "Name: value" lines sent verbatim. A Content-Length header is
// added for POST/PUT/PATCH or a non-empty body.
func rawDo(addr, method, target string, hdrs []string, body string) (*rawResponse, error) {
	c := &client{addr: addr}
	defer c.close()
	return c.do(method, target, hdrs, body)
}

// client sends raw requests to addr. With keepAlive it reuses one
// connection for every request until the server closes it (or answers with
// Connection: close); otherwise each request has its own connection and
// says Connection: close. Not safe for concurrent use.
type client struct {
	addr      string
	keepAlive bool
	conn      net.Conn
	br        *bufio.Reader
}

func (c *client) close() {
	if c.conn != nil {
		c.conn.Close()
		c.conn, c.br = nil, nil
	}
}

func (c *client) do(method, target string, hdrs []string, body string) (*rawResponse, error) {
	if c.conn == nil {
		conn, err := net.DialTimeout("tcp", c.addr, 5*time.Second)
		if err != nil {
			return nil, fmt.Errorf("cannot dial %s: %w", c.addr, err)
		}
		c.conn, c.br = conn, bufio.NewReader(conn)
	}
	conn := c.conn
	_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
	var b strings.Builder
	b.WriteString(method + " " + target + " HTTP/1.1\r\nHost: " + c.addr + "\r\n")
	for _, h := range hdrs {
		b.WriteString(h + "\r\n")
	}
	if body != "" || method == "POST" || method == "PUT" || method == "PATCH" {
		b.WriteString("Content-Length: " + strconv.Itoa(len(body)) + "\r\n")
	}
	if !c.keepAlive {
		b.WriteString("Connection: close\r\n")
	}
	b.WriteString("\r\n")
	b.WriteString(body)
	// A write error is not final: the server may answer and close before
	// reading all of a too-large body, so the response is read regardless.
	_, werr := io.WriteString(conn, b.String())
	resp, err := http.ReadResponse(c.br, &http.Request{Method: method})
	if err != nil {
		c.close()
		if werr != nil {
			return nil, fmt.Errorf("cannot write request (%v) nor read a response: %w", werr, err)
		}
		return nil, fmt.Errorf("cannot read response: %w", err)
	}
	defer resp.Body.Close()
	rb, err := io.ReadAll(resp.Body)
	if err != nil {
		c.close()
		return nil, fmt.Errorf("cannot read response body: %w", err)
	}
	if resp.Close || !c.keepAlive {
		c.close()
	}
	return &rawResponse{Status: resp.StatusCode, Header: resp.Header, Body: rb}, nil
}

// step is one request and what its response must be. Strings in Path, Hdr
// and Body may use {{var}}; Resp and header values in Want may also use the
// wildcards of wildcards.
type step struct {
	Method, Path string
	Hdr          []string
	Body         string
	Status       int
	// Resp is the exact expected body (template); ignored when AnyBody.
	Resp    string
	AnyBody bool
	// Want lists header expectations: "Name: value" (exact, template),
	// "Name" (present), "!Name" (absent). Names are case-insensitive.
	Want []string
	// Capture stores the response's Etag header under this variable name.
	Capture string
	// Eventually repeats the request every 100 ms, up to 20 s, until the
	// response matches (used to wait for TTL expiry; never a timing check).
	Eventually bool
	// Note says which spec rule the step checks (printed on failure).
	Note string
}

// req builds a step; the body is the expected response body.
func req(method, path, body string, status int, resp string, want ...string) step {
	return step{Method: method, Path: path, Body: body, Status: status, Resp: resp, Want: want}
}

// h adds request headers.
func (s step) h(hdrs ...string) step {
	s.Hdr = append(append([]string(nil), s.Hdr...), hdrs...)
	return s
}

// capture stores the response Etag in variable name.
func (s step) capture(name string) step { s.Capture = name; return s }

// any stops checking the body.
func (s step) any() step { s.AnyBody = true; return s }

// eventually makes the step poll until it matches.
func (s step) eventually() step { s.Eventually = true; return s }

// note documents the step.
func (s step) note(n string) step { s.Note = n; return s }

// Common step shapes on the store under test ({{store}}).
func save(body string) step {
	return req("POST", "/v1.0/state/{{store}}", body, 204, "", "!Etag", "!Content-Type")
}
func get(key string, status int, resp string, want ...string) step {
	return req("GET", "/v1.0/state/{{store}}/"+key, "", status, resp, want...)
}

// getv expects a 200 with the exact body and an Etag header.
func getv(key, resp string) step {
	return get(key, 200, resp, "Content-Type: application/json", "Etag")
}

// miss expects the key to be absent: 204, empty, no Etag, no Content-Type.
func miss(key string) step { return get(key, 204, "", "!Etag", "!Content-Type") }
func del(key string, status int, resp string) step {
	return req("DELETE", "/v1.0/state/{{store}}/"+key, "", status, resp)
}
func bulk(body string, status int, resp string) step {
	return req("POST", "/v1.0/state/{{store}}/bulk", body, status, resp, "Content-Type: application/json")
}
func tx(body string, status int, resp string) step {
	return req("POST", "/v1.0/state/{{store}}/transaction", body, status, resp)
}
func query(body string, status int, resp string) step {
	return req("POST", "/v1.0-alpha1/state/{{store}}/query", body, status, resp)
}

// wildcards are the {{~name}} patterns allowed in expectations.
var wildcards = map[string]string{
	"time": `\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ`, // RFC 3339 UTC, second precision
	"etag": `[^"\s,]+`,
	"any":  `.*?`,
	"num":  `[0-9]+`,
}

var tmplRe = regexp.MustCompile(`\{\{(~?[A-Za-z0-9_]+)\}\}`)

// expand substitutes {{var}} in s; unknown variables are an error.
func expand(s string, vars map[string]string) (string, error) {
	var err error
	out := tmplRe.ReplaceAllStringFunc(s, func(m string) string {
		name := m[2 : len(m)-2]
		v, ok := vars[name]
		if !ok && err == nil {
			err = fmt.Errorf("unknown template variable %q in %q", name, s)
		}
		return v
	})
	return out, err
}

// matcher compiles an expectation template into an anchored regexp.
func matcher(tmpl string, vars map[string]string) (*regexp.Regexp, error) {
	var b strings.Builder
	b.WriteString(`\A(?s:`)
	last := 0
	for _, loc := range tmplRe.FindAllStringSubmatchIndex(tmpl, -1) {
		b.WriteString(regexp.QuoteMeta(tmpl[last:loc[0]]))
		name := tmpl[loc[2]:loc[3]]
		if strings.HasPrefix(name, "~") {
			p, ok := wildcards[name[1:]]
			if !ok {
				return nil, fmt.Errorf("unknown wildcard %q", name)
			}
			b.WriteString("(?:" + p + ")")
		} else {
			v, ok := vars[name]
			if !ok {
				return nil, fmt.Errorf("unknown template variable %q in expectation %q", name, tmpl)
			}
			b.WriteString(regexp.QuoteMeta(v))
		}
		last = loc[1]
	}
	b.WriteString(regexp.QuoteMeta(tmpl[last:]))
	b.WriteString(`)\z`)
	return regexp.Compile(b.String())
}

// target is what a row runs against.
type target struct {
	addr string
	// keepAlive runs each row's steps over one persistent connection.
	keepAlive bool
	sc        *testutil.Sidecar
	vars      map[string]string // base variables: store, app, ...
}

// runSteps runs the steps in order against tg, with the row-local variables
// vars (captures are added to it). It reports every mismatch of a step and
// stops at the first failing step.
func runSteps(t *testing.T, tg target, vars map[string]string, steps []step) {
	t.Helper()
	c := &client{addr: tg.addr, keepAlive: tg.keepAlive}
	defer c.close()
	for i, s := range steps {
		if !runStep(t, c, vars, i, s) {
			return
		}
	}
}

func runStep(t *testing.T, c *client, vars map[string]string, i int, s step) bool {
	t.Helper()
	path, err1 := expand(s.Path, vars)
	body, err2 := expand(s.Body, vars)
	var hdrs []string
	var err3 error
	for _, h := range s.Hdr {
		x, err := expand(h, vars)
		if err != nil {
			err3 = err
		}
		hdrs = append(hdrs, x)
	}
	for _, err := range []error{err1, err2, err3} {
		if err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := c.do(s.Method, path, hdrs, body)
		var problems []string
		if err != nil {
			problems = append(problems, err.Error())
		} else {
			problems = checkResponse(s, resp, vars)
		}
		if len(problems) == 0 {
			if s.Capture != "" {
				vars[s.Capture] = resp.Header.Get("Etag")
			}
			return true
		}
		if s.Eventually && time.Now().Before(deadline) {
			time.Sleep(100 * time.Millisecond)
			continue
		}
		desc := fmt.Sprintf("step %d: %s %s", i, s.Method, path)
		if body != "" {
			desc += " body " + strconv.Quote(truncate(body, 300))
		}
		if len(hdrs) > 0 {
			desc += fmt.Sprintf(" headers %q", hdrs)
		}
		if s.Note != "" {
			desc += " (" + s.Note + ")"
		}
		got := ""
		if resp != nil {
			got = fmt.Sprintf("\n  got: %d %v\n  body: %s", resp.Status, resp.Header, strconv.Quote(truncate(string(resp.Body), 2000)))
		}
		t.Errorf("%s\n  %s%s", desc, strings.Join(problems, "\n  "), got)
		return false
	}
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// checkResponse returns the ways resp differs from s.
func checkResponse(s step, resp *rawResponse, vars map[string]string) []string {
	var p []string
	if resp.Status != s.Status {
		p = append(p, fmt.Sprintf("status %d, want %d", resp.Status, s.Status))
	}
	if !s.AnyBody {
		re, err := matcher(s.Resp, vars)
		if err != nil {
			return append(p, err.Error())
		}
		if !re.Match(resp.Body) {
			want, _ := expand(strings.ReplaceAll(s.Resp, "{{~", "{{"), mergeWild(vars))
			p = append(p, "body differs; want "+strconv.Quote(want))
		}
	}
	want := s.Want
	// Every JSON error body carries exactly "Content-Type: application/json"
	// (process-contract.md); a 204 carries no Content-Type (§8.2, §13.2).
	if strings.HasPrefix(s.Resp, `{"errorCode"`) && !s.AnyBody {
		want = append(want[:len(want):len(want)], "Content-Type: application/json")
	}
	if s.Status == 204 {
		want = append(want[:len(want):len(want)], "!Content-Type")
	}
	for _, w := range want {
		switch {
		case strings.HasPrefix(w, "!"):
			if _, ok := resp.Header[http.CanonicalHeaderKey(w[1:])]; ok {
				p = append(p, fmt.Sprintf("header %s present (%q), want absent", w[1:], resp.Header.Get(w[1:])))
			}
		case strings.Contains(w, ": "):
			name, val, _ := strings.Cut(w, ": ")
			vs, ok := resp.Header[http.CanonicalHeaderKey(name)]
			if !ok {
				p = append(p, fmt.Sprintf("header %s absent, want %q", name, val))
				continue
			}
			re, err := matcher(val, vars)
			if err != nil {
				p = append(p, err.Error())
				continue
			}
			if len(vs) != 1 || !re.MatchString(vs[0]) {
				p = append(p, fmt.Sprintf("header %s = %q, want %q", name, vs, val))
			}
		default:
			if _, ok := resp.Header[http.CanonicalHeaderKey(w)]; !ok {
				p = append(p, fmt.Sprintf("header %s absent, want present", w))
			}
		}
	}
	return p
}

// mergeWild returns vars plus the wildcard names mapped to "<name>", for
// printing an expectation.
func mergeWild(vars map[string]string) map[string]string {
	m := make(map[string]string, len(vars)+len(wildcards))
	for k, v := range vars {
		m[k] = v
	}
	for k := range wildcards {
		m[k] = "<" + k + ">"
	}
	return m
}

// ---- expected bodies ------------------------------------------------------

// js is s as a JSON string literal, escaped like Go's encoding/json (daprd's
// error bodies are marshalled with it: <, >, & become \u003c etc.).
func js(s string) string {
	b, err := json.Marshal(s)
	if err != nil {
		panic("BUG: " + err.Error())
	}
	return string(b)
}

// legacyErr is daprd's two-field error body.
func legacyErr(code, msg string) string {
	return `{"errorCode":` + js(code) + `,"message":` + js(msg) + `}`
}

const errInfo = `{"@type":"type.googleapis.com/google.rpc.ErrorInfo","domain":"dapr.io","metadata":`

func resourceInfo(store string) string {
	return `{"@type":"type.googleapis.com/google.rpc.ResourceInfo","description":"","owner":"","resource_name":` + js(store) + `,"resource_type":"state"}`
}

// illegalKeyErr is the rich 400 for a key containing "||" (§3.2); withField
// is false on the transaction route.
func illegalKeyErr(key, store string, withField bool) string {
	msg := "api error: code = InvalidArgument desc = input key/keyPrefix '" + key + "' can't contain '||'"
	fv := `{"description":` + js(msg) + `}`
	if withField {
		fv = `{"field":` + js(key) + `,"description":` + js(msg) + `}`
	}
	return `{"errorCode":"ERR_MALFORMED_REQUEST","message":` + js(msg) + `,"details":[` +
		`{"@type":"type.googleapis.com/google.rpc.BadRequest","field_violations":[` + fv + `]},` +
		resourceInfo(store) + `,` + errInfo + `null,"reason":"DAPR_STATE_ILLEGAL_KEY"}]}`
}

// storeNotFoundErr is the rich 400 for an unknown store name; appID ""
// renders metadata null (query route).
func storeNotFoundErr(store, appID string) string {
	md := "null"
	if appID != "" {
		md = `{"appID":` + js(appID) + `}`
	}
	return `{"errorCode":"ERR_STATE_STORE_NOT_FOUND","message":` + js("state store "+store+" is not found") +
		`,"details":[` + errInfo + md + `,"reason":"DAPR_STATE_NOT_FOUND"}]}`
}

// storeNotConfiguredErr is the rich 500 when no state store exists at all.
func storeNotConfiguredErr(store, appID string) string {
	md := "null"
	if appID != "" {
		md = `{"appID":` + js(appID) + `}`
	}
	return `{"errorCode":"ERR_STATE_STORE_NOT_CONFIGURED","message":` + js("state store "+store+" is not configured") +
		`,"details":[` + errInfo + md + `,"reason":"DAPR_STATE_NOT_CONFIGURED"}]}`
}

// queryParseErr is the rich 500 ERR_STATE_QUERY for a query parse error.
func queryParseErr(store, msg string) string {
	return `{"errorCode":"ERR_STATE_QUERY","message":` + js("state store "+store+" query failed: failed to parse JSON query body: "+msg) +
		`,"details":[` + resourceInfo(store) + `,` + errInfo + `null,"reason":"DAPR_STATE_QUERY_FAILED"}]}`
}

// queryNotSupportedErr is the rich 500 for a store without QUERY_API.
func queryNotSupportedErr(store string) string {
	return `{"errorCode":"ERR_STATE_STORE_NOT_SUPPORTED","message":"state store does not support querying","details":[` +
		resourceInfo(store) + `,` + errInfo + `null,"reason":"DAPR_STATE_QUERYING_NOT_SUPPORTED"}]}`
}

// directInvokeErr is the service-invocation fallback body (404).
var directInvokeErr = legacyErr("ERR_DIRECT_INVOKE", "failed getting app id either from the URL path or the header dapr-app-id")

// ---- row naming ------------------------------------------------------------

var rowSeq struct {
	sync.Mutex
	n int
}

// uniquePrefix returns a key prefix no other row of this process uses.
func uniquePrefix() string {
	rowSeq.Lock()
	defer rowSeq.Unlock()
	rowSeq.n++
	return fmt.Sprintf("r%03d-", rowSeq.n)
}
