package server

import (
	"net/http"
	"time"
)

// startAPI serves the HTTP API with net/http.
func (s *Runtime) startAPI() error {
	lns, err := listenAll(s.cfg.APIListenAddresses, s.cfg.HTTPPort)
	if err != nil {
		return err
	}
	s.apiSrv = &http.Server{Handler: s.netHTTPHandler(false), ReadHeaderTimeout: 10 * time.Second, MaxHeaderBytes: s.maxHeaderBytes()}
	for _, ln := range lns {
		go s.serveHTTP(s.apiSrv, ln, "HTTP API")
	}
	return nil
}
