package server

import (
	"context"
	"net/http"
	"net/url"
	"path"
	"strings"
	"sync"
	"time"

	runtimev1pb "github.com/dapr/dapr/pkg/proto/runtime/v1"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/statecar/statecar/api"
)

// request is what a route handler reads. The transport adapter implements
// it; byte slices are valid until the handler returns.
type request interface {
	method() string
	// rawPath is the escaped, cleaned request path.
	rawPath() string
	header(name string) ([]byte, bool)
	body() []byte
	bodyTooLarge() bool
	// param returns path parameter i, unescaped with QueryUnescape rules.
	param(i int) []byte
	visitQuery(fn func(name, value []byte))
	queryValue(name string) ([]byte, bool)
	context() context.Context
	// rawQuery is the raw (escaped) query string.
	rawQuery() string
	// setParams stores the unescaped path parameters of the matched route.
	setParams(p routeParams)
	// visitHeaders calls fn for every header in order, with the name as
	// written (not Host, which net/http keeps apart).
	visitHeaders(fn func(name, value []byte))
	// decodedPath is the request path as sent, percent-decoded and not
	// cleaned (net/http's URL.Path); ok is false when it does not decode.
	decodedPath() (p string, ok bool)
	// chunked reports a chunked request body (net/http's ContentLength -1).
	chunked() bool
	// callerContext is cancelled when the client's connection closes
	// (net/http's request context). Only service invocation uses it: the
	// state and other routes finish what they started (context()).
	callerContext() context.Context
}

// response is what a route handler writes: status and headers first, then
// the body.
type response interface {
	setStatus(code int)
	status() int
	addHeader(name, value string)
	addHeaderBytes(name string, v []byte)
	write(p []byte)
	size() int
}

type handler func(s *Runtime, w response, r request)

// routeParams are a matched route's path parameters, in pattern order
// (the actor routes have three).
type routeParams [3]string

// routeID names a route of the table; group and version drive the API
// allow/deny lists.
type routeID uint8

const (
	routeNone routeID = iota
	routeHealthz
	routeHealthzOutbound
	routeMetadataGet
	routeMetadataPut
	routeShutdown
	routeStateSave
	routeStateGet
	routeStateDelete
	routeStateBulk
	routeStateTx
	routeStateQuery
	routeSecretGet
	routeSecretBulk
	routeConfigGet
	routeConfigSubscribe
	routeConfigUnsubscribe
	routeConfigGetAlpha
	routeConfigSubscribeAlpha
	routeConfigUnsubscribeAlpha
	routeLock
	routeUnlock
	routeBinding
	routePublish
	routeBulkPublish
	routeBulkPublishAlpha
	routeConverseAlpha1
	routeConverseAlpha2
	routeActorStateTx
	routeActorMethod
	routeActorStateGet
	routeActorReminderSet
	routeActorTimerSet
	routeActorReminderDelete
	routeActorTimerDelete
	routeActorReminderGet
	routeWorkflowAlpha1
	routeWorkflowBeta1
	routeWorkflow
	routeCrypto
	routeSubtleCrypto
	routeJobsAlpha1
	routeJobs
	// routeInvoke is the service-invocation fallback (daprd's invoke/*
	// endpoint with IsFallback): never matched, only checked against the
	// allow/deny lists and used by notFound.
	routeInvoke
)

type routeInfo struct {
	h        handler
	group    string // API name for allow/deny lists ("" = always allowed)
	version  string
	blocking bool
	public   bool // also served on the public port
	health   bool
	// rawParams: the parameters are chi's, not unescaped (the publish
	// routes read chi.URLParam as is).
	rawParams bool
}

