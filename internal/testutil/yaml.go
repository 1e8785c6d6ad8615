package testutil

import (
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// ComponentYAML returns a Component document (runtime-http.md §7.2) named
// name of type typ (version v1) with the given metadata, names sorted so the
// output is deterministic.
func ComponentYAML(name, typ string, meta map[string]string) string {
	var b strings.Builder
	b.WriteString("apiVersion: dapr.io/v1alpha1\nkind: Component\nmetadata:\n  name: ")
	b.WriteString(strconv.Quote(name))
	b.WriteString("\nspec:\n  type: ")
	b.WriteString(typ)
	b.WriteString("\n  version: v1\n")
	if len(meta) == 0 {
		b.WriteString("  metadata: []\n")
		return b.String()
	}
	names := make([]string, 0, len(meta))
	for k := range meta {
		names = append(names, k)
	}
	sort.Strings(names)
	b.WriteString("  metadata:\n")
	for _, k := range names {
		b.WriteString("  - name: ")
		b.WriteString(strconv.Quote(k))
		b.WriteString("\n    value: ")
		b.WriteString(strconv.Quote(meta[k]))
		b.WriteString("\n")
	}
	return b.String()
}

// WriteComponent writes ComponentYAML(name, typ, meta) to dir/<name>.yaml
// and returns the file path. It fails tb on error.
func WriteComponent(tb testing.TB, dir, name, typ string, meta map[string]string) string {
	tb.Helper()
	return WriteFile(tb, dir, name+".yaml", ComponentYAML(name, typ, meta))
}

// ConfigurationYAML returns a Configuration document named name whose spec
// is the given YAML text (indented by the caller as a mapping at column 0,
// e.g. "metrics:\n  recordErrorCodes: true\n").
func ConfigurationYAML(name, spec string) string {
	var b strings.Builder
	b.WriteString("apiVersion: dapr.io/v1alpha1\nkind: Configuration\nmetadata:\n  name: ")
	b.WriteString(strconv.Quote(name))
	b.WriteString("\nspec:\n")
	for _, line := range strings.Split(strings.TrimRight(spec, "\n"), "\n") {
		b.WriteString("  ")
		b.WriteString(line)
		b.WriteString("\n")
	}
	return b.String()
}

// WriteConfiguration writes ConfigurationYAML(name, spec) to dir/<name>.yaml
// and returns the file path (to pass as Options.ConfigFile).
func WriteConfiguration(tb testing.TB, dir, name, spec string) string {
	tb.Helper()
	return WriteFile(tb, dir, name+".yaml", ConfigurationYAML(name, spec))
}

// WriteFile writes content to dir/name (creating dir) and returns the path.
func WriteFile(tb testing.TB, dir, name, content string) string {
	tb.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		tb.Fatalf("cannot create %s: %v", dir, err)
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		tb.Fatalf("cannot write %s: %v", p, err)
	}
	return p
}
