package appchannel

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	runtimev1pb "github.com/dapr/dapr/pkg/proto/runtime/v1"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/statecar/statecar/api"
)

// PubSubApp is the app as the Pub/sub subscriber reaches it over this
// channel (api.App): programmatic subscriptions from GET /dapr/subscribe or
// ListTopicSubscriptions, events POSTed to their route or sent to
// OnTopicEvent, as daprd's postmen do.
type PubSubApp struct {
	c     *Channel
	appID string
}

// PubSub returns the channel as an api.App for the subscriber of appID; nil
// when c is nil (no app channel).
func (c *Channel) PubSub(appID string) api.App {
	if c == nil {
		return nil
	}
	return &PubSubApp{c: c, appID: appID}
}

// WaitReady implements api.App.
func (a *PubSubApp) WaitReady(ctx context.Context) error { return a.c.WaitReady(ctx) }

// subscriptionJSON is one entry of /dapr/subscribe (daprd's
// SubscriptionJSON).
type subscriptionJSON struct {
	PubsubName      string            `json:"pubsubname"`
	Topic           string            `json:"topic"`
	DeadLetterTopic string            `json:"deadLetterTopic"`
	Metadata        map[string]string `json:"metadata,omitempty"`
	Route           string            `json:"route"`
	Routes          struct {
		Rules []struct {
			Match string `json:"match"`
			Path  string `json:"path"`
		} `json:"rules,omitempty"`
		Default string `json:"default,omitempty"`
	} `json:"routes"`
	BulkSubscribe struct {
		Enabled bool `json:"enabled"`
	} `json:"bulkSubscribe"`
}

// Subscriptions implements api.App.
func (a *PubSubApp) Subscriptions(ctx context.Context) ([]api.Subscription, error) {
	if a.c.IsGRPC() {
		return a.subscriptionsGRPC(ctx)
	}
	resp, err := a.c.Do(ctx, &Request{Verb: http.MethodGet, Method: "dapr/subscribe", ContentType: "application/json",
		Header: map[string]string{"dapr-app-id": a.appID}})
	if err != nil {
		return nil, err
	}
	switch resp.Status {
	case http.StatusOK:
	case http.StatusNotFound:
		return nil, nil
	default:
		return nil, fmt.Errorf("app returned http status code %v from subscription endpoint", resp.Status)
	}
	var items []subscriptionJSON
	if err := json.NewDecoder(bytes.NewReader(resp.Body)).Decode(&items); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("error getting topics from app: %s", err)
	}
	var out []api.Subscription
	for _, si := range items {
		var rules []api.Rule
		for _, r := range si.Routes.Rules {
			rule, err := api.NewRule(r.Match, r.Path)
			if err != nil {
				return nil, err
			}
			rules = append(rules, rule)
		}
		switch {
		case si.Routes.Default != "":
			rules = append(rules, api.Rule{Path: si.Routes.Default})
		case si.Route != "":
			rules = append(rules, api.Rule{Path: si.Route})
		}
		// A subscription without routes is kept here: the subscriber drops
		// it with daprd's warning (filterSubscriptions).
		out = append(out, api.Subscription{PubsubName: si.PubsubName, Topic: si.Topic, Metadata: si.Metadata,
			DeadLetterTopic: si.DeadLetterTopic, Rules: rules, BulkSubscribe: si.BulkSubscribe.Enabled})
	}
	return out, nil
}

