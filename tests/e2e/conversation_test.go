//lint:file-ignore SA1019 the alpha1 Conversation API is deprecated, and daprd still serves it.

package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	runtimev1pb "github.com/dapr/dapr/pkg/proto/runtime/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/statecar/statecar/internal/testutil"
)

// TestConversationAPI runs the Conversation API (other-building-blocks.md
// §9) on the binary over conversation.echo: both API versions, PII
// scrubbing, tools and tool choice, multi-turn tool calls, daprd's errors
// in its order, the metadata entry, the component and error-code metrics,
// and the gRPC RPCs.
func TestConversationAPI(t *testing.T) {
	dir := t.TempDir()
	testutil.WriteComponent(t, dir, "echo", "conversation.echo", nil)
	// Another provider's type is skipped (statecar has only the echo).
	testutil.WriteComponent(t, dir, "gpt", "conversation.openai", map[string]string{"key": "k", "model": "gpt-4o"})
	conf := testutil.WriteConfiguration(t, t.TempDir(), "c", "metrics:\n  recordErrorCodes: true")
	sc := testutil.Start(t, testutil.Options{AppID: "convapp", ResourcesDir: dir, ConfigFile: conf})
	tg := target{addr: sc.Addr(), sc: sc}
	ct := "Content-Type: application/json"
	a1 := func(name, body string, status int, resp string) step {
		return req("POST", "/v1.0-alpha1/conversation/"+name+"/converse", body, status, resp, ct)
	}
	a2 := func(name, body string, status int, resp string) step {
		return req("POST", "/v1.0-alpha2/conversation/"+name+"/converse", body, status, resp, ct)
	}
	user := func(text string) string { return `{"ofUser":{"content":[{"text":"` + text + `"}]}}` }
	runSteps(t, tg, nil, []step{
		// alpha1: one result of the inputs joined, the context and the
		// parameters echoed; the spec's observed answer.
		a1("echo", `{"inputs":[{"content":"hello world","role":"user","scrubPII":false}],"parameters":{},"metadata":{},"scrubPII":false,"temperature":0.7}`,
			200, `{"outputs":[{"result":"hello world"}]}`),
		a1("echo", `{"inputs":[{"content":"one","role":"system"},{"content":"two"}],"contextID":"ctx-1",`+
			`"parameters":{"model":{"@type":"type.googleapis.com/google.protobuf.StringValue","value":"m1"}}}`,
			200, `{"contextID":"ctx-1","outputs":[{"result":"one\ntwo","parameters":{"model":{"@type":"type.googleapis.com/google.protobuf.StringValue","value":"m1"}}}]}`),
		// PII: scrubbed from an input that asks, and from the output.
		a1("echo", `{"inputs":[{"content":"write to jane@example.com","scrubPII":true},{"content":"or bob@example.org"}]}`,
			200, `{"outputs":[{"result":"write to <EMAIL_ADDRESS>\nor bob@example.org"}]}`),
		a1("echo", `{"inputs":[{"content":"bob@example.org"}],"scrubPII":true}`, 200, `{"outputs":[{"result":"<EMAIL_ADDRESS>"}]}`),

		// alpha2: choices with the finish reason, and the echo's usage
		// (uint64 as JSON strings, protojson's rule).
		a2("echo", `{"inputs":[{"messages":[`+user("hi there")+`],"scrubPii":false}]}`,
			200, `{"outputs":[{"choices":[{"finishReason":"stop","message":{"content":"hi there"}}],"usage":{"completionTokens":"2","promptTokens":"2","totalTokens":"4"}}]}`),
		a2("echo", `{"contextId":"c2","inputs":[{"messages":[{"ofSystem":{"content":[{"text":"be brief"}]}},`+user("a")+`]},{"messages":[{"ofDeveloper":{"content":[{"text":"b"},{"text":"c"}]}}]}]}`,
			200, `{"contextId":"c2","outputs":[{"choices":[{"finishReason":"stop","message":{"content":"be brief\na\nb\nc"}}],"usage":{"completionTokens":"5","promptTokens":"5","totalTokens":"10"}}]}`),
		// Tools: a call per function tool, arguments its properties sorted.
		a2("echo", `{"inputs":[{"messages":[`+user("weather?")+`]}],"tools":[{"function":{"name":"get_weather","description":"d",`+
			`"parameters":{"type":"object","properties":{"unit":{"type":"string"},"location":{"type":"string"}}}}},{"function":{"name":"noargs"}}],"toolChoice":"get_weather"}`,
			200, `{"outputs":[{"choices":[{"finishReason":"tool_calls","message":{"content":"weather?","toolCalls":[`+
				`{"id":"0","function":{"name":"get_weather","arguments":"location,unit"}},{"id":"1","function":{"name":"noargs"}}]}}],`+
				`"usage":{"completionTokens":"1","promptTokens":"1","totalTokens":"2"}}]}`),
		// A second turn: the assistant's tool call and the tool's answer.
		a2("echo", `{"inputs":[{"messages":[{"ofAssistant":{"toolCalls":[{"id":"t9","function":{"name":"f","arguments":"{\"x\":1}"}}]}},`+
			`{"ofTool":{"toolId":"t9","name":"f","content":[{"text":"42"}]}}]}]}`,
			200, `{"outputs":[{"choices":[{"finishReason":"tool_calls","message":{"content":"Tool Response for tool ID 't9' with name 'f': 42",`+
				`"toolCalls":[{"id":"t9","function":{"name":"f","arguments":"{\"x\":1}"}}]}}],"usage":{"completionTokens":"10","promptTokens":"10","totalTokens":"20"}}]}`),
		a2("echo", `{"inputs":[{"messages":[`+user("mail jane@example.com")+`],"scrubPii":true}]}`,
			200, `{"outputs":[{"choices":[{"finishReason":"stop","message":{"content":"mail <EMAIL_ADDRESS>"}}],"usage":{"completionTokens":"2","promptTokens":"2","totalTokens":"4"}}]}`),
		// Inputs without messages: one empty choice.
		a2("echo", `{"inputs":[{}]}`, 200, `{"outputs":[{"choices":[{"finishReason":"stop","message":{}}],"usage":{}}]}`),
		// A tool choice naming a tool is only checked when tools are given.
		a2("echo", `{"inputs":[{"messages":[`+user("x")+`]}],"toolChoice":"anything"}`,
			200, `{"outputs":[{"choices":[{"finishReason":"stop","message":{"content":"x"}}],"usage":{"completionTokens":"1","promptTokens":"1","totalTokens":"2"}}]}`),

		// Errors, in daprd's order: the component, the inputs, the
		// messages, the tool choice.
		a1("nope", `{}`, 400, `{"errorCode":"ERR_CONVERSATION_NOT_FOUND","message":"failed finding conversation component nope"}`),
		a2("gpt", `{"inputs":[{}]}`, 400, `{"errorCode":"ERR_CONVERSATION_NOT_FOUND","message":"failed finding conversation component gpt"}`),
		a1("echo", ``, 400, `{"errorCode":"ERR_CONVERSATION_MISSING_INPUTS","message":"failed conversing with component echo: missing inputs in request"}`),
		a2("echo", `{"inputs":[]}`, 400, `{"errorCode":"ERR_CONVERSATION_MISSING_INPUTS","message":"failed conversing with component echo: missing inputs in request"}`),
		a2("echo", `{"inputs":[{"messages":[{}]}]}`, 400,
			`{"errorCode":"ERR_CONVERSATION_INVALID_PARMS","message":"failed conversing with component echo: invalid params: message type cannot be nil"}`),
		a2("echo", `{"inputs":[{"messages":[{"ofAssistant":{"toolCalls":[{"id":"1"}]}}]}]}`, 400,
			`{"errorCode":"ERR_CONVERSATION_INVALID_PARMS","message":"failed conversing with component echo: invalid params: tool types cannot be nil"}`),
		a2("echo", `{"inputs":[{"messages":[`+user("x")+`]}],"toolChoice":"required"}`, 400,
			`{"errorCode":"ERR_CONVERSATION_INVALID_PARMS","message":"failed conversing with component echo: invalid params: tool choice must be 'auto', 'none', 'required', or a specific tool name matching the tools available to be used"}`),
		a2("echo", `{"inputs":[{"messages":[`+user("x")+`]}],"tools":[{"function":{"name":"f"}}],"toolChoice":"g"}`, 400,
			`{"errorCode":"ERR_CONVERSATION_INVALID_PARMS","message":"failed conversing with component echo: invalid params: tool choice selected was not found. Must be 'auto', 'none', 'required', or a specific tool name matching the tools available to be used"}`),
		// The echo refuses properties that are not an object.
		a2("echo", `{"inputs":[{"messages":[`+user("x")+`]}],"tools":[{"function":{"name":"f","parameters":{"properties":"no"}}}]}`, 500,
			`{"errorCode":"ERR_CONVERSATION_INVOKE","message":"failed conversing with component echo: tool function properties must be a map[string]any, got string"}`),
		// Only POST, and only these versions.
		req("PUT", "/v1.0-alpha2/conversation/echo/converse", `{}`, 404,
			`{"errorCode":"ERR_DIRECT_INVOKE","message":"failed getting app id either from the URL path or the header dapr-app-id"}`),
		req("POST", "/v1.0/conversation/echo/converse", `{}`, 404,
			`{"errorCode":"ERR_DIRECT_INVOKE","message":"failed getting app id either from the URL path or the header dapr-app-id"}`),
	})
	bad, err := rawDo(sc.Addr(), "POST", "/v1.0-alpha2/conversation/echo/converse", nil, "{")
	if err != nil {
		t.Fatal(err)
	}
	if bad.Status != 400 || !strings.HasPrefix(string(bad.Body), `{"errorCode":"ERR_MALFORMED_REQUEST","message":"failed deserializing HTTP body: proto:`) {
		t.Errorf("bad body: %d %s", bad.Status, bad.Body)
	}

	grpcConverse(t, sc)

	md, err := rawDo(sc.Addr(), "GET", "/v1.0/metadata", nil, "")
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"name":"echo","type":"conversation.echo","version":"v1"}`; !strings.Contains(string(md.Body), want) || strings.Contains(string(md.Body), `"gpt"`) {
		t.Errorf("metadata: want %s and no gpt:\n%s", want, md.Body)
	}
	if out := sc.Output(); !strings.Contains(out, "Component gpt (conversation.openai/v1) is not supported by statecar") {
		t.Errorf("no warning for the skipped component:\n%s", out)
	}
	// 11 successful HTTP calls + 2 gRPC; one failed call of the echo.
	// Errors over HTTP and gRPC count alike.
	metrics := scrape(t, sc)
	for _, want := range []string{
		`dapr_component_conversation_count{app_id="convapp",component="echo",namespace="",success="true"} 13`,
		`dapr_component_conversation_count{app_id="convapp",component="echo",namespace="",success="false"} 1`,
		`dapr_error_code_total{app_id="convapp",category="conversation",error_code="ERR_CONVERSATION_NOT_FOUND"} 3`,
		`dapr_error_code_total{app_id="convapp",category="conversation",error_code="ERR_CONVERSATION_MISSING_INPUTS"} 2`,
		`dapr_error_code_total{app_id="convapp",category="conversation",error_code="ERR_CONVERSATION_INVALID_PARMS"} 4`,
		`dapr_error_code_total{app_id="convapp",category="conversation",error_code="ERR_CONVERSATION_INVOKE"} 1`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %s:\n%s", want, grepLines(metrics, "conversation"))
		}
	}
	if code := sc.Stop(); code != 0 {
		t.Errorf("exit code %d; output:\n%s", code, sc.Output())
	}
}

// grpcConverse runs ConverseAlpha1 and ConverseAlpha2 on a sidecar with
// the "echo" component.
func grpcConverse(t *testing.T, sc *testutil.Sidecar) {
	t.Helper()
	conn, err := grpc.NewClient(sc.GRPCAddr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	c := runtimev1pb.NewDaprClient(conn)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	r1, err := c.ConverseAlpha1(ctx, &runtimev1pb.ConversationRequest{Name: "echo", Inputs: []*runtimev1pb.ConversationInput{{Content: "ping"}}})
	if err != nil || len(r1.GetOutputs()) != 1 || r1.GetOutputs()[0].GetResult() != "ping" {
		t.Errorf("ConverseAlpha1: %v %v", r1, err)
	}
	params, _ := structpb.NewStruct(map[string]any{"properties": map[string]any{"city": map[string]any{}}})
	r2, err := c.ConverseAlpha2(ctx, &runtimev1pb.ConversationRequestAlpha2{Name: "echo",
		Inputs: []*runtimev1pb.ConversationInputAlpha2{{Messages: []*runtimev1pb.ConversationMessage{{MessageTypes: &runtimev1pb.ConversationMessage_OfUser{
			OfUser: &runtimev1pb.ConversationMessageOfUser{Content: []*runtimev1pb.ConversationMessageContent{{Text: "go"}}}}}}}},
		Tools: []*runtimev1pb.ConversationTools{{ToolTypes: &runtimev1pb.ConversationTools_Function{Function: &runtimev1pb.ConversationToolsFunction{Name: "f", Parameters: params}}}}})
	if err != nil || len(r2.GetOutputs()) != 1 || len(r2.GetOutputs()[0].GetChoices()) != 1 {
		t.Fatalf("ConverseAlpha2: %v %v", r2, err)
	}
	ch := r2.GetOutputs()[0].GetChoices()[0]
	if ch.GetFinishReason() != "tool_calls" || ch.GetMessage().GetContent() != "go" || len(ch.GetMessage().GetToolCalls()) != 1 ||
		ch.GetMessage().GetToolCalls()[0].GetFunction().GetArguments() != "city" || r2.GetOutputs()[0].GetUsage().GetTotalTokens() != 2 {
		t.Errorf("ConverseAlpha2 answer: %v", r2)
	}
	_, err = c.ConverseAlpha1(ctx, &runtimev1pb.ConversationRequest{Name: "nope"})
	// daprd's conversation errors are messages.APIError: no details.
	if st, _ := status.FromError(err); st.Code() != codes.InvalidArgument || st.Message() != "failed finding conversation component nope" || len(st.Details()) != 0 {
		t.Errorf("ConverseAlpha1 of an unknown component: %v", err)
	}
}

// TestConversationAPIAbsent: without conversation components every call
// answers 400 ERR_CONVERSATION_NOT_FOUND, over HTTP and gRPC.
func TestConversationAPIAbsent(t *testing.T) {
	sc := testutil.Start(t, testutil.Options{AppID: "noconv"})
	runSteps(t, target{addr: sc.Addr(), sc: sc}, nil, []step{
		req("POST", "/v1.0-alpha1/conversation/echo/converse", `{"inputs":[{"content":"x"}]}`, 400,
			`{"errorCode":"ERR_CONVERSATION_NOT_FOUND","message":"failed finding conversation component echo"}`),
		req("POST", "/v1.0-alpha2/conversation/echo/converse", `{}`, 400,
			`{"errorCode":"ERR_CONVERSATION_NOT_FOUND","message":"failed finding conversation component echo"}`),
	})
	conn, err := grpc.NewClient(sc.GRPCAddr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_, err = runtimev1pb.NewDaprClient(conn).ConverseAlpha2(context.Background(), &runtimev1pb.ConversationRequestAlpha2{Name: "echo"})
	if st, _ := status.FromError(err); st.Code() != codes.InvalidArgument || st.Message() != "failed finding conversation component echo" {
		t.Errorf("ConverseAlpha2 without components: %v", err)
	}
}
