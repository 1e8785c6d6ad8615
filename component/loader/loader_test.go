package loader

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/statecar/statecar/component"
)

func write(t *testing.T, dir, name, content string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

func envOf(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

const twoDocs = `apiVersion: dapr.io/v1alpha1
kind: Component
metadata:
  name: a
spec:
  type: state.in-memory
  version: v1
  initTimeout: 2s
  metadata:
  - name: n
    value: 5
  - name: b
    value: true
  - name: s
    value: "x y"
  - name: fromEnv
    envRef: MY_VAR
  - name: denied
    envRef: DAPR_API_TOKEN
---
apiVersion: dapr.io/v1alpha1
kind: Component
metadata:
  name: Bad_Name
spec:
  type: state.redis
---
apiVersion: dapr.io/v1alpha1
kind: Subscription
metadata:
  name: sub
---
apiVersion: dapr.io/v2
kind: Component
metadata:
  name: wrongversion
spec:
  type: state.redis
`

func TestLoadMultiDocAndValues(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "b.yaml", twoDocs)
	write(t, dir, "a.yml", "apiVersion: dapr.io/v1alpha1\nkind: Component\nmetadata:\n  name: first\nspec:\n  type: state.pebble\n")
	write(t, dir, "notes.txt", "apiVersion: dapr.io/v1alpha1\nkind: Component\nmetadata:\n  name: ignored\n")
	if err := os.Mkdir(filepath.Join(dir, "sub"), 0o700); err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(dir, "sub"), "c.yaml", "apiVersion: dapr.io/v1alpha1\nkind: Component\nmetadata:\n  name: nested\nspec:\n  type: state.pebble\n")
	comps, err := Load(Options{Paths: []string{dir}, AppID: "app", LookupEnv: envOf(map[string]string{"MY_VAR": "hello", "DAPR_API_TOKEN": "secret"})})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, c := range comps {
		names = append(names, c.Name)
	}
	if got := strings.Join(names, ","); got != "first,a,Bad_Name" {
		t.Fatalf("loaded %q, want first,a,Bad_Name", got)
	}
	a := comps[1]
	if a.Metadata["n"] != "5" || a.Metadata["b"] != "true" || a.Metadata["s"] != "x y" || a.Metadata["fromEnv"] != "hello" {
		t.Fatalf("metadata wrong: %v", a.Metadata)
	}
	if _, ok := a.Metadata["denied"]; ok {
		t.Fatalf("envRef to DAPR_* must not be read: %v", a.Metadata)
	}
	if a.InitTimeout != 2*time.Second || comps[0].InitTimeout != DefaultInitTimeout {
		t.Fatalf("init timeouts %v %v", a.InitTimeout, comps[0].InitTimeout)
	}
	if a.LogName() != "a (state.in-memory/v1)" || comps[0].LogName() != "first (state.pebble)" {
		t.Fatalf("log names %q %q", a.LogName(), comps[0].LogName())
	}
}

func TestEnvKeysAllowlist(t *testing.T) {
	o := &Options{LookupEnv: envOf(map[string]string{"DAPR_ENV_KEYS": "FOO BAR_X"})}
	for k, want := range map[string]bool{"FOO": true, "BAR_X": true, "BAR": false, "FO": false, "APP_API_TOKEN": false, "dapr_x": false, "": false} {
		if got := envAllowed(o, k); got != want {
			t.Errorf("envAllowed(%q) = %v, want %v", k, got, want)
		}
	}
}

func TestInvalidNamesSkippedAndDuplicatesFail(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "a.yaml", "apiVersion: dapr.io/v1alpha1\nkind: Component\nmetadata:\n  name: a/b\nspec:\n  type: state.pebble\n---\napiVersion: dapr.io/v1alpha1\nkind: Component\nmetadata:\n  name: ok\nspec:\n  type: state.pebble\n")
	comps, err := Load(Options{Paths: []string{dir}})
	if err != nil || len(comps) != 1 || comps[0].Name != "ok" {
		t.Fatalf("got %v, %v; want only ok", comps, err)
	}
	write(t, dir, "b.yaml", "apiVersion: dapr.io/v1alpha1\nkind: Component\nmetadata:\n  name: ok\nspec:\n  type: state.in-memory\n")
	_, err = Load(Options{Paths: []string{dir}})
	if err == nil || err.Error() != "duplicate definition of Component name ok (state.in-memory) with existing ok (state.pebble)" {
		t.Fatalf("duplicate error = %v", err)
	}
	if _, err := Load(Options{Paths: []string{filepath.Join(dir, "missing")}}); err == nil {
		t.Fatal("missing folder must fail")
	}
}