func (a *PubSubApp) subscriptionsGRPC(ctx context.Context) ([]api.Subscription, error) {
	conn, err := a.c.grpcConn()
	if err != nil {
		return nil, fmt.Errorf("error while getting app client: %w", err)
	}
	resp, err := runtimev1pb.NewAppCallbackClient(conn).ListTopicSubscriptions(a.c.tokenContext(ctx), &emptypb.Empty{})
	if err != nil {
		if status.Code(err) == codes.Unimplemented {
			return nil, nil
		}
		return nil, fmt.Errorf("error getting topic list from app: %s", err)
	}
	var out []api.Subscription
	for _, s := range resp.GetSubscriptions() {
		var rules []api.Rule
		if routes := s.GetRoutes(); routes != nil {
			for _, r := range routes.GetRules() {
				rule, err := api.NewRule(r.GetMatch(), r.GetPath())
				if err != nil {
					return nil, err
				}
				rules = append(rules, rule)
			}
			if routes.GetDefault() != "" {
				rules = append(rules, api.Rule{Path: routes.GetDefault()})
			}
		}
		if len(rules) == 0 {
			rules = []api.Rule{{Path: ""}}
		}
		out = append(out, api.Subscription{PubsubName: s.GetPubsubName(), Topic: s.GetTopic(), Metadata: s.GetMetadata(),
			DeadLetterTopic: s.GetDeadLetterTopic(), Rules: rules, BulkSubscribe: s.GetBulkSubscribe().GetEnabled()})
	}
	return out, nil
}

// appResponse is the JSON an HTTP app may answer a delivery with.
type appResponse struct {
	Status string `json:"status"`
}

// DeliverTopicEvent implements api.App.
func (a *PubSubApp) DeliverTopicEvent(ctx context.Context, ev *api.TopicEvent) (api.Outcome, error) {
	if a.c.IsGRPC() {
		return a.deliverGRPC(ctx, ev)
	}
	hdr := make(map[string]string, len(ev.Metadata))
	for k, v := range ev.Metadata {
		if !strings.EqualFold(k, "content-type") {
			hdr[k] = v
		}
	}
	resp, err := a.c.Do(ctx, &Request{Verb: http.MethodPost, Method: ev.Path, ContentType: api.CloudEventContentType,
		Header: hdr, Body: ev.Data})
	if err != nil {
		return api.OutcomeRetry, fmt.Errorf("error returned from app channel while sending pub/sub event to app: %w", err)
	}
	if resp.Status >= 200 && resp.Status <= 299 {
		var ar appResponse
		if err := json.NewDecoder(bytes.NewReader(resp.Body)).Decode(&ar); err != nil {
			return api.OutcomeSuccess, nil // empty or not JSON: success
		}
		switch ar.Status { // case-sensitive, as contrib's AppResponseStatus
		case "", "SUCCESS":
			return api.OutcomeSuccess, nil
		case "RETRY":
			return api.OutcomeRetry, fmt.Errorf("RETRY status returned from app while processing pub/sub event %v", ev.CloudEvent["id"])
		case "DROP":
			return api.OutcomeDrop, nil
		}
		return api.OutcomeRetry, fmt.Errorf("unknown status returned from app while processing pub/sub event %v, status: %v", ev.CloudEvent["id"], ar.Status)
	}
	if resp.Status == http.StatusNotFound {
		return api.OutcomeDropNotFound, fmt.Errorf("%s. status code returned: %v", resp.Body, resp.Status)
	}
	return api.OutcomeRetry, fmt.Errorf("body: %s. status code returned: %v", resp.Body, resp.Status)
}

// cloudEventCore are the envelope fields TopicEventRequest carries in its
// own fields; the others go into extensions.
var cloudEventCore = map[string]bool{"id": true, "source": true, "datacontenttype": true, "type": true,
	"specversion": true, "data": true, "data_base64": true}

func ceString(ce map[string]any, k string) string {
	s, _ := ce[k].(string)
	return s
}

var errUnexpectedEnvelopeData = errors.New("unexpected data type encountered in envelope")

