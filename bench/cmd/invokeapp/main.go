// Command invokeapp is the app and the peer of the service invocation
// benchmark (bench/invoke.sh): an HTTP app answering every request with a
// 100-byte JSON body, or, with -proxy, a plain net/http reverse proxy
// (httputil.ReverseProxy) in front of such an app, the reference for what
// one sidecar hop built on Go's HTTP stack costs.
//
//	go run ./bench/cmd/invokeapp -listen 127.0.0.1:3222
//	go run ./bench/cmd/invokeapp -listen 127.0.0.1:3244 -proxy http://127.0.0.1:3222
package main

import (
	"flag"
	"log"
	"net/http"
	"net/http/httputil"
	"net/url"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:3222", "address to serve on")
	proxy := flag.String("proxy", "", "base URL to reverse-proxy to (empty: be the app)")
	flag.Parse()
	var h http.Handler
	if *proxy != "" {
		u, err := url.Parse(*proxy)
		if err != nil {
			log.Fatal(err)
		}
		p := httputil.NewSingleHostReverseProxy(u)
		p.Transport = &http.Transport{MaxIdleConns: 64, MaxIdleConnsPerHost: 64}
		p.ErrorLog = log.New(discard{}, "", 0)
		h = p
	} else {
		body := []byte(`{"ok":true,"pad":"0123456789012345678901234567890123456789012345678901234567890123456789"}`)
		h = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write(body)
		})
	}
	log.Fatal(http.ListenAndServe(*listen, h))
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
