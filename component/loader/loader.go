package loader

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/statecar/statecar/component"
	"github.com/statecar/statecar/component/binding"
	"github.com/statecar/statecar/component/configstore"
	"github.com/statecar/statecar/component/conversation"
	"github.com/statecar/statecar/component/lockstore"
	"github.com/statecar/statecar/component/pubsub"
	"github.com/statecar/statecar/component/secretstore"
)

// DefaultInitTimeout is daprd's per-component init timeout.
const DefaultInitTimeout = 5 * time.Second

// Component is one loaded Component resource.
type Component struct {
	component.Spec
	// InitTimeout is spec.initTimeout, DefaultInitTimeout when absent or
	// unparsable (as daprd).
	InitTimeout time.Duration
	// SecretStore is auth.secretStore.
	SecretStore string
	// File is the file the document came from.
	File string

	// refs are the metadata entries still to resolve through a secret store.
	refs []secretRef
	// resolveErr is set by Resolve when a value could not be resolved
	// (Invariant 4).
	resolveErr error
	// secrets is the opened store of a secretstores component (Resolve).
	secrets secretstore.Store
}

type secretRef struct {
	name, secret, key string
}

// LogName is daprd's "name (type/version)" (or "name (type)" without a
// version).
func (c *Component) LogName() string {
	if c.Version == "" {
		return fmt.Sprintf("%s (%s)", c.Name, c.Type)
	}
	return fmt.Sprintf("%s (%s/%s)", c.Name, c.Type, c.Version)
}

// Category is the building block of the component type ("state",
// "secretstores", "pubsub", ...), or "" when the type names none.
func (c *Component) Category() string {
	t := strings.ToLower(c.Type)
	for _, cat := range categories {
		if strings.HasPrefix(t, cat+".") {
			return cat
		}
	}
	return ""
}

// daprd's component categories (pkg/components/category.go).
var categories = []string{
	"bindings", "pubsub", "secretstores", "state", "middleware", "configuration",
	"lock", "crypto", "nameresolution", "workflow", "conversation",
}

// Options say where and for whom to load components.
type Options struct {
	// Paths are the resource folders, in order.
	Paths []string
	// AppID filters scoped components.
	AppID string
	// Namespace is env NAMESPACE; when non-empty, components of another
	// namespace are skipped.
	Namespace string
	// LookupEnv reads environment variables (envRef, DAPR_ENV_KEYS,
	// secretstores.local.env); nil means os.LookupEnv.
	LookupEnv func(string) (string, bool)
	// Environ lists the environment for the bulk reads of
	// secretstores.local.env; nil means os.Environ.
	Environ func() []string
	// Logger receives daprd's warnings; nil means slog.Default().
	Logger *slog.Logger
}

func (o *Options) lookup(k string) (string, bool) {
	if o.LookupEnv != nil {
		return o.LookupEnv(k)
	}
	return os.LookupEnv(k)
}

func (o *Options) log() *slog.Logger {
	if o.Logger != nil {
		return o.Logger
	}
	return slog.Default()
}

// yaml shapes of the documents.
type typeMeta struct {
	APIVersion string `yaml:"apiVersion"`
	Kind       string `yaml:"kind"`
	Metadata   struct {
		Name      string `yaml:"name"`
		Namespace string `yaml:"namespace"`
	} `yaml:"metadata"`
}

type componentDoc struct {
	Spec struct {
		Type         string      `yaml:"type"`
		Version      string      `yaml:"version"`
		IgnoreErrors bool        `yaml:"ignoreErrors"`
		InitTimeout  string      `yaml:"initTimeout"`
		Metadata     []metaEntry `yaml:"metadata"`
	} `yaml:"spec"`
	Auth struct {
		SecretStore string `yaml:"secretStore"`
	} `yaml:"auth"`
	Scopes []string `yaml:"scopes"`
}

type metaEntry struct {
	Name     string `yaml:"name"`
	valueRef `yaml:",inline"`
}

// valueRef is a value as Dapr resources write one: value, envRef or
// secretKeyRef (component metadata, HTTPEndpoint headers and TLS).
type valueRef struct {
	Value        yaml.Node `yaml:"value"`
	EnvRef       string    `yaml:"envRef"`
	SecretKeyRef struct {
		Name string `yaml:"name"`
		Key  string `yaml:"key"`
	} `yaml:"secretKeyRef"`
}

