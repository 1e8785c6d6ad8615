package api

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/VictoriaMetrics/metrics"
	commonv1pb "github.com/dapr/dapr/pkg/proto/common/v1"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Service invocation (other-building-blocks.md §3; daprd
// pkg/api/http/directmessaging.go, pkg/messaging/direct_messaging.go).
//
// statecar has no name resolution and no sidecar-to-sidecar channel: it
// invokes its own app (the target is the sidecar's app id, optionally with
// its namespace), HTTPEndpoint resources by name, and external http(s)://
// URLs. Any other app id fails as an unresolvable name does in daprd.

// CodeDirectInvoke is the error code of every service invocation error.
const CodeDirectInvoke = "ERR_DIRECT_INVOKE"

// categoryInvoke is ERR_DIRECT_INVOKE's dapr_error_code_total category
// (daprd errorcodes.CategoryServiceInvocation).
const categoryInvoke = "service-invocation"

// NewDirectInvokeNoAppID is daprd's ErrDirectInvokeNoAppID: 404 (gRPC
// NotFound) when neither the path nor a header names the target.
func NewDirectInvokeNoAppID() *Error {
	e := basic(http.StatusNotFound, codes.NotFound, CodeDirectInvoke,
		"failed getting app id either from the URL path or the header dapr-app-id")
	e.apiError, e.category = true, categoryInvoke
	return e
}

// CountDirectInvoke counts one ERR_DIRECT_INVOKE answer that is not an
// *Error (a callee's failed answer passed on as daprd records it).
func CountDirectInvoke() { CountErrorCode(categoryInvoke, CodeDirectInvoke) }

// NewDirectInvoke is daprd's ErrDirectInvoke: 500 (gRPC Internal) "failed
// to invoke, id: {id}, err: {err}"; a PermissionDenied cause answers 403 on
// HTTP, as daprd's onDirectMessage does.
func NewDirectInvoke(id string, err error) *Error {
	e := basic(http.StatusInternalServerError, codes.Internal, CodeDirectInvoke,
		fmt.Sprintf("failed to invoke, id: %s, err: %v", id, err))
	e.apiError, e.category = true, categoryInvoke
	if status.Code(err) == codes.PermissionDenied {
		e.status = http.StatusForbidden
	}
	return e
}

// HTTPEndpoint is one HTTPEndpoint resource (dapr.io/v1alpha1): a name
// that service invocation resolves to BaseURL, with headers set on every
// call and an optional client TLS configuration.
type HTTPEndpoint struct {
	Name    string
	BaseURL string
	// Headers are set (replacing the caller's) on every call.
	Headers http.Header
	// TLS is the client TLS configuration (spec.clientTLS); nil: Go's
	// defaults.
	TLS *tls.Config
}

// InvokerConfig configures an Invoker.
type InvokerConfig struct {
	AppID string
	// App is the app channel; nil when there is none (no --app-port).
	App       InvokeApp
	Endpoints []HTTPEndpoint
	// MaxBodySize bounds a callee's response body (--max-body-size).
	MaxBodySize int64
	// LatencyBuckets are the dapr_runtime_service_invocation_res_recv_latency_ms
	// buckets in ms (nil: daprd's defaults); DisableMetrics turns the
	// dapr_runtime_service_invocation_* series off.
	LatencyBuckets []float64
	DisableMetrics bool
}

// InvokeApp is the app channel as service invocation uses it
// (appchannel.Channel).
type InvokeApp interface {
	InvokeMethod(ctx context.Context, r *MethodRequest, limit int64) (*MethodResponse, error)
}

// Invoker runs service invocations. It is safe for concurrent use.
type Invoker struct {
	cfg       InvokerConfig
	endpoints map[string]*endpointClient
	// external calls http(s):// targets. daprd uses the app's client for
	// them (no redirects followed).
	external *http.Client
}

type endpointClient struct {
	HTTPEndpoint
	client *http.Client
}

// NewInvoker returns the Invoker of cfg.
func NewInvoker(cfg InvokerConfig) *Invoker {
	v := &Invoker{cfg: cfg, endpoints: make(map[string]*endpointClient, len(cfg.Endpoints))}
	for _, e := range cfg.Endpoints {
		// daprd's HTTPEndpoint channel: the default transport with a 15 s
		// dial and TLS handshake timeout, redirects followed.
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.TLSHandshakeTimeout = 15 * time.Second
		tr.TLSClientConfig = e.TLS
		tr.DialContext = (&net.Dialer{Timeout: 15 * time.Second}).DialContext
		v.endpoints[e.Name] = &endpointClient{HTTPEndpoint: e, client: &http.Client{Transport: tr}}
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.ForceAttemptHTTP2 = false
	v.external = &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}
	return v
}

// Endpoints returns the names of the HTTPEndpoint resources, in load order
// (for the metadata API).
func (v *Invoker) Endpoints() []string {
	if v == nil {
		return nil
	}
	out := make([]string, 0, len(v.cfg.Endpoints))
	for _, e := range v.cfg.Endpoints {
		out = append(out, e.Name)
	}
	return out
}

// Close releases idle connections.
func (v *Invoker) Close() {
	if v == nil {
		return
	}
	v.external.CloseIdleConnections()
	for _, e := range v.endpoints {
		e.client.CloseIdleConnections()
	}
}

// Invoke calls method r.Method of target (an app id, "app.namespace", an
// HTTPEndpoint name or an http(s):// base URL) and returns the callee's
// answer, whatever its status. Errors are ERR_DIRECT_INVOKE.
func (v *Invoker) Invoke(ctx context.Context, target string, r *MethodRequest) (*MethodResponse, *Error) {
	m, err := NormalizeMethod(r.Method)
	if err != nil {
		return nil, NewDirectInvoke(target, status.Errorf(codes.InvalidArgument, "invalid method: %v", err))
	}
	r.Method = m
	id, err := appID(target)
	if err != nil {
		return nil, NewDirectInvoke(target, err)
	}
	var resp *MethodResponse
	if client, base, extra, remote := v.httpTarget(id); remote {
		start := time.Now()
		v.recordSent(id)
		resp, err = DoHTTP(ctx, client, base, r, extra, v.cfg.MaxBodySize)
		v.recordReceived(id, resp, start)
	} else if id == v.cfg.AppID {
		// daprd compares the namespace too and otherwise resolves the id
		// remotely, but its standalone resolver (mDNS) ignores namespaces,
		// so "{own id}.{any namespace}" comes back to the own app.
		if v.cfg.App == nil {
			return nil, NewDirectInvoke(target, errors.New("cannot invoke local endpoint: app channel not initialized"))
		}
		resp, err = v.cfg.App.InvokeMethod(ctx, r, v.cfg.MaxBodySize)
	} else {
		// daprd standalone resolves app ids with mDNS; statecar resolves
		// none but its own (its mDNS resolver's error text).
		return nil, NewDirectInvoke(target, fmt.Errorf("couldn't find service: %s", id))
	}
	if err != nil {
		return nil, NewDirectInvoke(target, err)
	}
	return resp, nil
}

// httpTarget resolves an id that leaves the sidecar: an http(s):// base
// URL, or an HTTPEndpoint by name (its base URL and headers).
func (v *Invoker) httpTarget(id string) (client *http.Client, base string, extra http.Header, ok bool) {
	if strings.HasPrefix(id, "http://") || strings.HasPrefix(id, "https://") {
		return v.external, id, nil, true
	}
	if e := v.endpoints[id]; e != nil {
		return e.client, e.BaseURL, e.Headers, true
	}
	return nil, "", nil, false
}

// ProxyTarget checks the target of a proxied gRPC call (daprd's proxy
// isLocal): the own app id, with any namespace, is served; any other is
// the resolver's error.
func (v *Invoker) ProxyTarget(target string) error {
	id, err := appID(target)
	if err != nil {
		return err
	}
	if id != v.cfg.AppID {
		return fmt.Errorf("couldn't find service: %s", id)
	}
	return nil
}

// appID is daprd's requestAppIDAndNamespace without the namespace, which
// statecar never needs (see Invoke): an http(s):// URL as it is, "id" or
// "id.namespace".
func appID(target string) (string, error) {
	if target == "" {
		return "", errors.New("app id is empty")
	}
	if strings.HasPrefix(target, "http://") || strings.HasPrefix(target, "https://") {
		return target, nil
	}
	items := strings.Split(target, ".")
	if len(items) > 2 {
		return "", fmt.Errorf("invalid app id %s", target)
	}
	return items[0], nil
}

// NormalizeMethod is daprd's method.NormalizeMethod: '#', '?', NUL and
// control characters are refused, path traversal is resolved and leading
// "../" dropped.
func NormalizeMethod(method string) (string, error) {
	if strings.ContainsAny(method, "#?\x00") {
		return "", fmt.Errorf("method contains forbidden character: %q", method)
	}
	for i := 0; i < len(method); i++ {
		if b := method[i]; b < 0x20 || b == 0x7f {
			return "", fmt.Errorf("method contains control character at position %d: %q", i, method)
		}
	}
	cleaned := path.Clean(method)
	for strings.HasPrefix(cleaned, "../") {
		cleaned = cleaned[3:]
	}
	if cleaned == ".." || cleaned == "." {
		cleaned = ""
	}
	return cleaned, nil
}

// FindInvokeTarget is daprd's findTargetIDAndMethod on the decoded request
// path: the dapr-app-id header (the whole path is the method), Basic
// authentication with user dapr-app-id, or /v1.0/invoke/{id}/method/{method}.
// ok is false when none names a target. fromHeader tells that the
// dapr-app-id header named it (daprd then drops that header).
func FindInvokeTarget(decodedPath string, appIDHeader, authorization string) (target, method string, fromHeader bool) {
	if appIDHeader != "" {
		return appIDHeader, strings.TrimPrefix(path.Clean(decodedPath), "/"), true
	}
	if rest, ok := strings.CutPrefix(authorization, "Basic "); ok {
		if s, err := base64.StdEncoding.DecodeString(rest); err == nil {
			pair := strings.Split(string(s), ":")
			if len(pair) == 2 && strings.EqualFold(pair[0], "dapr-app-id") {
				return pair[1], strings.TrimPrefix(path.Clean(decodedPath), "/"), false
			}
		}
	}
	if idx := pathHasPrefix(decodedPath, "v1.0", "invoke"); idx > 0 {
		p := decodedPath[idx:]
		if idx = strings.Index(p, "/method/"); idx > 0 {
			target := p[:idx]
			method := path.Clean(p[idx+len("/method/"):])
			if method == "." {
				method = ""
			}
			if t, _ := url.QueryUnescape(target); t != "" {
				target = t
			}
			return target, method, false
		}
	}
	return "", "", false
}

// pathHasPrefix is daprd's: whether path starts with the segments (empty
// segments skipped), and the index of the first byte after them.
func pathHasPrefix(p string, parts ...string) int {
	pl, ppl := len(p), len(parts)
	if pl == 0 {
		return -1
	}
	var i, start, found int
	for i = 0; i < pl; i++ {
		if p[i] != '/' {
			if found >= ppl {
				return i
			}
			continue
		}
		if i-start > 0 {
			if p[start:i] == parts[found] {
				found++
			} else {
				return -1
			}
		}
		start = i + 1
	}
	if found >= ppl {
		return i
	}
	return -1
}

// InvokeVerb is the verb daprd's HTTPExtension carries for an HTTP
// method: its upper-case name when the enum has it, POST otherwise.
func InvokeVerb(method string) string {
	m := strings.ToUpper(method)
	if _, ok := commonv1pb.HTTPExtension_Verb_value[m]; ok && m != "NONE" {
		return m
	}
	return http.MethodPost
}

// HTTPStatusFromCode is daprd's invokev1.HTTPStatusFromCode.
func HTTPStatusFromCode(c codes.Code) int {
	switch c {
	case codes.OK:
		return http.StatusOK
	case codes.Canceled:
		return http.StatusRequestTimeout
	case codes.InvalidArgument, codes.FailedPrecondition, codes.OutOfRange:
		return http.StatusBadRequest
	case codes.DeadlineExceeded:
		return http.StatusGatewayTimeout
	case codes.NotFound:
		return http.StatusNotFound
	case codes.AlreadyExists, codes.Aborted:
		return http.StatusConflict
	case codes.PermissionDenied:
		return http.StatusForbidden
	case codes.Unauthenticated:
		return http.StatusUnauthorized
	case codes.ResourceExhausted:
		return http.StatusTooManyRequests
	case codes.Unimplemented:
		return http.StatusNotImplemented
	case codes.Unavailable:
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// CodeFromHTTPStatus is daprd's invokev1.CodeFromHTTPStatus.
func CodeFromHTTPStatus(s int) codes.Code {
	if s >= 200 && s < 300 {
		return codes.OK
	}
	switch s {
	case http.StatusRequestTimeout:
		return codes.Canceled
	case http.StatusInternalServerError:
		return codes.Unknown
	case http.StatusBadRequest:
		return codes.Internal
	case http.StatusGatewayTimeout:
		return codes.DeadlineExceeded
	case http.StatusNotFound:
		return codes.NotFound
	case http.StatusConflict:
		return codes.AlreadyExists
	case http.StatusForbidden:
		return codes.PermissionDenied
	case http.StatusUnauthorized:
		return codes.Unauthenticated
	case http.StatusTooManyRequests:
		return codes.ResourceExhausted
	case http.StatusNotImplemented:
		return codes.Unimplemented
	case http.StatusServiceUnavailable:
		return codes.Unavailable
	}
	return codes.Unknown
}

// ErrorFromHTTPResponse is daprd's invokev1.ErrorFromHTTPResponseCode: the
// gRPC error a gRPC caller gets for an HTTP app's non-2xx answer (nil for
// 2xx): the mapped code, the status text, and an ErrorInfo with the HTTP
// code and the first 63 bytes of the body.
func ErrorFromHTTPResponse(code int, detail string) error {
	c := CodeFromHTTPStatus(code)
	if c == codes.OK {
		return nil
	}
	text := http.StatusText(code)
	st := status.New(c, text)
	if len(detail) >= 63 {
		detail = detail[:63]
	}
	if withDetails, err := st.WithDetails(&errdetails.ErrorInfo{Reason: text, Domain: errorInfoDomain,
		Metadata: map[string]string{"http.code": strconv.Itoa(code), "http.error_message": detail}}); err == nil {
		st = withDetails
	}
	return st.Err()
}

// NewMalformedResponse is daprd's 500 ERR_MALFORMED_RESPONSE (a callee's
// answer that cannot be rendered).
func NewMalformedResponse(msg string) *Error {
	return basic(http.StatusInternalServerError, codes.Internal, "ERR_MALFORMED_RESPONSE", msg)
}

// recordSent and recordReceived are daprd's ServiceInvocationRequestSent
// and ServiceInvocationResponseReceived, which daprd records for calls that
// leave the sidecar (HTTPEndpoints and external URLs here; the own app is
// a local call): dapr_runtime_service_invocation_req_sent_total, and, when
// the callee answered, _res_recv_total and _res_recv_latency_ms by status.
func (v *Invoker) recordSent(dst string) {
	if v.cfg.DisableMetrics {
		return
	}
	metrics.GetOrCreateCounter(`dapr_runtime_service_invocation_req_sent_total{app_id=` + strconv.Quote(v.cfg.AppID) +
		`,dst_app_id=` + strconv.Quote(dst) + `,type="unary"}`).Inc()
}

func (v *Invoker) recordReceived(src string, resp *MethodResponse, start time.Time) {
	if v.cfg.DisableMetrics || resp == nil {
		return
	}
	labels := `app_id=` + strconv.Quote(v.cfg.AppID) + `,src_app_id=` + strconv.Quote(src) + `,status="` + strconv.Itoa(resp.Status) + `"`
	metrics.GetOrCreateCounter(`dapr_runtime_service_invocation_res_recv_total{` + labels + `,type="unary"}`).Inc()
	buckets := v.cfg.LatencyBuckets
	if buckets == nil {
		buckets = defaultLatencyBuckets
	}
	metrics.GetOrCreatePrometheusHistogramExt(`dapr_runtime_service_invocation_res_recv_latency_ms{`+labels+`}`, buckets).
		Update(float64(time.Since(start)) / float64(time.Millisecond))
}
