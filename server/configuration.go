package server

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"

	"github.com/statecar/statecar/component/configstore"
)

// The Configuration API over HTTP (other-building-blocks.md §1; daprd
// pkg/api/http/http.go onGetConfiguration, onSubscribeConfiguration,
// onUnsubscribeConfiguration). These are plain chi handlers in daprd, not
// universal ones: the body is ignored, keys come from repeated ?key=
// parameters and metadata from metadata.* parameters.

// configKeys returns the values of every ?key= parameter, in order.
func configKeys(r request) []string {
	keys := []string{}
	r.visitQuery(func(name, value []byte) {
		if string(name) == "key" {
			keys = append(keys, string(value))
		}
	})
	return keys
}

// writeJSONEncoded writes v as daprd does with json.NewEncoder(w).Encode:
// keys sorted, HTML characters escaped, a final newline.
func writeJSONEncoded(w response, status int, v any) {
	var b bytes.Buffer
	_ = json.NewEncoder(&b).Encode(v) // the values here always encode
	w.addHeader("Content-Type", ctJSON)
	w.setStatus(status)
	w.write(b.Bytes())
}

// handleConfigGet is GET /v1.0/configuration/{store}?key=…: 200 with the
// items by key, 204 when there are none.
func (s *Runtime) handleConfigGet(w response, r request) {
	sc := getScratch()
	defer putScratch(sc)
	items, e := s.cfg.Configuration.Get(r.context(), string(r.param(0)), configKeys(r), copyMeta(queryMeta(r, sc.meta)))
	if e != nil {
		s.writeError(w, e, sc)
		return
	}
	if len(items) == 0 {
		w.setStatus(http.StatusNoContent)
		return
	}
	writeJSONEncoded(w, http.StatusOK, items)
}

// handleConfigSubscribe is GET /v1.0/configuration/{store}/subscribe?key=…:
// the store is checked first, then the app channel (500
// ERR_APP_CHANNEL_NIL without --app-port), then the store subscribes; every
// update is POSTed to the app at /configuration/{store}/{key}.
func (s *Runtime) handleConfigSubscribe(w response, r request) {
	sc := getScratch()
	defer putScratch(sc)
	store := string(r.param(0))
	if e := s.cfg.Configuration.CheckStore(store); e != nil {
		s.writeError(w, e, sc)
		return
	}
	ch := s.cfg.AppChannel
	if ch == nil {
		// daprd writes this with NewErrorResponse + respondWithJSON: the
		// legacy body through encoding/json, not counted as an error code.
		writeJSONEncoded(w, http.StatusInternalServerError, map[string]string{
			"errorCode": "ERR_APP_CHANNEL_NIL",
			"message":   "app channel is not initialized. cannot subscribe to configuration updates",
		})
		return
	}
	keys := configKeys(r)
	id, e := s.cfg.Configuration.SubscribeHTTP(store, keys, copyMeta(queryMeta(r, sc.meta)), s.configDeliverer(store, ch))
	if e != nil {
		s.writeError(w, e, sc)
		return
	}
	writeJSONEncoded(w, http.StatusOK, struct {
		ID string `json:"id"`
	}{id})
}

// configDeliverer returns the handler that posts update events to the app:
// one POST per changed key, each with the whole event as its body
// (daprd's configurationEventHandler). A failed delivery is logged and
// dropped, as daprd does without a resiliency policy.
func (s *Runtime) configDeliverer(store string, ch interface {
	Invoke(ctx context.Context, verb, method, contentType string, body []byte) (int, error)
}) configstore.Handler {
	return func(ctx context.Context, ev *configstore.UpdateEvent) error {
		var b bytes.Buffer
		_ = json.NewEncoder(&b).Encode(ev)
		for key := range ev.Items {
			status, err := ch.Invoke(ctx, http.MethodPost, "/configuration/"+url.PathEscape(store)+"/"+url.PathEscape(key), ctJSON, b.Bytes())
			if err == nil && status != http.StatusOK {
				s.log.Error("error sending configuration item to the app: error sending configuration item to application, status " + strconv.Itoa(status))
			} else if err != nil {
				s.log.Error("error sending configuration item to the app: " + err.Error())
			}
		}
		return nil
	}
}

// handleConfigUnsubscribe is GET
// /v1.0/configuration/{store}/{id}/unsubscribe: 200 {"ok":true}, or 500
// {"message":"failed to unsubscribe to configuration request {id}: …"}
// (no errorCode, and "ok":false omitted, as daprd writes it).
func (s *Runtime) handleConfigUnsubscribe(w response, r request) {
	sc := getScratch()
	defer putScratch(sc)
	failure, e := s.cfg.Configuration.UnsubscribeHTTP(r.context(), string(r.param(0)), string(r.param(1)))
	if e != nil {
		s.writeError(w, e, sc)
		return
	}
	type resp struct {
		Ok      bool   `json:"ok,omitempty"`
		Message string `json:"message,omitempty"`
	}
	if failure != "" {
		writeJSONEncoded(w, http.StatusInternalServerError, resp{Message: failure})
		return
	}
	writeJSONEncoded(w, http.StatusOK, resp{Ok: true})
}
