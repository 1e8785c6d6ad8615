package h1

import (
	"fmt"
	"strings"
	"unsafe"
)

// HandlerFunc handles one request. It fills w; the server writes w after the
// function returns. r and everything it returns are valid only until then.
type HandlerFunc func(w *Response, r *Request)

// endpoint is one registered handler: the final, wrapped handler, its pattern
// and whether it may block.
type endpoint struct {
	pattern  string
	method   string
	raw      HandlerFunc // as registered
	h        HandlerFunc // raw wrapped by param unescaping and middlewares
	blocking bool
	params   []string // parameter names, in order ("*" for a catch-all)
}

// node is a path segment of the routing tree.
type node struct {
	static   []*staticEdge
	param    *node       // {name} child
	wildcard *node       // "*" child (matches the rest of the path)
	methods  []*endpoint // routes ending here
}

type staticEdge struct {
	seg  string
	next *node
}

// Router maps method + path to handlers with daprd's chi semantics: routing
// uses path.Clean of the escaped path; static segments win over {params}, and
// a method mismatch on one pattern falls back to other patterns matching the
// method before giving up; each parameter is decoded with url.QueryUnescape
// (a failure answers 400 text/plain like daprd).
//
// A Router is configured (Handle, NotFound, Use) before the Server starts and
// is read-only afterwards; it is then safe for concurrent use.
type Router struct {
	root     node
	all      []*endpoint
	notFound *endpoint
	mws      []func(w *Response, r *Request, next HandlerFunc)
}

// NewRouter returns an empty router whose NotFound handler answers Go's plain
// "404 page not found".
func NewRouter() *Router {
	rt := &Router{}
	rt.ensureNotFound()
	return rt
}

// ensureNotFound installs the default NotFound handler on a Router that has
// none (a zero Router).
func (rt *Router) ensureNotFound() {
	if rt.notFound != nil {
		return
	}
	rt.NotFound(func(w *Response, _ *Request) {
		w.AddHeader("Content-Type", "text/plain; charset=utf-8")
		w.AddHeader("X-Content-Type-Options", "nosniff")
		w.SetStatus(404)
		_, _ = w.WriteString("404 page not found\n")
	}, false)
}

// Handle registers method+pattern. Patterns use {name} segments, and an
// optional final "*" segment matching the rest of the path:
// "/v1.0/state/{store}/{key}". Blocking routes may block (disk sync, network):
// the server runs them off the event loop (goroutine), after copying the
// request, and writes the reply with AsyncWrite; non-blocking routes run inline
// in the event loop. Registering the same method and pattern twice replaces the
// handler.
func (rt *Router) Handle(method, pattern string, h HandlerFunc, blocking bool) {
	if h == nil || !strings.HasPrefix(pattern, "/") {
		panic(fmt.Sprintf("BUG: h1: invalid route %s %q", method, pattern))
	}
	n := &rt.root
	var params []string
	segs := strings.Split(pattern[1:], "/")
	for i, seg := range segs {
		switch {
		case seg == "*" && i == len(segs)-1:
			if n.wildcard == nil {
				n.wildcard = &node{}
			}
			n = n.wildcard
			params = append(params, "*")
		case len(seg) > 2 && seg[0] == '{' && seg[len(seg)-1] == '}':
			if n.param == nil {
				n.param = &node{}
			}
			n = n.param
			params = append(params, seg[1:len(seg)-1])
		default:
			var next *node
			for _, e := range n.static {
				if e.seg == seg {
					next = e.next
				}
			}
			if next == nil {
				next = &node{}
				n.static = append(n.static, &staticEdge{seg: seg, next: next})
			}
			n = next
		}
	}
	if len(params) > maxParams {
		panic(fmt.Sprintf("BUG: h1: route %q has more than %d params", pattern, maxParams))
	}
	ep := &endpoint{pattern: pattern, method: method, raw: h, blocking: blocking, params: params}
	for i, old := range n.methods {
		if old.method == method {
			n.methods[i] = ep
			rt.replace(old, ep)
			rt.wrap(ep)
			return
		}
	}
	n.methods = append(n.methods, ep)
	rt.all = append(rt.all, ep)
	rt.wrap(ep)
}

func (rt *Router) replace(old, ep *endpoint) {
	for i, e := range rt.all {
		if e == old {
			rt.all[i] = ep
		}
	}
}

// NotFound sets the handler for requests that match no route or no route with
// their method (daprd: 404 ERR_DIRECT_INVOKE JSON, written by the handler).
func (rt *Router) NotFound(h HandlerFunc, blocking bool) {
	ep := &endpoint{raw: h, blocking: blocking}
	rt.notFound = ep
	rt.wrap(ep)
}

