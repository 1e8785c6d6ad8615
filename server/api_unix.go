package server

import (
	"fmt"
	"net/http"
	"path/filepath"
	"time"

	"github.com/statecar/statecar/internal/udsock"
)

// UnixSocketPath is daprd's socket file name for a listener kind ("http"
// or "grpc") in the --unix-domain-socket directory.
func UnixSocketPath(dir, appID, kind string) string {
	return filepath.Join(dir, fmt.Sprintf("dapr-%s-%s.socket", appID, kind))
}

// startAPIUnix serves the HTTP API with net/http on the unix socket.
func (s *Runtime) startAPIUnix() error {
	path := UnixSocketPath(s.cfg.UnixDomainSocket, s.cfg.AppID, "http")
	ln, err := udsock.Listen(path) // a socket in use is an error, a stale one is replaced
	if err != nil {
		return err
	}
	s.log.Info("HTTP server listening on UNIX socket: " + path) // daprd's line
	s.apiUnixSrv = &http.Server{Handler: s.netHTTPHandler(false), ReadHeaderTimeout: 10 * time.Second, MaxHeaderBytes: s.maxHeaderBytes()}
	go s.serveHTTP(s.apiUnixSrv, ln, "HTTP API")
	return nil
}
