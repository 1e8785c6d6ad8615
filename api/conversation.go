//lint:file-ignore SA1019 the alpha1 Conversation API is deprecated, and daprd still serves it.

package api

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/VictoriaMetrics/metrics"
	piiscrubber "github.com/aavaz-ai/pii-scrubber"
	runtimev1pb "github.com/dapr/dapr/pkg/proto/runtime/v1"
	"google.golang.org/grpc/codes"

	"github.com/statecar/statecar/component/conversation"
)

// Error codes of the Conversation API (daprd pkg/messages/errorcodes;
// category "conversation" in dapr_error_code_total).
const (
	CodeConversationNotFound      = "ERR_CONVERSATION_NOT_FOUND"
	CodeConversationInvalidParams = "ERR_CONVERSATION_INVALID_PARMS"
	CodeConversationInvoke        = "ERR_CONVERSATION_INVOKE"
	CodeConversationMissingInputs = "ERR_CONVERSATION_MISSING_INPUTS"
)

// convErr is a Conversation API error; daprd builds them all as
// messages.APIError (no gRPC details).
func convErr(httpStatus int, code codes.Code, tag, msg string) *Error {
	e := basic(httpStatus, code, tag, msg)
	e.category = "conversation"
	e.apiError = true
	return e
}

func errConversationNotFound(name string) *Error {
	return convErr(http.StatusBadRequest, codes.InvalidArgument, CodeConversationNotFound, "failed finding conversation component "+name)
}

func errConversationMissingInputs(name string) *Error {
	return convErr(http.StatusBadRequest, codes.InvalidArgument, CodeConversationMissingInputs, "failed conversing with component "+name+": missing inputs in request")
}

// errConversationInvalidParams is daprd's ErrConversationInvalidParams.
// daprd formats its reason as an extra argument of a format without a verb
// ("invalid params%!(EXTRA ...)"); statecar appends it after ": "
// (compatibility.md).
func errConversationInvalidParams(name, reason string) *Error {
	msg := "failed conversing with component " + name + ": invalid params"
	if reason != "" {
		msg += ": " + reason
	}
	return convErr(http.StatusBadRequest, codes.InvalidArgument, CodeConversationInvalidParams, msg)
}

func errConversationInvoke(name string, err error) *Error {
	return convErr(http.StatusInternalServerError, codes.Internal, CodeConversationInvoke, "failed conversing with component "+name+": "+err.Error())
}

// ConversationEntry is one loaded conversation component.
type ConversationEntry struct {
	Name      string
	Component conversation.Conversation
}

// ConversationsConfig configures NewConversations.
type ConversationsConfig struct {
	AppID, Namespace string
	Components       []ConversationEntry
	// LatencyBuckets are the dapr_component_conversation_latencies buckets
	// in ms (nil: daprd's defaults).
	LatencyBuckets []float64
	// DisableMetrics turns off dapr_component_conversation_* recording.
	DisableMetrics bool
}

// Conversations serves the Conversation API (other-building-blocks.md §9;
// daprd pkg/api/universal/conversation.go) over the loaded conversation
// components. It is immutable after NewConversations and safe for
// concurrent use; a nil *Conversations answers as daprd without
// conversation components.
type Conversations struct {
	comps map[string]*convEntry
}

type convEntry struct {
	ConversationEntry
	// count and lat are the series by success (false, true); nil when
	// metrics are off.
	count [2]*metrics.Counter
	lat   [2]*metrics.PrometheusHistogram
}

// NewConversations builds the Conversation API.
func NewConversations(cfg ConversationsConfig) *Conversations {
	buckets := cfg.LatencyBuckets
	if buckets == nil {
		buckets = defaultLatencyBuckets
	}
	c := &Conversations{comps: make(map[string]*convEntry, len(cfg.Components))}
	for _, ce := range cfg.Components {
		e := &convEntry{ConversationEntry: ce}
		if !cfg.DisableMetrics {
			for ok, succ := range [2]string{"false", "true"} {
				labels := `{app_id=` + strconv.Quote(cfg.AppID) + `,component=` + strconv.Quote(ce.Name) +
					`,namespace=` + strconv.Quote(cfg.Namespace) + `,success="` + succ + `"}`
				e.count[ok] = metrics.GetOrCreateCounter("dapr_component_conversation_count" + labels)
				e.lat[ok] = metrics.GetOrCreatePrometheusHistogramExt("dapr_component_conversation_latencies"+labels, buckets)
			}
		}
		c.comps[ce.Name] = e
	}
	return c
}

