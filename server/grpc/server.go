package grpcserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"sync"
	"time"

	runtimev1pb "github.com/dapr/dapr/pkg/proto/runtime/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/reflection"

	"github.com/statecar/statecar/api"
	"github.com/statecar/statecar/internal/udsock"
)

// DefaultMaxMsgSize is daprd's default --max-body-size (4 MiB), used when
// Config.MaxMsgSize is 0.
const DefaultMaxMsgSize = 4 << 20

// DefaultStreamWorkers is the default Config.StreamWorkers: enough for a
// few dozen concurrent callers, cheap when idle.
const DefaultStreamWorkers = 64

// Transports of Config.Transport.
const (
	TransportStatecar = "statecar"
	TransportGRPCGo   = "grpc-go"
)

// Config configures a Server. Only State is required.
type Config struct {
	// Addrs are the TCP listen addresses ("host:port"; "" host or ":port"
	// means all interfaces), one listener each. daprd builds them from
	// --dapr-listen-addresses and --dapr-grpc-port.
	Addrs []string
	// UnixSocket, when not empty, is a unix socket path to listen on
	// instead of Addrs (daprd: {dir}/dapr-{appid}-grpc.socket with
	// --unix-domain-socket). A socket in use fails Start; a stale socket
	// file (nothing accepts on it) is removed first (internal/udsock).
	UnixSocket string
	// State serves the state RPCs.
	State *api.State
	// Secrets serves GetSecret and GetBulkSecret; nil answers them as
	// daprd does without a secret store.
	Secrets *api.Secrets
	// Configuration serves GetConfiguration, SubscribeConfiguration and
	// UnsubscribeConfiguration (and their Alpha1 aliases); nil answers
	// them as daprd does without a configuration store.
	Configuration *api.Configuration
	// Jobs answers the Jobs RPCs (there is no scheduler); nil answers as
	// api.NewJobs(AppID, "default").
	Jobs *api.Jobs
	// Conversations serves ConverseAlpha1 and ConverseAlpha2; nil answers
	// them as daprd without conversation components.
	Conversations *api.Conversations
	// Locks serves TryLockAlpha1 and UnlockAlpha1; nil answers them as
	// daprd does without lock stores (FailedPrecondition).
	Locks *api.Locks
	// Bindings serves InvokeBinding; nil answers it as daprd does without
	// bindings.
	Bindings *api.Bindings
	// PubSub serves PublishEvent and BulkPublishEvent(Alpha1); nil answers
	// them as daprd does without pub/sub components.
	PubSub *api.PubSub
	// Subscriber serves SubscribeTopicEventsAlpha1 (streaming
	// subscriptions); nil answers it as Unimplemented.
	Subscriber *api.Subscriber
	// Invoker serves InvokeService; nil answers it as a sidecar without an
	// app channel.
	Invoker *api.Invoker
	// ProxyApp is the app's gRPC server for proxied calls (unknown
	// services with dapr-app-id metadata naming the own app); nil answers
	// them Unavailable.
	ProxyApp ProxyApp
	// AppID labels the metrics (app_id) and is the fallback GetMetadata id.
	AppID string
	// APIToken, when not empty, is required in the dapr-api-token metadata
	// of every call (env DAPR_API_TOKEN).
	APIToken string
	// MaxMsgSize limits received and sent messages in bytes
	// (--max-body-size). 0 means DefaultMaxMsgSize.
	MaxMsgSize int
	// MaxHeaderListSize limits the request header list in bytes
	// (--read-buffer-size, daprd default 4 KiB). 0 leaves grpc-go's default.
	MaxHeaderListSize int
	// Metadata returns the GetMetadata answer (the same data as GET
	// /v1.0/metadata). Called once per GetMetadata RPC, from the RPC's
	// goroutine; it must be safe for concurrent use. nil answers with the
	// app id only.
	Metadata func() *runtimev1pb.GetMetadataResponse
	// SetMetadata stores one extended-metadata attribute (SetMetadata RPC;
	// never called with an empty key). Must be safe for concurrent use. nil
	// ignores the RPC's data.
	SetMetadata func(key, value string)
	// Shutdown starts the sidecar's graceful shutdown. The Shutdown RPC
	// calls it on a new goroutine after answering OK; it typically ends by
	// calling GracefulStop. nil makes the RPC a no-op.
	Shutdown func()
	// ForceShutdown is daprd 1.18's immediate exit: a Shutdown RPC with
	// metadata dapr-force-shutdown: true (case-insensitive) answers OK and
	// calls ForceShutdown 100 ms later, on a new goroutine; daprd exits
	// with status 1 there. nil treats such a request like any other
	// (graceful Shutdown).
	ForceShutdown func()
	// DisableMetrics turns the dapr_grpc_io_server_* metrics off
	// (--enable-metrics=false).
	DisableMetrics bool
	// APIAllowed and APIDenied are the Configuration's spec.api lists;
	// only rules with Protocol "grpc" apply here. A call to a Dapr method
	// outside them fails with Unimplemented "Not Implemented".
	APIAllowed []APIRule
	APIDenied  []APIRule
	// LatencyBuckets are the dapr_grpc_io_server_server_latency bucket
	// upper bounds in ms (Configuration spec.metric
	// latencyDistributionBuckets); nil means daprd's defaults.
	LatencyBuckets []float64
	// StreamWorkers is the number of long-lived goroutines that run RPCs
	// (grpc.NumStreamWorkers); an RPC arriving while all are busy gets a
	// new goroutine as usual. Reusing goroutines whose stacks have already
	// grown avoids a stack copy per RPC (a quarter of the server's CPU on
	// GetState without it). 0 means DefaultStreamWorkers; < 0 disables.
	StreamWorkers int
	// Transport selects the HTTP/2 transport: "" or TransportStatecar for
	// statecar's own (fast unary path, grpc-go for everything else),
	// TransportGRPCGo for grpc-go's alone.
	Transport string
	// APILogger, when not nil, receives one "gRPC API Called" line per
	// call at info level with method, useragent, duration (ms) and code,
	// like daprd's --enable-api-logging (its scope there is
	// dapr.runtime.grpc.api-info).
	APILogger *slog.Logger
	// Logger receives start/stop and serve errors; nil means slog.Default().
	Logger *slog.Logger
}