var routes = [...]routeInfo{
	routeHealthz:         {h: (*Runtime).handleHealthz, public: true, health: true},
	routeHealthzOutbound: {h: (*Runtime).handleHealthzOutbound, public: true, health: true},
	routeMetadataGet:     {h: (*Runtime).handleMetadataGet, group: "metadata", version: "v1", public: true},
	routeMetadataPut:     {h: (*Runtime).handleMetadataPut, group: "metadata", version: "v1", public: true, blocking: true},
	routeShutdown:        {h: (*Runtime).handleShutdown, group: "shutdown", version: "v1", blocking: true},
	routeStateSave:       {h: (*Runtime).handleSave, group: "state", version: "v1", blocking: true},
	routeStateGet:        {h: (*Runtime).handleGet, group: "state", version: "v1"},
	routeStateDelete:     {h: (*Runtime).handleDelete, group: "state", version: "v1", blocking: true},
	routeStateBulk:       {h: (*Runtime).handleBulk, group: "state", version: "v1", blocking: true},
	routeStateTx:         {h: (*Runtime).handleTx, group: "state", version: "v1", blocking: true},
	routeStateQuery:      {h: (*Runtime).handleQuery, group: "state", version: "v1alpha1", blocking: true},
	routeSecretGet:       {h: (*Runtime).handleSecretGet, group: "secrets", version: "v1", blocking: true},
	routeSecretBulk:      {h: (*Runtime).handleSecretBulk, group: "secrets", version: "v1", blocking: true},

	routeConfigGet:              {h: (*Runtime).handleConfigGet, group: "configuration", version: "v1", blocking: true},
	routeConfigSubscribe:        {h: (*Runtime).handleConfigSubscribe, group: "configuration", version: "v1", blocking: true},
	routeConfigUnsubscribe:      {h: (*Runtime).handleConfigUnsubscribe, group: "configuration", version: "v1", blocking: true},
	routeConfigGetAlpha:         {h: (*Runtime).handleConfigGet, group: "configuration", version: "v1alpha1", blocking: true},
	routeConfigSubscribeAlpha:   {h: (*Runtime).handleConfigSubscribe, group: "configuration", version: "v1alpha1", blocking: true},
	routeConfigUnsubscribeAlpha: {h: (*Runtime).handleConfigUnsubscribe, group: "configuration", version: "v1alpha1", blocking: true},

	routeLock:   {h: (*Runtime).handleTryLock, group: "lock", version: "v1alpha1", blocking: true},
	routeUnlock: {h: (*Runtime).handleUnlock, group: "unlock", version: "v1alpha1", blocking: true},

	routeBinding: {h: (*Runtime).handleBinding, group: "bindings", version: "v1", blocking: true},

	routePublish:          {h: (*Runtime).handlePublish, group: "publish", version: "v1", blocking: true, rawParams: true},
	routeBulkPublish:      {h: (*Runtime).handleBulkPublish, group: "publish", version: "v1", blocking: true, rawParams: true},
	routeBulkPublishAlpha: {h: (*Runtime).handleBulkPublish, group: "publish", version: "v1alpha1", blocking: true, rawParams: true},

	routeConverseAlpha1: {h: (*Runtime).handleConverseAlpha1, group: "conversation", version: "v1alpha1", blocking: true},
	routeConverseAlpha2: {h: (*Runtime).handleConverseAlpha2, group: "conversation", version: "v1alpha2", blocking: true},

	routeActorStateTx:        {h: (*Runtime).handleActorStateTx, group: "actors", version: "v1"},
	routeActorMethod:         {h: (*Runtime).handleActorMethod, group: "actors", version: "v1"},
	routeActorStateGet:       {h: (*Runtime).handleActorStateGet, group: "actors", version: "v1"},
	routeActorReminderSet:    {h: (*Runtime).handleActorReminderSet, group: "actors", version: "v1"},
	routeActorTimerSet:       {h: (*Runtime).handleActorTimerSet, group: "actors", version: "v1"},
	routeActorReminderDelete: {h: (*Runtime).handleActorReminderDelete, group: "actors", version: "v1"},
	routeActorTimerDelete:    {h: (*Runtime).handleActorTimerDelete, group: "actors", version: "v1"},
	routeActorReminderGet:    {h: (*Runtime).handleActorReminderGet, group: "actors", version: "v1"},

	routeWorkflowAlpha1: {h: (*Runtime).handleWorkflow, group: "workflows", version: "v1alpha1"},
	routeWorkflowBeta1:  {h: (*Runtime).handleWorkflow, group: "workflows", version: "v1beta1"},
	routeWorkflow:       {h: (*Runtime).handleWorkflow, group: "workflows", version: "v1"},

	routeCrypto:       {h: (*Runtime).handleCrypto, group: "crypto", version: "v1alpha1"},
	routeSubtleCrypto: {h: (*Runtime).handleSubtleCrypto, group: "subtlecrypto", version: "v1alpha1"},

	routeJobsAlpha1: {h: (*Runtime).handleJobs, group: "jobs", version: "v1alpha1"},
	routeJobs:       {h: (*Runtime).handleJobs, group: "jobs", version: "v1"},

	routeInvoke: {group: "invoke", version: "v1", blocking: true}, // h: notFound (an initialization cycle)
}

