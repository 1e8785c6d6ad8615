package api

import (
	"net/http"
	"sort"
	"strconv"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/protoadapt"
)

// Error codes (daprd pkg/messages/errorcodes) used by the State API.
const (
	CodeMalformedRequest       = "ERR_MALFORMED_REQUEST"
	CodeBodyRead               = "ERR_BODY_READ"
	CodeStateStoreNotConfig    = "ERR_STATE_STORE_NOT_CONFIGURED"
	CodeStateStoreNotFound     = "ERR_STATE_STORE_NOT_FOUND"
	CodeStateStoreNotSupported = "ERR_STATE_STORE_NOT_SUPPORTED"
	CodeStateTooManyTx         = "ERR_STATE_STORE_TOO_MANY_TRANSACTIONS"
	CodeStateGet               = "ERR_STATE_GET"
	CodeStateBulkGet           = "ERR_STATE_BULK_GET"
	CodeStateSave              = "ERR_STATE_SAVE"
	CodeStateDelete            = "ERR_STATE_DELETE"
	CodeStateBulkDelete        = "ERR_STATE_BULK_DELETE"
	CodeStateTransaction       = "ERR_STATE_TRANSACTION"
	CodeStateQuery             = "ERR_STATE_QUERY"
	CodeNotSupportedStateOp    = "ERR_NOT_SUPPORTED_STATE_OPERATION"
)

// ErrorInfo reasons of the rich (dapr/kit) state errors.
const (
	ReasonNotConfigured        = "DAPR_STATE_NOT_CONFIGURED"
	ReasonNotFound             = "DAPR_STATE_NOT_FOUND"
	ReasonIllegalKey           = "DAPR_STATE_ILLEGAL_KEY"
	ReasonTxNotSupported       = "DAPR_STATE_TRANSACTIONS_NOT_SUPPORTED"
	ReasonTooManyTransactions  = "DAPR_STATE_TOO_MANY_TRANSACTIONS"
	ReasonQueryingNotSupported = "DAPR_STATE_QUERYING_NOT_SUPPORTED"
	ReasonQueryFailed          = "DAPR_STATE_QUERY_FAILED"
)

const (
	errorInfoDomain = "dapr.io"
	typeBadRequest  = "type.googleapis.com/google.rpc.BadRequest"
	typeResource    = "type.googleapis.com/google.rpc.ResourceInfo"
	typeErrorInfo   = "type.googleapis.com/google.rpc.ErrorInfo"
	typeHelp        = "type.googleapis.com/google.rpc.Help"
	helpURL         = "https://docs.dapr.io/reference/components-reference/supported-state-stores/"
	helpDescription = "Check the list of state stores and the features they support"
)

type detailKind uint8

const (
	detailBadRequest detailKind = iota + 1
	detailResource
	detailErrorInfo
	detailHelp
)

// detail is one google.rpc error detail, in the order the error was built.
type detail struct {
	kind detailKind
	// badRequest: field (omitted when empty); the description is the
	// error's message (HTTP) or gRPC message (gRPC).
	field string
	// resource: resource_name; resource_type is resType ("" = "state")
	// and description resDesc.
	resource, resType, resDesc string
	// errorInfo: reason and metadata (name/value pairs sorted by name);
	// nil meta renders as JSON null on HTTP.
	reason string
	meta   [][2]string
	// grpcNoMeta drops meta on gRPC (daprd's gRPC path adds no appID).
	grpcNoMeta bool
}

func (d *detail) resourceType() string {
	if d.resType == "" {
		return "state"
	}
	return d.resType
}

// Error is one Dapr API error, renderable for HTTP and gRPC exactly as daprd
// renders it. Errors are immutable once built and safe to share.
type Error struct {
	status   int
	code     codes.Code
	tag      string // errorCode ("ERR_...")
	msg      string // message on HTTP
	grpcMsg  string // message on gRPC
	rich     bool   // HTTP body carries details (dapr/kit shape)
	plain    bool   // HTTP body is text/plain (Go http.Error)
	noGRPCEI bool   // gRPC status carries no details at all
	// apiError: daprd builds this error as a messages.APIError, whose gRPC
	// status has no details; unlike noGRPCEI it is still counted.
	apiError bool
	category string // dapr_error_code_total category when not derived from tag
	details  []detail
}

