package server

import (
	"log/slog"
	"time"

	"github.com/statecar/statecar/api"
	"github.com/statecar/statecar/internal/appchannel"
)

// Version is the daprd version statecar is compatible with; it is what
// --version prints and what /v1.0/metadata reports as runtimeVersion.
const Version = "1.18.3"

// Config is the parsed runtime configuration (flags, environment and
// Configuration files); cmd/statecar fills it.
type Config struct {
	AppID     string
	Namespace string // env NAMESPACE

	// Secrets serves the Secrets API; nil answers it as daprd does without
	// a secret store (ERR_SECRET_STORES_NOT_CONFIGURED).
	Secrets *api.Secrets
	// Configuration serves the Configuration API; nil answers it as daprd
	// does without a configuration store
	// (ERR_CONFIGURATION_STORE_NOT_CONFIGURED).
	Configuration *api.Configuration
	// Locks serves the Distributed Lock API; nil answers it as daprd does
	// without lock stores (500 ERR_LOCK_STORE_NOT_CONFIGURED).
	Locks *api.Locks
	// Jobs answers the Jobs API (there is no scheduler); nil answers as
	// api.NewJobs(AppID, "default").
	Jobs *api.Jobs
	// Conversations serves the Conversation API; nil answers it as daprd
	// does without conversation components (400 ERR_CONVERSATION_NOT_FOUND).
	Conversations *api.Conversations
	// Bindings serves the output Bindings API; nil answers it as daprd does
	// without bindings (500 ERR_INVOKE_OUTPUT_BINDING, "couldn't find output
	// binding").
	Bindings *api.Bindings
	// PubSub serves the Pub/sub API; nil answers it as daprd does without
	// pub/sub components (404 ERR_PUBSUB_NOT_FOUND).
	PubSub *api.PubSub
	// Subscriber runs the app's subscriptions (listed in /v1.0/metadata);
	// nil when there are none.
	Subscriber *api.Subscriber
	// AppChannel calls the app (configuration update deliveries); nil when
	// there is no --app-port, as daprd's nil app channel.
	AppChannel *appchannel.Channel
	// Invoker runs service invocations (the fallback route); nil: one
	// for the app channel alone, without HTTPEndpoints.
	Invoker *api.Invoker

	// HTTPPort and GRPCPort are --dapr-http-port and --dapr-grpc-port.
	HTTPPort int
	GRPCPort int
	// APIListenAddresses is --dapr-listen-addresses split on commas ("" =
	// all interfaces).
	APIListenAddresses []string
	// UnixDomainSocket is --unix-domain-socket: when set, the HTTP API
	// listens on <dir>/dapr-<app-id>-http.socket (net/http transport)
	// instead of TCP; cmd/statecar gives the gRPC server the matching
	// -grpc.socket path.
	UnixDomainSocket string
	// PublicPort is --dapr-public-port; 0 disables the public listener.
	PublicPort          int
	PublicListenAddress string

	MetricsEnabled       bool
	MetricsPort          int
	MetricsListenAddress string
	// Metrics are the Configuration's metrics settings.
	Metrics MetricsOptions

	ProfilingEnabled bool
	ProfilePort      int

	// MaxBodySize is --max-body-size in bytes; ReadBufferSize is
	// --read-buffer-size (the maximum request header size).
	MaxBodySize    int64
	ReadBufferSize int

	// APIToken is env DAPR_API_TOKEN ("" = no token check).
	APIToken string

	// App channel (reported in metadata; AppPort also gates readiness).
	AppPort           int // <= 0 = none (a negative value is shown in metadata as given, as daprd)
	AppProtocol       string
	AppChannelAddress string
	AppMaxConcurrency int // 0 = unlimited
	AppHealth         *AppHealth

	// EnabledFeatures are the Configuration's enabled features.
	EnabledFeatures []string
	// APIAllowed and APIDenied are the Configuration's API lists.
	APIAllowed []APIRule
	APIDenied  []APIRule

	// APILogging logs "HTTP API Called" for each request;
	// APILogHealthChecks includes healthz calls (omitHealthChecks=false).
	APILogging         bool
	APILogHealthChecks bool

	// GracefulShutdown bounds the drain of in-flight requests; 0 means no
	// bound (daprd: --dapr-graceful-shutdown-seconds 0 is an infinite grace
	// period). The HTTP listeners drain at most HTTPDrainLimit either way.
	GracefulShutdown time.Duration

	// ForceShutdown is daprd 1.18's immediate exit, asked for by POST
	// /v1.0/shutdown with header dapr-force-shutdown: true (any case): the
	// route answers 204 and calls it ForceExitDelay later on a new
	// goroutine. nil = such a request shuts down gracefully.
	ForceShutdown func()

	// HTTPEventLoops is the number of h1 event loops (0 = h1's default).
	HTTPEventLoops int

	// HTTPSpinWorker is h1's Config.SpinWorker: how long a worker that
	// finished a blocking request spins for the next one. 0 takes the
	// default (DefaultSpinWorker when any state store is remote, off when
	// every store is embedded); negative turns it off.
	HTTPSpinWorker time.Duration

	// Logger is the root logger (scopes are added here); nil means
	// slog.Default().
	Logger *slog.Logger
}

// MetricsOptions are Configuration spec.metrics settings.
type MetricsOptions struct {
	// RecordErrorCodes enables dapr_error_code_total.
	RecordErrorCodes bool
	// IncreasedCardinality (default true) keeps the path label and
	// registers dapr_http_server_response_count; false empties the label.
	IncreasedCardinality bool
	// PathMatching are the pathMatching patterns (Go ServeMux syntax) that
	// replace request paths in the path label.
	PathMatching []string
	// ExcludeVerbs empties the method label.
	ExcludeVerbs bool
	// LatencyBuckets are the latency histogram bounds in ms (nil = daprd's
	// defaults).
	LatencyBuckets []float64
}

// AppHealth is the app health check configuration shown in metadata.
type AppHealth struct {
	Path      string
	Interval  time.Duration
	Timeout   time.Duration
	Threshold int
}

// APIRule is a Configuration spec.api allowed/denied entry.
type APIRule struct {
	Name     string
	Version  string
	Protocol string
}

// DefaultLatencyBuckets are daprd's latency buckets in ms.
var DefaultLatencyBuckets = []float64{1, 2, 3, 4, 5, 6, 8, 10, 13, 16, 20, 25, 30, 40, 50, 65, 80, 100, 130, 160, 200, 250, 300, 400, 500, 650, 800, 1000, 2000, 5000, 10000, 20000, 50000, 100000}

// sizeBuckets are daprd's defaultSizeDistribution (bytes).
var sizeBuckets = []float64{1 << 10, 2 << 10, 4 << 10, 16 << 10, 64 << 10, 256 << 10, 1 << 20, 4 << 20, 16 << 20, 64 << 20, 256 << 20, 1 << 30, 4 << 30}