// match finds the route of method and escaped path p (already cleaned) and
// returns the start/end offsets of up to two parameters in p.
func match(method, p string) (id routeID, params routeParams) {
	if strings.HasPrefix(p, "/v1.0/publish/") || strings.HasPrefix(p, "/v1.0-alpha1/publish/bulk/") {
		return matchPublish(method, p)
	}
	ps := splitPath(p)
	if ps.more {
		return routeNone, params
	}
	segs := ps.s[:ps.n]
	switch {
	case len(segs) >= 2 && segs[0] == "v1.0" && segs[1] == "healthz":
		if method == http.MethodGet {
			if len(segs) == 2 {
				return routeHealthz, params
			}
			if len(segs) == 3 && segs[2] == "outbound" {
				return routeHealthzOutbound, params
			}
		}
	case len(segs) >= 2 && segs[0] == "v1.0" && segs[1] == "metadata":
		if len(segs) == 2 && method == http.MethodGet {
			return routeMetadataGet, params
		}
		if len(segs) == 3 && method == http.MethodPut {
			params[0] = segs[2]
			return routeMetadataPut, params
		}
	case len(segs) == 2 && segs[0] == "v1.0" && segs[1] == "shutdown":
		if method == http.MethodPost {
			return routeShutdown, params
		}
	case len(segs) >= 3 && segs[0] == "v1.0" && segs[1] == "state":
		params[0] = segs[2]
		postPut := method == http.MethodPost || method == http.MethodPut
		switch len(segs) {
		case 3:
			if postPut {
				return routeStateSave, params
			}
		case 4:
			params[1] = segs[3]
			switch {
			case postPut && segs[3] == "bulk":
				return routeStateBulk, params
			case postPut && segs[3] == "transaction":
				return routeStateTx, params
			case method == http.MethodGet:
				return routeStateGet, params
			case method == http.MethodDelete:
				return routeStateDelete, params
			}
		}
	case len(segs) == 4 && segs[0] == "v1.0" && segs[1] == "secrets":
		if method == http.MethodGet {
			params[0] = segs[2]
			if segs[3] == "bulk" {
				return routeSecretBulk, params
			}
			params[1] = segs[3]
			return routeSecretGet, params
		}
	case len(segs) >= 3 && (segs[0] == "v1.0" || segs[0] == "v1.0-alpha1") && segs[1] == "configuration":
		if method != http.MethodGet {
			break
		}
		alpha := routeID(0)
		if segs[0] == "v1.0-alpha1" {
			alpha = routeConfigGetAlpha - routeConfigGet
		}
		params[0] = segs[2]
		switch {
		case len(segs) == 3:
			return routeConfigGet + alpha, params
		case len(segs) == 4 && segs[3] == "subscribe":
			return routeConfigSubscribe + alpha, params
		case len(segs) == 5 && segs[4] == "unsubscribe":
			params[1] = segs[3]
			return routeConfigUnsubscribe + alpha, params
		}
	case len(segs) == 3 && segs[0] == "v1.0" && segs[1] == "bindings":
		if method == http.MethodPost || method == http.MethodPut {
			params[0] = segs[2]
			return routeBinding, params
		}
	case len(segs) == 3 && segs[0] == "v1.0-alpha1" && (segs[1] == "lock" || segs[1] == "unlock"):
		if method == http.MethodPost {
			params[0] = segs[2]
			if segs[1] == "lock" {
				return routeLock, params
			}
			return routeUnlock, params
		}
	case len(segs) == 4 && (segs[0] == "v1.0-alpha1" || segs[0] == "v1.0-alpha2") && segs[1] == "conversation" && segs[3] == "converse":
		if method == http.MethodPost {
			params[0] = segs[2]
			if segs[0] == "v1.0-alpha1" {
				return routeConverseAlpha1, params
			}
			return routeConverseAlpha2, params
		}
	case len(segs) == 4 && segs[0] == "v1.0-alpha1" && segs[1] == "crypto":
		if method == http.MethodPut && (segs[3] == "encrypt" || segs[3] == "decrypt") {
			params[0] = segs[2]
			return routeCrypto, params
		}
	case len(segs) == 4 && segs[0] == "v1.0-alpha1" && segs[1] == "subtlecrypto":
		if method == http.MethodPost && subtleCryptoBody(segs[3]) != nil {
			params[0] = segs[2]
			return routeSubtleCrypto, params
		}
	case len(segs) == 3 && (segs[0] == "v1.0-alpha1" || segs[0] == "v1.0") && segs[1] == "jobs":
		switch method {
		case http.MethodPost, http.MethodGet, http.MethodDelete:
			params[0] = segs[2]
			if segs[0] == "v1.0" {
				return routeJobs, params
			}
			return routeJobsAlpha1, params
		}
	case len(segs) >= 4 && segs[1] == "workflows":
		return matchWorkflow(method, segs, params)
	case len(segs) >= 5 && segs[0] == "v1.0" && segs[1] == "actors":
		return matchActor(method, segs, params)
	case len(segs) == 4 && segs[0] == "v1.0-alpha1" && segs[1] == "state" && segs[3] == "query":
		if method == http.MethodPost || method == http.MethodPut {
			params[0] = segs[2]
			return routeStateQuery, params
		}
	}
	return routeNone, params
}

// maxSegs bounds the segments splitPath reports; longer paths match no
// route.
const maxSegs = 6

// pathSegs holds the segments of a path without allocating.
type pathSegs struct {
	s [maxSegs]string
	n int
	// more is set when the path has more than maxSegs segments.
	more bool
}

