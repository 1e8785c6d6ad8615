package api

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/VictoriaMetrics/metrics"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"

	"github.com/statecar/statecar/component"
)

// Every constructor of the catalogue has a row: HTTP status, gRPC code,
// error code, category, shape and gRPC detail types in order.
func TestErrorCatalogue(t *testing.T) {
	for _, c := range []struct {
		err      *Error
		status   int
		code     codes.Code
		tag      string
		category string
		rich     bool
		details  string // gRPC detail types, in order
	}{
		{NewMalformedRequest("x"), 400, codes.InvalidArgument, CodeMalformedRequest, "common", false, "ErrorInfo"},
		{errNotConfigured("s", "a", true), 500, codes.FailedPrecondition, CodeStateStoreNotConfig, "state", true, "ErrorInfo"},
		{errNotFound("s", "a", true), 400, codes.InvalidArgument, CodeStateStoreNotFound, "state", true, "ErrorInfo"},
		{errIllegalKey("s", "a||b", "a||b"), 400, codes.InvalidArgument, CodeMalformedRequest, "state", true, "BadRequest,ResourceInfo,ErrorInfo"},
		{errTxNotSupported("s"), 500, codes.Unimplemented, CodeStateStoreNotSupported, "state", true, "Help,ResourceInfo,ErrorInfo"},
		{errTooManyOps("s", 5, 2), 400, codes.InvalidArgument, CodeStateTooManyTx, "state", true, "ResourceInfo,ErrorInfo"},
		{errQueryNotSupported("s"), 500, codes.Internal, CodeStateStoreNotSupported, "state", true, "ResourceInfo,ErrorInfo"},
		{errQueryFailed("s", "x"), 500, codes.Internal, CodeStateQuery, "state", true, "ResourceInfo,ErrorInfo"},
		{errNotSupportedOp("x"), 400, codes.Unimplemented, CodeNotSupportedStateOp, "state", false, "ErrorInfo"},
		{errUnknownRaw("x"), 500, codes.Unknown, CodeStateSave, "state", false, ""},
		{storeFailure(component.NewFirstWriteError(), CodeStateSave, "p: "), 409, codes.Aborted, CodeStateSave, "state", false, "ErrorInfo"},
		{storeFailure(component.NewETagError(component.ETagInvalid, errors.New("x")), CodeStateDelete, "p: "), 400, codes.InvalidArgument, CodeStateDelete, "state", false, "ErrorInfo"},
		{storeFailure(errors.New("x"), CodeStateBulkDelete, "p: "), 500, codes.Internal, CodeStateBulkDelete, "state", false, "ErrorInfo"},
		{storeFailure(&component.BulkError{Errs: []error{component.NewFirstWriteError(), component.NewFirstWriteError()}}, CodeStateSave, "p: "), 409, codes.Aborted, CodeStateSave, "state", false, "ErrorInfo"},
		{storeFailure(&component.BulkError{Errs: []error{component.NewFirstWriteError(), errors.New("x")}}, CodeStateSave, "p: "), 500, codes.Internal, CodeStateSave, "state", false, "ErrorInfo"},
	} {
		e := c.err
		if e.HTTPStatus() != c.status || e.GRPCCode() != c.code || e.ErrorCode() != c.tag || e.Category() != c.category {
			t.Fatalf("%s: got %d %v %s %s, want %d %v %s %s", e.Message(), e.HTTPStatus(), e.GRPCCode(), e.ErrorCode(), e.Category(), c.status, c.code, c.tag, c.category)
		}
		body := e.AppendHTTPBody(nil)
		if got := bytes.Contains(body, []byte(`"details":[`)); got != c.rich {
			t.Fatalf("%s: rich=%v, want %v: %s", e.tag, got, c.rich, body)
		}
		if e.HTTPContentType() != "application/json" {
			t.Fatalf("%s: content type %s", e.tag, e.HTTPContentType())
		}
		var types []string
		for _, d := range e.GRPCStatus().Details() {
			switch d.(type) {
			case *errdetails.ErrorInfo:
				types = append(types, "ErrorInfo")
			case *errdetails.BadRequest:
				types = append(types, "BadRequest")
			case *errdetails.ResourceInfo:
				types = append(types, "ResourceInfo")
			case *errdetails.Help:
				types = append(types, "Help")
			default:
				types = append(types, "?")
			}
		}
		if got := strings.Join(types, ","); got != c.details {
			t.Fatalf("%s: gRPC details %s, want %s", e.tag, got, c.details)
		}
	}
	// Basic errors carry their code as the ErrorInfo reason on gRPC.
	if ei := NewMalformedRequest("x").GRPCStatus().Details()[0].(*errdetails.ErrorInfo); ei.Reason != CodeMalformedRequest || ei.Domain != "dapr.io" {
		t.Fatalf("basic ErrorInfo %v", ei)
	}
	// Too-many-ops metadata on gRPC.
	if ei := errTooManyOps("s", 5, 2).GRPCStatus().Details()[1].(*errdetails.ErrorInfo); ei.Metadata["currentOpsTransaction"] != "5" || ei.Metadata["maxOpsPerTransaction"] != "2" {
		t.Fatalf("too many ops metadata %v", ei.Metadata)
	}
	p := NewPlainTextError(400, `failed to unescape request parameter "key". Error: x`)
	if p.HTTPContentType() != "text/plain; charset=utf-8" || string(p.AppendHTTPBody(nil)) != "failed to unescape request parameter \"key\". Error: x\n" {
		t.Fatalf("plain error: %s %q", p.HTTPContentType(), p.AppendHTTPBody(nil))
	}
	// Messages are JSON-escaped like encoding/json (HTML escaping, \n).
	if got := string(NewMalformedRequest("a<b>\n\"").AppendHTTPBody(nil)); got != `{"errorCode":"ERR_MALFORMED_REQUEST","message":"a\u003cb\u003e\n\""}` {
		t.Fatalf("escaping: %s", got)
	}
}

