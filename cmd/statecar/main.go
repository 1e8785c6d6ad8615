package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/statecar/statecar/api"
	"github.com/statecar/statecar/component"
	_ "github.com/statecar/statecar/component/cronbinding" // bindings.cron
	_ "github.com/statecar/statecar/component/embedded"    // state.pebble, state.in-memory
	_ "github.com/statecar/statecar/component/httpbinding" // bindings.http
	"github.com/statecar/statecar/component/loader"
	_ "github.com/statecar/statecar/component/localstorage" // bindings.localstorage
	_ "github.com/statecar/statecar/component/postgres"     // state.postgresql
	_ "github.com/statecar/statecar/component/redis"        // state.redis
	"github.com/statecar/statecar/component/secretstore"
	"github.com/statecar/statecar/internal/appchannel"
	"github.com/statecar/statecar/internal/daprlog"
	"github.com/statecar/statecar/internal/quantity"
	"github.com/statecar/statecar/kv"
	"github.com/statecar/statecar/server"
	grpcserver "github.com/statecar/statecar/server/grpc"
	"github.com/statecar/statecar/server/h1"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// commit returns the VCS revision stamped by the Go toolchain, if any.
func commit() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" {
				return s.Value
			}
		}
	}
	return ""
}

// forceExit is daprd 1.18's forced shutdown (a gRPC Shutdown with metadata,
// or a POST /v1.0/shutdown with header, dapr-force-shutdown: true): exit
// with status 1 at once. The stores get a
// short chance to close so that relaxed-durability stores fsync what they
// acknowledged; sync stores have nothing to lose.
func forceExit(log *slog.Logger, state interface{ Close() error }) {
	log.Warn("Force shutdown requested, exiting immediately without graceful shutdown") // daprd's line
	done := make(chan struct{})
	go func() { _ = state.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(2 * time.Second):
	}
	os.Exit(1)
}

// closerFunc adapts a function to io.Closer.
type closerFunc func() error

// Close calls f.
func (f closerFunc) Close() error { return f() }

// fatal logs daprd's fatal line and returns exit code 1.
func fatal(log *slog.Logger, msg string) int {
	log.Log(context.Background(), daprlog.LevelFatal, msg)
	return 1
}

func run(args []string, stdout, stderr io.Writer) int {
	start := time.Now()
	fs, err := parseFlags(args)
	if err != nil {
		fmt.Fprintln(stderr, err)
		fmt.Fprint(stderr, usage())
		return 2
	}
	if fs.help {
		fmt.Fprint(stdout, usage())
		return 0
	}
	if fs.Bool("version") {
		fmt.Fprintln(stdout, server.Version)
		return 0
	}
	if fs.Bool("build-info") {
		fmt.Fprintf(stdout, "Version: %s\nGit Commit: %s\nGit Version: %s\n", server.Version, commit(), server.Version)
		return 0
	}

	level, lerr := daprlog.ParseLevel(fs.String("log-level"))
	host, _ := os.Hostname()
	appID := fs.String("app-id")
	if appID == "" {
		appID = "statecar" // the default app id (warned about below) labels every log line
	}
	h := daprlog.NewHandler(stdout, daprlog.Options{JSON: fs.Bool("log-as-json"), Level: level, AppID: appID, Instance: host, Version: server.Version})
	root := slog.New(h)
	slog.SetDefault(root)
	log := daprlog.Scope(root, "dapr.runtime")
	if lerr != nil {
		return fatal(log, lerr.Error())
	}
	if fs.Bool("wait") {
		return waitOutbound(fs.String("dapr-http-port"))
	}
	log.Info(fmt.Sprintf("Starting Dapr Runtime -- version %s -- commit %s", server.Version, commit()))
	log.Info("Log level set to: " + fs.String("log-level"))

	cfg, comps, code := buildConfig(fs, log, root)
	if code >= 0 {
		return code
	}
	return serve(cfg, comps, fs, log, root, start)
}

// runtimeConfig carries what serve needs beyond server.Config.
type runtimeConfig struct {
	server.Config
	dataDir       string
	resourcePaths []string
	configuration *loader.Configuration
	grpcAddrs     []string
	// blockShutdown is --dapr-block-shutdown-duration when given.
	blockShutdown *time.Duration
	// subscriptions are the Subscription resources of resourcePaths.
	subscriptions []loader.SubscriptionDoc
	// httpEndpoints are the HTTPEndpoint resources of resourcePaths.
	httpEndpoints []api.HTTPEndpoint
	// noSubscribeEndpoint: --disable-init-endpoints has "subscribe".
	noSubscribeEndpoint bool
}

