package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	runtimev1pb "github.com/dapr/dapr/pkg/proto/runtime/v1"

	"github.com/statecar/statecar/api"
	"github.com/statecar/statecar/internal/daprlog"
	"github.com/statecar/statecar/server/h1"
)

// Runtime is the sidecar's runtime surface shared by the HTTP API, the
// public port, the metrics listener and the gRPC server.
type Runtime struct {
	cfg              Config              // read-only after New
	state            *api.State          // read-only after New
	comps            []api.ComponentInfo // read-only after New
	invoker          *api.Invoker        // read-only after New
	log              *slog.Logger
	httpLog, infoLog *slog.Logger

	// ready is set by MarkReady (Invariant 1); appReady once the app port
	// accepted a connection (always true without an app port).
	ready    atomic.Bool
	appReady atomic.Bool

	extended struct {
		sync.Mutex
		m map[string]string // PUT /v1.0/metadata/{key}, gRPC SetMetadata
	}

	shutdownOnce sync.Once
	shutdownCh   chan struct{} // closed by Shutdown (Invariant 5)

	stopProbe chan struct{} // closed by Stop; ends the app port probe

	metrics *httpMetrics // nil when metrics are disabled

	// Listeners, set by Start, then read-only.
	h1Srv      *h1.Server
	apiUnixSrv *http.Server // --unix-domain-socket
	publicSrv  *http.Server
	metricsSrv *http.Server
	pprofSrv   *http.Server
	publicLn   net.Listener
	metricsLn  net.Listener
	pprofLn    net.Listener
	serveErrs  chan error
	// healthers are the engines whose failure makes healthz 500 (set by
	// Start, then read-only).
	healthers []namedHealther
}

type namedHealther struct {
	name string
	h    EngineHealther
}

// New builds a Runtime. comps is the component list of /v1.0/metadata in
// initialisation order (secret stores first, then state stores).
func New(cfg Config, state *api.State, comps []api.ComponentInfo) (*Runtime, error) {
	if state == nil {
		return nil, errors.New("cannot create runtime: nil api.State")
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	if cfg.Metrics.LatencyBuckets == nil {
		cfg.Metrics.LatencyBuckets = DefaultLatencyBuckets
	}
	r := &Runtime{
		cfg:        cfg,
		state:      state,
		comps:      comps,
		log:        daprlog.Scope(log, "dapr.runtime"),
		httpLog:    daprlog.Scope(log, "dapr.runtime.http"),
		infoLog:    daprlog.Scope(log, "dapr.runtime.http-info"),
		shutdownCh: make(chan struct{}),
		stopProbe:  make(chan struct{}),
		serveErrs:  make(chan error, 4),
	}
	r.invoker = cfg.Invoker
	if r.invoker == nil {
		r.invoker = api.NewInvoker(api.InvokerConfig{AppID: cfg.AppID,
			App: cfg.AppChannel.Invoker(), MaxBodySize: cfg.MaxBodySize})
	}
	r.extended.m = map[string]string{}
	r.appReady.Store(cfg.AppPort <= 0)
	if cfg.MetricsEnabled {
		r.metrics = newHTTPMetrics(cfg.AppID, cfg.Metrics)
	}
	return r, nil
}

// Config returns the runtime configuration (read-only).
func (r *Runtime) Config() *Config { return &r.cfg }

// State returns the State API.
func (r *Runtime) State() *api.State { return r.state }

// MarkReady declares the runtime initialised: components loaded and every
// listener up. With an app port it also starts probing that port
// (Invariant 1).
func (r *Runtime) MarkReady() {
	r.ready.Store(true)
	if !r.appReady.Load() {
		go r.probeApp()
	}
}

// probeApp dials the app port until it accepts a connection.
func (r *Runtime) probeApp() {
	addr := net.JoinHostPort(r.cfg.AppChannelAddress, strconv.Itoa(r.cfg.AppPort))
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			_ = c.Close()
			r.appReady.Store(true)
			r.log.Info("Application discovered on port " + strconv.Itoa(r.cfg.AppPort))
			return
		}
		select {
		case <-r.stopProbe:
			return
		case <-t.C:
		}
	}
}

// Ready reports the /v1.0/healthz condition.
func (r *Runtime) Ready() bool { return r.ready.Load() && r.appReady.Load() }

// OutboundReady reports the /v1.0/healthz/outbound condition.
func (r *Runtime) OutboundReady() bool { return r.ready.Load() }