// Server is the gRPC API server. Create it with New, then Start it once and
// stop it once with GracefulStop or Stop. Its methods are safe for
// concurrent use.
type Server struct {
	cfg  Config
	log  *slog.Logger
	srv  *grpc.Server
	dapr *daprAPI
	ic   *interceptor
	h2   *h2transport // nil with TransportGRPCGo

	// serving counts the Serve goroutines; GracefulStop waits for them.
	serving sync.WaitGroup

	mu struct {
		sync.Mutex
		listeners []net.Listener // set by Start, read by Addrs
		started   bool
	}
}

// New builds a Server from cfg. It opens no socket; call Start.
func New(cfg Config) (*Server, error) {
	if cfg.State == nil {
		return nil, errors.New("cannot create gRPC server: Config.State is nil")
	}
	if cfg.MaxMsgSize <= 0 {
		cfg.MaxMsgSize = DefaultMaxMsgSize
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	s := &Server{cfg: cfg, log: log}
	s.dapr = newDaprAPI(&s.cfg)

	var mt *rpcMetrics
	if !cfg.DisableMetrics {
		mt = newRPCMetrics(cfg.AppID, cfg.LatencyBuckets)
	}
	ic := &interceptor{acl: newACL(cfg.APIAllowed, cfg.APIDenied), token: cfg.APIToken, metrics: mt, apiLog: cfg.APILogger}
	s.ic = ic

	// This is grpc-go's "infinity" (internal/transport/defaults.go).
	const infinity = time.Duration(math.MaxInt64)
	opts := []grpc.ServerOption{
		grpc.UnaryInterceptor(ic.unary),
		grpc.StreamInterceptor(ic.stream),
		// gRPC proxying: unknown services are forwarded, their messages
		// passed through undecoded (proxyCodec falls back to proto).
		grpc.UnknownServiceHandler(s.proxy),
		grpc.ForceServerCodecV2(newProxyCodec()),
		grpc.MaxRecvMsgSize(cfg.MaxMsgSize),
		grpc.MaxSendMsgSize(cfg.MaxMsgSize),
		// Fixed flow-control windows turn off grpc-go's BDP estimation,
		// which sends a PING for every burst of DATA frames: about 5% of
		// the server's CPU on small unary calls. A sidecar's peer is local,
		// so a dynamic window buys nothing; 1 MiB per stream and 8 MiB per
		// connection are far above grpc-go's 64 KiB starting window.
		grpc.StaticStreamWindowSize(1 << 20),
		grpc.StaticConnWindowSize(8 << 20),
		// daprd's API server keepalive settings (state-grpc.md §1).
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{
			MinTime:             8 * time.Second,
			PermitWithoutStream: true,
		}),
		grpc.KeepaliveParams(keepalive.ServerParameters{
			MaxConnectionAge:      infinity,
			MaxConnectionAgeGrace: infinity,
			MaxConnectionIdle:     3 * time.Minute,
			Time:                  10 * time.Second,
			Timeout:               5 * time.Second,
		}),
	}
	switch {
	case cfg.StreamWorkers == 0:
		opts = append(opts, grpc.NumStreamWorkers(DefaultStreamWorkers))
	case cfg.StreamWorkers > 0:
		opts = append(opts, grpc.NumStreamWorkers(uint32(min(cfg.StreamWorkers, 1<<16))))
	}
	if cfg.MaxHeaderListSize > 0 {
		opts = append(opts, grpc.MaxHeaderListSize(uint32(min(cfg.MaxHeaderListSize, math.MaxUint32))))
	}
	s.srv = grpc.NewServer(opts...)
	runtimev1pb.RegisterDaprServer(s.srv, s.dapr)
	// daprd registers server reflection on its API server too, so grpcurl
	// and friends can list the service without .proto files.
	reflection.Register(s.srv)
	switch cfg.Transport {
	case "", TransportStatecar:
		s.h2 = newH2Transport(s)
	case TransportGRPCGo:
	default:
		return nil, fmt.Errorf("cannot create gRPC server: unknown transport %q (want %q or %q)", cfg.Transport, TransportStatecar, TransportGRPCGo)
	}
	return s, nil
}