// buildConfig turns flags, environment and Configuration files into the
// runtime configuration. code >= 0 means exit with it.
func buildConfig(fs *flagSet, log, root *slog.Logger) (*runtimeConfig, []*loader.Component, int) {
	rc := &runtimeConfig{}
	c := &rc.Config
	c.Logger = root
	c.AppID = fs.String("app-id")
	if c.AppID == "" {
		c.AppID = "statecar"
		log.Warn("--app-id not given: using app id \"statecar\" (daprd would exit with: parameter app-id cannot be empty)")
	}
	if strings.Contains(c.AppID, ".") {
		return nil, nil, fatal(log, "Fatal error from runtime: parameter app-id cannot contain dots")
	}
	c.Namespace = os.Getenv("NAMESPACE")
	c.APIToken = os.Getenv("DAPR_API_TOKEN")

	var err error
	if c.HTTPPort, err = strconv.Atoi(fs.String("dapr-http-port")); err != nil {
		return nil, nil, fatal(log, "Fatal error from runtime: error parsing dapr-http-port flag: "+err.Error())
	}
	if c.GRPCPort, err = strconv.Atoi(fs.String("dapr-grpc-port")); err != nil {
		return nil, nil, fatal(log, "Fatal error from runtime: error parsing dapr-grpc-port flag: "+err.Error())
	}
	if c.ProfilePort, err = strconv.Atoi(fs.String("profile-port")); err != nil {
		return nil, nil, fatal(log, "Fatal error from runtime: error parsing profile-port flag: "+err.Error())
	}
	// Ignored, but parsed as daprd does ("" and "0" pick a port there).
	if p := fs.String("dapr-internal-grpc-port"); p != "" && p != "0" {
		if _, err := strconv.Atoi(p); err != nil {
			return nil, nil, fatal(log, "Fatal error from runtime: error parsing dapr-internal-grpc-port: "+err.Error())
		}
	}
	if p := fs.String("dapr-public-port"); p != "" {
		if c.PublicPort, err = strconv.Atoi(p); err != nil {
			return nil, nil, fatal(log, "Fatal error from runtime: error parsing dapr-public-port: "+err.Error())
		}
	}
	if p := fs.String("app-port"); p != "" {
		if c.AppPort, err = strconv.Atoi(p); err != nil {
			return nil, nil, fatal(log, "Fatal error from runtime: error parsing app-port: "+err.Error())
		}
		if c.AppPort == c.HTTPPort {
			return nil, nil, fatal(log, fmt.Sprintf("Fatal error from runtime: the 'dapr-http-port' argument value %d conflicts with 'app-port'", c.HTTPPort))
		}
		if c.AppPort == c.GRPCPort {
			return nil, nil, fatal(log, fmt.Sprintf("Fatal error from runtime: the 'dapr-grpc-port' argument value %d conflicts with 'app-port'", c.GRPCPort))
		}
		// A negative port (launchers pass -1 for "unset") means no app, as
		// 0; daprd keeps the value, so /v1.0/metadata shows "port":-1.
	}
	c.MetricsListenAddress = fs.String("metrics-listen-address")
	c.PublicListenAddress = fs.String("dapr-public-listen-address")
	if a := fs.String("dapr-listen-addresses"); a != "" {
		c.APIListenAddresses = strings.Split(a, ",")
	}
	c.ProfilingEnabled = fs.Bool("enable-profiling")
	c.UnixDomainSocket = fs.String("unix-domain-socket")

	// Body and header limits (--max-body-size wins over the deprecated MB flag).
	c.MaxBodySize = 4 << 20
	if fs.Changed("max-body-size") {
		n, err := quantity.Parse(fs.String("max-body-size"))
		if err != nil {
			return nil, nil, fatal(log, "Failed to parse flags: invalid value for 'max-body-size' option: "+err.Error())
		}
		c.MaxBodySize = n
	} else if fs.Changed("dapr-http-max-request-size") {
		c.MaxBodySize = int64(fs.Int("dapr-http-max-request-size")) << 20
	}
	if c.MaxBodySize < 0 {
		c.MaxBodySize = 4 << 20
	}
	c.ReadBufferSize = 4 << 10
	if fs.Changed("read-buffer-size") {
		n, err := quantity.Parse(fs.String("read-buffer-size"))
		if err != nil {
			return nil, nil, fatal(log, "Failed to parse flags: invalid value for 'read-buffer-size' option: "+err.Error())
		}
		c.ReadBufferSize = int(n)
	} else if fs.Changed("dapr-http-read-buffer-size") {
		c.ReadBufferSize = fs.Int("dapr-http-read-buffer-size") << 10
	}
	if c.ReadBufferSize <= 0 {
		c.ReadBufferSize = 4 << 10
	}

	switch p := strings.ToLower(fs.String("app-protocol")); p {
	case "http", "":
		c.AppProtocol = "http"
		if fs.Bool("app-ssl") {
			c.AppProtocol = "https"
		}
	case "grpc":
		c.AppProtocol = "grpc"
		if fs.Bool("app-ssl") {
			c.AppProtocol = "grpcs"
		}
	case "https", "grpcs", "h2c":
		c.AppProtocol = p
	default:
		return nil, nil, fatal(log, "Fatal error from runtime: invalid value for 'app-protocol': "+fs.String("app-protocol"))
	}
	c.AppChannelAddress = fs.String("app-channel-address")
	if n := fs.Int("app-max-concurrency"); n > 0 {
		c.AppMaxConcurrency = n
	}
	// App health probe settings: checked even without
	// --enable-app-health-check, as daprd (pkg/runtime/config.go).
	iv := time.Duration(fs.Int("app-health-probe-interval")) * time.Second
	if iv <= 0 {
		iv = 5 * time.Second
	}
	to := time.Duration(fs.Int("app-health-probe-timeout")) * time.Millisecond
	if to <= 0 {
		to = 500 * time.Millisecond
	}
	if to > iv {
		return nil, nil, fatal(log, "Fatal error from runtime: value for 'health-probe-timeout' must be smaller than 'health-probe-interval'")
	}
	if fs.Bool("enable-app-health-check") {
		th := fs.Int("app-health-threshold")
		if th <= 0 {
			th = 3
		}
		c.AppHealth = &server.AppHealth{Path: fs.String("app-health-check-path"), Interval: iv, Timeout: to, Threshold: th}
	}
	if fs.Changed("dapr-block-shutdown-duration") {
		d := fs.Duration("dapr-block-shutdown-duration")
		rc.blockShutdown = &d
	}
	gs := fs.Int("dapr-graceful-shutdown-seconds")
	if gs < 0 {
		gs = 5
	}
	c.GracefulShutdown = time.Duration(gs) * time.Second

	if m := fs.String("mode"); m != "standalone" {
		log.Warn(fmt.Sprintf("--mode %s is accepted but statecar always runs in standalone mode", m))
	}
	for _, n := range sortedFlagNames() {
		d := flagDefs[n]
		if !d.ignored || !fs.Changed(n) {
			continue
		}
		if v := fs.String(n); v == "" && len(fs.Slice(n)) == 0 || v == d.def && d.kind != kStringSlice {
			continue
		}
		log.Info(fmt.Sprintf("Flag --%s is accepted for compatibility and ignored by statecar", n))
	}

	// Configuration files.
	conf, err := loader.LoadConfiguration(fs.Slice("config"))
	if err != nil {
		return nil, nil, fatal(log, "Fatal error from runtime: "+err.Error())
	}
	rc.configuration = conf
	ms := conf.MetricsSpec()
	c.MetricsEnabled = fs.Bool("enable-metrics")
	if ms.Enabled != nil && !*ms.Enabled {
		c.MetricsEnabled = false
	}
	if c.MetricsEnabled { // daprd's exporter parses the port only when it runs
		if c.MetricsPort, err = strconv.Atoi(fs.String("metrics-port")); err != nil {
			return nil, nil, fatal(log, "Fatal error from runtime: failed to parse metrics port: "+err.Error())
		}
	}
	c.Metrics.RecordErrorCodes = ms.RecordErrorCodes
	c.Metrics.IncreasedCardinality = ms.HTTP.IncreasedCardinality == nil || *ms.HTTP.IncreasedCardinality
	c.Metrics.ExcludeVerbs = ms.HTTP.ExcludeVerbs
	c.Metrics.PathMatching = ms.HTTP.PathMatching
	if len(ms.LatencyDistributionBuckets) > 0 {
		c.Metrics.LatencyBuckets = ms.LatencyDistributionBuckets
	}
	c.EnabledFeatures = conf.EnabledFeatures()
	for _, r := range conf.Spec.API.Allowed {
		c.APIAllowed = append(c.APIAllowed, server.APIRule{Name: r.Name, Version: r.Version, Protocol: r.Protocol})
	}
	for _, r := range conf.Spec.API.Denied {
		c.APIDenied = append(c.APIDenied, server.APIRule{Name: r.Name, Version: r.Version, Protocol: r.Protocol})
	}
	c.APILogging = conf.Spec.Logging.APILogging.Enabled
	if fs.Changed("enable-api-logging") {
		c.APILogging = fs.Bool("enable-api-logging")
	}
	c.APILogHealthChecks = !conf.Spec.Logging.APILogging.OmitHealthChecks

	// Data dir (Invariant 2).
	rc.dataDir = fs.String("data-dir")
	if rc.dataDir == "" {
		rc.dataDir = defaultDataDir(c.AppID)
	}

	// Resources.
	rc.resourcePaths = fs.Slice("resources-path")
	if len(rc.resourcePaths) == 0 && fs.String("components-path") != "" {
		rc.resourcePaths = []string{fs.String("components-path")}
	}
	lo := loader.Options{Paths: rc.resourcePaths, AppID: c.AppID, Namespace: c.Namespace, Logger: daprlog.Scope(root, "dapr.runtime.loader.disk")}
	res, err := loader.LoadResources(lo)
	if err != nil {
		return nil, nil, fatal(log, "Fatal error from runtime: failed to load components: "+err.Error())
	}
	comps := res.Components
	loader.Resolve(lo, comps)
	rc.subscriptions = res.Subscriptions
	endpoints, failed, warnings := loader.ResolveHTTPEndpoints(lo, res.HTTPEndpoints, comps)
	for _, w := range warnings {
		log.Warn(w)
	}
	for _, e := range res.HTTPEndpoints {
		if err := failed[e.Name]; err != nil {
			log.Warn(fmt.Sprintf("Failed to process HTTPEndpoint %s: %v", e.Name, err))
		}
	}
	for _, e := range endpoints {
		log.Info("HTTPEndpoint loaded: " + e.Name)
		rc.httpEndpoints = append(rc.httpEndpoints, api.HTTPEndpoint{Name: e.Name, BaseURL: e.BaseURL, Headers: e.Headers, TLS: e.TLS})
	}
	for _, e := range fs.Slice("disable-init-endpoints") {
		if strings.TrimSpace(e) == "subscribe" {
			rc.noSubscribeEndpoint = true
		}
	}

	addrs := c.APIListenAddresses
	if len(addrs) == 0 {
		addrs = []string{""}
	}
	for _, a := range addrs {
		rc.grpcAddrs = append(rc.grpcAddrs, net.JoinHostPort(strings.TrimSpace(a), strconv.Itoa(c.GRPCPort)))
	}
	return rc, comps, -1
}