// Shutdown requests a graceful shutdown (POST /v1.0/shutdown, gRPC
// Shutdown). It returns at once; the main goroutine watches
// ShutdownRequested. Idempotent.
func (r *Runtime) Shutdown() {
	r.shutdownOnce.Do(func() { close(r.shutdownCh) })
}

// ShutdownRequested is closed once Shutdown was called.
func (r *Runtime) ShutdownRequested() <-chan struct{} { return r.shutdownCh }

// HTTPFailed is closed when the HTTP API server (gnet) stopped on its own,
// which it does after a fatal error such as accept(2) failing; HTTPErr says
// why. It is nil (never ready) when the API is served over a unix socket.
// The owner must treat it as fatal. Valid after Start.
func (r *Runtime) HTTPFailed() <-chan struct{} {
	if r.h1Srv == nil {
		return nil
	}
	ch := make(chan struct{})
	go func() {
		<-r.h1Srv.Done()
		if r.h1Srv.Err() != nil {
			close(ch)
		}
	}()
	return ch
}

// HTTPErr returns why the HTTP API server stopped on its own, or nil.
func (r *Runtime) HTTPErr() error {
	if r.h1Srv == nil {
		return nil
	}
	return r.h1Srv.Err()
}

// SetExtended stores an extended-metadata attribute.
func (r *Runtime) SetExtended(key, value string) {
	r.extended.Lock()
	r.extended.m[key] = value
	r.extended.Unlock()
}

func (r *Runtime) extendedCopy() map[string]string {
	r.extended.Lock()
	defer r.extended.Unlock()
	m := make(map[string]string, len(r.extended.m)+1)
	for k, v := range r.extended.m {
		m[k] = v
	}
	m["daprRuntimeVersion"] = Version
	return m
}

// The JSON shape of GET /v1.0/metadata (daprd's metadataResponse; field
// order matters).
type metadataResponse struct {
	ID                      string                  `json:"id,omitempty"`
	RuntimeVersion          string                  `json:"runtimeVersion,omitempty"`
	EnabledFeatures         []string                `json:"enabledFeatures,omitempty"`
	Components              []metadataComponent     `json:"components,omitempty"`
	Extended                map[string]string       `json:"extended,omitempty"`
	Subscriptions           []metadataSubscription  `json:"subscriptions,omitempty"`
	HTTPEndpoints           []metadataHTTPEndpoint  `json:"httpEndpoints,omitempty"`
	AppConnectionProperties appConnectionProperties `json:"appConnectionProperties"`
	ActorRuntime            actorRuntime            `json:"actorRuntime"`
	Workflows               struct{}                `json:"workflows"`
}

type metadataHTTPEndpoint struct {
	Name string `json:"name,omitempty"`
}

type metadataSubscription struct {
	PubsubName      string            `json:"pubsubname"`
	Topic           string            `json:"topic"`
	Metadata        map[string]string `json:"metadata,omitempty"`
	Rules           []metadataRule    `json:"rules,omitempty"`
	DeadLetterTopic string            `json:"deadLetterTopic"`
	Type            string            `json:"type"`
}

type metadataRule struct {
	Match string `json:"match,omitempty"`
	Path  string `json:"path,omitempty"`
}

type metadataComponent struct {
	Name         string   `json:"name"`
	Type         string   `json:"type"`
	Version      string   `json:"version"`
	Capabilities []string `json:"capabilities,omitempty"`
}

type appConnectionProperties struct {
	Port           int          `json:"port,omitempty"`
	Protocol       string       `json:"protocol,omitempty"`
	ChannelAddress string       `json:"channelAddress,omitempty"`
	MaxConcurrency int          `json:"maxConcurrency,omitempty"`
	Health         *appHealthJS `json:"health,omitempty"`
}

type appHealthJS struct {
	HealthCheckPath     string `json:"healthCheckPath,omitempty"`
	HealthProbeInterval string `json:"healthProbeInterval,omitempty"`
	HealthProbeTimeout  string `json:"healthProbeTimeout,omitempty"`
	HealthThreshold     int    `json:"healthThreshold,omitempty"`
}

type actorRuntime struct {
	RuntimeStatus string `json:"runtimeStatus"`
	HostReady     bool   `json:"hostReady"`
	Placement     string `json:"placement,omitempty"`
}

const placementDisconnected = "placement: disconnected"

func (r *Runtime) protocol() string {
	if r.cfg.AppProtocol == "" {
		return "http"
	}
	return r.cfg.AppProtocol
}

