package pubsub

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/statecar/statecar/component"
)

func collect(ch chan string, n int, t *testing.T) []string {
	t.Helper()
	var out []string
	for range n {
		select {
		case s := <-ch:
			out = append(out, s)
		case <-time.After(5 * time.Second):
			t.Fatalf("got %v, want %d messages", out, n)
		}
	}
	return out
}

func TestMemoryOrderWildcardAndCancel(t *testing.T) {
	ctx := context.Background()
	m := NewMemory(nil)
	if _, err := Open(ctx, component.Spec{Type: "pubsub.in-memory"}, component.Env{}); err != nil {
		t.Fatal(err)
	}
	exact, wild := make(chan string, 100), make(chan string, 100)
	sctx, cancel := context.WithCancel(ctx)
	if err := m.Subscribe(sctx, SubscribeRequest{Topic: "orders"}, func(_ context.Context, msg *Message) error {
		exact <- msg.Topic + ":" + string(msg.Data) + ":" + msg.Metadata["k"]
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := m.Subscribe(ctx, SubscribeRequest{Topic: "orders*"}, func(_ context.Context, msg *Message) error {
		wild <- msg.Topic
		return errors.New("logged, not retried")
	}); err != nil {
		t.Fatal(err)
	}
	for i := range 50 {
		if err := m.Publish(ctx, &PublishRequest{Topic: "orders", Data: []byte{byte('0' + i%10)}, Metadata: map[string]string{"k": "v"}}); err != nil {
			t.Fatal(err)
		}
	}
	got := collect(exact, 50, t)
	for i, s := range got {
		if want := "orders:" + string(rune('0'+i%10)) + ":v"; s != want {
			t.Fatalf("message %d = %q, want %q (order lost)", i, s, want)
		}
	}
	// "orders*" matches what "orders" prefixes, but not "orders" itself.
	_ = m.Publish(ctx, &PublishRequest{Topic: "orders/eu"})
	_ = m.Publish(ctx, &PublishRequest{Topic: "other"})
	if w := collect(wild, 1, t); w[0] != "orders/eu" {
		t.Fatalf("wildcard got %v", w)
	}
	cancel()
	time.Sleep(20 * time.Millisecond)
	_ = m.Publish(ctx, &PublishRequest{Topic: "orders"})
	select {
	case s := <-exact:
		t.Fatalf("delivered after cancel: %s", s)
	case <-time.After(100 * time.Millisecond):
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if err := m.Publish(ctx, &PublishRequest{Topic: "orders"}); !errors.Is(err, ErrClosed) {
		t.Fatalf("publish after close: %v", err)
	}
	if err := m.Subscribe(ctx, SubscribeRequest{Topic: "x"}, nil); !errors.Is(err, ErrClosed) {
		t.Fatalf("subscribe after close: %v", err)
	}
	if got := m.Features(); len(got) != 1 || got[0] != FeatureSubscribeWildcards {
		t.Fatalf("features %v", got)
	}
}

func TestMemoryCloseWaitsForHandlers(t *testing.T) {
	m := NewMemory(nil)
	release := make(chan struct{})
	var done sync.WaitGroup
	done.Add(1)
	_ = m.Subscribe(context.Background(), SubscribeRequest{Topic: "t"}, func(context.Context, *Message) error {
		<-release
		done.Done()
		return nil
	})
	_ = m.Publish(context.Background(), &PublishRequest{Topic: "t"})
	closed := make(chan struct{})
	go func() { _ = m.Close(); close(closed) }()
	select {
	case <-closed:
		t.Fatal("Close returned with a handler running")
	case <-time.After(50 * time.Millisecond):
	}
	close(release)
	<-closed
	done.Wait()
}

func TestOpenUnknownType(t *testing.T) {
	_, err := Open(context.Background(), component.Spec{Type: "pubsub.nope", Version: "v1"}, component.Env{})
	if !errors.Is(err, ErrUnknownType) || err.Error() != "couldn't find message bus pubsub.nope/v1" {
		t.Fatalf("%v", err)
	}
}