// Error returns the HTTP message.
func (e *Error) Error() string { return e.msg }

// HTTPStatus returns the HTTP status code.
func (e *Error) HTTPStatus() int { return e.status }

// GRPCCode returns the gRPC status code.
func (e *Error) GRPCCode() codes.Code { return e.code }

// ErrorCode returns the Dapr error code, e.g. "ERR_STATE_SAVE".
func (e *Error) ErrorCode() string { return e.tag }

// Message returns the HTTP message text.
func (e *Error) Message() string { return e.msg }

// GRPCMessage returns the gRPC message text.
func (e *Error) GRPCMessage() string { return e.grpcMsg }

// Category returns the dapr_error_code_total category label: "state" for
// state errors, "common" otherwise. The rich (dapr/kit) errors of this API
// are all state errors, including the illegal-key ERR_MALFORMED_REQUEST;
// the legacy ERR_MALFORMED_REQUEST of a bad body is "common"
// (runtime-http.md §5).
func (e *Error) Category() string {
	if e.category != "" {
		return e.category
	}
	if e.rich || len(e.tag) >= 9 && e.tag[:9] == "ERR_STATE" || e.tag == CodeNotSupportedStateOp {
		return "state"
	}
	return "common"
}

// HTTPContentType returns the Content-Type of the HTTP error body.
func (e *Error) HTTPContentType() string {
	if e.plain {
		return "text/plain; charset=utf-8"
	}
	return "application/json"
}

// AppendHTTPBody appends the HTTP error body to dst: the legacy
// {"errorCode","message"} object, or the rich shape with "details" (keys of
// each detail alphabetical, "@type" first), byte-exact to daprd. No
// trailing newline (plain-text bodies end with "\n" like http.Error).
func (e *Error) AppendHTTPBody(dst []byte) []byte {
	if e.plain {
		dst = append(dst, e.msg...)
		return append(dst, '\n')
	}
	dst = append(dst, `{"errorCode":`...)
	dst = appendJSONString(dst, e.tag)
	dst = append(dst, `,"message":`...)
	dst = appendJSONString(dst, e.msg)
	if !e.rich {
		return append(dst, '}')
	}
	dst = append(dst, `,"details":[`...)
	for i, d := range e.details {
		if i > 0 {
			dst = append(dst, ',')
		}
		switch d.kind {
		case detailBadRequest:
			dst = append(dst, `{"@type":"`+typeBadRequest+`","field_violations":[{`...)
			if d.field != "" {
				dst = append(dst, `"field":`...)
				dst = appendJSONString(dst, d.field)
				dst = append(dst, ',')
			}
			dst = append(dst, `"description":`...)
			dst = appendJSONString(dst, e.msg)
			dst = append(dst, "}]}"...)
		case detailResource:
			dst = append(dst, `{"@type":"`+typeResource+`","description":`...)
			dst = appendJSONString(dst, d.resDesc)
			dst = append(dst, `,"owner":"","resource_name":`...)
			dst = appendJSONString(dst, d.resource)
			dst = append(dst, `,"resource_type":`...)
			dst = appendJSONString(dst, d.resourceType())
			dst = append(dst, '}')
		case detailErrorInfo:
			dst = append(dst, `{"@type":"`+typeErrorInfo+`","domain":"`+errorInfoDomain+`","metadata":`...)
			if d.meta == nil {
				dst = append(dst, "null"...)
			} else {
				dst = append(dst, '{')
				for j, kv := range d.meta {
					if j > 0 {
						dst = append(dst, ',')
					}
					dst = appendJSONString(dst, kv[0])
					dst = append(dst, ':')
					dst = appendJSONString(dst, kv[1])
				}
				dst = append(dst, '}')
			}
			dst = append(dst, `,"reason":`...)
			dst = appendJSONString(dst, d.reason)
			dst = append(dst, '}')
		case detailHelp:
			dst = append(dst, `{"@type":"`+typeHelp+`","links":[{"description":"`+helpDescription+`","url":"`+helpURL+`"}]}`...)
		}
	}
	return append(dst, "]}"...)
}

