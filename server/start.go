package server

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"strconv"
	"time"
)

// Start opens the HTTP API, public, metrics and profiling listeners and
// logs daprd's "HTTP server is running on port" line. engines are the
// stores exposing engine figures (by component name). It returns once all
// listeners accept connections; serving errors are logged.
func (s *Runtime) Start(engines map[string]EngineMetricser) error {
	s.setHealthers(engines)
	if s.cfg.MetricsEnabled {
		addr := net.JoinHostPort(s.cfg.MetricsListenAddress, strconv.Itoa(s.cfg.MetricsPort))
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return fmt.Errorf("failed to start metrics server: %w", err)
		}
		s.metricsLn = ln
		s.metricsSrv = &http.Server{Handler: s.metricsHandler(engines), ReadHeaderTimeout: 10 * time.Second}
		go s.serveHTTP(s.metricsSrv, ln, "metrics")
		s.log.Info(fmt.Sprintf("metrics server started on %s/", ln.Addr()))
	}
	if err := s.startAPI(); err != nil {
		return err
	}
	if s.cfg.UnixDomainSocket != "" {
		s.log.Info("HTTP server is running on a Unix Domain Socket")
	} else {
		s.log.Info(fmt.Sprintf("HTTP server is running on port %d", s.cfg.HTTPPort))
	}
	if s.cfg.PublicPort > 0 {
		ln, err := net.Listen("tcp", net.JoinHostPort(s.cfg.PublicListenAddress, strconv.Itoa(s.cfg.PublicPort)))
		if err != nil {
			return fmt.Errorf("failed to start public HTTP server: %w", err)
		}
		s.publicLn = ln
		s.publicSrv = &http.Server{Handler: s.netHTTPHandler(true), ReadHeaderTimeout: 10 * time.Second, MaxHeaderBytes: s.maxHeaderBytes()}
		go s.serveHTTP(s.publicSrv, ln, "public HTTP")
		s.log.Info(fmt.Sprintf("Public HTTP server is running on port %d", s.cfg.PublicPort))
	}
	if s.cfg.ProfilingEnabled {
		addrs := s.cfg.APIListenAddresses
		if len(addrs) == 0 {
			addrs = []string{""}
		}
		ln, err := net.Listen("tcp", net.JoinHostPort(addrs[0], strconv.Itoa(s.cfg.ProfilePort)))
		if err != nil {
			return fmt.Errorf("failed to start profiling server: %w", err)
		}
		mux := http.NewServeMux()
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
		s.pprofLn = ln
		s.pprofSrv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
		go s.serveHTTP(s.pprofSrv, ln, "profiling")
		s.log.Info(fmt.Sprintf("starting profiling server on port %d", s.cfg.ProfilePort))
	}
	return nil
}

func (s *Runtime) maxHeaderBytes() int {
	if s.cfg.ReadBufferSize > 0 {
		return s.cfg.ReadBufferSize
	}
	return 4 << 10
}

func (s *Runtime) serveHTTP(srv *http.Server, ln net.Listener, what string) {
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		s.log.Error(fmt.Sprintf("%s server error: %v", what, err))
	}
}

// MetricsAddr, PublicAddr and ProfileAddr return the bound addresses (nil
// when the listener is off).
func (s *Runtime) MetricsAddr() net.Addr { return addrOf(s.metricsLn) }

// PublicAddr returns the public listener's address.
func (s *Runtime) PublicAddr() net.Addr { return addrOf(s.publicLn) }

func addrOf(ln net.Listener) net.Addr {
	if ln == nil {
		return nil
	}
	return ln.Addr()
}