// splitPath splits a cleaned path into segments.
func splitPath(p string) (ps pathSegs) {
	p = strings.TrimPrefix(p, "/")
	for p != "" {
		if ps.n == maxSegs {
			ps.more = true
			return ps
		}
		i := strings.IndexByte(p, '/')
		if i < 0 {
			ps.s[ps.n] = p
			ps.n++
			return ps
		}
		ps.s[ps.n] = p[:i]
		ps.n++
		p = p[i+1:]
	}
	return ps
}

// cleanPath is chi's path.Clean of the escaped path (state-http.md §2.1).
func cleanPath(p string) string {
	if p == "" {
		return "/"
	}
	if isClean(p) {
		return p
	}
	return path.Clean("/" + p)
}

func isClean(p string) bool {
	if p[0] != '/' || (len(p) > 1 && p[len(p)-1] == '/') {
		return false
	}
	return !strings.Contains(p, "//") && !strings.Contains(p, "/./") && !strings.Contains(p, "/../") &&
		!strings.HasSuffix(p, "/.") && !strings.HasSuffix(p, "/..")
}

// legacyRoutes are the route paths daprd's legacy allow/deny matching
// compares rule "version/name" prefixes against.
var legacyRoutes = [...]string{
	routeMetadataGet: "v1.0/metadata",
	routeMetadataPut: "v1.0/metadata/{key}",
	routeShutdown:    "v1.0/shutdown",
	routeStateSave:   "v1.0/state/{storeName}",
	routeStateGet:    "v1.0/state/{storeName}/{key}",
	routeStateDelete: "v1.0/state/{storeName}/{key}",
	routeStateBulk:   "v1.0/state/{storeName}/bulk",
	routeStateTx:     "v1.0/state/{storeName}/transaction",
	routeStateQuery:  "v1.0-alpha1/state/{storeName}/query",
	routeSecretGet:   "v1.0/secrets/{secretStoreName}/{key}",
	routeSecretBulk:  "v1.0/secrets/{secretStoreName}/bulk",

	routeConfigGet:              "v1.0/configuration/{storeName}",
	routeConfigSubscribe:        "v1.0/configuration/{storeName}/subscribe",
	routeConfigUnsubscribe:      "v1.0/configuration/{storeName}/{configurationSubscribeID}/unsubscribe",
	routeConfigGetAlpha:         "v1.0-alpha1/configuration/{storeName}",
	routeConfigSubscribeAlpha:   "v1.0-alpha1/configuration/{storeName}/subscribe",
	routeConfigUnsubscribeAlpha: "v1.0-alpha1/configuration/{storeName}/{configurationSubscribeID}/unsubscribe",

	routeLock:   "v1.0-alpha1/lock/{storeName}",
	routeUnlock: "v1.0-alpha1/unlock/{storeName}",

	routeBinding: "v1.0/bindings/{name}",

	routePublish:          "v1.0/publish/{pubsubname}/*",
	routeBulkPublish:      "v1.0/publish/bulk/{pubsubname}/*",
	routeBulkPublishAlpha: "v1.0-alpha1/publish/bulk/{pubsubname}/*",

	routeConverseAlpha1: "v1.0-alpha1/conversation/{name}/converse",
	routeConverseAlpha2: "v1.0-alpha2/conversation/{name}/converse",

	routeActorStateTx:        "v1.0/actors/{actorType}/{actorId}/state",
	routeActorMethod:         "v1.0/actors/{actorType}/{actorId}/method/{method}",
	routeActorStateGet:       "v1.0/actors/{actorType}/{actorId}/state/{key}",
	routeActorReminderSet:    "v1.0/actors/{actorType}/{actorId}/reminders/{name}",
	routeActorTimerSet:       "v1.0/actors/{actorType}/{actorId}/timers/{name}",
	routeActorReminderDelete: "v1.0/actors/{actorType}/{actorId}/reminders/{name}",
	routeActorTimerDelete:    "v1.0/actors/{actorType}/{actorId}/timers/{name}",
	routeActorReminderGet:    "v1.0/actors/{actorType}/{actorId}/reminders/{name}",

	routeWorkflowAlpha1: "v1.0-alpha1/workflows/{workflowComponent}",
	routeWorkflowBeta1:  "v1.0-beta1/workflows/{workflowComponent}",
	routeWorkflow:       "v1.0/workflows/{workflowComponent}",

	routeCrypto:       "v1.0-alpha1/crypto/{name}",
	routeSubtleCrypto: "v1.0-alpha1/subtlecrypto/{name}",

	routeJobsAlpha1: "v1.0-alpha1/jobs/{name}",
	routeJobs:       "v1.0/jobs/{name}",

	routeInvoke: "v1.0/invoke/*",
}