// TopicEventRequest is daprd's GRPCEnvelopeFromSubscriptionMessage. JSON
// data is re-read from the broker's bytes with numbers kept exact (daprd
// re-marshals float64s).
func TopicEventRequest(ev *api.TopicEvent) (*runtimev1pb.TopicEventRequest, error) {
	ce := ev.CloudEvent
	req := &runtimev1pb.TopicEventRequest{
		Id: ceString(ce, "id"), Source: ceString(ce, "source"), DataContentType: ceString(ce, "datacontenttype"),
		Type: ceString(ce, "type"), SpecVersion: ceString(ce, "specversion"),
		Topic: ev.Topic, PubsubName: ev.Metadata["pubsubName"], Path: ev.Path,
	}
	if d, ok := ce["data_base64"]; ok && d != nil {
		s, ok := d.(string)
		if !ok {
			return nil, fmt.Errorf("error returned from app while processing pub/sub event: %w", errUnexpectedEnvelopeData)
		}
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return nil, fmt.Errorf("error returned from app while processing pub/sub event: %w", err)
		}
		req.Data = b
	} else if d, ok := ce["data"]; ok && d != nil {
		ct := req.GetDataContentType()
		lct := strings.ToLower(ct)
		switch {
		case strings.HasPrefix(lct, "text/") || isType(lct, "application/xml"):
			switch v := d.(type) {
			case string:
				req.Data = []byte(v)
			case []byte:
				req.Data = v
			default:
				return nil, fmt.Errorf("error returned from app while processing pub/sub event: %w", errUnexpectedEnvelopeData)
			}
		case isType(lct, "application/json") || isType(lct, "application/cloudevents+json"):
			req.Data = preciseData(ev.Data)
			if req.Data == nil {
				req.Data, _ = json.Marshal(d)
			}
		}
	}
	ext := map[string]any{}
	for k, v := range ce {
		if !cloudEventCore[k] {
			ext[k] = v
		}
	}
	eb, err := json.Marshal(ext)
	if err != nil {
		return nil, fmt.Errorf("error processing internal cloud event data: unable to marshal cloudEvent extensions: %s", err)
	}
	st := &structpb.Struct{}
	if err := protojson.Unmarshal(eb, st); err != nil {
		return nil, fmt.Errorf("error processing internal cloud event data: unable to unmarshal cloudEvent extensions to proto struct: %s", err)
	}
	req.Extensions = st
	return req, nil
}

func isType(lct, want string) bool {
	if lct == want {
		return true
	}
	if i := strings.IndexByte(lct, ';'); i >= 0 {
		return lct[:i] == want
	}
	return false
}

// preciseData returns the envelope's "data" re-encoded with its numbers as
// written, or nil when raw is not such an envelope.
func preciseData(raw []byte) []byte {
	var env struct {
		Data json.RawMessage `json:"data"`
	}
	if json.Unmarshal(raw, &env) != nil || len(env.Data) == 0 {
		return nil
	}
	var v any
	d := json.NewDecoder(bytes.NewReader(env.Data))
	d.UseNumber()
	if d.Decode(&v) != nil {
		return nil
	}
	out, err := json.Marshal(v)
	if err != nil {
		return nil
	}
	return out
}

func (a *PubSubApp) deliverGRPC(ctx context.Context, ev *api.TopicEvent) (api.Outcome, error) {
	req, err := TopicEventRequest(ev)
	if err != nil {
		return api.OutcomeRetry, err
	}
	conn, err := a.c.grpcConn()
	if err != nil {
		return api.OutcomeRetry, fmt.Errorf("error while getting app client: %w", err)
	}
	for k, v := range ev.Metadata {
		ctx = metadata.AppendToOutgoingContext(ctx, k, v)
	}
	ctx, cancel := a.c.callContext(ctx)
	defer cancel()
	res, err := runtimev1pb.NewAppCallbackClient(conn).OnTopicEvent(ctx, req)
	if err != nil {
		if status.Code(err) == codes.Unimplemented {
			return api.OutcomeIgnored, err
		}
		return api.OutcomeRetry, fmt.Errorf("error returned from app while processing pub/sub event %v: %w", req.GetId(), err)
	}
	switch res.GetStatus() {
	case runtimev1pb.TopicEventResponse_SUCCESS:
		return api.OutcomeSuccess, nil
	case runtimev1pb.TopicEventResponse_RETRY:
		return api.OutcomeRetry, fmt.Errorf("RETRY status returned from app while processing pub/sub event %v", req.GetId())
	case runtimev1pb.TopicEventResponse_DROP:
		return api.OutcomeDrop, nil
	}
	return api.OutcomeRetry, fmt.Errorf("unknown status returned from app while processing pub/sub event %v, status: %v", req.GetId(), res.GetStatus())
}
