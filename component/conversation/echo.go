package conversation

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/statecar/statecar/component"
)

func init() { Register("conversation.echo", openEcho) }

// openEcho creates conversation.echo. It has no metadata; its one version
// is v1 ("" and "v0" select it too, as daprd's registry does).
func openEcho(_ context.Context, spec component.Spec, _ component.Env) (Conversation, error) {
	switch v := strings.ToLower(spec.Version); v {
	case "", "v0", "v1":
	default:
		return nil, fmt.Errorf("%w %s/%s", ErrUnknownType, strings.ToLower(spec.Type), v)
	}
	return Echo{}, nil
}

// Echo is contrib's conversation.echo (conversation/echo/echo.go): one
// result whose one choice holds the text of every message joined by
// newlines (a tool response as "Tool Response for tool ID '<id>' with name
// '<name>': <content>"), a tool call per tool of the request (ID its
// index, arguments the names of its parameters' properties, sorted,
// comma-separated) followed by the tool calls replayed in the messages,
// finish reason "tool_calls" when there are any and "stop" otherwise, and
// the words of the answer as both completion and prompt tokens.
type Echo struct{}

// Converse answers r with what it holds.
func (Echo) Converse(_ context.Context, r *Request) (*Response, error) {
	if r == nil || r.Messages == nil {
		return &Response{Outputs: []Result{}}, nil
	}
	var calls []ToolCall
	for id, t := range r.Tools {
		var args []string
		if props, ok := t.Parameters["properties"]; ok {
			m, ok := props.(map[string]any)
			if !ok {
				return nil, fmt.Errorf("tool function properties must be a map[string]any, got %T", props)
			}
			for name := range m {
				args = append(args, name)
			}
			sort.Strings(args)
		}
		calls = append(calls, ToolCall{ID: strconv.Itoa(id), Type: t.Type, Name: t.Name, Arguments: strings.Join(args, ",")})
	}
	var texts []string
	for _, m := range r.Messages {
		for _, p := range m.Parts {
			switch p := p.(type) {
			case Text:
				texts = append(texts, p.Text)
			case ToolCall:
				calls = append(calls, p)
			case ToolResponse:
				texts = append(texts, fmt.Sprintf("Tool Response for tool ID '%s' with name '%s': %s", p.ToolCallID, p.Name, p.Content))
			default:
				return nil, fmt.Errorf("found invalid content type as input for %v", p)
			}
		}
	}
	content := strings.Join(texts, "\n")
	reason := "stop"
	if len(calls) > 0 {
		reason = "tool_calls"
	}
	tokens := uint64(len(strings.Fields(content)))
	return &Response{
		Outputs: []Result{{StopReason: reason, Choices: []Choice{{FinishReason: reason, Content: content, ToolCalls: calls}}}},
		Usage:   &Usage{CompletionTokens: tokens, PromptTokens: tokens, TotalTokens: 2 * tokens},
	}, nil
}

// Close does nothing.
func (Echo) Close() error { return nil }
