package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/statecar/statecar/api"
)

// The Pub/sub API over HTTP (other-building-blocks.md §4; daprd
// pkg/api/http/http.go onPublish and onBulkPublish). The routes are chi's
// "publish/{pubsubname}/*": the topic is the rest of the path and may hold
// slashes, and neither parameter is unescaped unless the whole path is in
// Go's default escaping (chi then routes on the decoded path).

// matchPublish routes POST|PUT /v1.0/publish/{pubsub}/{topic...},
// /v1.0/publish/bulk/{pubsub}/{topic...} and
// /v1.0-alpha1/publish/bulk/{pubsub}/{topic...}. "bulk" is the bulk route
// only when a pubsub and a topic follow it (chi prefers the static
// segment, then backtracks to the parameter).
func matchPublish(method, p string) (routeID, routeParams) {
	var params routeParams
	if method != http.MethodPost && method != http.MethodPut {
		return routeNone, params
	}
	chiPath := chiRoutingPath(p)
	id := routePublish
	var rest string
	if r, ok := strings.CutPrefix(chiPath, "/v1.0-alpha1/publish/bulk/"); ok {
		id, rest = routeBulkPublishAlpha, r
	} else {
		rest = strings.TrimPrefix(chiPath, "/v1.0/publish/")
		if r, ok := strings.CutPrefix(rest, "bulk/"); ok {
			if name, topic, ok := strings.Cut(r, "/"); ok && name != "" && topic != "" {
				id, rest = routeBulkPublish, r
			}
		}
	}
	name, topic, ok := strings.Cut(rest, "/")
	if !ok || name == "" || topic == "" {
		return routeNone, params
	}
	params[0], params[1] = name, topic
	return id, params
}

// chiRoutingPath is the path chi routes on: the decoded path when the
// escaped one is Go's default escaping of it (URL.RawPath empty),
// otherwise the escaped path as sent.
func chiRoutingPath(p string) string {
	if !strings.Contains(p, "%") {
		return p
	}
	dec, err := url.PathUnescape(p)
	if err != nil {
		return p
	}
	if (&url.URL{Path: dec}).EscapedPath() == p {
		return dec
	}
	return p
}

// publishParams returns the pubsub and topic of a publish route as chi
// reads them (the transports' own parameters are decoded differently).
// They are copies: a broker may keep them after the handler returned.
func publishParams(r request) (name, topic string) {
	_, p := matchPublish(r.method(), r.rawPath())
	return strings.Clone(p[0]), strings.Clone(p[1])
}

// requestMeta returns the metadata.* query parameters, never nil (daprd's
// getMetadataFromRequest: error details show {} when there are none).
func requestMeta(r request, sc *scratch) map[string]string {
	m := copyMeta(queryMeta(r, sc.meta))
	if m == nil {
		m = map[string]string{}
	}
	return m
}

func traceContext(r request) (parent, state string) {
	if v, ok := r.header("Traceparent"); ok {
		parent = string(v)
	}
	if v, ok := r.header("Tracestate"); ok {
		state = string(v)
	}
	return parent, state
}

// handlePublish is POST|PUT /v1.0/publish/{pubsub}/{topic}: 204 once the
// broker accepted the event.
func (s *Runtime) handlePublish(w response, r request) {
	sc := getScratch()
	defer putScratch(sc)
	ct, _ := r.header("Content-Type")
	tp, ts := traceContext(r)
	name, topic := publishParams(r)
	// The body is copied: the in-memory broker hands it to subscribers
	// after the handler returned.
	req := &api.PublishRequest{PubsubName: name, Topic: topic, Data: bytes.Clone(r.body()),
		ContentType: string(ct), Metadata: requestMeta(r, sc), TraceParent: tp, TraceState: ts}
	if r.bodyTooLarge() {
		req.BodyErr = errors.New("stream too large")
	}
	if e := s.cfg.PubSub.Publish(r.context(), req); e != nil {
		s.writeError(w, e, sc)
		return
	}
	w.setStatus(http.StatusNoContent)
}

// bulkPublishMessageEntry is one entry of the HTTP bulk publish body
// (daprd's bulkPublishMessageEntry; the event is kept raw so that numbers
// keep their digits).
type bulkPublishMessageEntry struct {
	EntryID     string            `json:"entryId,omitempty"`
	Event       json.RawMessage   `json:"event"`
	ContentType string            `json:"contentType"`
	Metadata    map[string]string `json:"metadata,omitempty"`
}

// handleBulkPublish is POST|PUT /v1.0-alpha1/publish/bulk/{pubsub}/{topic}
// (and /v1.0/publish/bulk/…): 204 when every entry was published; 500 with
// {"failedEntries":[…],"errorCode":"ERR_PUBSUB_PUBLISH_MESSAGE"} and
// metadata.responseData / metadata.error headers when some failed.
func (s *Runtime) handleBulkPublish(w response, r request) {
	sc := getScratch()
	defer putScratch(sc)
	ps := s.cfg.PubSub
	name, topic := publishParams(r)
	meta := requestMeta(r, sc)
	if e := ps.ValidateBulk(name, topic, meta); e != nil {
		s.writeError(w, e, sc)
		return
	}
	var in []bulkPublishMessageEntry
	if r.bodyTooLarge() {
		s.writeError(w, ps.ErrUnmarshalEvents(name, topic, errors.New("stream too large")), sc)
		return
	}
	if err := json.NewDecoder(bytes.NewReader(r.body())).Decode(&in); err != nil {
		s.writeError(w, ps.ErrUnmarshalEvents(name, topic, err), sc)
		return
	}
	entries := make([]api.BulkEntry, len(in))
	seen := make(map[string]struct{}, len(in))
	for i, en := range in {
		ev := en.Event
		if len(ev) == 0 {
			ev = json.RawMessage("null")
		}
		data, err := api.ConvertBulkEvent(ev, en.ContentType)
		if err != nil {
			s.writeError(w, ps.ErrMarshalEnvelope(name, topic, err), sc)
			return
		}
		entries[i] = api.BulkEntry{EntryID: en.EntryID, Event: data, ContentType: en.ContentType,
			Metadata: api.BulkEntryMetadata(meta, en.Metadata)}
		if _, dup := seen[en.EntryID]; dup || en.EntryID == "" {
			s.writeError(w, ps.ErrMarshalEvents(name, topic, api.ErrDuplicateEntryID), sc)
			return
		}
		seen[en.EntryID] = struct{}{}
	}
	tp, ts := traceContext(r)
	failed, e := ps.BulkPublish(r.context(), &api.BulkPublishRequest{PubsubName: name, Topic: topic, Entries: entries,
		Metadata: meta, TraceParent: tp, TraceState: ts})
	if e == nil {
		w.setStatus(http.StatusNoContent)
		return
	}
	if e.ErrorCode() != api.CodePubSubPublishMessage {
		s.writeError(w, e, sc)
		return
	}
	body, _ := json.Marshal(struct {
		FailedEntries []api.BulkFailed `json:"failedEntries"`
		ErrorCode     string           `json:"errorCode,omitempty"`
	}{failed, api.CodePubSubPublishMessage})
	api.CountError(e)
	// dapr/kit's Error(): "api error: code = Internal desc = …".
	w.addHeader("metadata.error", "api error: code = "+e.GRPCCode().String()+" desc = "+e.Message())
	w.addHeader("metadata.responseData", string(body))
	w.addHeader("Content-Type", ctJSON)
	w.setStatus(e.HTTPStatus())
	w.write(body)
}
