package server

import (
	"context"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
	"unsafe"

	"github.com/statecar/statecar/server/h1"
)

// h1Req adapts *h1.Request to request. Views are valid until the handler
// returns (h1 Invariant 2).
type h1Req struct {
	r    *h1.Request
	path string // cleaned escaped path (a view or a scratch copy)
}

func (q *h1Req) method() string                     { return unsafeString(q.r.Method()) }
func (q *h1Req) rawPath() string                    { return q.path }
func (q *h1Req) header(n string) ([]byte, bool)     { return q.r.Header(n) }
func (q *h1Req) body() []byte                       { return q.r.Body() }
func (q *h1Req) bodyTooLarge() bool                 { return q.r.BodyTooLarge() }
func (q *h1Req) param(i int) []byte                 { return q.r.Param(i) }
func (q *h1Req) visitQuery(fn func(n, v []byte))    { q.r.VisitQuery(fn) }
func (q *h1Req) queryValue(n string) ([]byte, bool) { return q.r.QueryValue(n) }
func (q *h1Req) context() context.Context           { return context.Background() }
func (q *h1Req) callerContext() context.Context     { return q.r.Context() }
func (q *h1Req) rawQuery() string                   { return unsafeString(q.r.RawQuery()) }
func (q *h1Req) setParams(routeParams)              {} // h1 decodes params itself
func (q *h1Req) chunked() bool                      { return q.r.Chunked() }
func (q *h1Req) visitHeaders(fn func(n, v []byte)) {
	q.r.VisitHeaders(func(n, v []byte) {
		if !strings.EqualFold(unsafeString(n), "Host") {
			fn(n, v)
		}
	})
}
func (q *h1Req) decodedPath() (string, bool) {
	p, err := url.PathUnescape(unsafeString(q.r.RawPath()))
	return p, err == nil
}

// h1Resp adapts *h1.Response to response.
type h1Resp struct{ w *h1.Response }

func (p *h1Resp) setStatus(c int)                   { p.w.SetStatus(c) }
func (p *h1Resp) status() int                       { return p.w.Status() }
func (p *h1Resp) addHeader(n, v string)             { p.w.AddHeader(n, v) }
func (p *h1Resp) addHeaderBytes(n string, v []byte) { p.w.AddHeaderBytes(n, v) }
func (p *h1Resp) write(b []byte)                    { _, _ = p.w.Write(b) }
func (p *h1Resp) size() int                         { return p.w.BodyLen() }

type h1Pair struct {
	req  h1Req
	resp h1Resp
}

var h1Pool = sync.Pool{New: func() any { return &h1Pair{} }}

func getPair(w *h1.Response, r *h1.Request) *h1Pair {
	pp := h1Pool.Get().(*h1Pair)
	pp.req.r, pp.resp.w = r, w
	pp.req.path = cleanPath(unsafeString(r.RawPath()))
	return pp
}

func putPair(pp *h1Pair) {
	pp.req.r, pp.resp.w, pp.req.path = nil, nil, ""
	h1Pool.Put(pp)
}

func unsafeString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(unsafe.SliceData(b), len(b))
}

