package component

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
)

// Spec is one Component resource as loaded from YAML (see
// ../shared/spec/runtime-http.md §7). Metadata values are already resolved
// (value, envRef, secretKeyRef) to strings.
type Spec struct {
	Name      string
	Namespace string
	Type      string // e.g. "state.pebble"
	Version   string // as written in YAML (may be "")
	// Metadata holds spec.metadata as name -> value, names as written.
	// Use Meta to look a name up case-insensitively.
	Metadata     map[string]string
	IgnoreErrors bool
	Scopes       []string
}

// Meta returns the metadata value whose name equals name case-insensitively.
func (s Spec) Meta(name string) (string, bool) {
	if v, ok := s.Metadata[name]; ok {
		return v, true
	}
	for k, v := range s.Metadata {
		if strings.EqualFold(k, name) {
			return v, true
		}
	}
	return "", false
}

// Env is what a store factory may know about the sidecar.
type Env struct {
	AppID     string
	Namespace string
	// DataDir is the default root for embedded data (a store puts its own
	// data under DataDir/<component name> unless its metadata says where).
	DataDir string
	Logger  *slog.Logger
}

// StateFactory creates a state store from its component spec.
type StateFactory func(ctx context.Context, spec Spec, env Env) (Store, error)

var stateRegistry = NewRegistry[StateFactory]("state store")

// RegisterState registers a state store type (e.g. "state.redis"). Types are
// matched case-insensitively. Registering a type twice panics.
func RegisterState(typ string, f StateFactory) { stateRegistry.Register(typ, f) }

// LookupState returns the factory for a state store type.
func LookupState(typ string) (StateFactory, bool) { return stateRegistry.Lookup(typ) }

// StateTypes lists the registered state store types, sorted.
func StateTypes() []string { return stateRegistry.Types() }

// VersionError is a component spec.version that its type does not have.
// The loader reports it as daprd does for an unknown type/version pair: a
// creation failure (CREATE_COMPONENT_FAILURE, reason "creation"), not an
// init failure.
type VersionError struct {
	Type, Version string // as written in the spec
}

// Error renders daprd's text: "couldn't find state store TYPE/VERSION"
// (both lower-cased, as daprd's registry looks them up).
func (e *VersionError) Error() string {
	return fmt.Sprintf("couldn't find state store %s/%s", strings.ToLower(e.Type), strings.ToLower(e.Version))
}

// CheckVersion reports whether spec.Version selects the initial version of
// the spec's type ("", "v0" and "v1" do, case-insensitively) or one of
// supported; otherwise it returns a *VersionError. Stores with further
// versions (state.postgresql v2) inspect Spec.Version themselves.
func CheckVersion(spec Spec, supported ...string) error {
	v := strings.ToLower(spec.Version)
	if v == "" || v == "v0" || v == "v1" {
		return nil
	}
	for _, s := range supported {
		if v == strings.ToLower(s) {
			return nil
		}
	}
	return &VersionError{Type: spec.Type, Version: spec.Version}
}
