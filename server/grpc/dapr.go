package grpcserver

import (
	"context"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"time"

	commonv1pb "github.com/dapr/dapr/pkg/proto/common/v1"
	runtimev1pb "github.com/dapr/dapr/pkg/proto/runtime/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/statecar/statecar/api"
	"github.com/statecar/statecar/component/configstore"
)

// ttlExpireTimeKey is the response metadata name of an item's expiry.
const ttlExpireTimeKey = "ttlExpireTime"

// daprAPI implements runtimev1pb.DaprServer: the state RPCs, the secret
// RPCs, the configuration RPCs and GetMetadata/SetMetadata/Shutdown. Every other RPC is answered by the
// embedded UnimplementedDaprServer with codes.Unimplemented and the message
// "method <Name> not implemented".
//
// It holds no mutable state; its methods run on grpc-go's per-RPC
// goroutines concurrently.
type daprAPI struct {
	runtimev1pb.UnimplementedDaprServer

	cfg   *Config // read-only after New
	state *api.State
	// noInvoker answers InvokeService when Config.Invoker is nil.
	noInvoker *api.Invoker
}

func (d *daprAPI) log() *slog.Logger {
	if d.cfg.Logger != nil {
		return d.cfg.Logger
	}
	return slog.Default()
}

func newDaprAPI(cfg *Config) *daprAPI {
	return &daprAPI{cfg: cfg, state: cfg.State, noInvoker: api.NewInvoker(api.InvokerConfig{AppID: cfg.AppID})}
}

// fail converts an api error to its gRPC status error and counts it in
// dapr_error_code_total (when enabled and the status has an error code).
func fail(e *api.Error) error {
	api.CountGRPCError(e)
	return e.GRPCStatus().Err()
}

// empty is the shared, never-modified reply of the RPCs returning
// google.protobuf.Empty (grpc-go only reads replies).
var empty = &emptypb.Empty{}

func consistencyString(c commonv1pb.StateOptions_StateConsistency) string {
	switch c {
	case commonv1pb.StateOptions_CONSISTENCY_EVENTUAL:
		return "eventual"
	case commonv1pb.StateOptions_CONSISTENCY_STRONG:
		return "strong"
	}
	return ""
}

func concurrencyString(c commonv1pb.StateOptions_StateConcurrency) string {
	switch c {
	case commonv1pb.StateOptions_CONCURRENCY_FIRST_WRITE:
		return "first-write"
	case commonv1pb.StateOptions_CONCURRENCY_LAST_WRITE:
		return "last-write"
	}
	return ""
}

// item converts a common.v1 StateItem. The ETag pointer aliases the
// request's Etag.Value (the request outlives the call); a present Etag with
// an empty value is passed as is and means "no ETag" to the api.
func item(s *commonv1pb.StateItem) api.Item {
	it := api.Item{Key: s.GetKey(), Value: s.GetValue(), Metadata: s.GetMetadata()}
	if s.GetEtag() != nil {
		it.ETag = &s.Etag.Value
	}
	if o := s.GetOptions(); o != nil {
		it.Concurrency = concurrencyString(o.GetConcurrency())
		it.Consistency = consistencyString(o.GetConsistency())
	}
	return it
}

// GetState reads one key. A missing key is OK with an empty response.
func (d *daprAPI) GetState(ctx context.Context, in *runtimev1pb.GetStateRequest) (*runtimev1pb.GetStateResponse, error) {
	res, e := d.state.Get(ctx, in.GetStoreName(), in.GetKey(), consistencyString(in.GetConsistency()), in.GetMetadata())
	if e != nil {
		return nil, fail(e)
	}
	out := &runtimev1pb.GetStateResponse{}
	if !res.Found {
		return out, nil
	}
	// res is this call's own value: its slices are not reused, so the
	// response may alias them.
	out.Data = res.Data
	out.Etag = string(res.ETag)
	if len(res.TTLExpireTime) > 0 {
		out.Metadata = map[string]string{ttlExpireTimeKey: string(res.TTLExpireTime)}
	}
	return out, nil
}

// GetBulkState reads several keys, one item per key in request order.
func (d *daprAPI) GetBulkState(ctx context.Context, in *runtimev1pb.GetBulkStateRequest) (*runtimev1pb.GetBulkStateResponse, error) {
	items, e := d.state.BulkGet(ctx, in.GetStoreName(), in.GetKeys(), int(in.GetParallelism()), in.GetMetadata())
	if e != nil {
		return nil, fail(e)
	}
	out := &runtimev1pb.GetBulkStateResponse{}
	if len(items) == 0 {
		return out, nil
	}
	// One backing array for all items: one allocation instead of n.
	backing := make([]runtimev1pb.BulkStateItem, len(items))
	out.Items = make([]*runtimev1pb.BulkStateItem, len(items))
	for i := range items {
		it := &items[i]
		b := &backing[i]
		b.Key = it.Key
		b.Data = it.Data
		b.Etag = it.ETag
		b.Metadata = it.Metadata
		b.Error = it.Error
		out.Items[i] = b
	}
	return out, nil
}