// h1Routes are the h1 patterns of the route table.
var h1Routes = []struct {
	method, pattern string
	id              routeID
}{
	{"GET", "/v1.0/healthz", routeHealthz},
	{"GET", "/v1.0/healthz/outbound", routeHealthzOutbound},
	{"GET", "/v1.0/metadata", routeMetadataGet},
	{"PUT", "/v1.0/metadata/{key}", routeMetadataPut},
	{"POST", "/v1.0/shutdown", routeShutdown},
	{"POST", "/v1.0/state/{storeName}", routeStateSave},
	{"PUT", "/v1.0/state/{storeName}", routeStateSave},
	{"GET", "/v1.0/state/{storeName}/{key}", routeStateGet},
	{"DELETE", "/v1.0/state/{storeName}/{key}", routeStateDelete},
	{"POST", "/v1.0/state/{storeName}/bulk", routeStateBulk},
	{"PUT", "/v1.0/state/{storeName}/bulk", routeStateBulk},
	{"POST", "/v1.0/state/{storeName}/transaction", routeStateTx},
	{"PUT", "/v1.0/state/{storeName}/transaction", routeStateTx},
	{"POST", "/v1.0-alpha1/state/{storeName}/query", routeStateQuery},
	{"PUT", "/v1.0-alpha1/state/{storeName}/query", routeStateQuery},
	{"GET", "/v1.0/secrets/{secretStoreName}/bulk", routeSecretBulk},
	{"GET", "/v1.0/secrets/{secretStoreName}/{key}", routeSecretGet},
	{"GET", "/v1.0/configuration/{storeName}", routeConfigGet},
	{"GET", "/v1.0/configuration/{storeName}/subscribe", routeConfigSubscribe},
	{"GET", "/v1.0/configuration/{storeName}/{configurationSubscribeID}/unsubscribe", routeConfigUnsubscribe},
	{"GET", "/v1.0-alpha1/configuration/{storeName}", routeConfigGetAlpha},
	{"GET", "/v1.0-alpha1/configuration/{storeName}/subscribe", routeConfigSubscribeAlpha},
	{"GET", "/v1.0-alpha1/configuration/{storeName}/{configurationSubscribeID}/unsubscribe", routeConfigUnsubscribeAlpha},
	{"POST", "/v1.0-alpha1/lock/{storeName}", routeLock},
	{"POST", "/v1.0-alpha1/unlock/{storeName}", routeUnlock},
	{"POST", "/v1.0/bindings/{name}", routeBinding},
	{"PUT", "/v1.0/bindings/{name}", routeBinding},
	{"POST", "/v1.0/publish/{pubsubname}/*", routePublish},
	{"PUT", "/v1.0/publish/{pubsubname}/*", routePublish},
	{"POST", "/v1.0/publish/bulk/{pubsubname}/*", routeBulkPublish},
	{"PUT", "/v1.0/publish/bulk/{pubsubname}/*", routeBulkPublish},
	{"POST", "/v1.0-alpha1/publish/bulk/{pubsubname}/*", routeBulkPublishAlpha},
	{"PUT", "/v1.0-alpha1/publish/bulk/{pubsubname}/*", routeBulkPublishAlpha},
	{"POST", "/v1.0-alpha1/conversation/{name}/converse", routeConverseAlpha1},
	{"POST", "/v1.0-alpha2/conversation/{name}/converse", routeConverseAlpha2},
	{"POST", "/v1.0/actors/{actorType}/{actorId}/state", routeActorStateTx},
	{"PUT", "/v1.0/actors/{actorType}/{actorId}/state", routeActorStateTx},
	{"GET", "/v1.0/actors/{actorType}/{actorId}/method/{method}", routeActorMethod},
	{"POST", "/v1.0/actors/{actorType}/{actorId}/method/{method}", routeActorMethod},
	{"PUT", "/v1.0/actors/{actorType}/{actorId}/method/{method}", routeActorMethod},
	{"DELETE", "/v1.0/actors/{actorType}/{actorId}/method/{method}", routeActorMethod},
	{"GET", "/v1.0/actors/{actorType}/{actorId}/state/{key}", routeActorStateGet},
	{"POST", "/v1.0/actors/{actorType}/{actorId}/reminders/{name}", routeActorReminderSet},
	{"PUT", "/v1.0/actors/{actorType}/{actorId}/reminders/{name}", routeActorReminderSet},
	{"POST", "/v1.0/actors/{actorType}/{actorId}/timers/{name}", routeActorTimerSet},
	{"PUT", "/v1.0/actors/{actorType}/{actorId}/timers/{name}", routeActorTimerSet},
	{"DELETE", "/v1.0/actors/{actorType}/{actorId}/reminders/{name}", routeActorReminderDelete},
	{"DELETE", "/v1.0/actors/{actorType}/{actorId}/timers/{name}", routeActorTimerDelete},
	{"GET", "/v1.0/actors/{actorType}/{actorId}/reminders/{name}", routeActorReminderGet},
	{"POST", "/v1.0-alpha1/jobs/{name}", routeJobsAlpha1},
	{"GET", "/v1.0-alpha1/jobs/{name}", routeJobsAlpha1},
	{"DELETE", "/v1.0-alpha1/jobs/{name}", routeJobsAlpha1},
	{"POST", "/v1.0/jobs/{name}", routeJobs},
	{"GET", "/v1.0/jobs/{name}", routeJobs},
	{"DELETE", "/v1.0/jobs/{name}", routeJobs},
	{"PUT", "/v1.0-alpha1/crypto/{name}/encrypt", routeCrypto},
	{"PUT", "/v1.0-alpha1/crypto/{name}/decrypt", routeCrypto},
	{"POST", "/v1.0-alpha1/subtlecrypto/{name}/getkey", routeSubtleCrypto},
	{"POST", "/v1.0-alpha1/subtlecrypto/{name}/encrypt", routeSubtleCrypto},
	{"POST", "/v1.0-alpha1/subtlecrypto/{name}/decrypt", routeSubtleCrypto},
	{"POST", "/v1.0-alpha1/subtlecrypto/{name}/wrapkey", routeSubtleCrypto},
	{"POST", "/v1.0-alpha1/subtlecrypto/{name}/unwrapkey", routeSubtleCrypto},
	{"POST", "/v1.0-alpha1/subtlecrypto/{name}/sign", routeSubtleCrypto},
	{"POST", "/v1.0-alpha1/subtlecrypto/{name}/verify", routeSubtleCrypto},
	{"GET", "/v1.0-alpha1/workflows/{workflowComponent}/{instanceID}", routeWorkflowAlpha1},
	{"POST", "/v1.0-alpha1/workflows/{workflowComponent}/{instanceID}/raiseEvent/{eventName}", routeWorkflowAlpha1},
	{"POST", "/v1.0-alpha1/workflows/{workflowComponent}/{instanceID}/start", routeWorkflowAlpha1},
	{"POST", "/v1.0-alpha1/workflows/{workflowComponent}/{instanceID}/pause", routeWorkflowAlpha1},
	{"POST", "/v1.0-alpha1/workflows/{workflowComponent}/{instanceID}/resume", routeWorkflowAlpha1},
	{"POST", "/v1.0-alpha1/workflows/{workflowComponent}/{instanceID}/terminate", routeWorkflowAlpha1},
	{"POST", "/v1.0-alpha1/workflows/{workflowComponent}/{instanceID}/purge", routeWorkflowAlpha1},
	{"GET", "/v1.0-beta1/workflows/{workflowComponent}/{instanceID}", routeWorkflowBeta1},
	{"POST", "/v1.0-beta1/workflows/{workflowComponent}/{instanceID}/raiseEvent/{eventName}", routeWorkflowBeta1},
	{"POST", "/v1.0-beta1/workflows/{workflowComponent}/{instanceID}/start", routeWorkflowBeta1},
	{"POST", "/v1.0-beta1/workflows/{workflowComponent}/{instanceID}/pause", routeWorkflowBeta1},
	{"POST", "/v1.0-beta1/workflows/{workflowComponent}/{instanceID}/resume", routeWorkflowBeta1},
	{"POST", "/v1.0-beta1/workflows/{workflowComponent}/{instanceID}/terminate", routeWorkflowBeta1},
	{"POST", "/v1.0-beta1/workflows/{workflowComponent}/{instanceID}/purge", routeWorkflowBeta1},
	{"GET", "/v1.0/workflows/{workflowComponent}/{instanceID}", routeWorkflow},
	{"POST", "/v1.0/workflows/{workflowComponent}/{instanceID}/raiseEvent/{eventName}", routeWorkflow},
	{"POST", "/v1.0/workflows/{workflowComponent}/{instanceID}/start", routeWorkflow},
	{"POST", "/v1.0/workflows/{workflowComponent}/{instanceID}/pause", routeWorkflow},
	{"POST", "/v1.0/workflows/{workflowComponent}/{instanceID}/resume", routeWorkflow},
	{"POST", "/v1.0/workflows/{workflowComponent}/{instanceID}/terminate", routeWorkflow},
	{"POST", "/v1.0/workflows/{workflowComponent}/{instanceID}/purge", routeWorkflow},
}

