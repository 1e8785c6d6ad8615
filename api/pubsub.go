package api

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"google.golang.org/grpc/codes"

	"github.com/statecar/statecar/component"
	"github.com/statecar/statecar/component/binding"
	"github.com/statecar/statecar/component/pubsub"
)

// Error codes of the Pub/sub API (daprd pkg/messages/errorcodes, category
// "pubsub").
const (
	CodePubSubNotFound        = "ERR_PUBSUB_NOT_FOUND"
	CodePubSubEmpty           = "ERR_PUBSUB_EMPTY"
	CodeTopicNameEmpty        = "ERR_TOPIC_NAME_EMPTY"
	CodePubSubForbidden       = "ERR_PUBSUB_FORBIDDEN"
	CodePubSubPublishMessage  = "ERR_PUBSUB_PUBLISH_MESSAGE"
	CodePubSubRequestMetadata = "ERR_PUBSUB_REQUEST_METADATA"
	CodePubSubCloudEventsSer  = "ERR_PUBSUB_CLOUD_EVENTS_SER"
	CodePubSubEventsSer       = "ERR_PUBSUB_EVENTS_SER"
)

// The CloudEvents fields daprd writes (components-contrib pubsub/envelope.go).
const (
	ceID              = "id"
	ceSource          = "source"
	ceType            = "type"
	ceSpecVersion     = "specversion"
	ceDataContentType = "datacontenttype"
	ceData            = "data"
	ceDataBase64      = "data_base64"
	ceSubject         = "subject"
	ceTime            = "time"
	ceTopic           = "topic"
	cePubsub          = "pubsubname"
	ceTraceID         = "traceid"
	ceTraceParent     = "traceparent"
	ceTraceState      = "tracestate"
	ceExpiration      = "expiration"

	defaultCEType        = "com.dapr.event.sent"
	defaultCESource      = "Dapr"
	defaultCEContentType = "text/plain"
	ceSpecVersion10      = "1.0"
	// CloudEventContentType is the content type of a structured CloudEvent.
	CloudEventContentType = "application/cloudevents+json"
)

// PubSubEntry is one loaded broker.
type PubSubEntry struct {
	Name   string
	Broker pubsub.PubSub
	// Metadata is the component's spec.metadata: the scoping fields
	// (publishingScopes, subscriptionScopes, allowedTopics, protectedTopics)
	// are read from it, and a value containing "{namespace}" makes the
	// broker namespace-scoped (topics are prefixed with the namespace).
	Metadata map[string]string
}

// PubSubConfig configures NewPubSub.
type PubSubConfig struct {
	AppID, Namespace string
	Brokers          []PubSubEntry
	// LatencyBuckets are the dapr_component_pubsub_* latency buckets in ms
	// (nil: daprd's defaults).
	LatencyBuckets []float64
	// DisableMetrics turns off dapr_component_pubsub_* recording.
	DisableMetrics bool
}

// broker is one pub/sub component with daprd's scoping rules
// (pkg/scopes, pkg/runtime/pubsub IsOperationAllowed).
type broker struct {
	name       string
	ps         pubsub.PubSub
	features   []string
	scopedPubs []string
	scopedSubs []string
	allowed    []string
	protected  []string
	namespaced bool
}

// PubSub serves the publishing side of the Pub/sub API
// (other-building-blocks.md §4.1, §4.2) and owns the brokers. It is
// immutable after NewPubSub and safe for concurrent use; a nil *PubSub
// answers as daprd without pub/sub components (404 ERR_PUBSUB_NOT_FOUND).
type PubSub struct {
	cfg     PubSubConfig
	brokers map[string]*broker
	names   []string // in load order

	// mu guards the metric series created per topic.
	mu      sync.Mutex
	egress  map[egressKey]*egressSeries
	ingress map[ingressKey]*ingressSeries
}

// NewPubSub builds the Pub/sub API over cfg.Brokers.
func NewPubSub(cfg PubSubConfig) *PubSub {
	if cfg.LatencyBuckets == nil {
		cfg.LatencyBuckets = defaultLatencyBuckets
	}
	p := &PubSub{cfg: cfg, brokers: make(map[string]*broker, len(cfg.Brokers)),
		egress: map[egressKey]*egressSeries{}, ingress: map[ingressKey]*ingressSeries{}}
	for _, e := range cfg.Brokers {
		b := &broker{name: e.Name, ps: e.Broker, features: e.Broker.Features(),
			scopedPubs: scopedTopics("publishingScopes", cfg.AppID, e.Metadata),
			scopedSubs: scopedTopics("subscriptionScopes", cfg.AppID, e.Metadata),
			allowed:    paramTopics("allowedTopics", e.Metadata),
			protected:  paramTopics("protectedTopics", e.Metadata),
		}
		for _, v := range e.Metadata {
			if strings.Contains(v, "{namespace}") {
				b.namespaced = true
			}
		}
		p.brokers[e.Name] = b
		p.names = append(p.names, e.Name)
	}
	return p
}