// GRPCStatus returns the gRPC status: code, gRPC message and google.rpc
// details (per state-grpc.md §5: rich errors carry their details; basic
// errors carry one ErrorInfo whose reason is the error code).
func (e *Error) GRPCStatus() *status.Status {
	st := status.New(e.code, e.grpcMsg)
	if e.noGRPCEI || e.apiError {
		return st
	}
	var ds []protoadapt.MessageV1
	if !e.rich {
		ds = append(ds, &errdetails.ErrorInfo{Reason: e.tag, Domain: errorInfoDomain})
	}
	for _, d := range e.details {
		switch d.kind {
		case detailBadRequest:
			ds = append(ds, &errdetails.BadRequest{FieldViolations: []*errdetails.BadRequest_FieldViolation{{Field: d.field, Description: e.grpcMsg}}})
		case detailResource:
			ds = append(ds, &errdetails.ResourceInfo{ResourceType: d.resourceType(), ResourceName: d.resource, Description: d.resDesc})
		case detailErrorInfo:
			ei := &errdetails.ErrorInfo{Reason: d.reason, Domain: errorInfoDomain}
			if !d.grpcNoMeta && d.meta != nil {
				ei.Metadata = make(map[string]string, len(d.meta))
				for _, kv := range d.meta {
					ei.Metadata[kv[0]] = kv[1]
				}
			}
			ds = append(ds, ei)
		case detailHelp:
			ds = append(ds, &errdetails.Help{Links: []*errdetails.Help_Link{{Description: helpDescription, Url: helpURL}}})
		}
	}
	if len(ds) == 0 {
		return st
	}
	if withDetails, err := st.WithDetails(ds...); err == nil {
		return withDetails
	}
	return st
}

// sortedMeta returns m's entries sorted by name (Go's map JSON order).
func sortedMeta(m map[string]string) [][2]string {
	out := make([][2]string, 0, len(m))
	for k, v := range m {
		out = append(out, [2]string{k, v})
	}
	sort.Slice(out, func(i, j int) bool { return out[i][0] < out[j][0] })
	return out
}

// basic builds a legacy-shape error with the same message on both transports.
func basic(httpStatus int, code codes.Code, tag, msg string) *Error {
	return &Error{status: httpStatus, code: code, tag: tag, msg: msg, grpcMsg: msg}
}

// NewMalformedRequest returns 400 ERR_MALFORMED_REQUEST with msg (legacy).
func NewMalformedRequest(msg string) *Error {
	return basic(http.StatusBadRequest, codes.InvalidArgument, CodeMalformedRequest, msg)
}

// errBodyRead: the request body could not be read (daprd's
// messages.ErrBodyRead, legacy shape), e.g. "stream too large".
func errBodyRead(err string) *Error {
	return basic(http.StatusBadRequest, codes.InvalidArgument, CodeBodyRead, "failed to read request body: "+err)
}

// NewInternal returns daprd's 500 ERR_INTERNAL (errorcodes.CommonInternal),
// e.g. a response it could not encode.
func NewInternal(msg string) *Error {
	return basic(http.StatusInternalServerError, codes.Internal, "ERR_INTERNAL", msg)
}

// NewBodyTooLarge returns 400 ERR_BODY_READ for a request body larger than
// --max-body-size, as every daprd route that reads its body answers it.
func NewBodyTooLarge() *Error { return errBodyRead(msgTooLarge) }

// NewPlainTextError returns an error rendered as Go's http.Error does
// (text/plain body ending in "\n"), e.g. daprd's
// `failed to unescape request parameter "key". Error: ...` (400).
func NewPlainTextError(httpStatus int, msg string) *Error {
	return &Error{status: httpStatus, code: codes.InvalidArgument, tag: http.StatusText(httpStatus), msg: msg, grpcMsg: msg, plain: true}
}

