// Package conversation defines the conversation (LLM) components behind the
// Conversation API (POST /v1.0-alpha1|alpha2/conversation/{name}/converse;
// gRPC ConverseAlpha1 and ConverseAlpha2), in the shape components-contrib
// 1.18 gives them without its langchaingo types: a Request is a list of
// messages (each a role and text, tool-call and tool-response parts) with
// the tools the model may call, and a Response is a list of results, each
// with its choices and the token usage.
//
// The one component here is conversation.echo, contrib's reference
// component that answers with what it was sent (echo.go). Components
// register themselves with Register; Open creates one by type.
package conversation
