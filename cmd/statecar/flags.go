package main

import (
	"encoding/csv"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
)

// flagKind is how a flag's value is parsed (pflag's types).
type flagKind uint8

const (
	kString flagKind = iota
	kBool
	kInt
	kUint
	kDuration
	kStringSlice
)

type flagDef struct {
	kind  flagKind
	def   string
	usage string
	// ignored flags are accepted for compatibility and logged once when
	// set to a non-empty value.
	ignored bool
}

// flagDefs are daprd's flags (v1.16–v1.18 cmd/daprd/options) plus
// statecar's --data-dir.
var flagDefs = map[string]flagDef{
	"mode":                              {kString, "standalone", "Runtime mode for Dapr", false},
	"dapr-http-port":                    {kString, "3500", "HTTP port for Dapr API to listen on", false},
	"dapr-listen-addresses":             {kString, "", "One or more addresses for the Dapr API to listen on, CSV limited", false},
	"dapr-public-port":                  {kString, "", "Public port for Dapr Health and Metadata to listen on", false},
	"dapr-public-listen-address":        {kString, "", "Public listen address for Dapr Health and Metadata", false},
	"dapr-grpc-port":                    {kString, "50001", "gRPC port for the Dapr API to listen on", false},
	"dapr-internal-grpc-port":           {kString, "", "gRPC port for the Dapr Internal API to listen on", true},
	"dapr-internal-grpc-listen-address": {kString, "", "gRPC listen address for the Dapr Internal API", true},
	"app-port":                          {kString, "", "The port the application is listening on", false},
	"profile-port":                      {kString, "7777", "The port for the profile server", false},
	"app-protocol":                      {kString, "http", "Protocol for the application: grpc, grpcs, http, https, h2c", false},
	"components-path":                   {kString, "", "Alias for --resources-path", false},
	"resources-path":                    {kStringSlice, "", "Path for resources directory. If not specified, no resources will be loaded. Can be passed multiple times", false},
	"config":                            {kStringSlice, "", "Path to config file, or name of a configuration object. In standalone mode, can be passed multiple times", false},
	"app-id":                            {kString, "", "A unique ID for Dapr. Used for Service Discovery and state", false},
	"control-plane-address":             {kString, "", "Address for a Dapr control plane", true},
	"sentry-address":                    {kString, "", "Address for the Sentry CA service", true},
	"control-plane-trust-domain":        {kString, "localhost", "Trust domain of the Dapr control plane", false},
	"control-plane-namespace":           {kString, "default", "Namespace of the Dapr control plane", false},
	"sentry-request-jwt-audiences":      {kStringSlice, "", "JWT audience list for certificate signing requests", true},
	"allowed-origins":                   {kString, "", "Allowed HTTP origins", true},
	"enable-profiling":                  {kBool, "false", "Enable profiling", false},
	"version":                           {kBool, "false", "Prints the runtime version", false},
	"build-info":                        {kBool, "false", "Prints the build info", false},
	"wait":                              {kBool, "false", "wait for Dapr outbound ready", false},
	"app-max-concurrency":               {kInt, "-1", "Controls the concurrency level when forwarding requests to user code; set to -1 for no limits", false},
	"enable-mtls":                       {kBool, "false", "Enables automatic mTLS for daprd-to-daprd communication channels", true},
	"app-ssl":                           {kBool, "false", "Sets the URI scheme of the app to https and attempts a TLS connection", false},
	"dapr-http-max-request-size":        {kInt, "4", "Max size of request body in MB", false},
	"max-body-size":                     {kString, "4Mi", "Max size of request body for the Dapr HTTP and gRPC servers, as a resource quantity", false},
	"dapr-http-read-buffer-size":        {kInt, "4", "Max size of read buffer, in KB (also used to handle request headers)", false},
	"read-buffer-size":                  {kString, "4Ki", "Max size of read buffer, as a resource quantity (also used to handle request headers)", false},
	"unix-domain-socket":                {kString, "", "Path to a unix domain socket dir mount. If specified, Dapr API servers will use Unix Domain Sockets", false},
	"dapr-graceful-shutdown-seconds":    {kInt, "5", "Graceful shutdown time in seconds", false},
	"dapr-block-shutdown-duration":      {kDuration, "0s", "If enabled, will block graceful shutdown after terminate signal is received until either the given duration has elapsed or the app reports unhealthy. Disabled by default", false},
	"enable-api-logging":                {kBool, "false", "Enable API logging for API calls", false},
	"disable-builtin-k8s-secret-store":  {kBool, "false", "Disable the built-in Kubernetes Secret Store", true},
	"enable-app-health-check":           {kBool, "false", "Enable health checks for the application using the protocol defined with app-protocol", false},
	"app-health-check-path":             {kString, "/healthz", "Path used for health checks; HTTP only", false},
	"app-health-probe-interval":         {kInt, "5", "Interval to probe for the health of the app in seconds", false},
	"app-health-probe-timeout":          {kInt, "500", "Timeout for app health probes in milliseconds", false},
	"app-health-threshold":              {kInt, "3", "Number of consecutive failures for the app to be considered unhealthy", false},
	"app-channel-address":               {kString, "127.0.0.1", "The network address the application listens on", false},
	"app-binding-options-timeout":       {kDuration, "3s", "OPTIONS discovery timeout for input bindings", true},
	"disable-init-endpoints":            {kStringSlice, "", "List of initialization endpoints to disable. Supported values: config, subscribe", true},
	"placement-host-address":            {kString, "", "Addresses for Dapr Actor Placement servers (overrides actors-service)", true},
	"scheduler-host-address":            {kStringSlice, "", "Addresses of the Scheduler service instance(s), as comma separated host:port pairs", true},
	"scheduler-job-streams":             {kUint, "3", "The number of active job streams to connect to the Scheduler service", true},
	"actors-disseminate-timeout":        {kDuration, "10s", "Timeout for the daprd-side actor placement dissemination round", true},
	"hot-reload-reconcile-interval":     {kDuration, "0s", "Period of the hot-reload backup reconcile", true},
	"reminders-service":                 {kString, "", "Type and address of the reminders service, in the format 'type:address'", true},
	"actors-service":                    {kString, "", "Type and address of the actors service, in the format 'type:address'", true},
	"log-level":                         {kString, "info", "Options are debug, info, warn, error, or fatal (default info)", false},
	"log-as-json":                       {kBool, "false", "print log as JSON (default false)", false},
	"metrics-port":                      {kString, "9090", "The port for the metrics server", false},
	"metrics-listen-address":            {kString, "0.0.0.0", "The address for the metrics server", false},
	"enable-metrics":                    {kBool, "true", "Enable prometheus metric", false},
	"data-dir":                          {kString, "", "statecar: directory of the embedded default state store (default $STATECAR_DATA_DIR, else $HOME/.statecar/data/<app-id>, else ./.statecar/data/<app-id>)", false},
}