func (r *Runtime) metadata() *metadataResponse {
	m := &metadataResponse{
		ID:              r.cfg.AppID,
		RuntimeVersion:  Version,
		EnabledFeatures: r.cfg.EnabledFeatures,
		Extended:        r.extendedCopy(),
		AppConnectionProperties: appConnectionProperties{
			Port:           r.cfg.AppPort,
			Protocol:       r.protocol(),
			ChannelAddress: r.cfg.AppChannelAddress,
			MaxConcurrency: r.cfg.AppMaxConcurrency,
		},
		ActorRuntime: actorRuntime{RuntimeStatus: "DISABLED", Placement: placementDisconnected},
	}
	if h := r.cfg.AppHealth; h != nil {
		js := &appHealthJS{
			HealthProbeInterval: h.Interval.String(),
			HealthProbeTimeout:  h.Timeout.String(),
			HealthThreshold:     h.Threshold,
		}
		if p := r.protocol(); p == "http" || p == "https" || p == "h2c" {
			js.HealthCheckPath = h.Path
		}
		m.AppConnectionProperties.Health = js
	}
	for _, c := range r.comps {
		m.Components = append(m.Components, metadataComponent{Name: c.Name, Type: c.Type, Version: c.Version, Capabilities: c.Capabilities})
	}
	for _, sub := range r.cfg.Subscriber.Subscriptions() {
		ms := metadataSubscription{PubsubName: sub.PubsubName, Topic: sub.Topic, Metadata: sub.Metadata,
			DeadLetterTopic: sub.DeadLetterTopic, Type: sub.Type}
		for _, rule := range sub.Rules {
			ms.Rules = append(ms.Rules, metadataRule{Match: rule.Match.String(), Path: rule.Path})
		}
		m.Subscriptions = append(m.Subscriptions, ms)
	}
	for _, name := range r.invoker.Endpoints() {
		m.HTTPEndpoints = append(m.HTTPEndpoints, metadataHTTPEndpoint{Name: name})
	}
	return m
}

// AppendMetadataJSON appends the GET /v1.0/metadata body (JSON, ending in
// "\n", fields in daprd's order) to dst.
func (r *Runtime) AppendMetadataJSON(dst []byte) []byte {
	buf := bytes.NewBuffer(dst)
	if err := json.NewEncoder(buf).Encode(r.metadata()); err != nil {
		panic(fmt.Sprintf("BUG: cannot encode metadata: %v", err))
	}
	return buf.Bytes()
}

// MetadataProto returns the gRPC GetMetadata answer (the same data as GET
// /v1.0/metadata), for grpcserver.Config.Metadata.
func (r *Runtime) MetadataProto() *runtimev1pb.GetMetadataResponse {
	m := r.metadata()
	out := &runtimev1pb.GetMetadataResponse{
		Id:               m.ID,
		RuntimeVersion:   m.RuntimeVersion,
		EnabledFeatures:  m.EnabledFeatures,
		ExtendedMetadata: m.Extended,
		AppConnectionProperties: &runtimev1pb.AppConnectionProperties{
			Port:           int32(m.AppConnectionProperties.Port),
			Protocol:       m.AppConnectionProperties.Protocol,
			ChannelAddress: m.AppConnectionProperties.ChannelAddress,
			MaxConcurrency: int32(m.AppConnectionProperties.MaxConcurrency),
		},
		ActorRuntime: &runtimev1pb.ActorRuntime{
			RuntimeStatus: runtimev1pb.ActorRuntime_DISABLED,
			Placement:     placementDisconnected,
		},
		Workflows: &runtimev1pb.MetadataWorkflows{},
	}
	if h := m.AppConnectionProperties.Health; h != nil {
		out.AppConnectionProperties.Health = &runtimev1pb.AppConnectionHealthProperties{
			HealthCheckPath:     h.HealthCheckPath,
			HealthProbeInterval: h.HealthProbeInterval,
			HealthProbeTimeout:  h.HealthProbeTimeout,
			HealthThreshold:     int32(h.HealthThreshold),
		}
	}
	for _, e := range m.HTTPEndpoints {
		out.HttpEndpoints = append(out.HttpEndpoints, &runtimev1pb.MetadataHTTPEndpoint{Name: e.Name})
	}
	for _, sub := range m.Subscriptions {
		ps := &runtimev1pb.PubsubSubscription{PubsubName: sub.PubsubName, Topic: sub.Topic, Metadata: sub.Metadata,
			DeadLetterTopic: sub.DeadLetterTopic, Rules: &runtimev1pb.PubsubSubscriptionRules{},
			Type: runtimev1pb.PubsubSubscriptionType(runtimev1pb.PubsubSubscriptionType_value[sub.Type])}
		for _, rule := range sub.Rules {
			ps.Rules.Rules = append(ps.Rules.Rules, &runtimev1pb.PubsubSubscriptionRule{Match: rule.Match, Path: rule.Path})
		}
		out.Subscriptions = append(out.Subscriptions, ps)
	}
	for _, c := range m.Components {
		out.RegisteredComponents = append(out.RegisteredComponents, &runtimev1pb.RegisteredComponents{
			Name: c.Name, Type: c.Type, Version: c.Version, Capabilities: c.Capabilities,
		})
	}
	return out
}

