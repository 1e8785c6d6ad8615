package grpcserver

import (
	"context"
	"testing"
	"time"

	runtimev1pb "github.com/dapr/dapr/pkg/proto/runtime/v1"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/statecar/statecar/api"
	"github.com/statecar/statecar/component/pubsub"
)

func startStreamEnv(t *testing.T) (runtimev1pb.DaprClient, *api.PubSub, *api.Subscriber) {
	t.Helper()
	st, err := api.New(api.Config{AppID: testApp, DisableMetrics: true})
	if err != nil {
		t.Fatal(err)
	}
	ps := api.NewPubSub(api.PubSubConfig{AppID: testApp, Brokers: []api.PubSubEntry{{Name: "mem", Broker: pubsub.NewMemory(nil)}}, DisableMetrics: true})
	sub := api.NewSubscriber(api.SubscriberConfig{AppID: testApp, PubSub: ps})
	sub.Start()
	t.Cleanup(func() { sub.Stop(context.Background()); _ = ps.Close() })
	srv, conn := serveAndDial(t, Config{Addrs: []string{"127.0.0.1:0"}, State: st, PubSub: ps, Subscriber: sub, AppID: testApp,
		MaxMsgSize: 64 << 10, Logger: quiet, Transport: testTransport,
		Metadata: func() *runtimev1pb.GetMetadataResponse { return &runtimev1pb.GetMetadataResponse{} }})
	_ = srv
	return runtimev1pb.NewDaprClient(conn), ps, sub
}

func initial(ps, topic string) *runtimev1pb.SubscribeTopicEventsRequestAlpha1 {
	return &runtimev1pb.SubscribeTopicEventsRequestAlpha1{SubscribeTopicEventsRequestType: &runtimev1pb.SubscribeTopicEventsRequestAlpha1_InitialRequest{
		InitialRequest: &runtimev1pb.SubscribeTopicEventsRequestInitialAlpha1{PubsubName: ps, Topic: topic}}}
}