// Use adds a middleware called around every handler, NotFound included
// (metrics, API token, API logging); it must call next to run the handler.
// Middlewares run in the order added, outermost first, and before parameter
// unescaping (so an API-token rejection wins over a bad parameter, as in daprd).
func (rt *Router) Use(mw func(w *Response, r *Request, next HandlerFunc)) {
	rt.mws = append(rt.mws, mw)
	for _, ep := range rt.all {
		rt.wrap(ep)
	}
	rt.ensureNotFound()
	rt.wrap(rt.notFound)
}

// Pattern returns the pattern of the route r matched, or "" (NotFound).
func (rt *Router) Pattern(r *Request) string {
	if r.ep == nil {
		return ""
	}
	return r.ep.pattern
}

// wrap builds ep.h: middlewares around the unescape check around ep.raw.
func (rt *Router) wrap(ep *endpoint) {
	raw := ep.raw
	h := func(w *Response, r *Request) {
		if r.paramErr != nil {
			w.reset()
			w.AddHeader("Content-Type", "text/plain; charset=utf-8")
			w.AddHeader("X-Content-Type-Options", "nosniff")
			w.SetStatus(400)
			_, _ = w.WriteString(r.paramErr.Error())
			_, _ = w.WriteString("\n")
			return
		}
		raw(w, r)
	}
	for i := len(rt.mws) - 1; i >= 0; i-- {
		mw, next := rt.mws[i], h
		h = func(w *Response, r *Request) { mw(w, r, next) }
	}
	ep.h = h
}

// route matches r and fills r.ep and r.params. It always sets r.ep (the
// NotFound endpoint when nothing matches).
func (rt *Router) route(r *Request) {
	raw := r.view(r.path)
	// The escaped path as url.URL.EscapedPath returns it.
	escaped := raw
	if !validEncodedPath(raw) {
		start := len(r.scratch)
		r.scratch = appendEscapedPath(r.scratch, raw)
		escaped = r.scratch[start:len(r.scratch):len(r.scratch)]
	}
	p := escaped
	if !isCleanPath(p) {
		start := len(r.scratch)
		r.scratch = appendCleanPath(r.scratch, p)
		p = r.scratch[start:len(r.scratch):len(r.scratch)]
	}
	var ep *endpoint
	if len(p) > 0 && p[0] == '/' {
		ep = rt.matchAt(&rt.root, p[1:], false, unsafeString(r.view(r.meth)), r, 0)
	}
	if ep == nil {
		r.ep = rt.notFound
		r.nparams = 0
		return
	}
	r.ep = ep
	r.nparams = len(ep.params)
	for i := 0; i < r.nparams; i++ {
		v := r.params[i]
		if needsQueryUnescape(v) {
			start := len(r.scratch)
			out, bad, ok := appendQueryUnescape(r.scratch, v)
			if !ok {
				r.paramErr = fmt.Errorf("failed to unescape request parameter %q. Error: %w", ep.params[i], queryUnescapeError(v, bad))
				return
			}
			r.scratch = out
			r.params[i] = out[start:len(out):len(out)]
		}
	}
}

// matchAt matches the rest of a cleaned path at node n; rest is what follows
// the '/' before the next segment, end says the path is exhausted. Static
// edges are tried first, then {param}, then "*"; a dead end (including a
// method mismatch) backtracks, as chi does. Raw parameter segments are stored
// in r.params[np:].
func (rt *Router) matchAt(n *node, rest []byte, end bool, method string, r *Request, np int) *endpoint {
	if end {
		for _, ep := range n.methods {
			if ep.method == method {
				return ep
			}
		}
		return nil
	}
	seg, tail, more := rest, []byte(nil), false
	for i, c := range rest {
		if c == '/' {
			seg, tail, more = rest[:i], rest[i+1:], true
			break
		}
	}
	for _, e := range n.static {
		if e.seg == string(seg) {
			if ep := rt.matchAt(e.next, tail, !more, method, r, np); ep != nil {
				return ep
			}
			break
		}
	}
	if n.param != nil && len(seg) > 0 && np < maxParams {
		r.params[np] = seg
		if ep := rt.matchAt(n.param, tail, !more, method, r, np+1); ep != nil {
			return ep
		}
	}
	if n.wildcard != nil && len(rest) > 0 && np < maxParams {
		r.params[np] = rest
		if ep := rt.matchAt(n.wildcard, nil, true, method, r, np+1); ep != nil {
			return ep
		}
	}
	return nil
}

func unsafeString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}