// Load reads every Component of the folders, filters it by namespace and
// scope, and resolves value and envRef entries (secretKeyRef entries are
// resolved by Resolve once secret stores are known).
func Load(o Options) ([]*Component, error) {
	res, err := LoadResources(o)
	if err != nil {
		return nil, err
	}
	return res.Components, nil
}

// Resources are the resources of the folders that statecar reads.
type Resources struct {
	Components    []*Component
	Subscriptions []SubscriptionDoc
	// HTTPEndpoints are unresolved until ResolveHTTPEndpoints.
	HTTPEndpoints []*HTTPEndpoint
}

// LoadResources is Load that also returns the Subscription (see
// LoadSubscriptions) and HTTPEndpoint resources of the same files, reading
// each file once.
func LoadResources(o Options) (*Resources, error) {
	var all []*Component
	var subs []SubscriptionDoc
	var endpoints []*HTTPEndpoint
	for _, dir := range o.Paths {
		entries, err := os.ReadDir(dir)
		if err != nil {
			return nil, err
		}
		for _, e := range entries {
			if e.IsDir() {
				continue
			}
			name := e.Name()
			if !isYAML(name) {
				o.log().Warn(fmt.Sprintf("A non-YAML Component file %s was detected, it will not be loaded", name))
				continue
			}
			path := filepath.Join(dir, name)
			data, err := os.ReadFile(path)
			if err != nil {
				o.log().Warn(fmt.Sprintf("daprd load Component error when opening file %s: %v", path, err))
				continue
			}
			comps, err := decodeFile(&o, path, data)
			if err != nil {
				o.log().Warn(fmt.Sprintf("daprd load Component error when parsing manifests yaml resource in %s: %v", path, err))
			}
			all = append(all, comps...)
			docs, err := decodeSubscriptions(path, data)
			if err != nil {
				o.log().Warn(fmt.Sprintf("daprd load Subscription error when parsing manifests yaml resource in %s: %v", path, err))
			}
			for _, d := range docs {
				if o.Namespace == "" || d.Namespace == "" || d.Namespace == o.Namespace {
					subs = append(subs, d)
				}
			}
			eps, err := decodeHTTPEndpoints(path, data)
			if err != nil {
				o.log().Warn(fmt.Sprintf("daprd load HTTPEndpoint error when parsing manifests yaml resource in %s: %v", path, err))
			}
			for _, e := range eps {
				if keepHTTPEndpoint(&o, e) {
					endpoints = append(endpoints, e)
				}
			}
		}
	}
	comps, err := filter(&o, all)
	if err != nil {
		return nil, err
	}
	return &Resources{Components: comps, Subscriptions: subs, HTTPEndpoints: endpoints}, nil
}

