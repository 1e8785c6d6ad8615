package api

import (
	"context"
	"testing"

	"github.com/statecar/statecar/component/pubsub"
)

// BenchmarkPublish is one publish through the API with daprd's envelope
// (JSON data, 100 bytes) to a broker that keeps nothing: the cost statecar
// adds before the broker's round trip.
func BenchmarkPublish(b *testing.B) {
	p := newNopPubSub()
	data := []byte(`{"orderId":12345,"item":"widget","qty":3,"note":"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"}`)
	req := &PublishRequest{PubsubName: "ps", Topic: "orders", ContentType: "application/json", Data: data, Metadata: map[string]string{}}
	ctx := context.Background()
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if e := p.Publish(ctx, req); e != nil {
			b.Fatal(e)
		}
	}
}

// BenchmarkPublishRaw is BenchmarkPublish with rawPayload: no envelope.
func BenchmarkPublishRaw(b *testing.B) {
	p := newNopPubSub()
	req := &PublishRequest{PubsubName: "ps", Topic: "orders", Data: make([]byte, 100), Metadata: map[string]string{"rawPayload": "true"}}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if e := p.Publish(ctx, req); e != nil {
			b.Fatal(e)
		}
	}
}

// nopBroker accepts every message and keeps none.
type nopBroker struct{ recBroker }

func (*nopBroker) Publish(context.Context, *pubsub.PublishRequest) error { return nil }

func newNopPubSub() *PubSub {
	return NewPubSub(PubSubConfig{AppID: "myapp", Brokers: []PubSubEntry{{Name: "ps", Broker: &nopBroker{}}}, DisableMetrics: true})
}