// Names lists the brokers in load order.
func (p *PubSub) Names() []string {
	if p == nil {
		return nil
	}
	return p.names
}

// Broker returns the broker named name (nil when unknown).
func (p *PubSub) Broker(name string) pubsub.PubSub {
	if b := p.lookup(name); b != nil {
		return b.ps
	}
	return nil
}

// Features returns the features of broker name (nil when unknown).
func (p *PubSub) Features(name string) []string {
	if b := p.lookup(name); b != nil {
		return b.features
	}
	return nil
}

func (p *PubSub) lookup(name string) *broker {
	if p == nil {
		return nil
	}
	return p.brokers[name]
}

// Close closes every broker.
func (p *PubSub) Close() error {
	if p == nil {
		return nil
	}
	var errs []error
	for _, n := range p.names {
		errs = append(errs, p.brokers[n].ps.Close())
	}
	return errors.Join(errs...)
}

// metaParam looks param up case-insensitively (daprd's findParamInMetadata).
func metaParam(param string, m map[string]string) (string, bool) {
	for k, v := range m {
		if strings.EqualFold(k, param) {
			return v, true
		}
	}
	return "", false
}

// scopedTopics is daprd's scopes.GetScopedTopics: "app1=t1,t2;app2=t3".
func scopedTopics(param, appID string, m map[string]string) []string {
	var topics []string
	val, ok := metaParam(param, m)
	if !ok || val == "" {
		return topics
	}
	val = strings.ReplaceAll(val, " ", "")
	for _, a := range strings.Split(val, ";") {
		app, list, ok := strings.Cut(a, "=")
		if !ok || app != appID {
			continue
		}
		for _, t := range strings.Split(list, ",") {
			if !slices.Contains(topics, t) {
				topics = append(topics, t)
			}
		}
	}
	return topics
}

// paramTopics is daprd's scopes getParamTopics: "t1,t2".
func paramTopics(param string, m map[string]string) []string {
	var topics []string
	val, ok := metaParam(param, m)
	if !ok || val == "" {
		return topics
	}
	for _, t := range strings.Split(strings.ReplaceAll(val, " ", ""), ",") {
		if !slices.Contains(topics, t) {
			topics = append(topics, t)
		}
	}
	return topics
}

// allowedOp is daprd's IsOperationAllowed: allowedTopics restrict every
// operation; a protected topic needs an explicit scope; with scopes only
// the scoped topics are allowed.
func (b *broker) allowedOp(topic string, scoped []string) bool {
	if len(b.allowed) > 0 && !slices.Contains(b.allowed, topic) {
		return false
	}
	protected := slices.Contains(b.protected, topic)
	if !protected && len(scoped) == 0 {
		return true
	}
	return slices.Contains(scoped, topic)
}

// SubscribeAllowed reports whether this app may subscribe to topic on
// broker name (subscriptionScopes, allowedTopics, protectedTopics).
func (p *PubSub) SubscribeAllowed(name, topic string) bool {
	b := p.lookup(name)
	return b != nil && b.allowedOp(topic, b.scopedSubs)
}

// psErr builds a rich pub/sub error as daprd's apierrors.PubSub does: an
// optional ResourceInfo (type "pubsub", the message as description), then
// an ErrorInfo with meta.
func psErr(httpStatus int, code codes.Code, tag, reason, name, msg string, meta map[string]string, resource bool) *Error {
	e := &Error{status: httpStatus, code: code, tag: tag, msg: msg, grpcMsg: msg, rich: true, category: "pubsub"}
	if resource {
		e.details = append(e.details, detail{kind: detailResource, resource: name, resType: "pubsub", resDesc: msg})
	}
	d := detail{kind: detailErrorInfo, reason: reason}
	if meta != nil {
		d.meta = sortedMeta(meta)
	}
	e.details = append(e.details, d)
	return e
}