// SaveState writes the items (none = OK).
func (d *daprAPI) SaveState(ctx context.Context, in *runtimev1pb.SaveStateRequest) (*emptypb.Empty, error) {
	states := in.GetStates()
	if len(states) == 0 {
		// daprd answers OK before looking at anything but the store name;
		// the api checks the store.
		if e := d.state.Save(ctx, in.GetStoreName(), nil); e != nil {
			return nil, fail(e)
		}
		return empty, nil
	}
	var one [1]api.Item
	var items []api.Item
	if len(states) == 1 {
		items = one[:]
	} else {
		items = make([]api.Item, len(states))
	}
	for i, s := range states {
		items[i] = item(s)
	}
	if e := d.state.Save(ctx, in.GetStoreName(), items); e != nil {
		return nil, fail(e)
	}
	return empty, nil
}

// DeleteState deletes one key.
func (d *daprAPI) DeleteState(ctx context.Context, in *runtimev1pb.DeleteStateRequest) (*emptypb.Empty, error) {
	it := api.Item{Key: in.GetKey(), Metadata: in.GetMetadata()}
	if in.GetEtag() != nil {
		it.ETag = &in.Etag.Value
	}
	if o := in.GetOptions(); o != nil {
		it.Concurrency = concurrencyString(o.GetConcurrency())
		it.Consistency = consistencyString(o.GetConsistency())
	}
	if e := d.state.Delete(ctx, in.GetStoreName(), it); e != nil {
		return nil, fail(e)
	}
	return empty, nil
}

// DeleteBulkState deletes several keys (values are ignored).
func (d *daprAPI) DeleteBulkState(ctx context.Context, in *runtimev1pb.DeleteBulkStateRequest) (*emptypb.Empty, error) {
	states := in.GetStates()
	items := make([]api.Item, len(states))
	for i, s := range states {
		items[i] = item(s)
		items[i].Value = nil
	}
	if e := d.state.BulkDelete(ctx, in.GetStoreName(), items); e != nil {
		return nil, fail(e)
	}
	return empty, nil
}

// ExecuteStateTransaction applies the operations atomically.
func (d *daprAPI) ExecuteStateTransaction(ctx context.Context, in *runtimev1pb.ExecuteStateTransactionRequest) (*emptypb.Empty, error) {
	ops := make([]api.TxOp, len(in.GetOperations()))
	for i, op := range in.GetOperations() {
		ops[i] = api.TxOp{Operation: op.GetOperationType(), Item: item(op.GetRequest())}
	}
	if e := d.state.Transaction(ctx, in.GetStoreName(), ops, in.GetMetadata()); e != nil {
		return nil, fail(e)
	}
	return empty, nil
}

// QueryStateAlpha1 runs a query. No results is OK with no items.
func (d *daprAPI) QueryStateAlpha1(ctx context.Context, in *runtimev1pb.QueryStateRequest) (*runtimev1pb.QueryStateResponse, error) {
	res, e := d.state.Query(ctx, in.GetStoreName(), []byte(in.GetQuery()), in.GetMetadata())
	if e != nil {
		return nil, fail(e)
	}
	out := &runtimev1pb.QueryStateResponse{}
	if res == nil || len(res.Results) == 0 {
		return out, nil
	}
	out.Token = res.Token
	out.Metadata = res.Metadata
	backing := make([]runtimev1pb.QueryStateItem, len(res.Results))
	out.Results = make([]*runtimev1pb.QueryStateItem, len(res.Results))
	for i := range res.Results {
		r := &res.Results[i]
		b := &backing[i]
		b.Key = r.Key
		b.Data = r.Data
		b.Etag = r.ETag
		b.Error = r.Error
		out.Results[i] = b
	}
	return out, nil
}

// GetSecret returns the pairs of one secret (daprd's universal GetSecret).
func (d *daprAPI) GetSecret(ctx context.Context, in *runtimev1pb.GetSecretRequest) (*runtimev1pb.GetSecretResponse, error) {
	data, e := d.cfg.Secrets.Get(ctx, in.GetStoreName(), in.GetKey(), in.GetMetadata())
	if e != nil {
		return nil, fail(e)
	}
	return &runtimev1pb.GetSecretResponse{Data: data}, nil
}

