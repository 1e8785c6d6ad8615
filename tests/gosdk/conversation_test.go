//lint:file-ignore SA1019 the SDK's ConverseAlpha1 is deprecated, and daprd still serves it.

package gosdk

import (
	"context"
	"testing"
	"time"

	dapr "github.com/dapr/go-sdk/client"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/structpb"
)

// TestConversationSDK drives the Conversation API over conversation.echo
// through the Go SDK's ConverseAlpha1 and ConverseAlpha2: answers, the
// context ID, PII scrubbing, tools and tool choice, and errors.
func TestConversationSDK(t *testing.T) {
	sc := startSidecarWith(t, componentYAML("echo", "conversation.echo", nil))
	c := newClient(t, sc)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	t.Run("alpha1", func(t *testing.T) {
		scrub := true
		r, err := c.ConverseAlpha1(ctx, dapr.NewConversationRequest("echo", []dapr.ConversationInput{
			{Content: "hello"}, {Content: "mail me at jane@example.com", ScrubPII: &scrub}}), dapr.WithContextID("c-1"))
		if err != nil {
			t.Fatal(err)
		}
		if r.ContextID != "c-1" || len(r.Outputs) != 1 || r.Outputs[0].Result != "hello\nmail me at <EMAIL_ADDRESS>" {
			t.Errorf("ConverseAlpha1 = %+v", r)
		}
		_, err = c.ConverseAlpha1(ctx, dapr.NewConversationRequest("echo", nil))
		wantCode(t, err, codes.InvalidArgument, "failed conversing with component echo: missing inputs in request")
		_, err = c.ConverseAlpha1(ctx, dapr.NewConversationRequest("gpt", []dapr.ConversationInput{{Content: "x"}}))
		wantCode(t, err, codes.InvalidArgument, "failed finding conversation component gpt")
	})

	t.Run("alpha2", func(t *testing.T) {
		text := "what's the weather?"
		params, err := structpb.NewStruct(map[string]any{"type": "object", "properties": map[string]any{"city": map[string]any{"type": "string"}}})
		if err != nil {
			t.Fatal(err)
		}
		auto := dapr.ToolChoiceAutoAlpha2
		ctxID := "c-2"
		r, err := c.ConverseAlpha2(ctx, dapr.ConversationRequestAlpha2{Name: "echo", ContextID: &ctxID,
			Inputs: []*dapr.ConversationInputAlpha2{{Messages: []*dapr.ConversationMessageAlpha2{{
				ConversationMessageOfUser: &dapr.ConversationMessageOfUserAlpha2{Content: []*dapr.ConversationMessageContentAlpha2{{Text: &text}}}}}}},
			Tools:      []*dapr.ConversationToolsAlpha2{{Name: "weather", Parameters: params}},
			ToolChoice: &auto})
		if err != nil {
			t.Fatal(err)
		}
		if r.ContextID != "c-2" || len(r.Outputs) != 1 || len(r.Outputs[0].Choices) != 1 {
			t.Fatalf("ConverseAlpha2 = %+v", r)
		}
		ch := r.Outputs[0].Choices[0]
		if ch.FinishReason != "tool_calls" || ch.Message.Content != text || len(ch.Message.ToolCalls) != 1 ||
			ch.Message.ToolCalls[0].ID != "0" || ch.Message.ToolCalls[0].ToolTypes.Name != "weather" || ch.Message.ToolCalls[0].ToolTypes.Arguments != "city" {
			t.Errorf("choice = %+v (message %+v)", ch, ch.Message)
		}
		if u := r.Outputs[0].Usage; u == nil || u.CompletionTokens != 3 || u.TotalTokens != 6 {
			t.Errorf("usage = %+v", u)
		}
		required := dapr.ToolChoiceRequiredAlpha2
		_, err = c.ConverseAlpha2(ctx, dapr.ConversationRequestAlpha2{Name: "echo", ToolChoice: &required,
			Inputs: []*dapr.ConversationInputAlpha2{{Messages: []*dapr.ConversationMessageAlpha2{{
				ConversationMessageOfUser: &dapr.ConversationMessageOfUserAlpha2{Content: []*dapr.ConversationMessageContentAlpha2{{Text: &text}}}}}}}})
		wantCode(t, err, codes.InvalidArgument, "failed conversing with component echo: invalid params: tool choice must be 'auto', 'none', 'required', or a specific tool name matching the tools available to be used")
	})
}