func (c *Conversations) lookup(name string) *convEntry {
	if c == nil {
		return nil
	}
	return c.comps[name]
}

// converse calls the component and records daprd's ConversationInvoked
// (latency in ms, when above 0).
func (e *convEntry) converse(ctx context.Context, r *conversation.Request) (*conversation.Response, error) {
	start := time.Now()
	resp, err := e.Component.Converse(ctx, r)
	if e.count[0] != nil {
		s := 0
		if err == nil {
			s = 1
		}
		e.count[s].Inc()
		if ms := float64(time.Since(start)) / float64(time.Millisecond); ms > 0 {
			e.lat[s].Update(ms)
		}
	}
	return resp, err
}

// scrubber is the PII scrubber daprd uses (aavaz-ai/pii-scrubber's
// default entities), made on first use.
var scrubber = sync.OnceValues(piiscrubber.NewDefaultScrubber)

func scrub(text string) (string, error) {
	s, err := scrubber()
	if err != nil {
		return "", err
	}
	out, err := s.ScrubTexts([]string{text})
	if err != nil {
		return "", err
	}
	return out[0], nil
}

// alpha1Role maps an alpha1 input's role as daprd does (unknown roles are
// the user's).
func alpha1Role(role string) conversation.Role {
	switch role {
	case "system":
		return conversation.RoleSystem
	case "assistant", "ai":
		return conversation.RoleAI
	case "tool":
		return conversation.RoleTool
	case "function":
		return conversation.RoleFunction
	case "generic":
		return conversation.RoleGeneric
	default:
		return conversation.RoleHuman
	}
}

// ConverseAlpha1 is daprd's deprecated ConverseAlpha1: each input is one
// message; each output is the content of its first choice, with the
// request's parameters echoed, PII scrubbed from inputs and outputs when
// asked.
func (c *Conversations) ConverseAlpha1(ctx context.Context, in *runtimev1pb.ConversationRequest) (*runtimev1pb.ConversationResponse, *Error) {
	name := in.GetName()
	e := c.lookup(name)
	if e == nil {
		return nil, errConversationNotFound(name)
	}
	if len(in.GetInputs()) == 0 {
		return nil, errConversationMissingInputs(name)
	}
	msgs := make([]conversation.Message, 0, len(in.GetInputs()))
	for _, i := range in.GetInputs() {
		text := i.GetContent()
		if i.GetScrubPII() {
			var err error
			if text, err = scrub(text); err != nil {
				return nil, errConversationInvoke(name, err)
			}
		}
		msgs = append(msgs, conversation.Message{Role: alpha1Role(i.GetRole()), Parts: []conversation.Part{conversation.Text{Text: text}}})
	}
	resp, err := e.converse(ctx, &conversation.Request{Messages: msgs, Tools: []conversation.Tool{}, Temperature: in.GetTemperature()})
	if err != nil {
		return nil, errConversationInvoke(name, err)
	}
	out := &runtimev1pb.ConversationResponse{}
	if resp == nil {
		return out, nil
	}
	if id := in.GetContextID(); id != "" {
		out.ContextID = &id
	}
	for _, o := range resp.Outputs {
		var content string
		if len(o.Choices) > 0 {
			content = o.Choices[0].Content
		}
		if in.GetScrubPII() {
			if content, err = scrub(content); err != nil {
				return nil, errConversationInvoke(name, err)
			}
		}
		out.Outputs = append(out.Outputs, &runtimev1pb.ConversationResult{Result: content, Parameters: in.GetParameters()})
	}
	return out, nil
}