// allowed applies the Configuration API lists to a route as daprd does
// (endpoints.IsAllowed): only rules whose protocol is "http" count; the
// denylist wins; an empty allowlist allows all; a rule matches the route's
// group ("v1/state") or, legacy, prefixes its path ("v1.0/state").
func (s *Runtime) allowed(id routeID) bool {
	ri := &routes[id]
	if ri.group == "" {
		return true // healthz: AlwaysAllowed
	}
	matches := func(rules []APIRule) (any bool, hit bool) {
		for _, rule := range rules {
			if strings.ToLower(rule.Protocol) != "http" {
				continue
			}
			any = true
			key := rule.Version + "/" + rule.Name
			if key == ri.version+"/"+ri.group || strings.HasPrefix(legacyRoutes[id], key) {
				hit = true
			}
		}
		return any, hit
	}
	if any, hit := matches(s.cfg.APIDenied); any && hit {
		return false
	}
	any, hit := matches(s.cfg.APIAllowed)
	return !any || hit
}

// paramNames are daprd's names of the path parameters, for the unescape
// error text.
var paramNames = [...]routeParams{
	routeMetadataPut: {"key"},
	routeStateSave:   {"storeName"},
	routeStateGet:    {"storeName", "key"},
	routeStateDelete: {"storeName", "key"},
	routeStateBulk:   {"storeName"},
	routeStateTx:     {"storeName"},
	routeStateQuery:  {"storeName"},
	routeSecretGet:   {"secretStoreName", "key"},
	routeSecretBulk:  {"secretStoreName"},

	routeConfigGet:              {"storeName"},
	routeConfigSubscribe:        {"storeName"},
	routeConfigUnsubscribe:      {"storeName", "configurationSubscribeID"},
	routeConfigGetAlpha:         {"storeName"},
	routeConfigSubscribeAlpha:   {"storeName"},
	routeConfigUnsubscribeAlpha: {"storeName", "configurationSubscribeID"},

	routeLock:   {"storeName"},
	routeUnlock: {"storeName"},

	routeBinding: {"name"},

	routeConverseAlpha1: {"name"},
	routeConverseAlpha2: {"name"},

	routeActorStateTx:        {"actorType", "actorId"},
	routeActorMethod:         {"actorType", "actorId", "method"},
	routeActorStateGet:       {"actorType", "actorId", "key"},
	routeActorReminderSet:    {"actorType", "actorId", "name"},
	routeActorTimerSet:       {"actorType", "actorId", "name"},
	routeActorReminderDelete: {"actorType", "actorId", "name"},
	routeActorTimerDelete:    {"actorType", "actorId", "name"},
	routeActorReminderGet:    {"actorType", "actorId", "name"},

	routeWorkflowAlpha1: {"workflowComponent", "instanceID", "eventName"},
	routeWorkflowBeta1:  {"workflowComponent", "instanceID", "eventName"},
	routeWorkflow:       {"workflowComponent", "instanceID", "eventName"},

	routeCrypto:       {"name"},
	routeSubtleCrypto: {"name"},

	routeJobsAlpha1: {"name"},
	routeJobs:       {"name"},
}

var epoch = time.Now()

// nowFunc returns monotonic nanoseconds since process start.
func nowFunc() int64 { return int64(time.Since(epoch)) }

var (
	bodyDirectInvoke = api.NewDirectInvokeNoAppID().AppendHTTPBody(nil)
	bodyInvalidToken = []byte("invalid api token\n")
	zeroTraceparent  = []byte("00-00000000000000000000000000000000-0000000000000000-00")
)

const (
	ctJSON      = "application/json"
	ctPlainText = "text/plain; charset=utf-8"
)

// chiNotFound is chi's answer when daprd registered no fallback: 405 with
// an Allow header per method when the path is an allowed route's, else 404
// page not found.
func (s *Runtime) chiNotFound(w response, r request) {
	p := r.rawPath()
	var allow []string
	for _, m := range [...]string{http.MethodGet, http.MethodPut, http.MethodPost, http.MethodDelete} {
		if id, _ := match(m, p); id != routeNone && s.allowed(id) {
			allow = append(allow, m)
		}
	}
	if len(allow) > 0 {
		for _, m := range allow {
			w.addHeader("Allow", m)
		}
		w.setStatus(http.StatusMethodNotAllowed)
		return
	}
	w.addHeader("Content-Type", ctPlainText)
	w.addHeader("X-Content-Type-Options", "nosniff")
	w.setStatus(http.StatusNotFound)
	w.write([]byte("404 page not found\n"))
}

// notFound is daprd's fallback route, service invocation: a request no
// route matched invokes the app its path or headers name (invoke.go), or
// answers 404 ERR_DIRECT_INVOKE. When the allow/deny lists exclude
// "invoke", daprd has no fallback and chi answers 404 page not found.
func (s *Runtime) notFound(w response, r request) {
	if !s.allowed(routeInvoke) {
		s.chiNotFound(w, r)
		return
	}
	if s.invoke(w, r) {
		return
	}
	api.CountDirectInvoke()
	w.addHeader("Content-Type", ctJSON)
	w.setStatus(http.StatusNotFound)
	w.write(bodyDirectInvoke)
}