func errPubSubNotFound(name string, meta map[string]string) *Error {
	return psErr(http.StatusNotFound, codes.InvalidArgument, CodePubSubNotFound, "DAPR_PUBSUB_NOT_FOUND", name,
		"pubsub "+name+" is not found", meta, false)
}

func errPubSubNameEmpty(meta map[string]string) *Error {
	return psErr(http.StatusNotFound, codes.InvalidArgument, CodePubSubEmpty, "DAPR_PUBSUB_NAME_EMPTY", "",
		"pubsub name is empty", meta, true)
}

func errTopicEmpty(name string, meta map[string]string) *Error {
	return psErr(http.StatusNotFound, codes.InvalidArgument, CodeTopicNameEmpty, "DAPR_PUBSUB_TOPIC_NAME_EMPTY", name,
		"topic is empty in pubsub "+name, meta, true)
}

func errPubSubMetadata(name string, meta map[string]string, err error) *Error {
	return psErr(http.StatusBadRequest, codes.InvalidArgument, CodePubSubRequestMetadata, "DAPR_PUBSUB_METADATA_DESERIALIZATION", name,
		"failed deserializing metadata. Error: "+err.Error(), meta, true)
}

func appErrMeta(appID string, err error) map[string]string {
	m := map[string]string{"appID": appID}
	if err != nil {
		m["error"] = err.Error()
	}
	return m
}

func errCloudEventCreation(name, appID string, err error) *Error {
	return psErr(http.StatusInternalServerError, codes.InvalidArgument, CodePubSubCloudEventsSer, "DAPR_PUBSUB_CLOUD_EVENT_CREATION", name,
		"cannot create cloudevent", appErrMeta(appID, err), true)
}

func errPublishMessage(name, topic string, err error) *Error {
	return psErr(http.StatusInternalServerError, codes.Internal, CodePubSubPublishMessage, "DAPR_PUBSUB_PUBLISH_MESSAGE", name,
		fmt.Sprintf("error when publishing to topic %s in pubsub %s: %s", topic, name, err),
		map[string]string{"topic": topic, "error": err.Error()}, true)
}

func errPublishForbidden(name, topic, appID string) *Error {
	msg := fmt.Sprintf("topic %s is not allowed for app id %s", topic, appID)
	return psErr(http.StatusForbidden, codes.PermissionDenied, CodePubSubForbidden, "DAPR_PUBSUB_FORBIDDEN", name,
		msg, map[string]string{"topic": topic, "error": msg}, true)
}

func errUnmarshalEvents(name, topic, appID string, err error) *Error {
	return psErr(http.StatusBadRequest, codes.InvalidArgument, CodePubSubEventsSer, "DAPR_PUBSUB_UNMARSHAL_EVENTS", name,
		fmt.Sprintf("error when unmarshaling the request for topic %s pubsub %s: %s", topic, name, err), appErrMeta(appID, nil), true)
}

func errMarshalEvents(name, topic, appID string, err error) *Error {
	return psErr(http.StatusBadRequest, codes.InvalidArgument, CodePubSubEventsSer, "DAPR_PUBSUB_MARSHAL_EVENTS", name,
		fmt.Sprintf("error marshaling events to bytes for topic %s pubsub %s. error: %s", topic, name, err), appErrMeta(appID, err), true)
}

func errMarshalEnvelope(name, topic, appID string, err error) *Error {
	errText := ""
	if err != nil {
		errText = err.Error()
	}
	return psErr(http.StatusBadRequest, codes.InvalidArgument, CodePubSubEventsSer, "DAPR_PUBSUB_MARSHAL_ENVELOPE", name,
		fmt.Sprintf("error when marshalling cloud event envelope for topic %s pubsub %s: %s", topic, name, errText), appErrMeta(appID, err), true)
}

// PublishRequest is one publish call, decoded from HTTP (POST
// /v1.0/publish/{pubsub}/{topic}) or gRPC (PublishEvent).
type PublishRequest struct {
	PubsubName, Topic string
	Data              []byte
	// ContentType is the HTTP Content-Type or gRPC data_content_type.
	ContentType string
	// Metadata holds the metadata.* query parameters or the gRPC map.
	Metadata map[string]string
	// TraceParent and TraceState are the caller's W3C trace context
	// ("" when none), written into the envelope's traceid/traceparent and
	// tracestate.
	TraceParent, TraceState string
	// GRPC selects gRPC's rules: a NotFound error without metadata and,
	// for a raw payload, traceid and tracestate added to the metadata.
	GRPC bool
	// BodyErr is the error reading the HTTP body (after the checks,
	// daprd answers it as a failed publish).
	BodyErr error
}