// Start opens the listeners and starts serving; it returns once they are
// listening. Like daprd, an address that cannot be opened is logged and
// skipped, and Start fails only when no listener could be opened (so with a
// single address, a port in use is an error). Start may be called once.
func (s *Server) Start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.mu.started {
		return errors.New("cannot start gRPC server: already started")
	}
	var lns []net.Listener
	var firstErr error
	if s.cfg.UnixSocket != "" {
		l, err := udsock.Listen(s.cfg.UnixSocket) // a socket in use is an error, a stale one is replaced
		if err != nil {
			return fmt.Errorf("cannot listen on unix socket %s: %w", s.cfg.UnixSocket, err)
		}
		s.log.Info("gRPC server listening on UNIX socket: " + s.cfg.UnixSocket)
		lns = append(lns, l)
	} else {
		for _, addr := range s.cfg.Addrs {
			l, err := net.Listen("tcp", addr)
			if err != nil {
				s.log.Error(fmt.Sprintf("Failed to listen for gRPC server on TCP address %s with error: %v", addr, err))
				if firstErr == nil {
					firstErr = err
				}
				continue
			}
			s.log.Info("gRPC server listening on TCP address: " + l.Addr().String())
			lns = append(lns, l)
		}
	}
	if len(lns) == 0 {
		if firstErr != nil {
			return fmt.Errorf("cannot start gRPC server: could not listen on any endpoint: %w", firstErr)
		}
		return errors.New("cannot start gRPC server: could not listen on any endpoint")
	}
	s.mu.listeners = lns
	s.mu.started = true
	if s.h2 != nil {
		workers := s.cfg.StreamWorkers
		switch {
		case workers == 0:
			workers = DefaultStreamWorkers
		case workers < 0:
			workers = 0
		}
		s.h2.start(lns, min(workers, 1<<16))
		return nil
	}
	for _, l := range lns {
		s.serving.Add(1)
		go func(l net.Listener) {
			defer s.serving.Done()
			if err := s.srv.Serve(l); err != nil && !errors.Is(err, grpc.ErrServerStopped) {
				s.log.Error("gRPC serve error", "addr", l.Addr().String(), "err", err)
			}
		}(l)
	}
	return nil
}

// Addrs returns the addresses actually listened on (useful with port 0),
// in Config.Addrs order; nil before Start.
func (s *Server) Addrs() []net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]net.Addr, 0, len(s.mu.listeners))
	for _, l := range s.mu.listeners {
		out = append(out, l.Addr())
	}
	return out
}

// GracefulStop stops accepting connections and waits for in-flight RPCs to
// finish. When ctx ends first, the remaining RPCs are cancelled and
// connections closed (grpc Stop). It returns ctx.Err() in that case, nil
// otherwise. Safe to call before Start and more than once.
func (s *Server) GracefulStop(ctx context.Context) error {
	if s.h2 != nil {
		err := s.h2.gracefulStop(ctx)
		s.srv.Stop() // no connection of its own: ends ServeHTTP bookkeeping
		s.serving.Wait()
		return err
	}
	done := make(chan struct{})
	go func() {
		s.srv.GracefulStop()
		close(done)
	}()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		s.srv.Stop()
		<-done
		err = ctx.Err()
	}
	s.serving.Wait()
	return err
}

// Stop closes every listener and connection at once, cancelling in-flight
// RPCs.
func (s *Server) Stop() {
	if s.h2 != nil {
		s.h2.stop()
	}
	s.srv.Stop()
	s.serving.Wait()
}