func sortedFlagNames() []string {
	out := make([]string, 0, len(flagDefs))
	for n := range flagDefs {
		out = append(out, n)
	}
	sortStrings(out)
	return out
}

// defaultDataDir is $STATECAR_DATA_DIR, else $HOME/.statecar/data/<app-id>,
// else ./.statecar/data/<app-id>.
func defaultDataDir(appID string) string {
	if d := os.Getenv("STATECAR_DATA_DIR"); d != "" {
		return d
	}
	if h := os.Getenv("HOME"); h != "" {
		return filepath.Join(h, ".statecar", "data", appID)
	}
	return filepath.Join(".statecar", "data", appID)
}

// serve initialises the components and runs the servers until shutdown.
func serve(rc *runtimeConfig, comps []*loader.Component, fs *flagSet, log, root *slog.Logger, start time.Time) int {
	c := &rc.Config
	// Signals are caught from here on: one arriving during initialisation
	// is handled as soon as the sidecar is up (graceful, exit 0).
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	api.SetTelemetry(api.Telemetry{AppID: c.AppID, RecordErrorCodes: c.Metrics.RecordErrorCodes})
	log.Info("Loading components…")
	env := component.Env{AppID: c.AppID, Namespace: c.Namespace, DataDir: rc.dataDir, Logger: daprlog.Scope(root, "dapr.contrib")}
	ctx := context.Background()

	var infos []api.ComponentInfo
	var stores []api.StoreEntry
	engines := map[string]server.EngineMetricser{}
	var confStores []api.ConfigStore
	var lockStores []api.LockStore
	var outBindings []api.OutputBinding
	var brokers []api.PubSubEntry
	var inBindings []api.InputBindingEntry
	var convs []api.ConversationEntry
	closeAll := func() {
		for _, cv := range convs {
			_ = cv.Component.Close()
		}
		for _, ib := range inBindings {
			_ = ib.Binding.Close()
		}
		for _, b := range brokers {
			_ = b.Broker.Close()
		}
		for i := len(stores) - 1; i >= 0; i-- {
			_ = stores[i].Store.Close()
		}
		for _, cs := range confStores {
			_ = cs.Store.Close()
		}
		for _, ls := range lockStores {
			_ = ls.Store.Close()
		}
		for _, ob := range outBindings {
			_ = ob.Binding.Close()
		}
	}
	hasState := false
	for _, comp := range comps {
		if comp.Category() == "state" {
			hasState = true
		}
	}
	// Secret stores first (daprd's order), then the others.
	var secretStores []api.SecretStore
	scopes := rc.configuration.SecretsScopes()
	for _, comp := range comps {
		if comp.Category() != "secretstores" {
			continue
		}
		if err := loader.ResolveErr(comp); err != nil {
			perr := &loader.ProcessError{Name: comp.Name, Reason: "init", Err: &loader.InitError{Kind: "INIT_COMPONENT_FAILURE", Entity: comp.LogName(), Err: err}}
			if errors.Is(err, secretstore.ErrUnknownType) { // daprd: the registry has no such type
				perr = &loader.ProcessError{Name: comp.Name, Reason: "creation", Err: &loader.InitError{Kind: "CREATE_COMPONENT_FAILURE", Entity: comp.LogName(), Err: err}}
			}
			if code := componentFailed(log, c.AppID, comp, perr); code >= 0 {
				closeAll()
				return code
			}
			continue
		}
		log.Info("Component loaded: " + comp.LogName())
		server.RecordComponentLoaded(c.AppID, comp.Type)
		ss := loader.SecretStore(comp)
		infos = append(infos, api.ComponentInfo{Name: comp.Name, Type: comp.Type, Version: comp.Version, Capabilities: ss.Features()})
		sec := api.SecretStore{Name: comp.Name, Store: ss}
		if scope, ok := scopes[comp.Name]; ok {
			sec.Allowed = scope.IsSecretAllowed
		}
		secretStores = append(secretStores, sec)
	}
	// failed reports a component that did not initialise: exit is set
	// (with code) unless the component ignores errors.
	failed := func(comp *loader.Component, err error) (code int, exit bool) {
		if code := componentFailed(log, c.AppID, comp, err); code >= 0 {
			closeAll()
			return code, true
		}
		return 0, false
	}
	// loaded records a component that initialised, with its capabilities
	// in /v1.0/metadata.
	loaded := func(comp *loader.Component, caps ...string) {
		log.Info("Component loaded: " + comp.LogName())
		server.RecordComponentLoaded(c.AppID, comp.Type)
		infos = append(infos, api.ComponentInfo{Name: comp.Name, Type: comp.Type, Version: comp.Version, Capabilities: caps})
	}
	for _, comp := range comps {
		switch comp.Category() {
		case "secretstores":
			continue
		case "configuration":
			cs, err := loader.InitConfiguration(ctx, comp, env)
			if err != nil {
				if code, exit := failed(comp, err); exit {
					return code
				}
				continue
			}
			loaded(comp)
			confStores = append(confStores, api.ConfigStore{Name: comp.Name, Store: cs})
			continue
		case "lock":
			ls, prefix, err := loader.InitLock(ctx, comp, env)
			if err != nil {
				if code, exit := failed(comp, err); exit {
					return code
				}
				continue
			}
			loaded(comp)
			lockStores = append(lockStores, api.LockStore{Name: comp.Name, Store: ls, KeyPrefix: prefix})
			continue
		case "conversation":
			if !loader.HasConversation(comp) {
				log.Warn(fmt.Sprintf("Component %s is not supported by statecar (of the conversation components only conversation.echo is); it is skipped", comp.LogName()))
				continue
			}
			cv, err := loader.InitConversation(ctx, comp, env)
			if err != nil {
				if code, exit := failed(comp, err); exit {
					return code
				}
				continue
			}
			loaded(comp)
			convs = append(convs, api.ConversationEntry{Name: comp.Name, Component: cv})
			continue
		case "bindings":
			hasIn, hasOut := loader.HasInputBinding(comp), loader.HasOutputBinding(comp)
			if !hasIn && !hasOut {
				log.Warn(fmt.Sprintf("Component %s is not supported by statecar (of the bindings only bindings.cron as an input binding and bindings.redis, bindings.localstorage and bindings.http as output bindings are); it is skipped", comp.LogName()))
				continue
			}
			// daprd's order: the input side, then the output side, each
			// when the direction metadata allows it; the capabilities say
			// which sides were made.
			var caps []string
			if in, explicit := loader.IsInputDirection(comp); hasIn && in {
				ib, err := loader.InitInputBinding(ctx, comp, env)
				if err != nil {
					if code, exit := failed(comp, err); exit {
						return code
					}
					continue
				}
				log.Info(fmt.Sprintf("successful init for input binding (%s)", comp.LogName()))
				inBindings = append(inBindings, api.InputBindingEntry{Name: comp.Name, Binding: ib, Route: loader.InputRoute(comp), Explicit: explicit})
				caps = append(caps, "INPUT_BINDING")
			}
			if hasOut && loader.IsOutputDirection(comp) {
				ob, err := loader.InitOutputBinding(ctx, comp, env)
				if err != nil {
					if code, exit := failed(comp, err); exit {
						return code
					}
					continue
				}
				log.Info(fmt.Sprintf("successful init for output binding (%s)", comp.LogName()))
				outBindings = append(outBindings, api.OutputBinding{Name: comp.Name, Binding: ob})
				caps = append(caps, "OUTPUT_BINDING")
			}
			loaded(comp, caps...)
			continue
		case "pubsub":
			if !loader.HasPubSub(comp) {
				log.Warn(fmt.Sprintf("Component %s is not supported by statecar (of the pub/sub brokers only pubsub.redis and pubsub.in-memory are); it is skipped", comp.LogName()))
				continue
			}
			ps, err := loader.InitPubSub(ctx, comp, env)
			if err != nil {
				if code, exit := failed(comp, err); exit {
					return code
				}
				continue
			}
			loaded(comp, ps.Features()...)
			brokers = append(brokers, api.PubSubEntry{Name: comp.Name, Broker: ps, Metadata: comp.Spec.Metadata})
			continue
		case "state", "":
		default:
			log.Warn(fmt.Sprintf("Component %s is not supported by statecar (only state, local secret, configuration and lock stores, pub/sub brokers, bindings and conversation components are); it is skipped", comp.LogName()))
			continue
		}
		st, err := loader.InitState(ctx, comp, env)
		if err != nil {
			if code, exit := failed(comp, err); exit {
				return code
			}
			continue
		}
		log.Info("Component loaded: " + comp.LogName())
		server.RecordComponentLoaded(c.AppID, comp.Type)
		stores = append(stores, api.StoreEntry{Spec: comp.Spec, Store: st})
		if em := engineOf(st); em != nil {
			engines[comp.Name] = em
		}
	}
	if !hasState {
		st, spec, err := defaultStore(ctx, env)
		if err != nil {
			closeAll()
			return fatal(log, "Fatal error from runtime: cannot open the default state store: "+err.Error())
		}
		log.Info(fmt.Sprintf("No state store component found: serving the embedded default store %q (%s) with data in %s", spec.Name, spec.Type, filepath.Join(rc.dataDir, spec.Name)))
		log.Info("Component loaded: " + spec.Name + " (" + spec.Type + "/" + spec.Version + ")")
		server.RecordComponentLoaded(c.AppID, spec.Type)
		stores = append(stores, api.StoreEntry{Spec: spec, Store: st})
		if em := engineOf(st); em != nil {
			engines[spec.Name] = em
		}
	}
	state, err := api.New(api.Config{AppID: c.AppID, Namespace: c.Namespace, Stores: stores, MaxBodySize: c.MaxBodySize,
		DisableMetrics: !c.MetricsEnabled, LatencyBuckets: c.Metrics.LatencyBuckets})
	if err != nil {
		closeAll()
		return fatal(log, "Fatal error from runtime: "+err.Error())
	}
	infos = append(infos, state.Components()...)

	if v := os.Getenv("STATECAR_HTTP_SPIN_WORKER"); v != "" {
		d, perr := time.ParseDuration(v)
		if perr != nil || d > h1.MaxSpinWorker {
			closeAll()
			return fatal(log, fmt.Sprintf("Fatal error from runtime: STATECAR_HTTP_SPIN_WORKER %q: want a duration from 0 (off) to %v", v, h1.MaxSpinWorker))
		}
		rc.HTTPSpinWorker = d
		if d == 0 {
			rc.HTTPSpinWorker = -1 // "0" here means off, not the default
		}
	}
	var secrets *api.Secrets
	if len(secretStores) > 0 {
		secrets = api.NewSecrets(api.SecretsConfig{AppID: c.AppID, Namespace: c.Namespace, Stores: secretStores,
			LatencyBuckets: c.Metrics.LatencyBuckets, DisableMetrics: !c.MetricsEnabled})
	}
	rc.Secrets = secrets
	var conf *api.Configuration
	if len(confStores) > 0 {
		conf = api.NewConfiguration(api.ConfigurationConfig{AppID: c.AppID, Namespace: c.Namespace, Stores: confStores,
			LatencyBuckets: c.Metrics.LatencyBuckets, DisableMetrics: !c.MetricsEnabled})
	}
	rc.Configuration = conf
	var locks *api.Locks
	if len(lockStores) > 0 {
		locks = api.NewLocks(c.AppID, lockStores)
	}
	rc.Locks = locks
	var conversations *api.Conversations
	if len(convs) > 0 {
		conversations = api.NewConversations(api.ConversationsConfig{AppID: c.AppID, Namespace: c.Namespace, Components: convs,
			LatencyBuckets: c.Metrics.LatencyBuckets, DisableMetrics: !c.MetricsEnabled})
	}
	rc.Conversations = conversations
	// daprd's runtime namespace (security.CurrentNamespace), which the
	// jobs errors carry.
	jobsNamespace, ok := os.LookupEnv("NAMESPACE")
	if !ok {
		jobsNamespace = "default"
	}
	jobs := api.NewJobs(c.AppID, jobsNamespace)
	rc.Jobs = jobs
	// Always present: daprd counts calls of unknown bindings too.
	outputs := api.NewBindings(api.BindingsConfig{AppID: c.AppID, Namespace: c.Namespace, Bindings: outBindings,
		LatencyBuckets: c.Metrics.LatencyBuckets, DisableMetrics: !c.MetricsEnabled})
	rc.Bindings = outputs
	rc.AppChannel = appchannel.New(appchannel.Config{Protocol: c.AppProtocol, Address: c.AppChannelAddress, Port: c.AppPort,
		Token: os.Getenv("APP_API_TOKEN")})
	invoker := api.NewInvoker(api.InvokerConfig{AppID: c.AppID, App: rc.AppChannel.Invoker(),
		Endpoints: rc.httpEndpoints, MaxBodySize: c.MaxBodySize, LatencyBuckets: c.Metrics.LatencyBuckets, DisableMetrics: !c.MetricsEnabled})
	rc.Invoker = invoker
	pubsubs := api.NewPubSub(api.PubSubConfig{AppID: c.AppID, Namespace: c.Namespace, Brokers: brokers,
		LatencyBuckets: c.Metrics.LatencyBuckets, DisableMetrics: !c.MetricsEnabled})
	rc.PubSub = pubsubs
	subscriber := api.NewSubscriber(api.SubscriberConfig{AppID: c.AppID, Namespace: c.Namespace, PubSub: pubsubs,
		Declarative: declarativeSubscriptions(log, rc.subscriptions), App: rc.AppChannel.PubSub(c.AppID),
		DisableProgrammatic: rc.noSubscribeEndpoint, Logger: daprlog.Scope(root, "dapr.runtime.processor.subscriber")})
	rc.Subscriber = subscriber
	inputs := api.NewInputBindings(api.InputBindingsConfig{AppID: c.AppID, Namespace: c.Namespace, Bindings: inBindings,
		App: rc.AppChannel.Bindings(), Outputs: outputs, LatencyBuckets: c.Metrics.LatencyBuckets, DisableMetrics: !c.MetricsEnabled,
		Logger: daprlog.Scope(root, "dapr.runtime.processor.binding")})
	// From here on the stores close together: state, configuration, lock,
	// the bindings, the brokers and the app channel.
	closeStores := closerFunc(func() error {
		invoker.Close()
		return errors.Join(state.Close(), conf.Close(), locks.Close(), conversations.Close(), inputs.Close(), outputs.Close(), pubsubs.Close(), rc.AppChannel.Close())
	})
	rc.ForceShutdown = func() { forceExit(log, closeStores) }
	rt, err := server.New(rc.Config, state, infos)
	if err != nil {
		_ = closeStores.Close()
		return fatal(log, "Fatal error from runtime: "+err.Error())
	}
	if err := rt.Start(engines); err != nil {
		_ = rt.Stop(context.Background())
		_ = closeStores.Close()
		return fatal(log, "Fatal error from runtime: "+err.Error())
	}

	var grpcAPILog *slog.Logger
	if c.APILogging {
		grpcAPILog = daprlog.Scope(root, "dapr.runtime.grpc.api-info")
	}
	var grpcSocket string
	if c.UnixDomainSocket != "" {
		grpcSocket = server.UnixSocketPath(c.UnixDomainSocket, c.AppID, "grpc")
	}
	gs, err := grpcserver.New(grpcserver.Config{
		Addrs:             rc.grpcAddrs,
		UnixSocket:        grpcSocket,
		State:             state,
		Secrets:           secrets,
		Configuration:     conf,
		Locks:             locks,
		Conversations:     conversations,
		Jobs:              jobs,
		Bindings:          outputs,
		PubSub:            pubsubs,
		Subscriber:        subscriber,
		Invoker:           invoker,
		ProxyApp:          rc.AppChannel,
		AppID:             c.AppID,
		APIToken:          c.APIToken,
		MaxMsgSize:        int(c.MaxBodySize),
		MaxHeaderListSize: c.ReadBufferSize,
		Metadata:          rt.MetadataProto,
		SetMetadata:       rt.SetExtended,
		Shutdown:          rt.Shutdown,
		ForceShutdown:     rc.ForceShutdown,
		DisableMetrics:    !c.MetricsEnabled,
		APIAllowed:        grpcRules(c.APIAllowed),
		APIDenied:         grpcRules(c.APIDenied),
		LatencyBuckets:    c.Metrics.LatencyBuckets,
		APILogger:         grpcAPILog,
		Logger:            daprlog.Scope(root, "dapr.runtime.grpc.api"),
		// statecar's own HTTP/2 transport unless STATECAR_GRPC_TRANSPORT
		// says "grpc-go" (an unknown value fails the start).
		Transport: os.Getenv("STATECAR_GRPC_TRANSPORT"),
	})
	if err == nil {
		err = gs.Start()
	}
	if err != nil {
		_ = rt.Stop(context.Background())
		_ = closeStores.Close()
		return fatal(log, "Fatal error from runtime: failed to start gRPC server: "+err.Error())
	}
	if grpcSocket != "" {
		log.Info("API gRPC server is running on a Unix Domain Socket")
	} else {
		log.Info(fmt.Sprintf("API gRPC server is running on port %d", c.GRPCPort))
	}

	if c.GracefulShutdown == 0 {
		// daprd (dapr/kit NewRunnerCloserManager without a grace period).
		log.Warn("Graceful shutdown timeout is infinite, will wait indefinitely to shutdown")
	}
	rt.MarkReady()
	subscriber.Start()
	inputs.Start()
	log.Info(fmt.Sprintf("dapr initialized. Status: Running. Init Elapsed %vms", time.Since(start).Milliseconds()))

	exitCode := 0 // 1 when the shutdown was forced by a failed listener
	select {
	case s := <-sigs:
		log.Info(fmt.Sprintf("Received signal '%s'; beginning shutdown", s))
		if rc.blockShutdown != nil {
			// daprd keeps serving for the block duration (it also stops
			// early when the app reports unhealthy; statecar runs no app
			// health checks). A second signal still exits at once.
			log.Info(fmt.Sprintf("Blocking graceful shutdown for %s or until app reports unhealthy...", *rc.blockShutdown))
			select {
			case <-time.After(*rc.blockShutdown):
				log.Info("Block shutdown period expired, entering shutdown...")
			case s := <-sigs:
				log.Warn(fmt.Sprintf("Received signal '%s' during shutdown; exiting immediately", s))
				return 1
			}
		}
	case <-rt.ShutdownRequested():
		log.Info("Shutdown requested via API; beginning shutdown")
	case <-rt.HTTPFailed():
		log.Error(fmt.Sprintf("HTTP server stopped unexpectedly: %v; beginning shutdown", rt.HTTPErr()))
		exitCode = 1
	}
	go func() {
		s := <-sigs
		log.Warn(fmt.Sprintf("Received signal '%s' during shutdown; exiting immediately", s))
		os.Exit(1)
	}()

	// Invariant 1: stop accepting and drain, then close the stores.
	// --dapr-graceful-shutdown-seconds 0: no time limit, as daprd.
	sctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if c.GracefulShutdown > 0 {
		var tcancel context.CancelFunc
		sctx, tcancel = context.WithTimeout(sctx, c.GracefulShutdown)
		defer tcancel()
	}
	conf.StopSubscriptions() // or gRPC's graceful stop waits for SubscribeConfiguration streams
	// No new deliveries; the ones in flight finish (pub/sub and input
	// bindings together, within the same grace period).
	var drain sync.WaitGroup
	drain.Add(2)
	go func() { defer drain.Done(); subscriber.Stop(sctx) }()
	go func() { defer drain.Done(); inputs.Stop(sctx) }()
	drain.Wait()
	done := make(chan error, 2)
	go func() { done <- rt.Stop(sctx) }()
	go func() { done <- gs.GracefulStop(sctx) }()
	for range 2 {
		if err := <-done; err != nil {
			log.Warn("Error during graceful shutdown: " + err.Error())
		}
	}
	if err := closeStores.Close(); err != nil {
		log.Error("Error closing state stores: " + err.Error())
		return 1
	}
	log.Info("Daprd shutdown gracefully")
	return exitCode
}