// rawPayload is contrib's metadata.IsRawPayload (the name is exact).
func rawPayload(meta map[string]string) (bool, error) {
	val, ok := meta["rawPayload"]
	if !ok || val == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(val)
	if err != nil {
		return false, fmt.Errorf("rawPayload value must be a valid boolean: actual is '%s'", val)
	}
	return b, nil
}

// validate is daprd's validateAndGetPubsubAndTopic.
func (p *PubSub) validate(name, topic string, meta map[string]string, grpc bool) (*broker, bool, *Error) {
	if name == "" {
		return nil, false, errPubSubNameEmpty(meta)
	}
	b := p.lookup(name)
	if b == nil {
		if grpc {
			return nil, false, errPubSubNotFound(name, nil)
		}
		return nil, false, errPubSubNotFound(name, meta)
	}
	if topic == "" {
		return nil, false, errTopicEmpty(name, meta)
	}
	raw, err := rawPayload(meta)
	if err != nil {
		return nil, false, errPubSubMetadata(name, meta, err)
	}
	return b, raw, nil
}

// Publish publishes one event: wrapped in a CloudEvent unless metadata
// rawPayload is true, then checked against the publishing scopes and
// handed to the broker. nil means 204.
func (p *PubSub) Publish(ctx context.Context, req *PublishRequest) *Error {
	b, raw, e := p.validate(req.PubsubName, req.Topic, req.Metadata, req.GRPC)
	if e != nil {
		return e
	}
	if req.BodyErr != nil {
		return errPublishMessage(req.PubsubName, req.Topic, req.BodyErr)
	}
	data := req.Data
	meta := req.Metadata
	if !raw {
		var err error
		data, err = buildEnvelope(&cloudEventInput{source: p.cfg.AppID, topic: req.Topic, pubsub: req.PubsubName,
			contentType: req.ContentType, data: req.Data, traceID: req.TraceParent, traceState: req.TraceState}, req.Metadata, b.features)
		if err != nil {
			return errCloudEventCreation(req.PubsubName, p.cfg.AppID, err)
		}
	} else if req.GRPC {
		meta = make(map[string]string, len(req.Metadata)+2)
		for k, v := range req.Metadata {
			meta[k] = v
		}
		meta[ceTraceID] = req.TraceParent
		meta[ceTraceState] = req.TraceState
	}
	start := time.Now()
	err := p.publish(ctx, b, &pubsub.PublishRequest{Topic: req.Topic, Data: data, Metadata: meta})
	p.recordEgress(b.name, req.Topic, err == nil, start)
	if err != nil {
		if errors.Is(err, errNotAllowed) {
			return errPublishForbidden(b.name, req.Topic, p.cfg.AppID)
		}
		return errPublishMessage(b.name, req.Topic, err)
	}
	return nil
}

var errNotAllowed = errors.New("not allowed")

// publish is daprd's publisher.Publish: the scopes, then the namespace
// prefix, then the broker.
func (p *PubSub) publish(ctx context.Context, b *broker, req *pubsub.PublishRequest) error {
	if !b.allowedOp(req.Topic, b.scopedPubs) {
		return errNotAllowed
	}
	if b.namespaced {
		req.Topic = p.cfg.Namespace + req.Topic
	}
	return b.ps.Publish(ctx, req)
}

// PublishDeadLetter publishes a message that could not be delivered to the
// dead-letter topic, as it came from the broker (daprd sendToDeadLetter).
func (p *PubSub) PublishDeadLetter(ctx context.Context, name, topic string, msg *pubsub.Message) error {
	b := p.lookup(name)
	if b == nil {
		return fmt.Errorf("pubsub '%s' not found", name)
	}
	err := p.publish(ctx, b, &pubsub.PublishRequest{Topic: topic, Data: msg.Data, Metadata: msg.Metadata, ContentType: msg.ContentType})
	if errors.Is(err, errNotAllowed) {
		return fmt.Errorf("topic %s is not allowed for app id %s", topic, p.cfg.AppID)
	}
	return err
}

// BulkEntry is one entry of a bulk publish.
type BulkEntry struct {
	EntryID     string
	Event       []byte
	ContentType string
	Metadata    map[string]string
}

// BulkFailed is one entry a bulk publish could not publish.
type BulkFailed struct {
	EntryID string `json:"entryId"`
	Error   string `json:"error"`
}