// eachDoc calls fn for every "---"-separated YAML document of data with its
// apiVersion, kind and metadata; documents whose header does not parse are
// errors, and so is whatever fn returns.
func eachDoc(data []byte, fn func(doc []byte, tm *typeMeta) error) error {
	var errs []error
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64<<10), len(data)+1)
	sc.Split(splitYAMLDoc)
	for sc.Scan() {
		doc := sc.Bytes()
		var tm typeMeta
		if err := yaml.Unmarshal(doc, &tm); err != nil {
			errs = append(errs, err)
			continue
		}
		if err := fn(doc, &tm); err != nil {
			errs = append(errs, err)
		}
	}
	if err := sc.Err(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

func isYAML(name string) bool {
	n := strings.ToLower(name)
	return strings.HasSuffix(n, ".yaml") || strings.HasSuffix(n, ".yml")
}

func filter(o *Options, all []*Component) ([]*Component, error) {
	names := map[string]string{}
	var out []*Component
	var errs []error
	for _, c := range all {
		if o.Namespace != "" && c.Namespace != "" && c.Namespace != o.Namespace {
			continue
		}
		if existing, ok := names[c.Name]; ok {
			errs = append(errs, fmt.Errorf("duplicate definition of Component name %s with existing %s", c.LogName(), existing))
			continue
		}
		if len(c.Scopes) != 0 && !contains(c.Scopes, o.AppID) {
			continue
		}
		names[c.Name] = c.LogName()
		out = append(out, c)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return out, nil
}

func contains(xs []string, x string) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}

func decodeFile(o *Options, path string, data []byte) ([]*Component, error) {
	var out []*Component
	err := eachDoc(data, func(doc []byte, tm *typeMeta) error {
		if tm.APIVersion != "dapr.io/v1alpha1" || tm.Kind != "Component" {
			return nil
		}
		if msgs := pathSegmentErrors(tm.Metadata.Name); len(msgs) > 0 {
			return fmt.Errorf("invalid name %q for %q: %s", tm.Metadata.Name, "Component", strings.Join(msgs, "; "))
		}
		if tm.Metadata.Name == "" {
			return nil // daprd skips nameless components silently
		}
		var cd componentDoc
		if err := yaml.Unmarshal(doc, &cd); err != nil {
			return err
		}
		c := &Component{
			Spec: component.Spec{
				Name:         tm.Metadata.Name,
				Namespace:    tm.Metadata.Namespace,
				Type:         cd.Spec.Type,
				Version:      cd.Spec.Version,
				Metadata:     map[string]string{},
				IgnoreErrors: cd.Spec.IgnoreErrors,
				Scopes:       cd.Scopes,
			},
			InitTimeout: DefaultInitTimeout,
			SecretStore: cd.Auth.SecretStore,
			File:        path,
		}
		if d, err := time.ParseDuration(cd.Spec.InitTimeout); err == nil {
			c.InitTimeout = d
		}
		for _, m := range cd.Spec.Metadata {
			switch {
			case !m.Value.IsZero():
				c.Metadata[m.Name] = nodeString(&m.Value)
			case m.EnvRef != "":
				if envAllowed(o, m.EnvRef) {
					v, _ := o.lookup(m.EnvRef)
					c.Metadata[m.Name] = v
				} else {
					o.log().Warn(fmt.Sprintf("Component %s references an env variable that isn't allowed: %s", c.Name, m.EnvRef))
				}
			case m.SecretKeyRef.Name != "":
				key := m.SecretKeyRef.Key
				if key == "" {
					key = m.SecretKeyRef.Name
				}
				c.refs = append(c.refs, secretRef{name: m.Name, secret: m.SecretKeyRef.Name, key: key})
			default:
				c.Metadata[m.Name] = ""
			}
		}
		out = append(out, c)
		return nil
	})
	return out, err
}

// nodeString renders a metadata value as daprd's DynamicValue.String does:
// strings as is, other scalars in their written form, structures as JSON.
func nodeString(n *yaml.Node) string {
	if n.Kind == yaml.ScalarNode {
		if n.Tag == "!!null" {
			return ""
		}
		return n.Value
	}
	var v any
	if err := n.Decode(&v); err != nil {
		return n.Value
	}
	b, err := json.Marshal(jsonable(v))
	if err != nil {
		return n.Value
	}
	return string(b)
}

// jsonable converts yaml's map[any]any-free output (yaml.v3 produces
// map[string]any) recursively so json.Marshal accepts it.
func jsonable(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = jsonable(e)
		}
		return x
	case map[any]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[fmt.Sprint(k)] = jsonable(e)
		}
		return m
	case []any:
		for i, e := range x {
			x[i] = jsonable(e)
		}
		return x
	}
	return v
}

// envAllowed is daprd's isEnvVarAllowed (Invariant 3).
func envAllowed(o *Options, key string) bool {
	key = strings.ToUpper(key)
	switch {
	case key == "", key == "APP_API_TOKEN", strings.HasPrefix(key, "DAPR_"), strings.Contains(key, " "):
		return false
	}
	allow, _ := o.lookup("DAPR_ENV_KEYS")
	if allow == "" {
		return true
	}
	idx := strings.Index(allow, key)
	return idx >= 0 &&
		(idx+len(key) == len(allow) || allow[idx+len(key)] == ' ') &&
		(idx == 0 || allow[idx-1] == ' ')
}

// pathSegmentErrors is k8s path.IsValidPathSegmentName.
func pathSegmentErrors(name string) []string {
	var msgs []string
	if name == "." || name == ".." {
		msgs = append(msgs, fmt.Sprintf("may not be '%s'", name))
	}
	for _, illegal := range []string{"/", "%"} {
		if strings.Contains(name, illegal) {
			msgs = append(msgs, fmt.Sprintf(`may not contain '%s'`, illegal))
		}
	}
	return msgs
}