// textParts returns the texts of contents as parts, PII scrubbed when
// asked.
func textParts(contents []*runtimev1pb.ConversationMessageContent, scrubPII bool) ([]conversation.Part, error) {
	var parts []conversation.Part
	for _, ct := range contents {
		text := ct.GetText()
		if scrubPII {
			var err error
			if text, err = scrub(text); err != nil {
				return nil, err
			}
		}
		parts = append(parts, conversation.Text{Text: text})
	}
	return parts, nil
}

// errNilToolTypes marks an assistant tool call without a function.
var errNilToolTypes = errors.New("tool types cannot be nil")

// alpha2Message converts one alpha2 message in daprd's way: developer and
// user messages are the human's, tool calls of assistant messages are
// replayed as ToolCall parts, and tool messages' contents are
// ToolResponse parts. A *Error is an invalid-params error; other errors
// come from scrubbing.
func alpha2Message(name string, m *runtimev1pb.ConversationMessage, scrubPII bool) (conversation.Message, *Error, error) {
	var (
		msg   conversation.Message
		err   error
		parts []conversation.Part
	)
	switch t := m.GetMessageTypes().(type) {
	case nil:
		return msg, errConversationInvalidParams(name, "message type cannot be nil"), nil
	case *runtimev1pb.ConversationMessage_OfDeveloper:
		parts, err = textParts(t.OfDeveloper.GetContent(), scrubPII)
		msg = conversation.Message{Role: conversation.RoleHuman, Parts: parts}
	case *runtimev1pb.ConversationMessage_OfSystem:
		parts, err = textParts(t.OfSystem.GetContent(), scrubPII)
		msg = conversation.Message{Role: conversation.RoleSystem, Parts: parts}
	case *runtimev1pb.ConversationMessage_OfUser:
		parts, err = textParts(t.OfUser.GetContent(), scrubPII)
		msg = conversation.Message{Role: conversation.RoleHuman, Parts: parts}
	case *runtimev1pb.ConversationMessage_OfAssistant:
		if parts, err = textParts(t.OfAssistant.GetContent(), scrubPII); err != nil {
			return msg, nil, err
		}
		for _, tc := range t.OfAssistant.GetToolCalls() {
			if tc.GetToolTypes() == nil {
				return msg, errConversationInvalidParams(name, errNilToolTypes.Error()), nil
			}
			parts = append(parts, conversation.ToolCall{ID: tc.GetId(), Type: "function",
				Name: tc.GetFunction().GetName(), Arguments: tc.GetFunction().GetArguments()})
		}
		msg = conversation.Message{Role: conversation.RoleAI, Parts: parts}
	case *runtimev1pb.ConversationMessage_OfTool:
		for _, ct := range t.OfTool.GetContent() {
			text := ct.GetText()
			if scrubPII {
				if text, err = scrub(text); err != nil {
					return msg, nil, err
				}
			}
			parts = append(parts, conversation.ToolResponse{ToolCallID: t.OfTool.GetToolId(), Name: t.OfTool.GetName(), Content: text})
		}
		msg = conversation.Message{Role: conversation.RoleTool, Parts: parts}
	}
	return msg, nil, err
}

// toolChoice applies daprd's defaults and checks: "auto" when tools are
// given without a choice; "required" needs tools; a tool's name must be
// one of the function tools (checked only when tools are given).
func toolChoice(name string, in *runtimev1pb.ConversationRequestAlpha2) (string, *Error) {
	choice, tools := in.GetToolChoice(), in.GetTools()
	if choice == "" && len(tools) > 0 {
		choice = "auto"
	}
	switch choice {
	case "auto", "none", "":
	case "required":
		if len(tools) == 0 {
			return "", errConversationInvalidParams(name, "tool choice must be 'auto', 'none', 'required', or a specific tool name matching the tools available to be used")
		}
	default:
		if tools == nil {
			break
		}
		for _, t := range tools {
			if f, ok := t.GetToolTypes().(*runtimev1pb.ConversationTools_Function); ok && f.Function.GetName() == choice {
				return choice, nil
			}
		}
		return "", errConversationInvalidParams(name, "tool choice selected was not found. Must be 'auto', 'none', 'required', or a specific tool name matching the tools available to be used")
	}
	return choice, nil
}