// GetBulkSecret returns every secret of a store that its scope allows.
func (d *daprAPI) GetBulkSecret(ctx context.Context, in *runtimev1pb.GetBulkSecretRequest) (*runtimev1pb.GetBulkSecretResponse, error) {
	data, e := d.cfg.Secrets.BulkGet(ctx, in.GetStoreName(), in.GetMetadata())
	if e != nil {
		return nil, fail(e)
	}
	out := &runtimev1pb.GetBulkSecretResponse{}
	if data != nil {
		out.Data = make(map[string]*runtimev1pb.SecretResponse, len(data))
		for name, pairs := range data {
			out.Data[name] = &runtimev1pb.SecretResponse{Secrets: pairs}
		}
	}
	return out, nil
}

// InvokeBinding calls an output binding (daprd's InvokeBinding): the data
// bytes as sent; the request metadata plus the call's incoming gRPC
// metadata (reserved names such as :authority and grpc-* prefixed with
// dapr-) where the request has no such key. The binding's metadata is sent
// as metadata.<key> headers, on errors too.
func (d *daprAPI) InvokeBinding(ctx context.Context, in *runtimev1pb.InvokeBindingRequest) (*runtimev1pb.InvokeBindingResponse, error) {
	meta := make(map[string]string, len(in.GetMetadata()))
	maps.Copy(meta, in.GetMetadata())
	if md, ok := metadata.FromIncomingContext(ctx); ok {
		for k, v := range md {
			if len(v) == 0 {
				continue
			}
			key := k
			switch {
			case k == ":method" || k == ":scheme" || k == ":path" || k == ":authority":
				key = "dapr-" + k[1:]
			case strings.HasPrefix(k, "grpc-"):
				key = "dapr-" + k
			}
			if _, exists := meta[key]; !exists || k == "traceparent" || k == "tracestate" {
				meta[key] = v[0]
			}
		}
	}
	resp, e := d.cfg.Bindings.Invoke(ctx, in.GetName(), in.GetOperation(), in.GetData(), meta)
	if resp != nil {
		for k, v := range resp.Metadata {
			_ = grpc.SetHeader(ctx, metadata.Pairs("metadata."+k, v))
		}
	}
	if e != nil {
		return nil, fail(e)
	}
	out := &runtimev1pb.InvokeBindingResponse{}
	if resp != nil {
		out.Data = resp.Data
		out.Metadata = resp.Metadata
	}
	return out, nil
}

// incomingTrace returns the call's W3C trace context metadata.
func incomingTrace(ctx context.Context) (parent, state string) {
	md, _ := metadata.FromIncomingContext(ctx)
	if v := md.Get("traceparent"); len(v) > 0 {
		parent = v[0]
	}
	if v := md.Get("tracestate"); len(v) > 0 {
		state = v[0]
	}
	return parent, state
}

// PublishEvent publishes one event (daprd's PublishEvent).
func (d *daprAPI) PublishEvent(ctx context.Context, in *runtimev1pb.PublishEventRequest) (*emptypb.Empty, error) {
	tp, ts := incomingTrace(ctx)
	data := in.GetData()
	if data == nil {
		data = []byte{}
	}
	e := d.cfg.PubSub.Publish(ctx, &api.PublishRequest{PubsubName: in.GetPubsubName(), Topic: in.GetTopic(), Data: data,
		ContentType: in.GetDataContentType(), Metadata: in.GetMetadata(), TraceParent: tp, TraceState: ts, GRPC: true})
	if e != nil {
		return nil, fail(e)
	}
	return &emptypb.Empty{}, nil
}

// BulkPublishEvent publishes many events (daprd's bulkPublishEvent: on any
// failure the call fails and the response lists nothing).
func (d *daprAPI) BulkPublishEvent(ctx context.Context, in *runtimev1pb.BulkPublishRequest) (*runtimev1pb.BulkPublishResponse, error) {
	tp, ts := incomingTrace(ctx)
	entries := make([]api.BulkEntry, len(in.GetEntries()))
	for i, en := range in.GetEntries() {
		entries[i] = api.BulkEntry{EntryID: en.GetEntryId(), Event: en.GetEvent(), ContentType: en.GetContentType(),
			Metadata: api.BulkEntryMetadata(in.GetMetadata(), en.GetMetadata())}
	}
	_, e := d.cfg.PubSub.BulkPublish(ctx, &api.BulkPublishRequest{PubsubName: in.GetPubsubName(), Topic: in.GetTopic(),
		Entries: entries, Metadata: in.GetMetadata(), TraceParent: tp, TraceState: ts, GRPC: true, CheckEntryIDs: true})
	if e != nil {
		return &runtimev1pb.BulkPublishResponse{}, fail(e)
	}
	return &runtimev1pb.BulkPublishResponse{FailedEntries: []*runtimev1pb.BulkPublishResponseFailedEntry{}}, nil
}