const yamlSeparator = "\n---"

// splitYAMLDoc is daprd's splitter: a document ends at a line starting with
// "---" (the rest of that line is dropped).
func splitYAMLDoc(data []byte, atEOF bool) (advance int, token []byte, err error) {
	if atEOF && len(data) == 0 {
		return 0, nil, nil
	}
	sep := len(yamlSeparator)
	if i := bytes.Index(data, []byte(yamlSeparator)); i >= 0 {
		i += sep
		after := data[i:]
		if len(after) == 0 {
			if atEOF {
				return len(data), data[:len(data)-sep], nil
			}
			return 0, nil, nil
		}
		if j := bytes.IndexByte(after, '\n'); j >= 0 {
			return i + j + 1, data[0 : i-sep], nil
		}
		if atEOF {
			return len(data), data[0 : i-sep], nil
		}
		return 0, nil, nil
	}
	if atEOF {
		return len(data), data, nil
	}
	return 0, nil, nil
}

// Resolve opens the secret stores among comps (secretstores.local.env,
// secretstores.local.file; see SecretStore) and resolves the secretKeyRef
// entries of the other components through them, as daprd does: the value of
// {name, key} is pair key (default: name) of secret name. A failure is kept
// in the component and reported by InitState (Invariant 4).
func Resolve(o Options, comps []*Component) {
	stores := map[string]secretstore.Store{}
	so := secretstore.Options{Lookup: o.lookup, Environ: o.Environ}
	for _, c := range comps {
		if c.Category() != "secretstores" {
			continue
		}
		s, err := secretstore.Open(c.Type, c.Version, c.Metadata, so)
		if err != nil {
			c.resolveErr = err
			continue
		}
		c.secrets = s
		stores[c.Name] = s
	}
	for _, c := range comps {
		if len(c.refs) == 0 || c.Category() == "secretstores" {
			continue
		}
		s, ok := stores[c.SecretStore]
		if !ok {
			c.resolveErr = fmt.Errorf("component %s references a secret store that isn't loaded: %s", c.Name, c.SecretStore)
			continue
		}
		for _, r := range c.refs {
			v, err := secretValue(s, c.SecretStore, r.secret, r.key, c.Namespace)
			if err != nil {
				c.resolveErr = err
				break
			}
			c.Metadata[r.name] = v
		}
	}
}

// secretValue reads pair key (default: name) of secret name from store s
// (named storeName), in namespace, as daprd resolves a secretKeyRef.
func secretValue(s secretstore.Store, storeName, name, key, namespace string) (string, error) {
	if key == "" {
		key = name
	}
	data, err := s.Get(context.Background(), name, map[string]string{"namespace": namespace})
	v, ok := data[key]
	if err != nil || !ok {
		return "", fmt.Errorf("secret %s/%s not found in secret store %s", name, key, storeName)
	}
	return v, nil
}

// SecretStore returns the store Resolve opened for a secretstores
// component, nil for any other component or one that failed to open
// (ResolveErr tells why).
func SecretStore(c *Component) secretstore.Store { return c.secrets }

// InitError is daprd's rterrors.InitError text.
type InitError struct {
	Kind   string // "CREATE_COMPONENT_FAILURE" or "INIT_COMPONENT_FAILURE"
	Entity string // the component's LogName
	Err    error
}

// Error renders "[KIND]: initialization error occurred for ENTITY: ERR".
func (e *InitError) Error() string {
	return fmt.Sprintf("[%s]: initialization error occurred for %s: %s", e.Kind, e.Entity, e.Err)
}

// Unwrap returns the cause.
func (e *InitError) Unwrap() error { return e.Err }

// ProcessError is daprd's "process component {name} error: {err}".
type ProcessError struct {
	Name   string
	Reason string // metric label of dapr_runtime_component_init_fail_total: "creation" or "init"
	Err    error
}

// Error renders "process component NAME error: ERR".
func (e *ProcessError) Error() string {
	return fmt.Sprintf("process component %s error: %s", e.Name, e.Err)
}

// Unwrap returns the cause.
func (e *ProcessError) Unwrap() error { return e.Err }

