package server

import (
	"bytes"
	"context"
	"net/http"
	"strings"

	internalv1pb "github.com/dapr/dapr/pkg/proto/internals/v1"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/statecar/statecar/api"
)

// Service invocation over HTTP (other-building-blocks.md §3; daprd
// pkg/api/http/directmessaging.go onDirectMessage): the fallback route.

// invoke runs the invocation r names, if it names one, and reports whether
// it did (false: no target, the caller answers 404 ERR_DIRECT_INVOKE).
func (s *Runtime) invoke(w response, r request) bool {
	p, ok := r.decodedPath()
	if !ok {
		return false
	}
	appIDHeader, _ := r.header("dapr-app-id")
	auth, _ := r.header("Authorization")
	target, method, fromHeader := api.FindInvokeTarget(p, string(appIDHeader), string(auth))
	if target == "" {
		return false
	}
	// The request's views (path, query, body) live in the transport's
	// buffers, which the next request reuses once the handler returns;
	// net/http's client may still be reading the body then (a RoundTripper
	// may read it after RoundTrip returns), so the invocation owns copies.
	target, method = strings.Clone(target), strings.Clone(method)
	sc := getScratch()
	defer putScratch(sc)
	hdr := make(map[string][]string, 8)
	r.visitHeaders(func(n, v []byte) {
		k := http.CanonicalHeaderKey(string(n))
		if fromHeader && k == "Dapr-App-Id" || s.cfg.APIToken != "" && k == "Dapr-Api-Token" {
			return // daprd deletes them before forwarding
		}
		hdr[k] = append(hdr[k], string(v))
	})
	if r.bodyTooLarge() {
		s.writeError(w, api.NewDirectInvoke(target, api.ErrStreamTooLarge), sc)
		return true
	}
	ct, _ := r.header("Content-Type")
	mr := &api.MethodRequest{
		Verb:        strings.Clone(api.InvokeVerb(r.method())), // ToUpper may return its input
		Method:      method,
		RawQuery:    strings.Clone(r.rawQuery()),
		ContentType: string(ct),
		Header:      hdr,
		Body:        bytes.Clone(r.body()),
	}
	// The callee's call ends when the caller goes away (the connection's
	// context), as in daprd, and when this handler returns (net/http's
	// request context), so nothing started for it outlives it.
	ctx, cancel := context.WithCancel(r.callerContext())
	defer cancel()
	resp, e := s.invoker.Invoke(ctx, target, mr)
	if e != nil {
		s.writeError(w, e, sc)
		return true
	}
	api.ToHTTPHeaders(resp.Header, w.addHeader)
	status, body := resp.Status, resp.Body
	switch {
	case !resp.HTTP:
		// A gRPC app: its status as HTTP; a failure's body is the status
		// as protojson (with the gRPC code), without a content type.
		status = api.HTTPStatusFromCode(codes.Code(resp.Status))
		if status != http.StatusOK {
			b, err := protojson.Marshal(&internalv1pb.Status{Code: int32(resp.Status), Message: resp.Message, Details: resp.Details})
			if err != nil {
				s.writeError(w, api.NewMalformedResponse(err.Error()), sc)
				return true
			}
			body = b
		} else if resp.TypeURL != "" {
			w.addHeader("Content-Type", api.ProtobufContentType) // daprd: data with a type URL
		} else if resp.ContentType != "" {
			w.addHeader("Content-Type", resp.ContentType)
		}
	case (status < 200 || status > 399) && !r.chunked():
		// daprd buffers a failed answer for its resiliency policy and
		// writes it as a raw response: JSON when the app named no type,
		// and ERR_DIRECT_INVOKE counted.
		api.CountDirectInvoke()
		if resp.ContentType != "" {
			w.addHeader("Content-Type", resp.ContentType)
		} else {
			w.addHeader("Content-Type", ctJSON)
		}
	default:
		if resp.ContentType != "" {
			w.addHeader("Content-Type", resp.ContentType)
		}
	}
	w.setStatus(status)
	w.write(body)
	return true
}
