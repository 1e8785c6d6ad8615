package testutil

import (
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"gopkg.in/yaml.v3"
)

func TestComponentYAMLRoundTrip(t *testing.T) {
	doc := ComponentYAML("my store", "state.pebble", map[string]string{"keyPrefix": "name", "b": "x: y"})
	var got struct {
		APIVersion string `yaml:"apiVersion"`
		Kind       string `yaml:"kind"`
		Metadata   struct {
			Name string `yaml:"name"`
		} `yaml:"metadata"`
		Spec struct {
			Type     string `yaml:"type"`
			Version  string `yaml:"version"`
			Metadata []struct {
				Name  string `yaml:"name"`
				Value string `yaml:"value"`
			} `yaml:"metadata"`
		} `yaml:"spec"`
	}
	if err := yaml.Unmarshal([]byte(doc), &got); err != nil {
		t.Fatalf("generated YAML does not parse: %v\n%s", err, doc)
	}
	if got.APIVersion != "dapr.io/v1alpha1" || got.Kind != "Component" || got.Metadata.Name != "my store" ||
		got.Spec.Type != "state.pebble" || got.Spec.Version != "v1" {
		t.Fatalf("unexpected header fields: %+v", got)
	}
	if len(got.Spec.Metadata) != 2 || got.Spec.Metadata[0].Name != "b" || got.Spec.Metadata[0].Value != "x: y" ||
		got.Spec.Metadata[1].Name != "keyPrefix" || got.Spec.Metadata[1].Value != "name" {
		t.Fatalf("metadata not sorted/quoted as expected: %+v", got.Spec.Metadata)
	}
}

func TestConfigurationYAML(t *testing.T) {
	doc := ConfigurationYAML("cfg", "metrics:\n  recordErrorCodes: true\n")
	var got struct {
		Kind string `yaml:"kind"`
		Spec struct {
			Metrics struct {
				RecordErrorCodes bool `yaml:"recordErrorCodes"`
			} `yaml:"metrics"`
		} `yaml:"spec"`
	}
	if err := yaml.Unmarshal([]byte(doc), &got); err != nil {
		t.Fatalf("generated YAML does not parse: %v\n%s", err, doc)
	}
	if got.Kind != "Configuration" || !got.Spec.Metrics.RecordErrorCodes {
		t.Fatalf("unexpected parse: %+v\n%s", got, doc)
	}
}

func TestWriteComponent(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "res")
	p := WriteComponent(t, dir, "s", "state.in-memory", nil)
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != ComponentYAML("s", "state.in-memory", nil) {
		t.Fatalf("file content differs:\n%s", b)
	}
}

func TestFreePortIsBindable(t *testing.T) {
	p := FreePort()
	l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
	if err != nil {
		t.Fatalf("FreePort returned %d which cannot be bound: %v", p, err)
	}
	l.Close()
}

func TestModuleRoot(t *testing.T) {
	root, err := ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "internal", "testutil", "doc.go")); err != nil {
		t.Fatalf("ModuleRoot %s is not the statecar module: %v", root, err)
	}
}

// TestStartStopRestart drives the real binary through the whole lifecycle.
func TestStartStopRestart(t *testing.T) {
	if os.Getenv("STATECAR_BIN") == "" {
		root, _ := ModuleRoot()
		if m, _ := filepath.Glob(filepath.Join(root, "cmd", "statecar", "*.go")); len(m) == 0 {
			t.Skip("cmd/statecar does not exist yet")
		}
	}
	s := Start(t, Options{})
	resp, err := http.Get(s.URL("/v1.0/healthz"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("healthz = %d after Start, want 204", resp.StatusCode)
	}
	port := s.HTTPPort
	s.Restart()
	if s.HTTPPort != port {
		t.Fatalf("Restart changed the port")
	}
	resp, err = http.Get(s.URL("/v1.0/healthz"))
	if err != nil {
		t.Fatalf("not reachable after Restart: %v", err)
	}
	resp.Body.Close()
	if code := s.Stop(); code != 0 {
		t.Fatalf("exit code after SIGTERM = %d, want 0", code)
	}
	if exited, _ := s.Exited(); !exited {
		t.Fatal("Exited reports a running process after Stop")
	}
}

// TestStartPortTaken: another process binds a picked port before the
// sidecar does; Start must pick new ports instead of failing the test.
func TestStartPortTaken(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	taken := l.Addr().(*net.TCPAddr).Port
	orig := pickPort
	defer func() { pickPort = orig }()
	handed := false
	pickPort = func() int {
		if !handed {
			handed = true
			return taken
		}
		return orig()
	}
	s := Start(t, Options{})
	if s.HTTPPort == taken {
		t.Fatalf("sidecar reports HTTP port %d, which another listener holds", taken)
	}
	resp, err := http.Get(s.URL("/v1.0/healthz"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("healthz: %d", resp.StatusCode)
	}
}