// InitState creates and initialises a state store component within its
// InitTimeout. Errors are *ProcessError with daprd's texts.
func InitState(ctx context.Context, c *Component, env component.Env) (component.Store, error) {
	if c.Category() != "state" {
		return nil, &ProcessError{Name: c.Name, Reason: "creation", Err: fmt.Errorf("incorrect type %s", c.Type)}
	}
	if c.resolveErr != nil {
		return nil, creationError(c, c.resolveErr)
	}
	f, ok := component.LookupState(c.Type)
	if !ok {
		return nil, creationError(c, fmt.Errorf("couldn't find state store %s/%s", c.Type, c.Version))
	}
	spec, err := expandSpec(c, env)
	if err != nil {
		return nil, initError(c, err)
	}
	return initWithin(ctx, c, func(ctx context.Context) (component.Store, error) { return f(ctx, spec, env) })
}

// InitConfiguration creates and initialises a configuration store
// component (configuration.redis, configuration.postgresql) within its
// InitTimeout. Errors are *ProcessError with daprd's texts.
func InitConfiguration(ctx context.Context, c *Component, env component.Env) (configstore.Store, error) {
	if c.Category() != "configuration" {
		return nil, &ProcessError{Name: c.Name, Reason: "creation", Err: fmt.Errorf("incorrect type %s", c.Type)}
	}
	if c.resolveErr != nil {
		return nil, creationError(c, c.resolveErr)
	}
	if !slices.Contains(configstore.Types(), strings.ToLower(c.Type)) {
		return nil, creationError(c, fmt.Errorf("%w %s/%s", configstore.ErrUnknownType, c.Type, c.Version))
	}
	spec, err := expandSpec(c, env)
	if err != nil {
		return nil, initError(c, err)
	}
	return initWithin(ctx, c, func(ctx context.Context) (configstore.Store, error) { return configstore.Open(ctx, spec, env) })
}

// InitLock creates and initialises a lock store component (lock.redis)
// within its InitTimeout and reads its keyPrefix strategy, in daprd's order
// (the store first, then the prefix). Errors are *ProcessError with daprd's
// texts.
func InitLock(ctx context.Context, c *Component, env component.Env) (lockstore.Store, string, error) {
	if c.Category() != "lock" {
		return nil, "", &ProcessError{Name: c.Name, Reason: "creation", Err: fmt.Errorf("incorrect type %s", c.Type)}
	}
	if c.resolveErr != nil {
		return nil, "", creationError(c, c.resolveErr)
	}
	if !slices.Contains(lockstore.Types(), strings.ToLower(c.Type)) {
		return nil, "", creationError(c, fmt.Errorf("%w %s/%s", lockstore.ErrUnknownType, c.Type, c.Version))
	}
	spec, err := expandSpec(c, env)
	if err != nil {
		return nil, "", initError(c, err)
	}
	st, err := initWithin(ctx, c, func(ctx context.Context) (lockstore.Store, error) { return lockstore.Open(ctx, spec, env) })
	if err != nil {
		return nil, "", err
	}
	prefix, err := lockstore.KeyPrefix(c.Spec.Metadata)
	if err != nil {
		_ = st.Close()
		return nil, "", &ProcessError{Name: c.Name, Reason: "init", Err: &InitError{Kind: "INIT_COMPONENT_FAILURE", Entity: c.LogName(), Err: err}}
	}
	return st, prefix, nil
}

// HasConversation reports whether c is a conversation component statecar
// implements (conversation.echo).
func HasConversation(c *Component) bool {
	return c.Category() == "conversation" && slices.Contains(conversation.Types(), strings.ToLower(c.Type))
}

// InitConversation creates a conversation component within its
// InitTimeout. Errors are *ProcessError with daprd's texts.
func InitConversation(ctx context.Context, c *Component, env component.Env) (conversation.Conversation, error) {
	if c.Category() != "conversation" {
		return nil, &ProcessError{Name: c.Name, Reason: "creation", Err: fmt.Errorf("incorrect type %s", c.Type)}
	}
	if c.resolveErr != nil {
		return nil, creationError(c, c.resolveErr)
	}
	spec, err := expandSpec(c, env)
	if err != nil {
		return nil, initError(c, err)
	}
	switch v := strings.ToLower(c.Version); v {
	case "", "v0", "v1": // the one version of conversation.echo
	default:
		return nil, creationError(c, fmt.Errorf("%w %s/%s", conversation.ErrUnknownType, strings.ToLower(c.Type), v))
	}
	return initWithin(ctx, c, func(ctx context.Context) (conversation.Conversation, error) { return conversation.Open(ctx, spec, env) })
}

