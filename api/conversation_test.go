//lint:file-ignore SA1019 the alpha1 Conversation API is deprecated, and daprd still serves it.

package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"testing"

	runtimev1pb "github.com/dapr/dapr/pkg/proto/runtime/v1"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/statecar/statecar/component/conversation"
)

// fakeLLM records the request it was given and answers with resp or err.
type fakeLLM struct {
	got  *conversation.Request
	resp *conversation.Response
	err  error
}

func (f *fakeLLM) Converse(_ context.Context, r *conversation.Request) (*conversation.Response, error) {
	f.got = r
	return f.resp, f.err
}

func (f *fakeLLM) Close() error { return nil }

func TestConversationsAlpha2Mapping(t *testing.T) {
	f := &fakeLLM{resp: &conversation.Response{Model: "m-1", Outputs: []conversation.Result{{Choices: []conversation.Choice{
		{FinishReason: "stop", Index: 0, Content: "a"},
		{FinishReason: "length", Index: 1, ToolCalls: []conversation.ToolCall{{Name: "f", Arguments: "{}"}}},
	}}}}}
	c := NewConversations(ConversationsConfig{AppID: "a", Components: []ConversationEntry{{Name: "llm", Component: f}}, DisableMetrics: true})
	var in runtimev1pb.ConversationRequestAlpha2
	if err := protojson.Unmarshal([]byte(`{"inputs":[{"messages":[{"ofUser":{"content":[{"text":"q"}]}},{"ofDeveloper":{"content":[{"text":"d"}]}}]}],
		"metadata":{"k":"v"},"temperature":0.5,"tools":[{"function":{"name":"f","description":"fd"}}],"responseFormat":{"type":"object"}}`), &in); err != nil {
		t.Fatal(err)
	}
	in.Name = "llm"
	in.PromptCacheRetention = durationpb.New(90e9)
	out, e := c.ConverseAlpha2(context.Background(), &in)
	if e != nil {
		t.Fatal(e)
	}
	r := f.got
	if len(r.Messages) != 2 || r.Messages[0].Role != conversation.RoleHuman || r.Messages[1].Role != conversation.RoleHuman ||
		r.Metadata["k"] != "v" || r.Temperature != 0.5 || r.ToolChoice != "auto" || len(r.Tools) != 1 || r.Tools[0].Description != "fd" ||
		r.Tools[0].Parameters == nil || r.ResponseFormat["type"] != "object" || r.PromptCacheRetention != 90e9 {
		t.Errorf("component request: %+v", r)
	}
	b, _ := protojson.Marshal(out)
	want := `{"outputs":[{"choices":[{"finishReason":"stop","message":{"content":"a"}},{"finishReason":"length","index":"1","message":{"toolCalls":[{"function":{"name":"f","arguments":"{}"}}]}}],"model":"m-1"}]}`
	if got := compactJSON(t, b); got != want {
		t.Errorf("response\n got %s\nwant %s", got, want)
	}

	// The component's error, with daprd's text.
	f.err = errors.New("boom")
	_, e = c.ConverseAlpha2(context.Background(), &in)
	if e == nil || e.HTTPStatus() != 500 || e.GRPCCode() != codes.Internal || e.ErrorCode() != CodeConversationInvoke ||
		e.Message() != "failed conversing with component llm: boom" || e.Category() != "conversation" || len(e.GRPCStatus().Details()) != 0 {
		t.Errorf("component error: %v", e)
	}
}

func TestConversationsAlpha1(t *testing.T) {
	f := &fakeLLM{resp: &conversation.Response{Outputs: []conversation.Result{{Choices: []conversation.Choice{{Content: "x"}, {Content: "y"}}}, {}}}}
	c := NewConversations(ConversationsConfig{AppID: "a", Components: []ConversationEntry{{Name: "llm", Component: f}}, DisableMetrics: true})
	out, e := c.ConverseAlpha1(context.Background(), &runtimev1pb.ConversationRequest{Name: "llm", Temperature: ptr(0.2),
		Inputs: []*runtimev1pb.ConversationInput{{Content: "hi", Role: ptr("assistant")}, {Content: "sys", Role: ptr("system")}, {Content: "u", Role: ptr("whoever")}}})
	if e != nil {
		t.Fatal(e)
	}
	r := f.got
	if len(r.Messages) != 3 || r.Messages[0].Role != conversation.RoleAI || r.Messages[1].Role != conversation.RoleSystem ||
		r.Messages[2].Role != conversation.RoleHuman || r.Temperature != 0.2 || r.Tools == nil || len(r.Tools) != 0 {
		t.Errorf("component request: %+v", r)
	}
	// The first choice of each output; an output without choices is "".
	if len(out.GetOutputs()) != 2 || out.GetOutputs()[0].GetResult() != "x" || out.GetOutputs()[1].GetResult() != "" {
		t.Errorf("outputs: %v", out)
	}

	// A nil *Conversations (no components) answers not found.
	var none *Conversations
	if _, e := none.ConverseAlpha1(context.Background(), &runtimev1pb.ConversationRequest{Name: "x"}); e == nil || e.ErrorCode() != CodeConversationNotFound || e.HTTPStatus() != 400 {
		t.Errorf("nil Conversations: %v", e)
	}
	if err := none.Close(); err != nil {
		t.Error(err)
	}
}

func ptr[T any](v T) *T { return &v }

func compactJSON(t *testing.T, b []byte) string {
	t.Helper()
	var buf bytes.Buffer
	if err := json.Compact(&buf, b); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}