func TestSubscribeTopicEvents(t *testing.T) {
	c, ps, sub := startStreamEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	// Errors end the stream at once.
	for _, tt := range []struct {
		req  *runtimev1pb.SubscribeTopicEventsRequestAlpha1
		code codes.Code
		msg  string
	}{
		{initial("nope", "t"), codes.InvalidArgument, "pubsub nope is not found"},
		{initial("", "t"), codes.Unknown, "pubsubName is required"},
		{initial("mem", ""), codes.Unknown, "topic is required"},
		{&runtimev1pb.SubscribeTopicEventsRequestAlpha1{}, codes.Unknown, "initial request is required"},
	} {
		s, err := c.SubscribeTopicEventsAlpha1(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Send(tt.req); err != nil {
			t.Fatal(err)
		}
		_, err = s.Recv()
		if st := status.Convert(err); st.Code() != tt.code || st.Message() != tt.msg {
			t.Errorf("%v: %v, want %v %q", tt.req, err, tt.code, tt.msg)
		}
	}

	s, err := c.SubscribeTopicEventsAlpha1(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Send(initial("mem", "orders")); err != nil {
		t.Fatal(err)
	}
	first, err := s.Recv()
	if err != nil || first.GetInitialResponse() == nil {
		t.Fatalf("initial response %v %v", first, err)
	}
	if subs := sub.Subscriptions(); len(subs) != 1 || subs[0].Type != api.SubscriptionStreaming || subs[0].Topic != "orders" {
		t.Fatalf("subscriptions %+v", subs)
	}
	if e := ps.Publish(ctx, &api.PublishRequest{PubsubName: "mem", Topic: "orders", ContentType: "application/json", Data: []byte(`{"n":1}`)}); e != nil {
		t.Fatal(e)
	}
	ev, err := s.Recv()
	if err != nil {
		t.Fatal(err)
	}
	msg := ev.GetEventMessage()
	if msg.GetTopic() != "orders" || msg.GetPubsubName() != "mem" || string(msg.GetData()) != `{"n":1}` || msg.GetPath() != "/" {
		t.Fatalf("event %v", msg)
	}
	if err := s.Send(&runtimev1pb.SubscribeTopicEventsRequestAlpha1{SubscribeTopicEventsRequestType: &runtimev1pb.SubscribeTopicEventsRequestAlpha1_EventProcessed{
		EventProcessed: &runtimev1pb.SubscribeTopicEventsRequestProcessedAlpha1{Id: msg.GetId(), Status: &runtimev1pb.TopicEventResponse{Status: runtimev1pb.TopicEventResponse_SUCCESS}}}}); err != nil {
		t.Fatal(err)
	}
	// A second initial request ends the stream.
	if err := s.Send(initial("mem", "orders")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Recv(); status.Convert(err).Message() != "duplicate initial request received" {
		t.Fatalf("duplicate initial: %v", err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for len(sub.Subscriptions()) != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("the ended stream is still listed: %+v", sub.Subscriptions())
		}
		time.Sleep(10 * time.Millisecond)
	}

	// Stopping the subscriber ends open streams.
	s2, _ := c.SubscribeTopicEventsAlpha1(ctx)
	_ = s2.Send(initial("mem", "x"))
	if r, err := s2.Recv(); err != nil || r.GetInitialResponse() == nil {
		t.Fatalf("initial: %v %v", r, err)
	}
	sub.Stop(ctx)
	if _, err := s2.Recv(); err == nil {
		t.Fatal("stream still open after Stop")
	}
}

// TestSubscribeTopicEventsShutdownKeepsInFlight: an event sent on a stream
// and not yet answered when the subscriber stops is neither sent to the
// dead-letter topic nor taken as handled; an answer that arrives during
// the drain completes it.
func TestSubscribeTopicEventsShutdownKeepsInFlight(t *testing.T) {
	for _, answer := range []bool{false, true} {
		c, ps, sub := startStreamEnv(t)
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		dead := make(chan string, 4)
		if err := ps.Broker("mem").Subscribe(ctx, pubsub.SubscribeRequest{Topic: "dead"}, func(_ context.Context, m *pubsub.Message) error {
			dead <- string(m.Data)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		s, err := c.SubscribeTopicEventsAlpha1(ctx)
		if err != nil {
			t.Fatal(err)
		}
		req := initial("mem", "orders")
		dl := "dead"
		req.GetInitialRequest().DeadLetterTopic = &dl
		_ = s.Send(req)
		if r, err := s.Recv(); err != nil || r.GetInitialResponse() == nil {
			t.Fatalf("initial: %v %v", r, err)
		}
		if e := ps.Publish(ctx, &api.PublishRequest{PubsubName: "mem", Topic: "orders", Data: []byte("x")}); e != nil {
			t.Fatal(e)
		}
		ev, err := s.Recv()
		if err != nil {
			t.Fatal(err)
		}
		stopCtx, stopCancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		stopped := make(chan struct{})
		go func() { sub.Stop(stopCtx); close(stopped) }()
		if answer {
			time.Sleep(50 * time.Millisecond)
			_ = s.Send(&runtimev1pb.SubscribeTopicEventsRequestAlpha1{SubscribeTopicEventsRequestType: &runtimev1pb.SubscribeTopicEventsRequestAlpha1_EventProcessed{
				EventProcessed: &runtimev1pb.SubscribeTopicEventsRequestProcessedAlpha1{Id: ev.GetEventMessage().GetId(),
					Status: &runtimev1pb.TopicEventResponse{Status: runtimev1pb.TopicEventResponse_SUCCESS}}}})
		}
		select {
		case <-stopped:
		case <-time.After(5 * time.Second):
			t.Fatal("Stop did not return")
		}
		stopCancel()
		select {
		case d := <-dead:
			t.Fatalf("answer=%v: the in-flight event went to the dead-letter topic: %s", answer, d)
		case <-time.After(200 * time.Millisecond):
		}
		if _, err := s.Recv(); err == nil {
			t.Fatalf("answer=%v: stream still open", answer)
		}
	}
}