// HasOutputBinding reports whether c is a bindings component statecar
// implements as an output binding (bindings.redis).
func HasOutputBinding(c *Component) bool {
	return c.Category() == "bindings" && slices.Contains(binding.Types(), strings.ToLower(c.Type))
}

// HasInputBinding reports whether c is a bindings component statecar
// implements as an input binding (bindings.cron).
func HasInputBinding(c *Component) bool {
	return c.Category() == "bindings" && slices.Contains(binding.InputTypes(), strings.ToLower(c.Type))
}

// IsOutputDirection applies daprd's direction metadata: without it a
// binding is both input and output; with it, only the listed directions
// ("input", "output", comma-separated, case-insensitive).
func IsOutputDirection(c *Component) bool {
	explicit, found := hasDirection(c, "output")
	return explicit || !found
}

// IsInputDirection is IsOutputDirection for "input"; explicit reports that
// the direction metadata names it (daprd then reads the binding without
// asking the app whether it takes its events).
func IsInputDirection(c *Component) (input, explicit bool) {
	explicit, found := hasDirection(c, "input")
	return explicit || !found, explicit
}

// hasDirection reports whether the direction metadata lists dir, and
// whether there is direction metadata at all.
func hasDirection(c *Component, dir string) (listed, found bool) {
	for k, v := range c.Spec.Metadata {
		if !strings.EqualFold(k, "direction") {
			continue
		}
		found = true
		for _, d := range strings.Split(v, ",") {
			if strings.TrimSpace(strings.ToLower(d)) == dir {
				return true, true
			}
		}
	}
	return false, found
}

// InputRoute is the app path of an input binding's events: the "route"
// metadata (exact name, as daprd reads it), else the component name.
func InputRoute(c *Component) string {
	if r, ok := c.Spec.Metadata["route"]; ok {
		return r
	}
	return c.Name
}

// InitInputBinding creates and initialises an input binding component
// within its InitTimeout. Errors are *ProcessError with daprd's texts.
func InitInputBinding(ctx context.Context, c *Component, env component.Env) (binding.Input, error) {
	if c.resolveErr != nil {
		return nil, creationError(c, c.resolveErr)
	}
	spec, err := expandSpec(c, env)
	if err != nil {
		return nil, initError(c, err)
	}
	return initWithin(ctx, c, func(ctx context.Context) (binding.Input, error) { return binding.OpenInput(ctx, spec, env) })
}

// InitOutputBinding creates and initialises an output binding component
// within its InitTimeout. Errors are *ProcessError with daprd's texts.
func InitOutputBinding(ctx context.Context, c *Component, env component.Env) (binding.Output, error) {
	if c.resolveErr != nil {
		return nil, creationError(c, c.resolveErr)
	}
	spec, err := expandSpec(c, env)
	if err != nil {
		return nil, initError(c, err)
	}
	return initWithin(ctx, c, func(ctx context.Context) (binding.Output, error) { return binding.Open(ctx, spec, env) })
}

func initError(c *Component, err error) error {
	return &ProcessError{Name: c.Name, Reason: "init", Err: &InitError{Kind: "INIT_COMPONENT_FAILURE", Entity: c.LogName(), Err: err}}
}

