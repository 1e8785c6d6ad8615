//lint:file-ignore SA1019 the alpha1 Conversation API is deprecated, and daprd still serves it.

package server

import (
	"bytes"
	"encoding/json"
	"net/http"

	runtimev1pb "github.com/dapr/dapr/pkg/proto/runtime/v1"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/statecar/statecar/api"
)

// The Conversation API over HTTP (other-building-blocks.md §9; daprd
// pkg/api/http/conversation.go): universal handlers, so the body is a
// protojson ConversationRequest (alpha1) or ConversationRequestAlpha2
// whose name the path overrides, and the answer is the protojson response
// (unpopulated fields left out).

// handleConverseAlpha1 is POST /v1.0-alpha1/conversation/{name}/converse.
func (s *Runtime) handleConverseAlpha1(w response, r request) {
	sc := getScratch()
	defer putScratch(sc)
	in := &runtimev1pb.ConversationRequest{}
	if e := universalBody(r, in); e != nil {
		s.writeError(w, e, sc)
		return
	}
	in.Name = string(r.param(0))
	out, e := s.cfg.Conversations.ConverseAlpha1(r.context(), in)
	s.writeProto(w, out, e, sc)
}

// handleConverseAlpha2 is POST /v1.0-alpha2/conversation/{name}/converse.
func (s *Runtime) handleConverseAlpha2(w response, r request) {
	sc := getScratch()
	defer putScratch(sc)
	in := &runtimev1pb.ConversationRequestAlpha2{}
	if e := universalBody(r, in); e != nil {
		s.writeError(w, e, sc)
		return
	}
	in.Name = string(r.param(0))
	out, e := s.cfg.Conversations.ConverseAlpha2(r.context(), in)
	s.writeProto(w, out, e, sc)
}

// writeProto answers a universal handler: the error, or 200 with m as
// protojson. protojson's output is deliberately unstable in its spacing;
// it is compacted to the form daprd's binary happens to print.
func (s *Runtime) writeProto(w response, m proto.Message, e *api.Error, sc *scratch) {
	if e != nil {
		s.writeError(w, e, sc)
		return
	}
	b, err := protojson.Marshal(m)
	if err == nil {
		var buf bytes.Buffer
		if err = json.Compact(&buf, b); err == nil {
			b = buf.Bytes()
		}
	}
	if err != nil {
		s.writeError(w, api.NewInternal("failed to encode response as JSON: "+err.Error()), sc)
		return
	}
	w.addHeader("Content-Type", ctJSON)
	w.setStatus(http.StatusOK)
	w.write(b)
}