func TestScopesAndNamespace(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "a.yaml", `apiVersion: dapr.io/v1alpha1
kind: Component
metadata:
  name: mine
  namespace: prod
spec:
  type: state.pebble
scopes: [app1]
---
apiVersion: dapr.io/v1alpha1
kind: Component
metadata:
  name: other
spec:
  type: state.pebble
scopes: [app2]
---
apiVersion: dapr.io/v1alpha1
kind: Component
metadata:
  name: dev
  namespace: dev
spec:
  type: state.pebble
`)
	f := func(appID, ns, want string) {
		t.Helper()
		comps, err := Load(Options{Paths: []string{dir}, AppID: appID, Namespace: ns})
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, c := range comps {
			names = append(names, c.Name)
		}
		if got := strings.Join(names, ","); got != want {
			t.Fatalf("app %q ns %q: got %q want %q", appID, ns, got, want)
		}
	}
	f("app1", "", "mine,dev")
	f("app2", "", "other,dev")
	f("app1", "prod", "mine")
	f("app2", "dev", "other,dev")
}

type nopStore struct{ component.Store }

func (nopStore) Close() error { return nil }

func init() {
	component.RegisterState("state.loadertest", func(ctx context.Context, spec component.Spec, env component.Env) (component.Store, error) {
		if err := component.CheckVersion(spec); err != nil {
			return nil, fmt.Errorf("loadertest: %w", err)
		}
		if v, _ := spec.Meta("fail"); v != "" {
			return nil, errors.New(v)
		}
		if v, _ := spec.Meta("block"); v != "" {
			<-ctx.Done()
			return nil, ctx.Err()
		}
		return nopStore{}, nil
	})
}

func TestInitStateErrors(t *testing.T) {
	mk := func(typ string, meta map[string]string) *Component {
		return &Component{Spec: component.Spec{Name: "s", Type: typ, Version: "v1", Metadata: meta}, InitTimeout: 50 * time.Millisecond}
	}
	ctx := context.Background()
	if s, err := InitState(ctx, mk("state.loadertest", nil), component.Env{}); err != nil || s == nil {
		t.Fatalf("InitState: %v", err)
	}
	f := func(c *Component, reason, want string) {
		t.Helper()
		_, err := InitState(ctx, c, component.Env{})
		var pe *ProcessError
		if err == nil || err.Error() != want || !errors.As(err, &pe) || pe.Reason != reason {
			t.Fatalf("error %v (reason %v), want %q (reason %q)", err, pe, want, reason)
		}
	}
	f(mk("state.nope", nil), "creation", "process component s error: [CREATE_COMPONENT_FAILURE]: initialization error occurred for s (state.nope/v1): couldn't find state store state.nope/v1")
	f(mk("state.loadertest", map[string]string{"fail": "boom"}), "init", "process component s error: [INIT_COMPONENT_FAILURE]: initialization error occurred for s (state.loadertest/v1): boom")
	f(mk("foo.bar", nil), "creation", "process component s error: incorrect type foo.bar")
	f(mk("state.loadertest", map[string]string{"block": "1"}), "init", "process component s error: [INIT_COMPONENT_FAILURE]: initialization error occurred for s (state.loadertest/v1): context deadline exceeded")
	// A known type without that version: never created, as in daprd.
	v2 := mk("state.loadertest", nil)
	v2.Version = "V2"
	f(v2, "creation", "process component s error: [CREATE_COMPONENT_FAILURE]: initialization error occurred for s (state.loadertest/V2): couldn't find state store state.loadertest/v2")
	v0 := mk("state.loadertest", nil)
	v0.Version = "v0"
	if s, err := InitState(ctx, v0, component.Env{}); err != nil || s == nil {
		t.Fatalf("InitState v0: %v", err)
	}
}