// flagSet holds parsed values.
type flagSet struct {
	str     map[string]string
	slices  map[string][]string
	changed map[string]bool
	help    bool
}

// String returns the value of a non-slice flag (its default when unset);
// Bool, Int and Duration parse it (values were validated by set).
func (f *flagSet) String(n string) string { return f.str[n] }

// Bool returns a boolean flag.
func (f *flagSet) Bool(n string) bool {
	b, _ := strconv.ParseBool(f.str[n])
	return b
}

// Int returns an integer flag.
func (f *flagSet) Int(n string) int {
	v, _ := strconv.ParseInt(f.str[n], 0, 64)
	return int(v)
}

// Duration returns a duration flag.
func (f *flagSet) Duration(n string) time.Duration {
	d, _ := time.ParseDuration(f.str[n])
	return d
}

// Slice returns a string-slice flag (nil when unset).
func (f *flagSet) Slice(n string) []string { return f.slices[n] }

// Changed reports whether the flag was given on the command line.
func (f *flagSet) Changed(n string) bool { return f.changed[n] }

// errUsage marks pflag's exit-2 parse errors.
type errUsage struct{ msg string }

// Error returns pflag's message.
func (e *errUsage) Error() string { return e.msg }

// parseFlags parses args as daprd does: single-dash long flags are
// rewritten to double dash, then pflag's rules apply (--f v, --f=v, bare
// booleans, repeatable CSV slices, "--" ends the flags, other words are
// ignored positional arguments).
func parseFlags(args []string) (*flagSet, error) {
	fs := &flagSet{str: map[string]string{}, slices: map[string][]string{}, changed: map[string]bool{}}
	for n, d := range flagDefs {
		if d.kind != kStringSlice {
			fs.str[n] = d.def
		}
	}
	for i := 0; i < len(args); i++ {
		a := args[i]
		if len(a) > 2 && a[0] == '-' && a[1] != '-' {
			a = "-" + a
		}
		if a == "--" {
			break
		}
		if len(a) < 3 || a[0] != '-' || a[1] != '-' {
			if a == "-h" {
				fs.help = true
				continue
			}
			continue // positional argument
		}
		name, value, hasValue := strings.Cut(a[2:], "=")
		if name == "help" {
			fs.help = true
			continue
		}
		d, ok := flagDefs[name]
		if !ok {
			return nil, &errUsage{"unknown flag: --" + name}
		}
		if !hasValue {
			if d.kind == kBool {
				value = "true"
			} else {
				if i+1 >= len(args) {
					return nil, &errUsage{"flag needs an argument: --" + name}
				}
				i++
				value = args[i]
			}
		}
		if err := fs.set(name, d, value); err != nil {
			return nil, &errUsage{fmt.Sprintf("invalid argument %q for %q flag: %v", value, "--"+name, err)}
		}
	}
	return fs, nil
}

func (fs *flagSet) set(name string, d flagDef, value string) error {
	switch d.kind {
	case kBool:
		if _, err := strconv.ParseBool(value); err != nil {
			return err
		}
	case kInt:
		if _, err := strconv.ParseInt(value, 0, 64); err != nil {
			return err
		}
	case kUint:
		if _, err := strconv.ParseUint(value, 0, 64); err != nil {
			return err
		}
	case kDuration:
		if _, err := time.ParseDuration(value); err != nil {
			return err
		}
	case kStringSlice:
		var vals []string
		if value != "" {
			r := csv.NewReader(strings.NewReader(value))
			rec, err := r.Read()
			if err != nil {
				return err
			}
			vals = rec
		}
		if !fs.changed[name] {
			fs.slices[name] = vals
		} else {
			fs.slices[name] = append(fs.slices[name], vals...)
		}
		fs.changed[name] = true
		return nil
	}
	fs.str[name] = value
	fs.changed[name] = true
	return nil
}

func usage() string {
	names := make([]string, 0, len(flagDefs))
	for n := range flagDefs {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	b.WriteString("Usage of statecar:\n")
	for _, n := range names {
		d := flagDefs[n]
		typ := map[flagKind]string{kString: "string", kBool: "", kInt: "int", kUint: "uint", kDuration: "duration", kStringSlice: "strings"}[d.kind]
		fmt.Fprintf(&b, "      --%s %s\t%s", n, typ, d.usage)
		if d.def != "" && d.def != "false" && d.def != "0s" {
			fmt.Fprintf(&b, " (default %q)", d.def)
		}
		b.WriteString("\n")
	}
	return b.String()
}

func sortStrings(s []string) { sort.Strings(s) }
