package grpcserver

import (
	"context"
	"crypto/subtle"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// apiTokenKey is the gRPC metadata key carrying the API token (daprd's
// APITokenHeader, lower-case as gRPC metadata keys are).
const apiTokenKey = "dapr-api-token"

// interceptor is the one unary (and stream) interceptor of the server, in
// daprd's order: API allow/deny lists, then the API token check, then
// metrics around the handler. As in daprd, a call rejected by the lists or
// the token check is not counted in the metrics.
//
// It is immutable after New and used from every RPC goroutine.
type interceptor struct {
	acl     *acl         // nil = no gRPC access rules
	token   string       // "" = no token required
	metrics *rpcMetrics  // nil = metrics disabled
	apiLog  *slog.Logger // nil = no API logging
}

func (ic *interceptor) unary(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	if ic.acl != nil {
		if err := ic.acl.check(info.FullMethod); err != nil {
			return nil, err
		}
	}
	if ic.token != "" {
		if err := checkToken(ctx, ic.token); err != nil {
			return nil, err
		}
	}
	if ic.metrics == nil && ic.apiLog == nil {
		return handler(ctx, req)
	}
	start := time.Now()
	resp, err := handler(ctx, req)
	if ic.metrics != nil {
		ic.metrics.record(info.FullMethod, req, resp, err, start)
	}
	if ic.apiLog != nil {
		logCall(ctx, ic.apiLog, info.FullMethod, start, err)
	}
	return resp, err
}

// logCall writes daprd's API log line for one call.
func logCall(ctx context.Context, log *slog.Logger, method string, start time.Time, err error) {
	attrs := []slog.Attr{slog.Int("code", int(status.Code(err))), slog.Int64("duration", time.Since(start).Milliseconds()), slog.String("method", method)}
	if ua := metadata.ValueFromIncomingContext(ctx, "user-agent"); len(ua) > 0 {
		attrs = append(attrs, slog.String("useragent", ua[0]))
	}
	log.LogAttrs(ctx, slog.LevelInfo, "gRPC API Called", attrs...)
}

func (ic *interceptor) stream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	if ic.acl != nil {
		if err := ic.acl.check(info.FullMethod); err != nil {
			return err
		}
	}
	if ic.token != "" {
		if err := checkToken(ss.Context(), ic.token); err != nil {
			return err
		}
	}
	// daprd records stream metrics only for proxied service invocation
	// (dapr_service_invocation_*), which statecar does not record.
	if ic.apiLog == nil {
		return handler(srv, ss)
	}
	start := time.Now()
	err := handler(srv, ss)
	logCall(ss.Context(), ic.apiLog, info.FullMethod, start, err)
	return err
}

// checkToken enforces the API token exactly as daprd (pkg/api/grpc/auth.go
// with invokev1.ErrorFromHTTPResponseCode(401, detail)).
func checkToken(ctx context.Context, token string) error {
	vals := metadata.ValueFromIncomingContext(ctx, apiTokenKey)
	if len(vals) == 0 {
		return unauthorized("missing api token in request metadata")
	}
	if subtle.ConstantTimeCompare([]byte(vals[0]), []byte(token)) != 1 {
		return unauthorized("authentication error: api token mismatch")
	}
	return nil
}

// unauthorized builds daprd's 401-derived status: Unauthenticated,
// message "Unauthorized", one ErrorInfo with the HTTP code and detail.
func unauthorized(detail string) error {
	return httpStatusError(http.StatusUnauthorized, detail)
}

// httpStatusError is daprd's invokev1.ErrorFromHTTPResponseCode for the
// codes used here (401 -> Unauthenticated, 501 -> Unimplemented): message
// = HTTP status text, one ErrorInfo with http.code and http.error_message.
func httpStatusError(httpCode int, detail string) error {
	code := codes.Unknown
	switch httpCode {
	case http.StatusUnauthorized:
		code = codes.Unauthenticated
	case http.StatusNotImplemented:
		code = codes.Unimplemented
	}
	text := http.StatusText(httpCode)
	st := status.New(code, text)
	if len(detail) >= 63 { // daprd truncates long details (maxMetadataValueLen)
		detail = detail[:63]
	}
	withDetails, err := st.WithDetails(&errdetails.ErrorInfo{
		Reason: text,
		Domain: "dapr.io",
		Metadata: map[string]string{
			"http.code":          strconv.Itoa(httpCode),
			"http.error_message": detail,
		},
	})
	if err != nil {
		return st.Err()
	}
	return withDetails.Err()
}