// BulkPublishRequest is one bulk publish call, decoded from HTTP (POST
// /v1.0-alpha1/publish/bulk/{pubsub}/{topic}) or gRPC
// (BulkPublishEventAlpha1 / BulkPublishEvent).
type BulkPublishRequest struct {
	PubsubName, Topic string
	Entries           []BulkEntry
	Metadata          map[string]string
	TraceParent       string
	TraceState        string
	GRPC              bool
	// CheckEntryIDs validates the entry IDs while the envelopes are built,
	// as daprd's gRPC handler does (HTTP checks them while decoding).
	CheckEntryIDs bool
}

// ValidateBulk checks the broker, topic and metadata of a bulk publish
// before its body is decoded (HTTP's order).
func (p *PubSub) ValidateBulk(name, topic string, meta map[string]string) *Error {
	_, _, e := p.validate(name, topic, meta, false)
	return e
}

// ErrUnmarshalEvents is the HTTP bulk publish error for a body that is not
// a JSON array of entries.
func (p *PubSub) ErrUnmarshalEvents(name, topic string, err error) *Error {
	return errUnmarshalEvents(name, topic, p.cfg.AppID, err)
}

// ErrMarshalEvents is the bulk publish error for an entry whose event does
// not match its content type or whose entryId is missing or repeated.
func (p *PubSub) ErrMarshalEvents(name, topic string, err error) *Error {
	return errMarshalEvents(name, topic, p.cfg.AppID, err)
}

// ErrMarshalEnvelope is the HTTP bulk publish error for an event that does
// not match its entry's content type.
func (p *PubSub) ErrMarshalEnvelope(name, topic string, err error) *Error {
	return errMarshalEnvelope(name, topic, p.cfg.AppID, err)
}

// ErrDuplicateEntryID is the text of a missing or repeated entryId.
var ErrDuplicateEntryID = errors.New("entryId is duplicated or not present for entry")