func metricsText() string {
	var buf bytes.Buffer
	metrics.WritePrometheus(&buf, false)
	return buf.String()
}

func TestMetrics(t *testing.T) {
	SetTelemetry(Telemetry{AppID: "metapp", RecordErrorCodes: false})
	CountError(NewMalformedRequest("x"))
	if strings.Contains(metricsText(), `dapr_error_code_total{app_id="metapp"`) {
		t.Fatal("error counted while RecordErrorCodes is off")
	}
	SetTelemetry(Telemetry{AppID: "metapp", RecordErrorCodes: true})
	CountError(NewMalformedRequest("x"))
	CountError(errNotFound("s", "a", true))
	CountError(nil)
	out := metricsText()
	for _, want := range []string{
		`dapr_error_code_total{app_id="metapp",category="common",error_code="ERR_MALFORMED_REQUEST"} 1`,
		`dapr_error_code_total{app_id="metapp",category="state",error_code="ERR_STATE_STORE_NOT_FOUND"} 1`,
	} {
		if !strings.Contains(out, want) {
			t.Fatalf("missing %s in\n%s", want, out)
		}
	}
	SetTelemetry(Telemetry{})

	s, err := New(Config{AppID: "metricsapp", Stores: []StoreEntry{{Spec: component.Spec{Name: "mstore"}, Store: errStore{}}}})
	if err != nil {
		t.Fatal(err)
	}
	var r GetResult
	_ = s.HTTPGet(context.Background(), []byte("mstore"), []byte("k"), nil, nil, &r)
	_ = s.HTTPSave(context.Background(), []byte("mstore"), []byte(`[{"key":"k"}]`), false, nil)
	out = metricsText()
	for _, want := range []string{
		`dapr_component_state_count{app_id="metricsapp",component="mstore",namespace="",operation="get",success="true"} 1`,
		`dapr_component_state_count{app_id="metricsapp",component="mstore",namespace="",operation="set",success="false"} 1`,
		`dapr_component_state_latencies_bucket{app_id="metricsapp",component="mstore",namespace="",operation="get",success="true",le="1"} 0`,
	} {
		if !strings.Contains(out, want) {
			t.Fatalf("missing %s", want)
		}
	}
}

// errStore: Get succeeds (missing), writes fail.
type errStore struct{}

func (errStore) Features() []component.Feature { return nil }
func (errStore) Get(context.Context, *component.GetRequest, *component.GetResponse) error {
	return nil
}
func (errStore) BulkGet(context.Context, []string, map[string]string, int) ([]component.BulkGetItem, error) {
	return nil, nil
}
func (errStore) BulkSet(context.Context, []component.SetRequest) error       { return errors.New("x") }
func (errStore) BulkDelete(context.Context, []component.DeleteRequest) error { return nil }
func (errStore) Multi(context.Context, *component.TransactionRequest) error  { return nil }
func (errStore) Close() error                                                { return nil }