// DefaultSpinWorker is the HTTP server's spin budget (Config.HTTPSpinWorker)
// when a state store is remote: about one round trip of a client next to
// the sidecar, so that at one request at a time the worker is still
// spinning when the next request arrives.
const DefaultSpinWorker = 200 * time.Microsecond

// spinWorker resolves Config.HTTPSpinWorker. With embedded stores only
// reads run on the event loops and a worker's wait is an fsync: spinning
// buys nothing there.
func (s *Runtime) spinWorker() time.Duration {
	switch d := s.cfg.HTTPSpinWorker; {
	case d < 0:
		return 0
	case d > 0:
		return d
	case s.state != nil && !s.state.InlineReads():
		return DefaultSpinWorker
	}
	return 0
}

// routeBlocking reports whether route id runs off the event loop: the write
// routes always (they wait for an fsync or the network), GET of a key only
// when some store is remote (component.InlineReader), so that a network
// round trip never stalls an event loop.
func (s *Runtime) routeBlocking(id routeID) bool {
	if id == routeStateGet {
		return !s.state.InlineReads()
	}
	return routes[id].blocking
}

// patternRoutes maps pattern -> method -> route, for the middleware.
type methodRoutes struct{ get, put, post, del routeID }

// newH1Router registers the allowed routes of the table; denied routes are
// not registered, so they fall to the NotFound fallback as in daprd.
func (s *Runtime) newH1Router() *h1.Router {
	rt := h1.NewRouter()
	byPattern := map[string]*methodRoutes{}
	for _, e := range h1Routes {
		if !s.allowed(e.id) {
			continue
		}
		id := e.id
		rt.Handle(e.method, e.pattern, func(w *h1.Response, r *h1.Request) {
			pp := getPair(w, r)
			routes[id].h(s, &pp.resp, &pp.req)
			putPair(pp)
		}, s.routeBlocking(id))
		mr := byPattern[e.pattern]
		if mr == nil {
			mr = &methodRoutes{}
			byPattern[e.pattern] = mr
		}
		switch e.method {
		case "GET":
			mr.get = id
		case "PUT":
			mr.put = id
		case "POST":
			mr.post = id
		case "DELETE":
			mr.del = id
		}
	}
	rt.NotFound(func(w *h1.Response, r *h1.Request) {
		pp := getPair(w, r)
		s.notFound(&pp.resp, &pp.req)
		putPair(pp)
	}, true) // service invocation waits for the callee
	rt.Use(func(w *h1.Response, r *h1.Request, next h1.HandlerFunc) {
		start := nowFunc()
		id := routeNone
		if mr := byPattern[rt.Pattern(r)]; mr != nil {
			switch unsafeString(r.Method()) {
			case "GET":
				id = mr.get
			case "PUT":
				id = mr.put
			case "POST":
				id = mr.post
			case "DELETE":
				id = mr.del
			}
		}
		pp := getPair(w, r)
		if s.pre(&pp.resp, &pp.req, id) {
			next(w, r)
		}
		s.post(&pp.resp, &pp.req, id, pp.req.path, start)
		putPair(pp)
	})
	return rt
}

// startAPI serves the HTTP API with the h1 transport (or net/http on a
// unix socket with --unix-domain-socket).
func (s *Runtime) startAPI() error {
	if s.cfg.UnixDomainSocket != "" {
		return s.startAPIUnix()
	}
	addrs := s.cfg.APIListenAddresses
	if len(addrs) == 0 {
		addrs = []string{""}
	}
	hostports := make([]string, 0, len(addrs))
	for _, a := range addrs {
		hostports = append(hostports, net.JoinHostPort(strings.TrimSpace(a), strconv.Itoa(s.cfg.HTTPPort)))
	}
	srv, err := h1.NewServer(h1.Config{
		Addrs:          hostports,
		Router:         s.newH1Router(),
		MaxBodySize:    s.cfg.MaxBodySize,
		MaxHeaderBytes: s.maxHeaderBytes(),
		EventLoops:     s.cfg.HTTPEventLoops,
		SpinWorker:     s.spinWorker(),
		Logger:         s.httpLog,
	})
	if err != nil {
		return err
	}
	if err := srv.Start(); err != nil {
		return err
	}
	s.h1Srv = srv
	return nil
}
