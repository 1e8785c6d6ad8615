package appchannel

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"sync"

	runtimev1pb "github.com/dapr/dapr/pkg/proto/runtime/v1"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/statecar/statecar/api"
)

// BindingApp is the app as input bindings reach it over this channel
// (api.BindingApp), as daprd's binding processor calls it.
type BindingApp struct {
	c *Channel

	once sync.Once
	list []string // gRPC ListInputBindings, asked once
}

// Bindings returns the channel as an api.BindingApp; nil when c is nil.
func (c *Channel) Bindings() api.BindingApp {
	if c == nil {
		return nil
	}
	return &BindingApp{c: c}
}

// WaitReady implements api.BindingApp.
func (a *BindingApp) WaitReady(ctx context.Context) error { return a.c.WaitReady(ctx) }

// InputBindingSubscribed implements api.BindingApp: HTTP apps answer
// OPTIONS {route} with 2xx or 405; gRPC apps list the binding in
// ListInputBindings (an error there means none).
func (a *BindingApp) InputBindingSubscribed(ctx context.Context, name, route string) (bool, error) {
	if a.c.IsGRPC() {
		a.once.Do(func() {
			conn, err := a.c.grpcConn()
			if err != nil {
				return
			}
			resp, err := runtimev1pb.NewAppCallbackClient(conn).ListInputBindings(a.c.tokenContext(ctx), &emptypb.Empty{})
			if err == nil {
				a.list = resp.GetBindings()
			}
		})
		return slices.Contains(a.list, name), nil
	}
	resp, err := a.c.Do(ctx, &Request{Verb: http.MethodOptions, Method: route, ContentType: "application/json"})
	if err != nil {
		return false, fmt.Errorf("could not invoke OPTIONS method on input binding subscription endpoint %q: %v", route, err)
	}
	return resp.Status/100 == 2 || resp.Status == http.StatusMethodNotAllowed, nil
}

// DeliverBinding implements api.BindingApp: HTTP apps get POST {route} with
// the data (Content-Type application/json, the event metadata as headers)
// and must answer 2xx (their body is not read for instructions, as in
// daprd); gRPC apps get OnBindingEvent, whose response may forward the
// data to output bindings.
func (a *BindingApp) DeliverBinding(ctx context.Context, name, route string, data []byte, meta map[string]string) (*api.BindingAppResponse, error) {
	if a.c.IsGRPC() {
		conn, err := a.c.grpcConn()
		if err != nil {
			return nil, fmt.Errorf("error while getting app client: %w", err)
		}
		ctx, cancel := a.c.callContext(ctx)
		defer cancel()
		resp, err := runtimev1pb.NewAppCallbackClient(conn).OnBindingEvent(ctx, &runtimev1pb.BindingEventRequest{Name: name, Data: data, Metadata: meta})
		if err != nil {
			return nil, fmt.Errorf("error invoking app: %w", err)
		}
		out := &api.BindingAppResponse{Body: resp.GetData(), To: resp.GetTo(),
			Parallel: resp.GetConcurrency() == runtimev1pb.BindingEventResponse_PARALLEL}
		if len(resp.GetStates()) > 0 {
			out.StateStore = resp.GetStoreName()
		}
		return out, nil
	}
	resp, err := a.c.Do(ctx, &Request{Verb: http.MethodPost, Method: route, ContentType: "application/json", Header: meta, Body: data})
	if err != nil {
		return nil, fmt.Errorf("error invoking app: %w", err)
	}
	if resp.Status < 200 || resp.Status > 299 {
		return nil, fmt.Errorf("fails to send binding event to http app channel, status code: %d body: %s", resp.Status, resp.Body)
	}
	return &api.BindingAppResponse{Body: resp.Body}, nil
}
