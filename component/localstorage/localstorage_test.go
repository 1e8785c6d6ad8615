package localstorage

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/statecar/statecar/component"
	"github.com/statecar/statecar/component/binding"
)

func open(t *testing.T, root string) *LocalStorage {
	t.Helper()
	ls, err := Open(component.Spec{Name: "files", Type: "bindings.localstorage", Metadata: map[string]string{"rootPath": root}})
	if err != nil {
		t.Fatal(err)
	}
	return ls
}

func call(t *testing.T, ls *LocalStorage, op, name, data string) (*binding.InvokeResponse, error) {
	t.Helper()
	meta := map[string]string{}
	if name != "" {
		meta["fileName"] = name
	}
	return ls.Invoke(context.Background(), &binding.InvokeRequest{Operation: op, Data: []byte(data), Metadata: meta})
}

// TestLocalStorage covers contrib's operations and their data rules:
// a JSON string is unquoted, then valid base64 decoded; create answers the
// relative file name; list answers absolute paths (null when empty).
func TestLocalStorage(t *testing.T) {
	root := filepath.Join(t.TempDir(), "new", "root") // created by Open
	ls := open(t, root)
	resp, err := call(t, ls, "create", "dir/a.txt", `"hello"`)
	if err != nil || string(resp.Data) != `{"fileName":"dir/a.txt"}` {
		t.Fatalf("create: %v %v", resp, err)
	}
	if b, _ := os.ReadFile(filepath.Join(root, "dir", "a.txt")); string(b) != "hello" {
		t.Fatalf("file holds %q, want the unquoted hello", b)
	}
	if _, err := call(t, ls, "create", "b64", `"aGk="`); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(root, "b64")); string(b) != "hi" {
		t.Fatalf("base64 data stored as %q, want hi", b)
	}
	if _, err := call(t, ls, "create", "obj.json", `{"k":1}`); err != nil {
		t.Fatal(err)
	}
	resp, err = call(t, ls, "get", "obj.json", "")
	if err != nil || string(resp.Data) != `{"k":1}` {
		t.Fatalf("get: %v %v", resp, err)
	}
	// A name that climbs out is cleaned as if the root were "/".
	resp, err = call(t, ls, "create", "../../escape.txt", `"x"`)
	if err != nil || string(resp.Data) != `{"fileName":"escape.txt"}` {
		t.Fatalf("create ../../escape.txt: %v %v", resp, err)
	}
	if _, err := os.Stat(filepath.Join(root, "escape.txt")); err != nil {
		t.Fatal("../../escape.txt not written inside the root")
	}
	// No fileName: a UUID name.
	resp, err = call(t, ls, "create", "", `"anon"`)
	var cr struct{ FileName string }
	if err != nil || json.Unmarshal(resp.Data, &cr) != nil || !regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`).MatchString(cr.FileName) {
		t.Fatalf("create without fileName: %s %v", resp.Data, err)
	}

	resp, err = call(t, ls, "list", "dir", "")
	if err != nil || string(resp.Data) != `["`+filepath.Join(root, "dir", "a.txt")+`"]` {
		t.Fatalf("list dir: %s %v", resp.Data, err)
	}
	var all []string
	resp, err = call(t, ls, "list", "", "")
	if err != nil || json.Unmarshal(resp.Data, &all) != nil || len(all) != 5 {
		t.Fatalf("list root: %s %v", resp.Data, err)
	}
	if err := os.Mkdir(filepath.Join(root, "empty"), 0o755); err != nil {
		t.Fatal(err)
	}
	if resp, err := call(t, ls, "list", "empty", ""); err != nil || string(resp.Data) != "null" {
		t.Fatalf("list of an empty dir: %v %v", resp, err)
	}

	if resp, err := call(t, ls, "delete", "dir/a.txt", ""); err != nil || resp != nil {
		t.Fatalf("delete: %v %v", resp, err)
	}
	abs := filepath.Join(root, "dir", "a.txt")
	for _, c := range []struct{ op, name, want string }{
		{"get", "dir/a.txt", "file not found: " + abs},
		{"delete", "dir/a.txt", "error deleting file " + abs + ": remove " + abs + ": no such file or directory"},
		{"get", "empty", "error reading file " + filepath.Join(root, "empty") + ": read " + filepath.Join(root, "empty") + ": is a directory"},
		{"list", "obj.json", "unable to list files as the file specified is not a directory: " + filepath.Join(root, "obj.json")},
		{"list", "nope", "error getting stats for path " + filepath.Join(root, "nope") + ": stat " + filepath.Join(root, "nope") + ": no such file or directory"},
	} {
		if _, err := call(t, ls, c.op, c.name, ""); err == nil || err.Error() != c.want {
			t.Errorf("%s %s: %v, want %q", c.op, c.name, err, c.want)
		}
	}
}

// TestLocalStorageSymlinkEscape: a link inside the root that points out of
// it is not followed.
func TestLocalStorageSymlinkEscape(t *testing.T) {
	root, outside := t.TempDir(), t.TempDir()
	if err := os.WriteFile(filepath.Join(outside, "secret"), []byte("s"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(root, "out")); err != nil {
		t.Fatal(err)
	}
	ls := open(t, root)
	if resp, err := call(t, ls, "get", "out/secret", ""); err == nil {
		t.Fatalf("read through a link out of the root: %q", resp.Data)
	}
	if _, err := call(t, ls, "create", "out/new", `"x"`); err == nil {
		t.Fatal("wrote through a link out of the root")
	}
	if _, err := os.Stat(filepath.Join(outside, "new")); err == nil {
		t.Fatal("a file appeared outside the root")
	}
}

func TestLocalStorageRootPath(t *testing.T) {
	file := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for root, want := range map[string]string{
		"":               "failed to parse metadata: property rootPath must not be empty",
		file:             "failed to parse metadata: property rootPath represents a file and not a directory",
		"/proc/x":        "failed to parse metadata: property rootPath points to a disallowed location",
		"/sys/../sys/fs": "failed to parse metadata: property rootPath points to a disallowed location",
	} {
		_, err := Open(component.Spec{Name: "files", Type: "bindings.localstorage", Metadata: map[string]string{"rootPath": root}})
		if err == nil || err.Error() != want {
			t.Errorf("rootPath %q: %v, want %q", root, err, want)
		}
	}
	if ls := open(t, "relative-root-"+strings.ReplaceAll(t.Name(), "/", "_")); !filepath.IsAbs(ls.root) {
		t.Errorf("relative rootPath not made absolute: %s", ls.root)
	} else {
		_ = os.RemoveAll(ls.root)
	}
}
