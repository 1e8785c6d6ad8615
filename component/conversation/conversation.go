package conversation

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/statecar/statecar/component"
)

// Role is the author of a message, with langchaingo's names (which
// contrib's components map to their provider's roles).
type Role string

// The roles daprd maps the API's messages to.
const (
	RoleHuman    Role = "human"
	RoleSystem   Role = "system"
	RoleAI       Role = "ai"
	RoleTool     Role = "tool"
	RoleFunction Role = "function"
	RoleGeneric  Role = "generic"
)

// Part is one part of a message: Text, ToolCall or ToolResponse.
type Part interface{ isPart() }

// Text is a text part.
type Text struct{ Text string }

// ToolCall is a call of a tool: asked for by the model in a result, or
// replayed by the caller in an assistant message of a multi-turn
// conversation.
type ToolCall struct {
	ID string
	// Type is "function".
	Type      string
	Name      string
	Arguments string
}

// ToolResponse is what a tool answered, sent back to the model.
type ToolResponse struct {
	ToolCallID, Name, Content string
}

func (Text) isPart()         {}
func (ToolCall) isPart()     {}
func (ToolResponse) isPart() {}

// Message is one message of the conversation.
type Message struct {
	Role  Role
	Parts []Part
}

// Tool is a function the model may ask the caller to run.
type Tool struct {
	// Type is "function".
	Type        string
	Name        string
	Description string
	// Parameters is the function's JSON schema as decoded JSON.
	Parameters map[string]any
}

// Request is one conversation turn.
type Request struct {
	// Messages are the inputs in order; nil means none were given.
	Messages []Message
	// Tools are the tools the model may call; nil means none.
	Tools []Tool
	// ToolChoice is "", "auto", "none", "required" or a tool's name.
	ToolChoice  string
	Temperature float64
	// Metadata is the request's metadata (model options).
	Metadata map[string]string
	// ResponseFormat is a JSON schema the answer should follow, or nil.
	ResponseFormat map[string]any
	// PromptCacheRetention is how long the provider may cache the prompt
	// (0: its default).
	PromptCacheRetention time.Duration
}

// Choice is one answer of the model.
type Choice struct {
	FinishReason string
	Index        int64
	Content      string
	// ToolCalls are the calls the model asks the caller to run.
	ToolCalls []ToolCall
}

// Result is the answer to a request.
type Result struct {
	StopReason string
	Choices    []Choice
}

// Usage counts the tokens of a request and its answer.
type Usage struct {
	CompletionTokens, PromptTokens, TotalTokens uint64
}

// Response is a component's answer.
type Response struct {
	Outputs []Result
	// Usage is nil when the component does not count tokens.
	Usage *Usage
	// Model is the model that answered ("" when not known).
	Model string
}

// Conversation is a conversation component. Implementations are safe for
// concurrent use.
type Conversation interface {
	Converse(ctx context.Context, r *Request) (*Response, error)
	Close() error
}

// Factory creates a component from its spec.
type Factory func(ctx context.Context, spec component.Spec, env component.Env) (Conversation, error)

var registry = component.NewRegistry[Factory]("conversation component")

// Register makes a component type ("conversation.echo") available to Open.
// It panics when typ is registered twice.
func Register(typ string, f Factory) { registry.Register(typ, f) }

// Types returns the registered types, sorted.
func Types() []string { return registry.Types() }

// ErrUnknownType is returned by Open for a type nobody registered.
var ErrUnknownType = errors.New("couldn't find conversation")

// Open creates the component of spec.Type.
func Open(ctx context.Context, spec component.Spec, env component.Env) (Conversation, error) {
	f, ok := registry.Lookup(spec.Type)
	if !ok {
		return nil, fmt.Errorf("%w %s/%s", ErrUnknownType, spec.Type, spec.Version)
	}
	return f(ctx, spec, env)
}