func (s *Runtime) handleHealthz(w response, r request) {
	id, ok := r.queryValue("appid")
	code, body := s.healthz(id, ok)
	writeHealth(w, code, body)
}

func (s *Runtime) handleHealthzOutbound(w response, _ request) {
	code, body := s.healthzOutbound()
	writeHealth(w, code, body)
}

func writeHealth(w response, code int, body []byte) {
	if body != nil {
		w.addHeader("Content-Type", ctJSON)
	}
	w.setStatus(code)
	if body != nil {
		w.write(body)
	}
}

func (s *Runtime) handleMetadataGet(w response, _ request) {
	w.addHeader("Content-Type", ctJSON)
	w.setStatus(http.StatusOK)
	w.write(s.AppendMetadataJSON(nil))
}

func (s *Runtime) handleMetadataPut(w response, r request) {
	s.SetExtended(string(r.param(0)), string(r.body()))
	w.setStatus(http.StatusNoContent)
}

// ForceExitDelay is how long a forced shutdown waits before exiting, so that
// the answer reaches the client first (daprd's forceExitDelay).
const ForceExitDelay = 100 * time.Millisecond

func (s *Runtime) handleShutdown(w response, r request) {
	w.setStatus(http.StatusNoContent)
	if v, ok := r.header("dapr-force-shutdown"); ok && s.cfg.ForceShutdown != nil && strings.EqualFold(string(v), "true") {
		// daprd 1.18 (pkg/api/http/shutdown.go): exit at once, no drain.
		go func() {
			time.Sleep(ForceExitDelay)
			s.cfg.ForceShutdown()
		}()
		return
	}
	// daprd starts the shutdown when the request context ends; the reply
	// is written by the transport right after this handler returns.
	s.log.Info("Received shutdown request via API")
	go s.Shutdown()
}

// scratch is per-request state of the state routes (Invariant 4).
type scratch struct {
	get  api.GetResult
	meta map[string]string
	buf  []byte
}

var scratchPool = sync.Pool{New: func() any { return &scratch{meta: map[string]string{}} }}

func getScratch() *scratch { return scratchPool.Get().(*scratch) }

func putScratch(sc *scratch) {
	clear(sc.meta)
	if cap(sc.buf) > 64<<10 {
		sc.buf = nil
	}
	sc.buf = sc.buf[:0]
	scratchPool.Put(sc)
}

const metaPrefix = "metadata."

// queryMeta collects the metadata.* query parameters (first value wins);
// it returns nil when there are none, so the common case allocates nothing.
func queryMeta(r request, m map[string]string) map[string]string {
	if !strings.Contains(r.rawQuery(), "metadata") {
		return nil // fast path: no closure, no allocation
	}
	found := false
	r.visitQuery(func(name, value []byte) {
		if len(name) <= len(metaPrefix) || string(name[:len(metaPrefix)]) != metaPrefix {
			return
		}
		k := name[len(metaPrefix):]
		if _, dup := m[string(k)]; dup {
			return
		}
		m[string(k)] = string(value)
		found = true
	})
	if !found {
		return nil
	}
	return m
}

func (s *Runtime) writeError(w response, e *api.Error, sc *scratch) {
	api.CountError(e)
	w.addHeader("Content-Type", e.HTTPContentType())
	w.setStatus(e.HTTPStatus())
	sc.buf = e.AppendHTTPBody(sc.buf[:0])
	w.write(sc.buf)
}

func (s *Runtime) handleGet(w response, r request) {
	sc := getScratch()
	defer putScratch(sc)
	consistency, _ := r.queryValue("consistency")
	meta := queryMeta(r, sc.meta)
	if e := s.state.HTTPGet(r.context(), r.param(0), r.param(1), consistency, meta, &sc.get); e != nil {
		s.writeError(w, e, sc)
		return
	}
	if !sc.get.Found {
		w.setStatus(http.StatusNoContent)
		return
	}
	w.addHeader("Content-Type", ctJSON)
	if len(sc.get.ETag) > 0 {
		w.addHeaderBytes("Etag", sc.get.ETag)
	}
	if len(sc.get.TTLExpireTime) > 0 {
		w.addHeaderBytes("Metadata.ttlexpiretime", sc.get.TTLExpireTime)
	}
	w.setStatus(http.StatusOK)
	w.write(sc.get.Data)
}

func (s *Runtime) handleSave(w response, r request) {
	sc := getScratch()
	defer putScratch(sc)
	if e := s.state.HTTPSave(r.context(), r.param(0), r.body(), r.bodyTooLarge(), queryMeta(r, sc.meta)); e != nil {
		s.writeError(w, e, sc)
		return
	}
	w.setStatus(http.StatusNoContent)
}

