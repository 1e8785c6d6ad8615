// Command h1bench serves a 204 on GET /v1.0/healthz through the h1 transport
// (or, with -nethttp, through Go's net/http, daprd's transport, for
// comparison), for load tests with wrk (see docs/benchmarks.md, "HTTP
// transport (h1)"). It prints the bound address and serves until SIGINT or
// SIGTERM.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"

	"github.com/statecar/statecar/server/h1"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "listen address")
	loops := flag.Int("loops", 0, "event loops (0 = GOMAXPROCS)")
	lock := flag.Bool("lock", false, "lock event loops to OS threads")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile here until SIGINT/SIGTERM")
	nethttp := flag.Bool("nethttp", false, "serve with Go's net/http instead of h1")
	flag.Parse()
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		defer pprof.StopCPUProfile()
	}
	if *nethttp {
		serveNetHTTP(*addr)
		return
	}
	rt := h1.NewRouter()
	rt.Handle("GET", "/v1.0/healthz", func(w *h1.Response, _ *h1.Request) { w.SetStatus(204) }, false)
	srv, err := h1.NewServer(h1.Config{Addrs: []string{*addr}, Router: rt, EventLoops: *loops, LockOSThread: *lock,
		Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if err := srv.Start(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println(srv.Addrs()[0].String())
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGINT, syscall.SIGTERM)
	<-ch
	_ = srv.Shutdown(context.Background())
}

func serveNetHTTP(addr string) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println(ln.Addr().String())
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1.0/healthz", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(204) })
	srv := &http.Server{Handler: mux}
	go func() {
		ch := make(chan os.Signal, 1)
		signal.Notify(ch, syscall.SIGINT, syscall.SIGTERM)
		<-ch
		_ = srv.Shutdown(context.Background())
	}()
	if err := srv.Serve(ln); err != nil && err != http.ErrServerClosed {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