// declarativeSubscriptions turns the Subscription resources into the
// subscriber's form; one whose routing rules do not compile is skipped with
// an error.
func declarativeSubscriptions(log *slog.Logger, docs []loader.SubscriptionDoc) []api.Subscription {
	var out []api.Subscription
	if len(docs) > 0 {
		log.Info("Loading Declarative Subscriptions…")
	}
next:
	for _, d := range docs {
		log.Info("Found Subscription: " + d.Name)
		sub := api.Subscription{Name: d.Name, PubsubName: d.PubsubName, Topic: d.Topic, Metadata: d.Metadata,
			DeadLetterTopic: d.DeadLetterTopic, BulkSubscribe: d.BulkEnabled, Scopes: d.Scopes}
		for _, r := range d.Rules {
			rule, err := api.NewRule(r.Match, r.Path)
			if err != nil {
				log.Error(fmt.Sprintf("Failed to process subscription %s: invalid match expression %q: %v", d.Name, r.Match, err))
				continue next
			}
			sub.Rules = append(sub.Rules, rule)
		}
		if d.Default != "" {
			sub.Rules = append(sub.Rules, api.Rule{Path: d.Default})
		}
		out = append(out, sub)
	}
	return out
}

// componentFailed logs a component failure as daprd does; it returns 1
// (exit) unless the component has ignoreErrors, then -1.
func componentFailed(log *slog.Logger, appID string, comp *loader.Component, err error) int {
	var pe *loader.ProcessError
	reason := "init"
	if errors.As(err, &pe) {
		reason = pe.Reason
	}
	server.RecordComponentInitFailed(appID, comp.Type, comp.Name, reason)
	if comp.IgnoreErrors {
		log.Error("Ignoring error processing component: " + err.Error())
		return -1
	}
	log.Warn("Error processing component, daprd will exit gracefully: " + err.Error())
	return fatal(log, "Fatal error from runtime: "+err.Error())
}

