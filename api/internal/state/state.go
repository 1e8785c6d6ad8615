package state

import "encoding/json"

// SetRequest is one item of an HTTP save body.
type SetRequest struct {
	Key         string            `json:"key"`
	Value       json.RawMessage   `json:"value"`
	ETag        *string           `json:"etag,omitempty"`
	Metadata    map[string]string `json:"metadata"`
	Options     SetStateOption    `json:"options,omitempty"`
	ContentType *string           `json:"contentType,omitempty"`
}

// SetStateOption are the options of a SetRequest.
type SetStateOption struct {
	Concurrency string `json:"concurrency,omitempty"`
	Consistency string `json:"consistency"`
}