func (s *Runtime) handleDelete(w response, r request) {
	sc := getScratch()
	defer putScratch(sc)
	ifMatch, _ := r.header("If-Match")
	concurrency, _ := r.queryValue("concurrency")
	consistency, _ := r.queryValue("consistency")
	if e := s.state.HTTPDelete(r.context(), r.param(0), r.param(1), ifMatch, concurrency, consistency, queryMeta(r, sc.meta)); e != nil {
		s.writeError(w, e, sc)
		return
	}
	w.setStatus(http.StatusNoContent)
}

func (s *Runtime) handleBulk(w response, r request) {
	sc := getScratch()
	defer putScratch(sc)
	out, e := s.state.HTTPBulkGet(r.context(), r.param(0), r.body(), r.bodyTooLarge(), queryMeta(r, sc.meta), sc.buf[:0])
	if e != nil {
		s.writeError(w, e, sc)
		return
	}
	sc.buf = out
	w.addHeader("Content-Type", ctJSON)
	w.setStatus(http.StatusOK)
	w.write(out)
}

func (s *Runtime) handleTx(w response, r request) {
	sc := getScratch()
	defer putScratch(sc)
	if e := s.state.HTTPTransaction(r.context(), r.param(0), r.body(), r.bodyTooLarge(), queryMeta(r, sc.meta)); e != nil {
		s.writeError(w, e, sc)
		return
	}
	w.setStatus(http.StatusNoContent)
}

func (s *Runtime) handleQuery(w response, r request) {
	sc := getScratch()
	defer putScratch(sc)
	out, none, e := s.state.HTTPQuery(r.context(), r.param(0), r.body(), r.bodyTooLarge(), queryMeta(r, sc.meta), sc.buf[:0])
	if e != nil {
		s.writeError(w, e, sc)
		return
	}
	if none {
		w.setStatus(http.StatusNoContent)
		return
	}
	sc.buf = out
	w.addHeader("Content-Type", ctJSON)
	w.setStatus(http.StatusOK)
	w.write(out)
}

// serve runs the middleware chain and the route of one API request:
// Traceparent, API token, the handler (or the fallback), then metrics and
// API logging.
func (s *Runtime) serve(w response, r request, public bool) {
	start := nowFunc()
	p := r.rawPath()
	id, params := match(r.method(), p)
	if id != routeNone && (!s.allowed(id) || (public && !routes[id].public)) {
		id = routeNone
	}
	badParam := ""
	var unescErr error
	for i, v := range params {
		if id == routeNone || v == "" || routes[id].rawParams {
			break
		}
		u, err := url.QueryUnescape(v)
		if err != nil {
			badParam, unescErr = paramNames[id][i], err
			break
		}
		params[i] = u
	}
	r.setParams(params)
	if public {
		switch {
		case unescErr != nil:
			writeUnescapeError(w, badParam, unescErr)
		case id == routeNone && s.publicMethodNotAllowed(w, r.method(), p):
		case id == routeNone:
			w.addHeader("Content-Type", ctPlainText)
			w.addHeader("X-Content-Type-Options", "nosniff")
			w.setStatus(http.StatusNotFound)
			w.write([]byte("404 page not found\n"))
		default:
			routes[id].h(s, w, r)
		}
		return
	}
	if s.pre(w, r, id) {
		if unescErr != nil {
			writeUnescapeError(w, badParam, unescErr)
		} else {
			s.dispatch(w, r, id)
		}
	}
	s.post(w, r, id, p, start)
}

// chiMethods are the methods daprd's router (chi) knows; any other method
// is refused with 405 before routing.
var chiMethods = [...]string{http.MethodConnect, http.MethodDelete, http.MethodGet, http.MethodHead,
	http.MethodOptions, http.MethodPatch, http.MethodPost, http.MethodPut, http.MethodTrace}

// publicMethodNotAllowed writes chi's answer on the public port, which has
// no fallback route (runtime-http.md §1 says unknown paths get 404): 405
// with an empty body for a method chi does not know, and 405 with an Allow
// header per method when the path is a served public route's but the method
// is not. It reports whether it answered.
func (s *Runtime) publicMethodNotAllowed(w response, method, p string) bool {
	known := false
	for _, m := range chiMethods {
		known = known || m == method
	}
	var allow []string
	if known {
		for _, m := range [...]string{http.MethodGet, http.MethodPut} { // the public routes' methods
			if id, _ := match(m, p); id != routeNone && routes[id].public && s.allowed(id) {
				allow = append(allow, m)
			}
		}
		if len(allow) == 0 {
			return false
		}
	}
	for _, m := range allow {
		w.addHeader("Allow", m)
	}
	w.setStatus(http.StatusMethodNotAllowed)
	return true
}

func writeUnescapeError(w response, param string, err error) {
	w.addHeader("Content-Type", ctPlainText)
	w.addHeader("X-Content-Type-Options", "nosniff")
	w.setStatus(http.StatusBadRequest)
	w.write([]byte("failed to unescape request parameter \"" + param + "\". Error: " + err.Error() + "\n"))
}