func TestSecretKeyRef(t *testing.T) {
	dir := t.TempDir()
	secrets := filepath.Join(t.TempDir(), "secrets.json")
	write(t, filepath.Dir(secrets), "secrets.json", `{"db":{"password":"p1"},"plain":"p2"}`)
	write(t, dir, "a.yaml", `apiVersion: dapr.io/v1alpha1
kind: Component
metadata:
  name: files
spec:
  type: secretstores.local.file
  metadata:
  - name: secretsFile
    value: `+secrets+`
  - name: multiValued
    value: "true"
---
apiVersion: dapr.io/v1alpha1
kind: Component
metadata:
  name: envs
spec:
  type: secretstores.local.env
---
apiVersion: dapr.io/v1alpha1
kind: Component
metadata:
  name: s1
spec:
  type: state.loadertest
  metadata:
  - name: a
    secretKeyRef: {name: db, key: password}
  - name: b
    secretKeyRef: {name: plain}
auth:
  secretStore: files
---
apiVersion: dapr.io/v1alpha1
kind: Component
metadata:
  name: s2
spec:
  type: state.loadertest
  metadata:
  - name: c
    secretKeyRef: {name: MYSECRET}
auth:
  secretStore: envs
---
apiVersion: dapr.io/v1alpha1
kind: Component
metadata:
  name: s3
spec:
  type: state.loadertest
  metadata:
  - name: c
    secretKeyRef: {name: x}
auth:
  secretStore: nowhere
---
apiVersion: dapr.io/v1alpha1
kind: Component
metadata:
  name: s4
spec:
  type: state.loadertest
  metadata:
  - name: c
    secretKeyRef: {name: db, key: nope}
auth:
  secretStore: files
`)
	o := Options{Paths: []string{dir}, LookupEnv: envOf(map[string]string{"MYSECRET": "p3"})}
	comps, err := Load(o)
	if err != nil {
		t.Fatal(err)
	}
	Resolve(o, comps)
	if comps[2].Metadata["a"] != "p1" || comps[2].Metadata["b"] != "p2" || comps[3].Metadata["c"] != "p3" {
		t.Fatalf("secrets not resolved: %v %v", comps[2].Metadata, comps[3].Metadata)
	}
	_, err = InitState(context.Background(), comps[4], component.Env{})
	if err == nil || !strings.Contains(err.Error(), "references a secret store that isn't loaded: nowhere") {
		t.Fatalf("unresolvable secret: %v", err)
	}
	_, err = InitState(context.Background(), comps[5], component.Env{})
	if err == nil || !strings.Contains(err.Error(), "secret db/nope not found in secret store files") {
		t.Fatalf("missing key of a secret: %v", err)
	}
	if SecretStore(comps[0]) == nil || SecretStore(comps[1]) == nil || SecretStore(comps[2]) != nil {
		t.Fatal("SecretStore: want the opened stores of the secretstores components only")
	}
}

func TestConfiguration(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "c1.yaml", `apiVersion: dapr.io/v1alpha1
kind: Configuration
metadata:
  name: c
spec:
  metric:
    enabled: false
    recordErrorCodes: true
    latencyDistributionBuckets: [1, 5]
    http:
      increasedCardinality: false
  features:
  - name: ActorStateTTL
    enabled: true
  - name: SchedulerReminders
    enabled: false
  logging:
    apiLogging:
      enabled: true
`)
	c, err := LoadConfiguration([]string{filepath.Join(dir, "c1.yaml")})
	if err != nil {
		t.Fatal(err)
	}
	m := c.MetricsSpec()
	if m.Enabled == nil || *m.Enabled || !m.RecordErrorCodes || len(m.LatencyDistributionBuckets) != 2 || m.HTTP.IncreasedCardinality == nil || *m.HTTP.IncreasedCardinality {
		t.Fatalf("metrics spec %+v", m)
	}
	if got := strings.Join(c.EnabledFeatures(), ","); got != "ActorStateTTL" {
		t.Fatalf("features %q", got)
	}
	if !c.Spec.Logging.APILogging.Enabled {
		t.Fatal("apiLogging not read")
	}
	empty, err := LoadConfiguration(nil)
	if err != nil || strings.Join(empty.EnabledFeatures(), ",") != "SchedulerReminders" {
		t.Fatalf("default features: %v %v", empty, err)
	}
	_, err = LoadConfiguration([]string{filepath.Join(dir, "nope.yaml")})
	if err == nil || !strings.HasPrefix(err.Error(), "error loading configuration: stat ") {
		t.Fatalf("missing config: %v", err)
	}
}

