package component

import (
	"sort"
	"strings"
	"sync"
)

// Registry maps component types ("state.redis", "lock.redis", ...) to the
// factories of one building block. Types match case-insensitively. Types
// are registered from init functions and looked up while components load;
// the mutex makes both safe at any time.
type Registry[F any] struct {
	kind string // "state store", "lock store", ... for the panic text

	mu sync.Mutex
	m  map[string]F // lower-case type -> factory
}

// NewRegistry returns an empty registry for factories of kind.
func NewRegistry[F any](kind string) *Registry[F] {
	return &Registry[F]{kind: kind, m: map[string]F{}}
}

// Register adds typ. Registering a type twice panics.
func (r *Registry[F]) Register(typ string, f F) {
	r.mu.Lock()
	defer r.mu.Unlock()
	k := strings.ToLower(typ)
	if _, dup := r.m[k]; dup {
		panic("BUG: " + r.kind + " type registered twice: " + typ)
	}
	r.m[k] = f
}

// Lookup returns the factory of typ.
func (r *Registry[F]) Lookup(typ string) (F, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	f, ok := r.m[strings.ToLower(typ)]
	return f, ok
}

// Types lists the registered types, lower-cased and sorted.
func (r *Registry[F]) Types() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]string, 0, len(r.m))
	for k := range r.m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
