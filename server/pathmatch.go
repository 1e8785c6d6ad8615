package server

import (
	"net/http"
	"slices"
	"strings"
)

// pathMatching is daprd's Configuration spec.metrics.http.pathMatching
// (pkg/diagnostics/http_monitoring_path_matching.go): request paths are
// replaced in the path label by the first matching pattern, using Go's
// ServeMux pattern rules. Only used when patterns are configured; the
// lookup allocates (it builds an *http.Request as daprd does).
type pathMatching struct {
	mux           *http.ServeMux
	returnRawPath bool
}

func newPathMatching(paths []string, legacy bool) *pathMatching {
	if len(paths) == 0 {
		return nil
	}
	pm := &pathMatching{mux: http.NewServeMux()}
	clean := make([]string, 0, len(paths)*2)
	root := false
	for _, raw := range paths {
		p := normalizeHTTPPath(raw)
		clean = append(clean, p)
		if p == "/" {
			root = true
		}
		if !strings.HasPrefix(p, "/v1.0/invoke/") {
			clean = append(clean, "/v1.0/invoke/{app_id}/method"+p)
		}
	}
	slices.Sort(clean)
	for _, p := range slices.Compact(clean) {
		pm.mux.HandleFunc(p, func(http.ResponseWriter, *http.Request) {})
	}
	if !root && legacy {
		pm.mux.HandleFunc("/", func(http.ResponseWriter, *http.Request) {})
		pm.returnRawPath = true
	}
	return pm
}

func (pm *pathMatching) match(path string) (string, bool) {
	if pm == nil || path == "" {
		return "", false
	}
	clean := normalizeHTTPPath(path)
	req, err := http.NewRequest(http.MethodGet, clean, nil)
	if err != nil {
		return "", false
	}
	req.URL.Path = clean
	_, pattern := pm.mux.Handler(req)
	if pattern == "/" && pm.returnRawPath {
		return clean, true
	}
	if pattern == "" {
		return "", true
	}
	return pattern, true
}

func normalizeHTTPPath(p string) string {
	for strings.Contains(p, "//") {
		p = strings.ReplaceAll(p, "//", "/")
	}
	if !strings.HasPrefix(p, "/") {
		p = "/" + p
	}
	return p
}

// staticPaths keep their raw path as label (daprd's diagUtils.StaticPaths).
var staticPaths = map[string]bool{"/dapr/config": true, "/dapr/metrics": true, "/dapr/subscribe": true, "/healthz": true}

// metricsPath is daprd's getMetricsPath.
func (m *httpMetrics) metricsPath(path string) string {
	if m.pm == nil {
		if m.opts.IncreasedCardinality {
			return metricPath(path)
		}
		return ""
	}
	if staticPaths[path] {
		return path
	}
	legacy := m.opts.IncreasedCardinality
	if matched, ok := m.pm.match(path); ok && matched != "" && (!legacy || matched != path) {
		return matched
	}
	if normalized := metricPath(path); normalized != path {
		if matched, ok := m.pm.match(normalized); ok && matched != "/" && matched != "" {
			return matched
		}
	}
	if !legacy {
		return ""
	}
	return metricPath(path)
}
