package grpcserver

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	runtimev1pb "github.com/dapr/dapr/pkg/proto/runtime/v1"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/statecar/statecar/api"
	"github.com/statecar/statecar/internal/appchannel"
)

// SubscribeTopicEventsAlpha1 is a streaming subscription (daprd's
// pkg/api/grpc/subscribe.go and runtime/pubsub/streamer): the first
// message names the pubsub and topic; the server answers with an initial
// response, then sends each event and waits for the client's
// EventProcessed with the event's id (SUCCESS, RETRY or DROP, as an app's
// OnTopicEvent answer). The stream ends when the client closes it or the
// sidecar shuts down.
func (d *daprAPI) SubscribeTopicEventsAlpha1(stream runtimev1pb.Dapr_SubscribeTopicEventsAlpha1Server) error {
	sub := d.cfg.Subscriber
	if sub == nil {
		return status.Error(codes.Unimplemented, "method SubscribeTopicEventsAlpha1 not implemented")
	}
	first := make(chan error, 1)
	var ireq *runtimev1pb.SubscribeTopicEventsRequestAlpha1
	go func() {
		var err error
		ireq, err = stream.Recv()
		first <- err
	}()
	select {
	case err := <-first:
		if err != nil {
			return err
		}
	case <-stream.Context().Done():
		return stream.Context().Err()
	case <-sub.Closed():
		return errors.New("api server closed")
	}
	req := ireq.GetInitialRequest()
	switch {
	case req == nil:
		return errors.New("initial request is required")
	case req.GetPubsubName() == "":
		return errors.New("pubsubName is required")
	case req.GetTopic() == "":
		return errors.New("topic is required")
	}
	c := &streamConn{stream: stream, waiting: map[string]chan runtimev1pb.TopicEventResponse_TopicEventResponseStatus{}, closed: make(chan struct{})}
	stop, e, err := sub.StartStream(api.Subscription{PubsubName: req.GetPubsubName(), Topic: req.GetTopic(),
		Metadata: req.GetMetadata(), DeadLetterTopic: req.GetDeadLetterTopic()}, c.deliver)
	if e != nil {
		return fail(e)
	}
	if err != nil {
		return err
	}
	// stop (the subscription ends: failed deliveries stay with the
	// broker) runs before close (the deliveries waiting for answers end).
	defer c.close()
	defer stop()
	if err := c.send(&runtimev1pb.SubscribeTopicEventsResponseAlpha1{
		SubscribeTopicEventsResponseType: &runtimev1pb.SubscribeTopicEventsResponseAlpha1_InitialResponse{
			InitialResponse: &runtimev1pb.SubscribeTopicEventsResponseInitialAlpha1{},
		},
	}); err != nil {
		return err
	}
	recv := make(chan error, 1)
	go func() { recv <- c.recvLoop() }()
	select {
	case err := <-recv:
		return err
	case <-stream.Context().Done():
		return stream.Context().Err()
	case <-sub.Closed():
	}
	// Shutdown: no new event is sent (the subscriber refuses them); the
	// answers still due are awaited, as daprd's streamer does, until they
	// came, the client left, or the subscriber's drain ran out (which
	// cancels the deliveries).
	for c.pending() > 0 {
		select {
		case err := <-recv:
			return err
		case <-stream.Context().Done():
			return stream.Context().Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
	return errors.New("stream closed")
}

// pending is the number of events sent and not answered yet.
func (c *streamConn) pending() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.waiting)
}

// streamConn is one open streaming subscription.
type streamConn struct {
	stream runtimev1pb.Dapr_SubscribeTopicEventsAlpha1Server

	sendMu sync.Mutex // stream.Send is not safe for concurrent use

	mu      sync.Mutex
	waiting map[string]chan runtimev1pb.TopicEventResponse_TopicEventResponseStatus // event id -> its answer
	closed  chan struct{}
	once    sync.Once
}

// send sends m unless the stream has ended (its handler returned or is
// returning: grpc-go allows no Send after that).
func (c *streamConn) send(m *runtimev1pb.SubscribeTopicEventsResponseAlpha1) error {
	c.sendMu.Lock()
	defer c.sendMu.Unlock()
	select {
	case <-c.closed:
		return errors.New("stream closed")
	default:
	}
	return c.stream.Send(m)
}

func (c *streamConn) close() { c.once.Do(func() { close(c.closed) }) }

// recvLoop hands each EventProcessed to the delivery waiting for its id.
func (c *streamConn) recvLoop() error {
	for {
		m, err := c.stream.Recv()
		if err != nil {
			return err
		}
		p := m.GetEventProcessed()
		if p == nil {
			return errors.New("duplicate initial request received")
		}
		c.mu.Lock()
		ch := c.waiting[p.GetId()]
		c.mu.Unlock()
		if ch != nil {
			select {
			case ch <- p.GetStatus().GetStatus():
			default:
			}
		}
	}
}

// deliver sends one event and waits for its answer (daprd's
// streamer.Publish and the streaming postman).
func (c *streamConn) deliver(ctx context.Context, ev *api.TopicEvent) (api.Outcome, error) {
	req, err := appchannel.TopicEventRequest(ev)
	if err != nil {
		return api.OutcomeRetry, err
	}
	ch := make(chan runtimev1pb.TopicEventResponse_TopicEventResponseStatus, 1)
	c.mu.Lock()
	if _, dup := c.waiting[req.GetId()]; dup {
		c.mu.Unlock()
		return api.OutcomeRetry, fmt.Errorf("no client stream expecting publish response for id %s", req.GetId())
	}
	c.waiting[req.GetId()] = ch
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		delete(c.waiting, req.GetId())
		c.mu.Unlock()
	}()
	// The send runs apart: a client that stops reading blocks it on flow
	// control, and the delivery must still end with its context (the
	// drain's deadline) or the stream.
	sent := make(chan error, 1)
	go func() {
		sent <- c.send(&runtimev1pb.SubscribeTopicEventsResponseAlpha1{
			SubscribeTopicEventsResponseType: &runtimev1pb.SubscribeTopicEventsResponseAlpha1_EventMessage{EventMessage: req},
		})
	}()
	select {
	case err := <-sent:
		if err != nil {
			return api.OutcomeRetry, fmt.Errorf("error returned from app while processing pub/sub event %v: %w", req.GetId(), err)
		}
	case <-ctx.Done():
		return api.OutcomeRetry, ctx.Err()
	case <-c.closed:
		return api.OutcomeRetry, errors.New("stream closed")
	}
	select {
	case <-ctx.Done():
		return api.OutcomeRetry, ctx.Err()
	case <-c.closed:
		return api.OutcomeRetry, errors.New("stream closed")
	case st := <-ch:
		switch st {
		case runtimev1pb.TopicEventResponse_SUCCESS:
			return api.OutcomeSuccess, nil
		case runtimev1pb.TopicEventResponse_DROP:
			return api.OutcomeStreamDrop, nil
		case runtimev1pb.TopicEventResponse_RETRY:
			return api.OutcomeRetry, fmt.Errorf("RETRY status returned from app while processing pub/sub event %v", req.GetId())
		}
		return api.OutcomeRetry, fmt.Errorf("unknown status returned from app while processing pub/sub event %v, status: %v", req.GetId(), st)
	}
}