// dispatch runs route id, or the service-invocation fallback for
// routeNone.
func (s *Runtime) dispatch(w response, r request, id routeID) {
	if id == routeNone {
		s.notFound(w, r)
		return
	}
	routes[id].h(s, w, r)
}

// pre is the API middleware before the handler: Traceparent and the API
// token (Invariant 2). It reports whether the handler should run.
func (s *Runtime) pre(w response, r request, id routeID) bool {
	if tp, ok := r.header("Traceparent"); ok && len(tp) > 0 {
		w.addHeaderBytes("Traceparent", tp)
	} else {
		w.addHeaderBytes("Traceparent", zeroTraceparent)
	}
	if s.cfg.APIToken != "" && !(id != routeNone && routes[id].health) && !s.tokenOK(r) {
		w.addHeader("Content-Type", ctPlainText)
		w.setStatus(http.StatusUnauthorized)
		w.write(bodyInvalidToken)
		return false
	}
	return true
}

// post is the API middleware after the handler: metrics and API logging.
func (s *Runtime) post(w response, r request, id routeID, path string, start int64) {
	if s.metrics != nil {
		s.metrics.record(r.method(), path, w.status(), len(r.body()), w.size(), start)
	}
	if s.cfg.APILogging && (id == routeNone || !routes[id].health || s.cfg.APILogHealthChecks) {
		s.logAPICall(w, r, start)
	}
}

func (s *Runtime) tokenOK(r request) bool {
	t, ok := r.header("dapr-api-token")
	return ok && string(t) == s.cfg.APIToken
}

func (s *Runtime) logAPICall(w response, r request, start int64) {
	args := []any{
		"duration", (nowFunc() - start) / 1e6,
		"method", r.method() + " " + unescapePath(r.rawPath()),
		"code", w.status(),
		"size", w.size(),
	}
	if ua, ok := r.header("User-Agent"); ok && len(ua) > 0 {
		args = append(args, "useragent", string(ua))
	}
	s.infoLog.Info("HTTP API Called", args...)
}

func unescapePath(p string) string {
	if u, err := url.PathUnescape(p); err == nil {
		return u
	}
	return p
}

func urlQueryUnescape(s string) (string, error) { return url.QueryUnescape(s) }

// universalBody decodes the body of a request to one of daprd's universal
// handlers into into, as they do: a non-empty body must be a protojson
// request (unknown fields ignored); an empty body leaves into zero. The
// handler then overrides fields from the path and query.
func universalBody(r request, into proto.Message) *api.Error {
	if r.bodyTooLarge() {
		return api.NewBodyTooLarge()
	}
	b := r.body()
	if len(b) == 0 {
		return nil
	}
	if err := (protojson.UnmarshalOptions{DiscardUnknown: true, AllowPartial: true}).Unmarshal(b, into); err != nil {
		return api.NewMalformedRequest("failed deserializing HTTP body: " + err.Error())
	}
	return nil
}

// handleSecretGet is GET /v1.0/secrets/{store}/{key}: 200 with the secret's
// pairs as a JSON object, 204 when the store returns none.
func (s *Runtime) handleSecretGet(w response, r request) {
	sc := getScratch()
	defer putScratch(sc)
	if e := universalBody(r, &runtimev1pb.GetSecretRequest{}); e != nil {
		s.writeError(w, e, sc)
		return
	}
	data, e := s.cfg.Secrets.Get(r.context(), string(r.param(0)), string(r.param(1)), copyMeta(queryMeta(r, sc.meta)))
	if e != nil {
		s.writeError(w, e, sc)
		return
	}
	if data == nil {
		w.setStatus(http.StatusNoContent)
		return
	}
	sc.buf = api.AppendSecretJSON(sc.buf[:0], data)
	w.addHeader("Content-Type", ctJSON)
	w.setStatus(http.StatusOK)
	w.write(sc.buf)
}

// handleSecretBulk is GET /v1.0/secrets/{store}/bulk: 200 with
// {"<secret>":{"<key>":"<value>"}} of every secret the scope allows.
func (s *Runtime) handleSecretBulk(w response, r request) {
	sc := getScratch()
	defer putScratch(sc)
	if e := universalBody(r, &runtimev1pb.GetBulkSecretRequest{}); e != nil {
		s.writeError(w, e, sc)
		return
	}
	data, e := s.cfg.Secrets.BulkGet(r.context(), string(r.param(0)), copyMeta(queryMeta(r, sc.meta)))
	if e != nil {
		s.writeError(w, e, sc)
		return
	}
	if data == nil {
		w.setStatus(http.StatusNoContent)
		return
	}
	sc.buf = api.AppendSecretJSON(sc.buf[:0], data)
	w.addHeader("Content-Type", ctJSON)
	w.setStatus(http.StatusOK)
	w.write(sc.buf)
}

// copyMeta copies the pooled query metadata for a store that may keep it.
func copyMeta(m map[string]string) map[string]string {
	if m == nil {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