// expandSpec returns c's spec with its metadata as daprd hands it to the
// component (pkg/runtime/meta convertItemsToProps): every "{uuid}" a new
// UUID, "{podName}" the POD_NAME environment variable (an error when it is
// not set), "{namespace}" "<namespace>.<app id>" and "{appID}" the app id.
// c.Spec itself keeps the text as written.
func expandSpec(c *Component, env component.Env) (component.Spec, error) {
	spec := c.Spec
	spec.Metadata = make(map[string]string, len(c.Spec.Metadata)+1)
	for k, v := range c.Spec.Metadata {
		for strings.Contains(v, "{uuid}") {
			u, err := component.NewUUID()
			if err != nil {
				return spec, fmt.Errorf("failed to generate UUID: %w", err)
			}
			v = strings.Replace(v, "{uuid}", u, 1)
		}
		if strings.Contains(v, "{podName}") {
			pod := os.Getenv("POD_NAME")
			if pod == "" {
				return spec, fmt.Errorf("failed to parse metadata: property %s refers to {podName} but podName is not set", k)
			}
			v = strings.ReplaceAll(v, "{podName}", pod)
		}
		v = strings.ReplaceAll(v, "{namespace}", env.Namespace+"."+env.AppID)
		v = strings.ReplaceAll(v, "{appID}", env.AppID)
		spec.Metadata[k] = v
	}
	return spec, nil
}

func creationError(c *Component, err error) error {
	return &ProcessError{Name: c.Name, Reason: "creation", Err: &InitError{Kind: "CREATE_COMPONENT_FAILURE", Entity: c.LogName(), Err: err}}
}

// initWithin runs open within c.InitTimeout. A store that opens after the timeout is closed.
func initWithin[S io.Closer](ctx context.Context, c *Component, open func(context.Context) (S, error)) (S, error) {
	var zero S
	ctx, cancel := context.WithTimeout(ctx, c.InitTimeout)
	defer cancel()
	type result struct {
		s   S
		err error
	}
	ch := make(chan result, 1)
	go func() {
		s, err := open(ctx)
		ch <- result{s, err}
	}()
	var r result
	select {
	case r = <-ch:
	case <-ctx.Done():
		// The factory keeps running; close whatever it returns later.
		go func() {
			if late := <-ch; late.err == nil {
				_ = late.s.Close()
			}
		}()
		r.err = ctx.Err()
	}
	var ve *component.VersionError
	if errors.As(r.err, &ve) {
		// An unknown version of a known type: daprd's registry does not
		// find it, so the component is never created.
		return zero, creationError(c, ve)
	}
	if r.err != nil {
		return zero, &ProcessError{Name: c.Name, Reason: "init", Err: &InitError{Kind: "INIT_COMPONENT_FAILURE", Entity: c.LogName(), Err: r.err}}
	}
	return r.s, nil
}

// ResolveErr returns the error Resolve recorded for c (a secret store that
// could not be created, or a secret that could not be resolved), or nil.
func ResolveErr(c *Component) error { return c.resolveErr }

// HasPubSub reports whether c is a pub/sub component of a type statecar
// implements (pubsub.redis, pubsub.in-memory).
func HasPubSub(c *Component) bool {
	return c.Category() == "pubsub" && slices.Contains(pubsub.Types(), strings.ToLower(c.Type))
}

// InitPubSub creates and initialises a pub/sub component (pubsub.redis,
// pubsub.in-memory) within its InitTimeout. As daprd does, a blank
// consumerID becomes the app ID before the broker sees its metadata.
// Errors are *ProcessError with daprd's texts.
func InitPubSub(ctx context.Context, c *Component, env component.Env) (pubsub.PubSub, error) {
	if c.Category() != "pubsub" {
		return nil, &ProcessError{Name: c.Name, Reason: "creation", Err: fmt.Errorf("incorrect type %s", c.Type)}
	}
	if c.resolveErr != nil {
		return nil, creationError(c, c.resolveErr)
	}
	if !slices.Contains(pubsub.Types(), strings.ToLower(c.Type)) || component.CheckVersion(c.Spec) != nil {
		// daprd's registry: an unknown type, or a version other than the
		// initial one ("", v0, v1), is not found.
		return nil, creationError(c, fmt.Errorf("%w %s/%s", pubsub.ErrUnknownType, strings.ToLower(c.Type), strings.ToLower(c.Version)))
	}
	spec, err := expandSpec(c, env)
	if err != nil {
		return nil, initError(c, err)
	}
	if strings.TrimSpace(spec.Metadata["consumerID"]) == "" {
		spec.Metadata["consumerID"] = env.AppID
	} else {
		spec.Metadata["consumerID"] = strings.TrimSpace(spec.Metadata["consumerID"])
	}
	return initWithin(ctx, c, func(ctx context.Context) (pubsub.PubSub, error) { return pubsub.Open(ctx, spec, env) })
}