// ConverseAlpha2 is daprd's ConverseAlpha2: the inputs' messages in order,
// the function tools, tool choice and response format go to the component;
// every output becomes a result with its choices (content PII scrubbed when
// asked, tool calls), the token usage and the model.
func (c *Conversations) ConverseAlpha2(ctx context.Context, in *runtimev1pb.ConversationRequestAlpha2) (*runtimev1pb.ConversationResponseAlpha2, *Error) {
	name := in.GetName()
	e := c.lookup(name)
	if e == nil {
		return nil, errConversationNotFound(name)
	}
	if len(in.GetInputs()) == 0 {
		return nil, errConversationMissingInputs(name)
	}
	req := &conversation.Request{Messages: []conversation.Message{}, Metadata: in.GetMetadata(), Temperature: in.GetTemperature()}
	if rf := in.GetResponseFormat(); rf != nil {
		req.ResponseFormat = rf.AsMap()
	}
	for _, input := range in.GetInputs() {
		for _, m := range input.GetMessages() {
			msg, apiErr, err := alpha2Message(name, m, input.GetScrubPii())
			if apiErr != nil {
				return nil, apiErr
			}
			if err != nil {
				return nil, errConversationInvoke(name, err)
			}
			req.Messages = append(req.Messages, msg)
		}
	}
	choice, apiErr := toolChoice(name, in)
	if apiErr != nil {
		return nil, apiErr
	}
	req.ToolChoice = choice
	if pr := in.GetPromptCacheRetention(); pr != nil {
		req.PromptCacheRetention = pr.AsDuration()
	}
	if tools := in.GetTools(); tools != nil {
		req.Tools = make([]conversation.Tool, 0, len(tools))
		for _, t := range tools {
			if f, ok := t.GetToolTypes().(*runtimev1pb.ConversationTools_Function); ok {
				req.Tools = append(req.Tools, conversation.Tool{Type: "function", Name: f.Function.GetName(),
					Description: f.Function.GetDescription(), Parameters: f.Function.GetParameters().AsMap()})
			}
		}
	}
	resp, err := e.converse(ctx, req)
	if err != nil {
		return nil, errConversationInvoke(name, err)
	}
	out := &runtimev1pb.ConversationResponseAlpha2{}
	if resp == nil {
		return out, nil
	}
	if id := in.GetContextId(); id != "" {
		out.ContextId = &id
	}
	for _, o := range resp.Outputs {
		var choices []*runtimev1pb.ConversationResultChoices
		for _, ch := range o.Choices {
			rm := &runtimev1pb.ConversationResultMessage{}
			if ch.Content != "" {
				content := ch.Content
				if in.GetScrubPii() {
					if content, err = scrub(content); err != nil {
						return nil, errConversationInvoke(name, err)
					}
				}
				rm.Content = content
			}
			for _, tc := range ch.ToolCalls {
				call := &runtimev1pb.ConversationToolCalls{ToolTypes: &runtimev1pb.ConversationToolCalls_Function{
					Function: &runtimev1pb.ConversationToolCallsOfFunction{Name: tc.Name, Arguments: tc.Arguments}}}
				if tc.ID != "" {
					call.Id = &tc.ID
				}
				rm.ToolCalls = append(rm.ToolCalls, call)
			}
			choices = append(choices, &runtimev1pb.ConversationResultChoices{FinishReason: ch.FinishReason, Index: ch.Index, Message: rm})
		}
		res := &runtimev1pb.ConversationResultAlpha2{Choices: choices}
		if u := resp.Usage; u != nil {
			res.Usage = &runtimev1pb.ConversationResultAlpha2CompletionUsage{CompletionTokens: u.CompletionTokens,
				PromptTokens: u.PromptTokens, TotalTokens: u.TotalTokens}
		}
		if resp.Model != "" {
			model := resp.Model
			res.Model = &model
		}
		out.Outputs = append(out.Outputs, res)
	}
	return out, nil
}

// Close closes every component.
func (c *Conversations) Close() error {
	if c == nil {
		return nil
	}
	var errs []error
	for _, e := range c.comps {
		errs = append(errs, e.Component.Close())
	}
	return errors.Join(errs...)
}