// Health answers, shared by the API and the public port.
var (
	bodyNotReady         = []byte(`{"errorCode":"ERR_HEALTH_NOT_READY","message":"dapr is not ready: [runtime]"}`)
	bodyAppIDNotMatch    = []byte(`{"errorCode":"ERR_HEALTH_APPID_NOT_MATCH","message":"dapr app-id does not match"}`)
	bodyOutboundNotReady = []byte(`{"errorCode":"ERR_OUTBOUND_HEALTH_NOT_READY","message":"dapr outbound is not ready"}`)
)

// healthz returns the status and body of GET /v1.0/healthz; appID is the
// ?appid= value (hasAppID false when absent).
func (r *Runtime) healthz(appID []byte, hasAppID bool) (int, []byte) {
	if !r.Ready() {
		return http.StatusInternalServerError, bodyNotReady
	}
	for _, e := range r.healthers {
		if e.h.EngineErr() != nil {
			// Beyond daprd: a store whose engine stopped writing
			// (fail-stop) makes the sidecar unhealthy, so that an
			// orchestrator restarts it (docs/compatibility.md).
			return http.StatusInternalServerError, failedStoreBody(e.name)
		}
	}
	if hasAppID && string(appID) != r.cfg.AppID {
		return http.StatusInternalServerError, bodyAppIDNotMatch
	}
	return http.StatusNoContent, nil
}

// setHealthers keeps the engines whose failure makes healthz 500, sorted by
// store name. Called once by Start.
func (r *Runtime) setHealthers(engines map[string]EngineMetricser) {
	for name, e := range engines {
		if h, ok := e.(EngineHealther); ok {
			r.healthers = append(r.healthers, namedHealther{name, h})
		}
	}
	sort.Slice(r.healthers, func(i, j int) bool { return r.healthers[i].name < r.healthers[j].name })
}

// failedStoreBody is healthz's answer when the engine of store name has
// failed: daprd's not-ready shape, naming the store as the not-ready target.
func failedStoreBody(name string) []byte {
	msg, _ := json.Marshal("dapr is not ready: [state store " + name + "]")
	return append(append([]byte(`{"errorCode":"ERR_HEALTH_NOT_READY","message":`), msg...), '}')
}

func (r *Runtime) healthzOutbound() (int, []byte) {
	if !r.OutboundReady() {
		return http.StatusInternalServerError, bodyOutboundNotReady
	}
	return http.StatusNoContent, nil
}

// HTTPDrainLimit bounds how long the HTTP listeners wait for in-flight
// requests on Stop, whatever the grace period: daprd's HTTP server gives its
// servers' Shutdown 10 s (pkg/api/http/server.go, Close).
const HTTPDrainLimit = 10 * time.Second

// Stop stops every listener: the HTTP API and the public port drain their
// in-flight requests until ctx ends or HTTPDrainLimit passes (Invariant 5),
// then metrics and pprof close.
func (r *Runtime) Stop(ctx context.Context) error {
	select {
	case <-r.stopProbe:
	default:
		close(r.stopProbe)
	}
	ctx, cancel := context.WithTimeout(ctx, HTTPDrainLimit)
	defer cancel()
	var errs []error
	if r.h1Srv != nil {
		if err := r.h1Srv.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("cannot stop HTTP server: %w", err))
		}
	}
	for _, s := range []*http.Server{r.apiUnixSrv, r.publicSrv, r.pprofSrv, r.metricsSrv} {
		if s == nil {
			continue
		}
		if err := s.Shutdown(ctx); err != nil {
			_ = s.Close()
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