// BulkPublishEventAlpha1 is BulkPublishEvent's alpha name.
func (d *daprAPI) BulkPublishEventAlpha1(ctx context.Context, in *runtimev1pb.BulkPublishRequest) (*runtimev1pb.BulkPublishResponse, error) {
	return d.BulkPublishEvent(ctx, in)
}

// TryLockAlpha1 takes a lock (daprd's universal TryLockAlpha1).
func (d *daprAPI) TryLockAlpha1(ctx context.Context, in *runtimev1pb.TryLockRequest) (*runtimev1pb.TryLockResponse, error) {
	ok, e := d.cfg.Locks.TryLock(ctx, in.GetStoreName(), in.GetResourceId(), in.GetLockOwner(), in.GetExpiryInSeconds())
	if e != nil {
		return nil, fail(e)
	}
	return &runtimev1pb.TryLockResponse{Success: ok}, nil
}

// UnlockAlpha1 releases a lock (daprd's universal UnlockAlpha1).
func (d *daprAPI) UnlockAlpha1(ctx context.Context, in *runtimev1pb.UnlockRequest) (*runtimev1pb.UnlockResponse, error) {
	st, e := d.cfg.Locks.Unlock(ctx, in.GetStoreName(), in.GetResourceId(), in.GetLockOwner())
	if e != nil {
		return nil, fail(e)
	}
	return &runtimev1pb.UnlockResponse{Status: runtimev1pb.UnlockResponse_Status(st)}, nil
}

// ConverseAlpha1 is daprd's deprecated universal ConverseAlpha1.
//
//lint:ignore SA1019 the alpha1 messages are deprecated, and daprd still serves them.
func (d *daprAPI) ConverseAlpha1(ctx context.Context, in *runtimev1pb.ConversationRequest) (*runtimev1pb.ConversationResponse, error) {
	out, e := d.cfg.Conversations.ConverseAlpha1(ctx, in)
	if e != nil {
		return nil, fail(e)
	}
	return out, nil
}

// ConverseAlpha2 is daprd's universal ConverseAlpha2.
func (d *daprAPI) ConverseAlpha2(ctx context.Context, in *runtimev1pb.ConversationRequestAlpha2) (*runtimev1pb.ConversationResponseAlpha2, error) {
	out, e := d.cfg.Conversations.ConverseAlpha2(ctx, in)
	if e != nil {
		return nil, fail(e)
	}
	return out, nil
}

// GetMetadata answers with Config.Metadata's data.
func (d *daprAPI) GetMetadata(context.Context, *runtimev1pb.GetMetadataRequest) (*runtimev1pb.GetMetadataResponse, error) {
	if d.cfg.Metadata != nil {
		if md := d.cfg.Metadata(); md != nil {
			return md, nil
		}
	}
	return &runtimev1pb.GetMetadataResponse{Id: d.cfg.AppID}, nil
}

// SetMetadata stores one extended metadata attribute; an empty key is a
// no-op (daprd).
func (d *daprAPI) SetMetadata(_ context.Context, in *runtimev1pb.SetMetadataRequest) (*emptypb.Empty, error) {
	if in.GetKey() != "" && d.cfg.SetMetadata != nil {
		d.cfg.SetMetadata(in.GetKey(), in.GetValue())
	}
	return empty, nil
}

// forceShutdownKey is daprd 1.18's metadata key asking Shutdown to exit at
// once; forceExitDelay lets the OK reach the client first.
const (
	forceShutdownKey = "dapr-force-shutdown"
	forceExitDelay   = 100 * time.Millisecond
)

// Shutdown answers OK and starts the sidecar's graceful shutdown on a new
// goroutine (daprd: go a.shutdownFn()), or, with dapr-force-shutdown: true
// and a ForceShutdown callback, calls it after forceExitDelay.
func (d *daprAPI) Shutdown(ctx context.Context, _ *runtimev1pb.ShutdownRequest) (*emptypb.Empty, error) {
	if d.cfg.ForceShutdown != nil && isForceShutdown(ctx) {
		go func() {
			time.Sleep(forceExitDelay)
			d.cfg.ForceShutdown()
		}()
		return empty, nil
	}
	// The callback logs the request (the runtime does, for HTTP and gRPC).
	if d.cfg.Shutdown != nil {
		go d.cfg.Shutdown()
	}
	return empty, nil
}

