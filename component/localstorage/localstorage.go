package localstorage

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/statecar/statecar/component"
	"github.com/statecar/statecar/component/binding"
)

func init() {
	binding.Register("bindings.localstorage", func(_ context.Context, spec component.Spec, _ component.Env) (binding.Output, error) {
		return Open(spec)
	})
}

// disallowedRoots may not hold a rootPath (contrib's list).
var disallowedRoots = []string{"/proc", "/sys", "/boot", "/var/run/secrets"}

// LocalStorage is one bindings.localstorage component. It holds only its
// root path and is safe for concurrent use (each call opens the root).
type LocalStorage struct {
	root string // absolute, symbolic links resolved
}

// Open validates rootPath as contrib does and creates the directory.
func Open(spec component.Spec) (*LocalStorage, error) {
	if err := component.CheckVersion(spec); err != nil {
		return nil, err
	}
	rp, _ := spec.Meta("rootPath")
	root, err := validateRoot(rp)
	if err != nil {
		return nil, fmt.Errorf("failed to parse metadata: %w", err)
	}
	if err := os.MkdirAll(root, 0o777); err != nil {
		return nil, fmt.Errorf("unable to create directory specified by 'rootPath' %s: %w", root, err)
	}
	return &LocalStorage{root: root}, nil
}

// validateRoot makes rootPath absolute, resolves the symbolic links of its
// existing part, and refuses a file or a disallowed location.
func validateRoot(rootPath string) (string, error) {
	if rootPath == "" {
		return "", errors.New("property rootPath must not be empty")
	}
	rootPath = filepath.Clean(rootPath)
	if !filepath.IsAbs(rootPath) {
		cwd, err := os.Getwd()
		if err != nil {
			return "", fmt.Errorf("failed to obtain current working directory: %w", err)
		}
		rootPath = filepath.Join(cwd, rootPath)
	}
	check := rootPath
	for !strings.HasSuffix(check, string(os.PathSeparator)) {
		fi, err := os.Stat(check)
		if err == nil {
			if !fi.IsDir() {
				return "", errors.New("property rootPath represents a file and not a directory")
			}
			break
		}
		if !os.IsNotExist(err) {
			return "", fmt.Errorf("error getting stat for path %s: %w", check, err)
		}
		check = filepath.Dir(check)
	}
	resolved, err := filepath.EvalSymlinks(check)
	if err != nil {
		return "", fmt.Errorf("failed to evaluate symlinks in rootPath: %w", err)
	}
	rootPath = filepath.Join(resolved, rootPath[len(check):])
	for _, p := range disallowedRoots {
		if rootPath == p || strings.HasPrefix(rootPath, p+string(os.PathSeparator)) {
			return "", errors.New("property rootPath points to a disallowed location")
		}
	}
	return rootPath, nil
}

// Operations implements binding.Output.
func (ls *LocalStorage) Operations() []string {
	return []string{binding.OpCreate, binding.OpGet, binding.OpList, binding.OpDelete}
}

// paths returns name confined to the root: relative to it, and absolute.
func (ls *LocalStorage) paths(name string) (rel, abs string) {
	rel = strings.TrimPrefix(filepath.Clean("/"+name), "/")
	if rel == "" {
		rel = "."
	}
	return rel, filepath.Join(ls.root, rel)
}

// withAbs reports the absolute path in an os error, as contrib's errors
// (made on absolute paths) read.
func withAbs(err error, abs string) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		pe.Path = abs
		if op, ok := plainOps[pe.Op]; ok {
			pe.Op = op
		}
	}
	return err
}

// plainOps names os.Root's operations as the plain os functions do.
var plainOps = map[string]string{"openat": "open", "statat": "stat", "removeat": "remove", "unlinkat": "remove", "mkdirat": "mkdir"}

// Invoke implements binding.Output.
func (ls *LocalStorage) Invoke(_ context.Context, req *binding.InvokeRequest) (*binding.InvokeResponse, error) {
	name := req.Metadata["fileName"]
	if name == "" && req.Operation == binding.OpCreate {
		var err error
		if name, err = component.NewUUID(); err != nil {
			return nil, fmt.Errorf("failed to generate UUID: %w", err)
		}
	}
	r, err := os.OpenRoot(ls.root)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	rel, abs := ls.paths(name)
	switch req.Operation {
	case binding.OpCreate:
		data := req.Data
		if d, err := strconv.Unquote(string(data)); err == nil {
			data = []byte(d)
		}
		if d, err := base64.StdEncoding.DecodeString(string(data)); err == nil {
			data = d
		}
		if err := r.MkdirAll(filepath.Dir(rel), 0o777); err != nil {
			return nil, fmt.Errorf("error creating directory %s: %w", filepath.Dir(abs), withAbs(err, filepath.Dir(abs)))
		}
		if err := r.WriteFile(rel, data, 0o666); err != nil {
			return nil, fmt.Errorf("error creating file %s: %w", abs, withAbs(err, abs))
		}
		b, _ := json.Marshal(struct {
			FileName string `json:"fileName"`
		}{rel})
		return &binding.InvokeResponse{Data: b}, nil
	case binding.OpGet:
		b, err := r.ReadFile(rel)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("file not found: %s", abs)
		}
		if errors.Is(err, syscall.EISDIR) {
			// contrib opens the directory, then fails to read it.
			return nil, fmt.Errorf("error reading file %s: %w", abs, withAbs(err, abs))
		}
		if err != nil {
			return nil, fmt.Errorf("error opening path %s: %w", abs, withAbs(err, abs))
		}
		return &binding.InvokeResponse{Data: b}, nil
	case binding.OpDelete:
		if err := r.Remove(rel); err != nil {
			return nil, fmt.Errorf("error deleting file %s: %w", abs, withAbs(err, abs))
		}
		return nil, nil
	case binding.OpList:
		fi, err := r.Stat(rel)
		if err != nil {
			return nil, fmt.Errorf("error getting stats for path %s: %w", abs, withAbs(err, abs))
		}
		if !fi.IsDir() {
			return nil, fmt.Errorf("unable to list files as the file specified is not a directory: %s", abs)
		}
		var files []string // null when there are none, as contrib
		_ = fs.WalkDir(r.FS(), rel, func(p string, d fs.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				files = append(files, filepath.Join(ls.root, p))
			}
			return nil
		})
		b, _ := json.Marshal(files)
		return &binding.InvokeResponse{Data: b}, nil
	}
	return nil, fmt.Errorf("unsupported operation %s", req.Operation)
}

// Close implements binding.Output.
func (ls *LocalStorage) Close() error { return nil }
