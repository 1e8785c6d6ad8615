package server

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"
)

// UnixSocketPath is daprd's socket file name for a listener kind ("http"
// or "grpc") in the --unix-domain-socket directory.
func UnixSocketPath(dir, appID, kind string) string {
	return filepath.Join(dir, fmt.Sprintf("dapr-%s-%s.socket", appID, kind))
}

// startAPIUnix serves the HTTP API with net/http on the unix socket.
func (s *Runtime) startAPIUnix() error {
	path := UnixSocketPath(s.cfg.UnixDomainSocket, s.cfg.AppID, "http")
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("cannot remove stale socket %s: %w", path, err)
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		return err
	}
	s.apiUnixSrv = &http.Server{Handler: s.netHTTPHandler(false), ReadHeaderTimeout: 10 * time.Second, MaxHeaderBytes: s.maxHeaderBytes()}
	go s.serveHTTP(s.apiUnixSrv, ln, "HTTP API")
	return nil
}