// BulkPublish publishes every entry (in parallel, at most 100 at a time, as
// daprd's default bulk publisher does for brokers without native bulk
// publishing). failed lists the entries that failed when e is
// ERR_PUBSUB_PUBLISH_MESSAGE.
func (p *PubSub) BulkPublish(ctx context.Context, req *BulkPublishRequest) (failed []BulkFailed, e *Error) {
	b, raw, e := p.validate(req.PubsubName, req.Topic, req.Metadata, req.GRPC)
	if e != nil {
		return nil, e
	}
	entries := req.Entries
	seen := make(map[string]struct{}, len(req.Entries))
	checkID := func(id string) *Error {
		if _, dup := seen[id]; dup || id == "" {
			return p.ErrMarshalEvents(req.PubsubName, req.Topic, ErrDuplicateEntryID)
		}
		seen[id] = struct{}{}
		return nil
	}
	if raw && req.CheckEntryIDs {
		for _, en := range req.Entries {
			if e := checkID(en.EntryID); e != nil {
				return nil, e
			}
		}
	}
	if !raw {
		entries = make([]BulkEntry, len(req.Entries))
		for i, en := range req.Entries {
			if req.CheckEntryIDs {
				if e := checkID(en.EntryID); e != nil {
					return nil, e
				}
			}
			data, err := buildEnvelope(&cloudEventInput{source: p.cfg.AppID, topic: req.Topic, pubsub: req.PubsubName,
				contentType: en.ContentType, data: en.Event, traceID: req.TraceParent, traceState: req.TraceState}, en.Metadata, b.features)
			if err != nil {
				return nil, errCloudEventCreation(req.PubsubName, p.cfg.AppID, err)
			}
			entries[i] = en
			entries[i].Event = data
		}
	}
	if !b.allowedOp(req.Topic, b.scopedPubs) {
		p.recordBulkEgress(b.name, req.Topic, false, time.Now())
		return nil, errPublishForbidden(b.name, req.Topic, p.cfg.AppID)
	}
	topic := req.Topic
	if b.namespaced {
		topic = p.cfg.Namespace + topic
	}
	start := time.Now()
	var mu sync.Mutex
	var firstErr error
	var wg sync.WaitGroup
	sem := make(chan struct{}, 100)
	for _, en := range entries {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			err := b.ps.Publish(ctx, &pubsub.PublishRequest{Topic: topic, Data: en.Event, Metadata: en.Metadata, ContentType: en.ContentType})
			if err != nil {
				mu.Lock()
				failed = append(failed, BulkFailed{EntryID: en.EntryID, Error: err.Error()})
				if firstErr == nil {
					firstErr = err
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	p.recordBulkEgress(b.name, req.Topic, firstErr == nil, start)
	if firstErr != nil {
		if failed == nil {
			failed = []BulkFailed{}
		}
		return failed, errPublishMessage(b.name, req.Topic, firstErr)
	}
	return nil, nil
}

// BulkEntryMetadata is daprd's PopulateMetadataForBulkPublishEntry: the
// request metadata overlaid by the entry's (nil when the entry has none,
// as daprd leaves it).
func BulkEntryMetadata(reqMeta, entryMeta map[string]string) map[string]string {
	if entryMeta == nil {
		return nil
	}
	out := make(map[string]string, len(reqMeta)+len(entryMeta))
	for k, v := range reqMeta {
		out[k] = v
	}
	for k, v := range entryMeta {
		out[k] = v
	}
	return out
}

// ConvertBulkEvent is daprd's ConvertEventToBytes for an HTTP bulk entry
// (event is the entry's raw JSON): binary types take a base64 string,
// text types a JSON string, JSON and CloudEvent types any JSON value.
func ConvertBulkEvent(event json.RawMessage, contentType string) ([]byte, error) {
	errMismatch := errors.New("error: mismatch between contentType and event")
	switch {
	case isBinaryContentType(contentType):
		var s string
		if err := json.Unmarshal(event, &s); err != nil {
			return nil, errMismatch
		}
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return nil, fmt.Errorf("error: unable to decode base64 application/octect-stream data: %w", err)
		}
		return b, nil
	case isStringContentType(contentType):
		var s string
		if err := json.Unmarshal(event, &s); err != nil {
			return nil, errMismatch
		}
		return []byte(s), nil
	case isJSONContentType(contentType) || isCloudEventContentType(contentType):
		var v any
		d := json.NewDecoder(bytes.NewReader(event))
		d.UseNumber()
		if err := d.Decode(&v); err != nil {
			return nil, fmt.Errorf("%s: %w", errMismatch.Error(), err)
		}
		out, err := json.Marshal(v)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", errMismatch.Error(), err)
		}
		return out, nil
	}
	return nil, errMismatch
}

// Content types as components-contrib's contenttype package matches them.
func isContentType(ct, want string) bool {
	ct = strings.ToLower(ct)
	if ct == want {
		return true
	}
	if i := strings.IndexByte(ct, ';'); i >= 0 {
		return ct[:i] == want
	}
	return false
}

func isCloudEventContentType(ct string) bool { return isContentType(ct, CloudEventContentType) }
func isJSONContentType(ct string) bool       { return isContentType(ct, "application/json") }
func isBinaryContentType(ct string) bool     { return isContentType(ct, "application/octet-stream") }
func isStringContentType(ct string) bool {
	return strings.HasPrefix(strings.ToLower(ct), "text/") || isContentType(ct, "application/xml")
}

// cloudEventInput is daprd's runtime/pubsub.CloudEvent.
type cloudEventInput struct {
	id, source, typ, subject, traceParent string
	topic, pubsub, contentType            string
	data                                  []byte
	traceID, traceState                   string
}

// envelopeNow is the clock of the envelopes' time and expiration (tests
// fix it).
var envelopeNow = time.Now

// buildEnvelope is daprd's NewCloudEvent, ApplyMetadata and json.Marshal:
// the envelope's bytes. A published CloudEvent goes through a map (its
// fields are the publisher's); every other body is written directly, byte
// for byte what json.Marshal writes for daprd's map.
func buildEnvelope(in *cloudEventInput, meta map[string]string, features []string) ([]byte, error) {
	if isCloudEventContentType(in.contentType) {
		env, err := fromCloudEvent(in.data, in.topic, in.pubsub, in.traceID, in.traceState)
		if err != nil {
			return nil, err
		}
		applyTTL(env, features, meta)
		return marshalEnvelope(env)
	}
	applyOverrides(in, meta)
	exp := ""
	if ttl, ok, _ := binding.TTL(meta); ok && !slices.Contains(features, pubsub.FeatureMessageTTL) {
		exp = envelopeNow().UTC().Add(ttl).Format(time.RFC3339)
	}
	return appendEnvelope(make([]byte, 0, len(in.data)+320), in, exp), nil
}

// appendEnvelope appends the JSON of contrib's NewCloudEventsEnvelope (keys
// in encoding/json's sorted order) with an optional expiration.
func appendEnvelope(dst []byte, in *cloudEventInput, expiration string) []byte {
	if in.id == "" {
		in.id, _ = component.NewUUID()
	}
	if in.source == "" {
		in.source = defaultCESource
	}
	if in.typ == "" {
		in.typ = defaultCEType
	}
	ct := in.contentType
	if ct == "" {
		ct = defaultCEContentType
	}
	switch {
	case isJSONContentType(ct):
		dst = append(dst, `{"data":`...)
		n := len(dst)
		var err error
		if dst, err = CanonicalizeFirst(dst, in.data); err != nil {
			dst = appendJSONString(dst[:n], in.data) // not JSON: the text
		}
	case isBinaryContentType(ct) || isContentType(ct, "application/cloudevents+protobuf"):
		dst = append(dst, `{"data_base64":"`...)
		dst = base64.StdEncoding.AppendEncode(dst, in.data)
		dst = append(dst, '"')
	default:
		dst = append(dst, `{"data":`...)
		dst = appendJSONString(dst, in.data)
	}
	dst = append(dst, `,"datacontenttype":`...)
	dst = appendJSONString(dst, ct)
	if expiration != "" {
		dst = append(dst, `,"expiration":`...)
		dst = appendJSONString(dst, expiration)
	}
	dst = append(dst, `,"id":`...)
	dst = appendJSONString(dst, in.id)
	dst = append(dst, `,"pubsubname":`...)
	dst = appendJSONString(dst, in.pubsub)
	dst = append(dst, `,"source":`...)
	dst = appendJSONString(dst, in.source)
	dst = append(dst, `,"specversion":"1.0"`...)
	if in.subject != "" {
		dst = append(dst, `,"subject":`...)
		dst = appendJSONString(dst, in.subject)
	}
	dst = append(dst, `,"time":"`...)
	dst = envelopeNow().AppendFormat(dst, time.RFC3339)
	dst = append(dst, `","topic":`...)
	dst = appendJSONString(dst, in.topic)
	dst = append(dst, `,"traceid":`...)
	dst = appendJSONString(dst, in.traceID)
	dst = append(dst, `,"traceparent":`...)
	dst = appendJSONString(dst, in.traceID)
	dst = append(dst, `,"tracestate":`...)
	dst = appendJSONString(dst, in.traceState)
	dst = append(dst, `,"type":`...)
	dst = appendJSONString(dst, in.typ)
	return append(dst, '}')
}

// applyOverrides applies the cloudevent.* metadata (daprd's mapstructure
// decode into its CloudEvent: names case-insensitive).
func applyOverrides(in *cloudEventInput, meta map[string]string) {
	for k, v := range meta {
		name, ok := cutPrefixFold(k, "cloudevent.")
		if !ok {
			continue
		}
		switch strings.ToLower(name) {
		case "id":
			in.id = v
		case "source":
			in.source = v
		case "type":
			in.typ = v
		case "subject":
			in.subject = v
		case "traceid":
			in.traceID = v
		case "traceparent":
			in.traceParent = v
		case "tracestate":
			in.traceState = v
		}
	}
	if in.traceParent != "" {
		in.traceID = in.traceParent
	}
}

func cutPrefixFold(s, prefix string) (string, bool) {
	if len(s) < len(prefix) || !strings.EqualFold(s[:len(prefix)], prefix) {
		return "", false
	}
	return s[len(prefix):], true
}

// fromCloudEvent is contrib's FromCloudEvent.
func fromCloudEvent(raw []byte, topic, ps, traceParent, traceState string) (map[string]any, error) {
	var m map[string]any
	if err := unmarshalPrecise(raw, &m); err != nil {
		return m, err
	}
	if m == nil { // the JSON null
		m = map[string]any{}
	}
	if _, ok := m[ceTime]; !ok {
		m[ceTime] = envelopeNow().Format(time.RFC3339)
	}
	if _, ok := m[ceTraceID]; !ok {
		m[ceTraceID] = traceParent
		m[ceTraceParent] = traceParent
	}
	if _, ok := m[ceTraceState]; !ok {
		m[ceTraceState] = traceState
	}
	m[ceTopic] = topic
	m[cePubsub] = ps
	if m[ceSource] == nil {
		m[ceSource] = defaultCESource
	}
	if m[ceType] == nil {
		m[ceType] = defaultCEType
	}
	if m[ceSpecVersion] == nil {
		m[ceSpecVersion] = ceSpecVersion10
	}
	return m, nil
}

// unmarshalPrecise decodes with UseNumber (contrib's unmarshalPrecise):
// numbers keep their digits.
func unmarshalPrecise(data []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()
	return d.Decode(v)
}

// applyTTL is contrib's ApplyMetadata: without a broker-side TTL the
// envelope gets an "expiration" (RFC 3339, UTC) from ttlInSeconds.
func applyTTL(ce map[string]any, features []string, meta map[string]string) {
	ttl, ok, _ := binding.TTL(meta)
	if ok && !slices.Contains(features, pubsub.FeatureMessageTTL) {
		ce[ceExpiration] = envelopeNow().UTC().Add(ttl).Format(time.RFC3339)
	}
}

// marshalEnvelope is json.Marshal of the envelope, as daprd writes it.
func marshalEnvelope(ce map[string]any) ([]byte, error) { return json.Marshal(ce) }

// Metric series. Topics are open-ended, so the series are created on
// first use.

type egressKey struct {
	comp, topic string
	ok, bulk    bool
}

type egressSeries struct {
	count *metrics.Counter
	lat   *metrics.PrometheusHistogram
}

type ingressKey struct{ comp, processStatus, status, topic string }

type ingressSeries struct {
	count *metrics.Counter
	lat   *metrics.PrometheusHistogram
}

func (p *PubSub) egressSeries(comp, topic string, ok, bulk bool) *egressSeries {
	k := egressKey{comp, topic, ok, bulk}
	p.mu.Lock()
	defer p.mu.Unlock()
	if s := p.egress[k]; s != nil {
		return s
	}
	labels := `{app_id=` + strconv.Quote(p.cfg.AppID) + `,component=` + strconv.Quote(comp) +
		`,namespace=` + strconv.Quote(p.cfg.Namespace) + `,success="` + strconv.FormatBool(ok) + `",topic=` + strconv.Quote(topic) + `}`
	name := "dapr_component_pubsub_egress"
	if bulk {
		name += "_bulk"
	}
	s := &egressSeries{count: metrics.GetOrCreateCounter(name + "_count" + labels),
		lat: metrics.GetOrCreatePrometheusHistogramExt(name+"_latencies"+labels, p.cfg.LatencyBuckets)}
	p.egress[k] = s
	return s
}

func (p *PubSub) recordEgress(comp, topic string, ok bool, start time.Time) {
	if p.cfg.DisableMetrics {
		return
	}
	s := p.egressSeries(comp, topic, ok, false)
	s.count.Inc()
	if ms := time.Since(start) / time.Millisecond; ms > 0 {
		s.lat.Update(float64(ms))
	}
}

// recordBulkEgress is daprd's BulkPubsubEgressEvent (its event_count
// measure has no registered view, so only _count and _latencies exist).
func (p *PubSub) recordBulkEgress(comp, topic string, ok bool, start time.Time) {
	if p.cfg.DisableMetrics {
		return
	}
	s := p.egressSeries(comp, topic, ok, true)
	s.count.Inc()
	if ms := time.Since(start) / time.Millisecond; ms > 0 {
		s.lat.Update(float64(ms))
	}
}

// RecordIngress counts one delivery of a message of topic from broker comp
// (dapr_component_pubsub_ingress_count and _latencies; processStatus is
// success, retry or drop; status is "" or, for a drop the app asked for,
// success).
func (p *PubSub) RecordIngress(comp, processStatus, status, topic string, elapsed time.Duration) {
	if p == nil || p.cfg.DisableMetrics {
		return
	}
	k := ingressKey{comp, processStatus, status, topic}
	p.mu.Lock()
	s := p.ingress[k]
	if s == nil {
		labels := `{app_id=` + strconv.Quote(p.cfg.AppID) + `,component=` + strconv.Quote(comp) +
			`,namespace=` + strconv.Quote(p.cfg.Namespace) + `,process_status=` + strconv.Quote(processStatus) +
			`,status=` + strconv.Quote(status) + `,topic=` + strconv.Quote(topic) + `}`
		s = &ingressSeries{count: metrics.GetOrCreateCounter("dapr_component_pubsub_ingress_count" + labels),
			lat: metrics.GetOrCreatePrometheusHistogramExt("dapr_component_pubsub_ingress_latencies"+labels, p.cfg.LatencyBuckets)}
		p.ingress[k] = s
	}
	p.mu.Unlock()
	s.count.Inc()
	if ms := elapsed / time.Millisecond; ms > 0 {
		s.lat.Update(float64(ms))
	}
}