func isForceShutdown(ctx context.Context) bool {
	for _, v := range metadata.ValueFromIncomingContext(ctx, forceShutdownKey) {
		if strings.EqualFold(v, "true") {
			return true
		}
	}
	return false
}

// GetConfiguration returns configuration items (daprd's GetConfiguration).
func (d *daprAPI) GetConfiguration(ctx context.Context, in *runtimev1pb.GetConfigurationRequest) (*runtimev1pb.GetConfigurationResponse, error) {
	items, e := d.cfg.Configuration.Get(ctx, in.GetStoreName(), in.GetKeys(), in.GetMetadata())
	if e != nil {
		return nil, fail(e)
	}
	return &runtimev1pb.GetConfigurationResponse{Items: configItems(items)}, nil
}

// GetConfigurationAlpha1 is the alpha alias of GetConfiguration.
func (d *daprAPI) GetConfigurationAlpha1(ctx context.Context, in *runtimev1pb.GetConfigurationRequest) (*runtimev1pb.GetConfigurationResponse, error) {
	return d.GetConfiguration(ctx, in)
}

func configItems(items map[string]*configstore.Item) map[string]*commonv1pb.ConfigurationItem {
	out := make(map[string]*commonv1pb.ConfigurationItem, len(items))
	for k, v := range items {
		out[k] = &commonv1pb.ConfigurationItem{Value: v.Value, Version: v.Version, Metadata: v.Metadata}
	}
	return out
}

// SubscribeConfiguration streams configuration updates (daprd's
// SubscribeConfiguration): the first message carries only the
// subscription ID, the following ones the changed items. The stream ends
// when the client goes away or UnsubscribeConfiguration stops it; either
// way the store subscription is ended.
func (d *daprAPI) SubscribeConfiguration(in *runtimev1pb.SubscribeConfigurationRequest, stream runtimev1pb.Dapr_SubscribeConfigurationServer) error {
	keys := slices.Clone(in.GetKeys())
	slices.Sort(keys) // daprd sorts the request's keys in place
	st, e := d.cfg.Configuration.SubscribeStream(stream.Context(), in.GetStoreName(), keys, in.GetMetadata(),
		func(ev *configstore.UpdateEvent) error {
			return stream.Send(&runtimev1pb.SubscribeConfigurationResponse{Id: ev.ID, Items: configItems(ev.Items)})
		})
	if e != nil {
		return fail(e)
	}
	defer st.End()
	if err := stream.Send(&runtimev1pb.SubscribeConfigurationResponse{Id: st.ID}); err != nil {
		return err
	}
	st.Ready()
	select {
	case <-stream.Context().Done():
	case <-st.Stopped():
	}
	return nil
}

// SubscribeConfigurationAlpha1 is the alpha alias of SubscribeConfiguration.
func (d *daprAPI) SubscribeConfigurationAlpha1(in *runtimev1pb.SubscribeConfigurationRequest, stream runtimev1pb.Dapr_SubscribeConfigurationAlpha1Server) error {
	return d.SubscribeConfiguration(in, stream.(runtimev1pb.Dapr_SubscribeConfigurationServer))
}

// UnsubscribeConfiguration stops the SubscribeConfiguration stream of an
// ID (deprecated in daprd, kept for old SDKs): {ok:true}, or ok false with
// daprd's message when no such stream is active.
func (d *daprAPI) UnsubscribeConfiguration(_ context.Context, in *runtimev1pb.UnsubscribeConfigurationRequest) (*runtimev1pb.UnsubscribeConfigurationResponse, error) {
	if msg := d.cfg.Configuration.UnsubscribeStream(in.GetId()); msg != "" {
		return &runtimev1pb.UnsubscribeConfigurationResponse{Message: msg}, nil
	}
	d.log().Warn("Unsubscribing using UnsubscribeConfiguration is deprecated. Disconnect from the SubscribeConfiguration RPC instead.")
	return &runtimev1pb.UnsubscribeConfigurationResponse{Ok: true}, nil
}

// UnsubscribeConfigurationAlpha1 is the alpha alias of
// UnsubscribeConfiguration.
func (d *daprAPI) UnsubscribeConfigurationAlpha1(ctx context.Context, in *runtimev1pb.UnsubscribeConfigurationRequest) (*runtimev1pb.UnsubscribeConfigurationResponse, error) {
	return d.UnsubscribeConfiguration(ctx, in)
}