// defaultStore opens the embedded default store "statestore": state.pebble
// (durable, under <data-dir>/statestore), or state.in-memory when the
// embedded engine is not compiled in.
func defaultStore(ctx context.Context, env component.Env) (component.Store, component.Spec, error) {
	for _, typ := range []string{"state.pebble", "state.in-memory"} {
		f, ok := component.LookupState(typ)
		if !ok {
			continue
		}
		spec := component.Spec{Name: "statestore", Type: typ, Version: "v1", Metadata: map[string]string{}}
		st, err := f(ctx, spec, env)
		return st, spec, err
	}
	return nil, component.Spec{}, errors.New("no embedded state store type is registered")
}

// waitOutbound implements --wait: poll the outbound health endpoint of the
// sidecar on port until it answers 204 (exit 0) or 60 s pass (exit 1).
func waitOutbound(port string) int {
	url := "http://127.0.0.1:" + port + "/v1.0/healthz/outbound"
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if resp, err := client.Get(url); err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusNoContent {
				return 0
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return 1
}

// engineOf returns the engine figures of a store: the store itself when it
// implements server.EngineMetricser, or its kv.DB (the embedded stores).
func engineOf(st component.Store) server.EngineMetricser {
	if em, ok := st.(server.EngineMetricser); ok {
		return em
	}
	if d, ok := st.(interface{ DB() *kv.DB }); ok {
		return server.KVEngine(d.DB())
	}
	return nil
}

func grpcRules(rs []server.APIRule) []grpcserver.APIRule {
	out := make([]grpcserver.APIRule, 0, len(rs))
	for _, r := range rs {
		out = append(out, grpcserver.APIRule{Name: r.Name, Version: r.Version, Protocol: r.Protocol})
	}
	return out
}
