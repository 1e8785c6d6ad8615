package server

import "testing"

// TestMatchPublish: the publish routes take the rest of the path as the
// topic, and read both parameters as chi does (decoded only when the path
// is in Go's default escaping).
func TestMatchPublish(t *testing.T) {
	tests := []struct {
		method, path string
		id           routeID
		name, topic  string
	}{
		{"POST", "/v1.0/publish/ps/orders", routePublish, "ps", "orders"},
		{"PUT", "/v1.0/publish/ps/a/b/c/d/e/f", routePublish, "ps", "a/b/c/d/e/f"},
		{"POST", "/v1.0/publish/ps/a%20b", routePublish, "ps", "a b"},
		{"POST", "/v1.0/publish/ps/a%2Fb", routePublish, "ps", "a%2Fb"},
		{"POST", "/v1.0/publish/p%2Fs/t%20x", routePublish, "p%2Fs", "t%20x"},
		{"POST", "/v1.0/publish/ps", routeNone, "", ""},
		{"GET", "/v1.0/publish/ps/orders", routeNone, "", ""},
		{"DELETE", "/v1.0/publish/ps/orders", routeNone, "", ""},
		{"POST", "/v1.0/publish/bulk/ps/orders", routeBulkPublish, "ps", "orders"},
		{"POST", "/v1.0/publish/bulk/orders", routePublish, "bulk", "orders"},
		{"POST", "/v1.0-alpha1/publish/bulk/ps/o/x", routeBulkPublishAlpha, "ps", "o/x"},
		{"POST", "/v1.0-alpha1/publish/ps/orders", routeNone, "", ""},
		{"POST", "/v1.0-alpha1/publish/bulk/ps", routeNone, "", ""},
	}
	for _, tt := range tests {
		id, p := match(tt.method, tt.path)
		if id != tt.id || p[0] != tt.name || p[1] != tt.topic {
			t.Errorf("%s %s = %v %q %q, want %v %q %q", tt.method, tt.path, id, p[0], p[1], tt.id, tt.name, tt.topic)
		}
	}
}
