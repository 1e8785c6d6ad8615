package server

import (
	"bytes"
	"encoding/json"
	"net/http"
	"sort"

	"github.com/statecar/statecar/api"
)

// The output Bindings API over HTTP (other-building-blocks.md §5.1; daprd
// pkg/api/http/http.go onOutputBindingMessage).

// handleBinding is POST|PUT /v1.0/bindings/{name}: the body
// {"data":…,"metadata":{…},"operation":"…"} is decoded as daprd does
// (encoding/json, the first value only), data is re-encoded as JSON (a JSON
// string keeps its quotes) and passed to the binding. 200 with the
// binding's bytes, or 204 when it returns nothing; the binding's metadata
// becomes metadata.<key> headers, on errors too.
func (s *Runtime) handleBinding(w response, r request) {
	sc := getScratch()
	defer putScratch(sc)
	if r.bodyTooLarge() {
		s.writeError(w, api.NewMalformedRequest("failed deserializing HTTP body: stream too large"), sc)
		return
	}
	// The type's name appears in encoding/json's errors, so it is daprd's.
	type OutputBindingRequest struct {
		Metadata  map[string]string `json:"metadata"`
		Data      any               `json:"data"`
		Operation string            `json:"operation"`
	}
	var in OutputBindingRequest
	dec := json.NewDecoder(bytes.NewReader(r.body()))
	dec.UseNumber() // numbers keep their digits (daprd rounds them through float64)
	if err := dec.Decode(&in); err != nil {
		s.writeError(w, api.NewMalformedRequest("failed deserializing HTTP body: "+err.Error()), sc)
		return
	}
	data, err := json.Marshal(in.Data)
	if err != nil {
		s.writeError(w, api.NewMalformedRequestData(err), sc)
		return
	}
	resp, e := s.cfg.Bindings.Invoke(r.context(), string(r.param(0)), in.Operation, data, in.Metadata)
	if resp != nil && len(resp.Metadata) > 0 {
		keys := make([]string, 0, len(resp.Metadata))
		for k := range resp.Metadata {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			w.addHeader("metadata."+k, resp.Metadata[k])
		}
	}
	if e != nil {
		s.writeError(w, e, sc)
		return
	}
	if resp == nil {
		w.setStatus(http.StatusNoContent)
		return
	}
	w.addHeader("Content-Type", ctJSON)
	w.setStatus(http.StatusOK)
	w.write(resp.Data)
}