// TestFileSecretsNestedSeparator: secretKeyRef {name, key} is pair key of
// secret name, as daprd resolves it. Without multiValued a nested value is
// its own secret under the flattened name (joined with nestedSeparator), so
// {db, password} does not resolve; with multiValued it does.
func TestFileSecretsNestedSeparator(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "secrets.json", `{"db":{"password":"p1"}}`)
	for _, c := range []struct {
		multi, name, key, want string
	}{
		{"false", "db.password", "db.password", "p1"},
		{"false", "db", "password", ""},
		{"true", "db", "password", "p1"},
		{"true", "db.password", "db.password", ""},
	} {
		files := &Component{Spec: component.Spec{Name: "files", Type: "secretstores.local.file", Version: "v1",
			Metadata: map[string]string{"secretsFile": filepath.Join(dir, "secrets.json"), "nestedSeparator": ".", "multiValued": c.multi}}}
		user := &Component{Spec: component.Spec{Name: "s", Type: "state.loadertest", Metadata: map[string]string{}}, SecretStore: "files",
			refs: []secretRef{{name: "v", secret: c.name, key: c.key}}}
		Resolve(Options{}, []*Component{files, user})
		if ResolveErr(files) != nil {
			t.Fatal(ResolveErr(files))
		}
		got, err := user.Metadata["v"], ResolveErr(user)
		if c.want == "" && err == nil || c.want != "" && (err != nil || got != c.want) {
			t.Errorf("multiValued %s, {%s, %s}: %q, %v; want %q", c.multi, c.name, c.key, got, err, c.want)
		}
	}
}

// TestSecretsScopes: spec.secrets.scopes with daprd's rules (an allow list
// admits exactly its names and overrides the rest; else a denied name is
// refused and the others follow defaultAccess) and its start-up errors.
func TestSecretsScopes(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "c.yaml")
	write(t, dir, "c.yaml", `apiVersion: dapr.io/v1alpha1
kind: Configuration
metadata:
  name: c
spec:
  secrets:
    scopes:
    - storeName: allowlist
      defaultAccess: allow
      allowedSecrets: ["a"]
      deniedSecrets: ["a", "b"]
    - storeName: denylist
      deniedSecrets: ["b"]
    - storeName: closed
      defaultAccess: DENY
`)
	c, err := LoadConfiguration([]string{p})
	if err != nil {
		t.Fatal(err)
	}
	sc := c.SecretsScopes()
	for _, r := range []struct {
		store, name string
		want        bool
	}{
		{"allowlist", "a", true}, {"allowlist", "b", false}, {"allowlist", "c", false},
		{"denylist", "a", true}, {"denylist", "b", false},
		{"closed", "a", false},
	} {
		if got := sc[r.store].IsSecretAllowed(r.name); got != r.want {
			t.Errorf("%s: IsSecretAllowed(%s) = %v, want %v", r.store, r.name, got, r.want)
		}
	}
	if _, ok := sc["other"]; ok {
		t.Error("a store without a scope has one")
	}
	for spec, want := range map[string]string{
		"    - storeName: s\n    - storeName: s\n":         "error loading configuration: s storeName is repeated in secrets configuration",
		"    - storeName: s\n      defaultAccess: maybe\n": "error loading configuration: defaultAccess maybe can be either allow or deny",
	} {
		p := filepath.Join(t.TempDir(), "c.yaml")
		write(t, filepath.Dir(p), "c.yaml", "apiVersion: dapr.io/v1alpha1\nkind: Configuration\nmetadata:\n  name: c\nspec:\n  secrets:\n    scopes:\n"+spec)
		if _, err := LoadConfiguration([]string{p}); err == nil || err.Error() != want {
			t.Errorf("LoadConfiguration(%q) err = %v, want %q", spec, err, want)
		}
	}
}