// errNotConfigured: no state store loaded at all. withAppID selects the
// HTTP ErrorInfo metadata {"appID":...} (all HTTP routes but query).
func errNotConfigured(store, appID string, withAppID bool) *Error {
	msg := "state store " + store + " is not configured"
	d := detail{kind: detailErrorInfo, reason: ReasonNotConfigured, grpcNoMeta: true}
	if withAppID {
		d.meta = [][2]string{{"appID", appID}}
	}
	return &Error{status: http.StatusInternalServerError, code: codes.FailedPrecondition, tag: CodeStateStoreNotConfig,
		msg: msg, grpcMsg: msg, rich: true, details: []detail{d}}
}

// errNotFound: store name unknown.
func errNotFound(store, appID string, withAppID bool) *Error {
	msg := "state store " + store + " is not found"
	d := detail{kind: detailErrorInfo, reason: ReasonNotFound, grpcNoMeta: true}
	if withAppID {
		d.meta = [][2]string{{"appID", appID}}
	}
	return &Error{status: http.StatusBadRequest, code: codes.InvalidArgument, tag: CodeStateStoreNotFound,
		msg: msg, grpcMsg: msg, rich: true, details: []detail{d}}
}

// errIllegalKey: key contains "||". field is the BadRequest field ("" in
// transactions, where daprd has already blanked it).
func errIllegalKey(store, key, field string) *Error {
	inner := "input key/keyPrefix '" + key + "' can't contain '||'"
	return &Error{status: http.StatusBadRequest, code: codes.InvalidArgument, tag: CodeMalformedRequest,
		msg: "api error: code = InvalidArgument desc = " + inner, grpcMsg: inner, rich: true,
		details: []detail{
			{kind: detailBadRequest, field: field},
			{kind: detailResource, resource: store},
			{kind: detailErrorInfo, reason: ReasonIllegalKey},
		}}
}

func errTxNotSupported(store string) *Error {
	msg := "state store " + store + " doesn't support transactions"
	return &Error{status: http.StatusInternalServerError, code: codes.Unimplemented, tag: CodeStateStoreNotSupported,
		msg: msg, grpcMsg: msg, rich: true, details: []detail{
			{kind: detailHelp},
			{kind: detailResource, resource: store},
			{kind: detailErrorInfo, reason: ReasonTxNotSupported},
		}}
}

func errTooManyOps(store string, n, max int) *Error {
	ns, ms := strconv.Itoa(n), strconv.Itoa(max)
	msg := "the transaction contains " + ns + " operations, which is more than what the state store supports: " + ms
	return &Error{status: http.StatusBadRequest, code: codes.InvalidArgument, tag: CodeStateTooManyTx,
		msg: msg, grpcMsg: msg, rich: true, details: []detail{
			{kind: detailResource, resource: store},
			{kind: detailErrorInfo, reason: ReasonTooManyTransactions, meta: [][2]string{{"currentOpsTransaction", ns}, {"maxOpsPerTransaction", ms}}},
		}}
}

func errQueryNotSupported(store string) *Error {
	msg := "state store does not support querying"
	return &Error{status: http.StatusInternalServerError, code: codes.Internal, tag: CodeStateStoreNotSupported,
		msg: msg, grpcMsg: msg, rich: true, details: []detail{
			{kind: detailResource, resource: store},
			{kind: detailErrorInfo, reason: ReasonQueryingNotSupported},
		}}
}

func errQueryFailed(store, detailText string) *Error {
	msg := "state store " + store + " query failed: " + detailText
	return &Error{status: http.StatusInternalServerError, code: codes.Internal, tag: CodeStateQuery,
		msg: msg, grpcMsg: msg, rich: true, details: []detail{
			{kind: detailResource, resource: store},
			{kind: detailErrorInfo, reason: ReasonQueryFailed},
		}}
}

func errNotSupportedOp(op string) *Error {
	return basic(http.StatusBadRequest, codes.Unimplemented, CodeNotSupportedStateOp, "operation type "+op+" not supported")
}

// errUnknownRaw is the gRPC SaveState failure for an invalid JSON value with
// contentType application/json: code Unknown, raw message, no details.
func errUnknownRaw(msg string) *Error {
	return &Error{status: http.StatusInternalServerError, code: codes.Unknown, tag: CodeStateSave, msg: msg, grpcMsg: msg, noGRPCEI: true}
}
