package conversation

import (
	"context"
	"errors"
	"reflect"
	"testing"

	"github.com/statecar/statecar/component"
)

func TestEcho(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		name string
		req  *Request
		want *Response
	}{
		{"nil", nil, &Response{Outputs: []Result{}}},
		{"no messages", &Request{}, &Response{Outputs: []Result{}}},
		{"empty", &Request{Messages: []Message{}}, &Response{
			Outputs: []Result{{StopReason: "stop", Choices: []Choice{{FinishReason: "stop"}}}}, Usage: &Usage{}}},
		{"texts", &Request{Messages: []Message{
			{Role: RoleSystem, Parts: []Part{Text{"be  brief"}}},
			{Role: RoleHuman, Parts: []Part{Text{"a"}, Text{"b c"}}},
		}}, &Response{
			Outputs: []Result{{StopReason: "stop", Choices: []Choice{{FinishReason: "stop", Content: "be  brief\na\nb c"}}}},
			Usage:   &Usage{CompletionTokens: 5, PromptTokens: 5, TotalTokens: 10}}},
		{"tools then replayed calls", &Request{
			Tools: []Tool{
				{Type: "function", Name: "w", Parameters: map[string]any{"properties": map[string]any{"z": 1, "a": 2}}},
				{Type: "function", Name: "none", Parameters: map[string]any{}},
			},
			Messages: []Message{
				{Role: RoleAI, Parts: []Part{ToolCall{ID: "x", Type: "function", Name: "f", Arguments: "{}"}}},
				{Role: RoleTool, Parts: []Part{ToolResponse{ToolCallID: "x", Name: "f", Content: "ok"}}},
			}}, &Response{
			Outputs: []Result{{StopReason: "tool_calls", Choices: []Choice{{FinishReason: "tool_calls",
				Content: "Tool Response for tool ID 'x' with name 'f': ok",
				ToolCalls: []ToolCall{
					{ID: "0", Type: "function", Name: "w", Arguments: "a,z"},
					{ID: "1", Type: "function", Name: "none"},
					{ID: "x", Type: "function", Name: "f", Arguments: "{}"},
				}}}}},
			Usage: &Usage{CompletionTokens: 10, PromptTokens: 10, TotalTokens: 20}}},
	} {
		got, err := Echo{}.Converse(ctx, c.req)
		if err != nil || !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: got %+v, %v\nwant %+v", c.name, got, err, c.want)
		}
	}
	_, err := Echo{}.Converse(ctx, &Request{Messages: []Message{}, Tools: []Tool{{Name: "f", Parameters: map[string]any{"properties": []any{}}}}})
	if err == nil || err.Error() != "tool function properties must be a map[string]any, got []interface {}" {
		t.Errorf("bad properties: %v", err)
	}
}

func TestOpen(t *testing.T) {
	ctx := context.Background()
	for _, v := range []string{"", "v1", "V1", "v0"} {
		if c, err := Open(ctx, component.Spec{Name: "e", Type: "conversation.echo", Version: v}, component.Env{}); err != nil || c == nil {
			t.Errorf("version %q: %v", v, err)
		}
	}
	_, err := Open(ctx, component.Spec{Name: "e", Type: "conversation.echo", Version: "v2"}, component.Env{})
	if !errors.Is(err, ErrUnknownType) || err.Error() != "couldn't find conversation conversation.echo/v2" {
		t.Errorf("v2: %v", err)
	}
	_, err = Open(ctx, component.Spec{Name: "e", Type: "conversation.openai", Version: "v1"}, component.Env{})
	if !errors.Is(err, ErrUnknownType) {
		t.Errorf("openai: %v", err)
	}
	if got := Types(); !reflect.DeepEqual(got, []string{"conversation.echo"}) {
		t.Errorf("Types() = %v", got)
	}
}
