package postgres

import (
	"testing"

	"github.com/statecar/statecar/api/apitest"
	"github.com/statecar/statecar/component"
)

// TestConformance runs the API layer's conformance suite over
// state.postgresql v1 and v2; every store gets fresh tables.
func TestConformance(t *testing.T) {
	t.Run("v1", func(t *testing.T) {
		apitest.Run(t, func(t *testing.T) component.Store { return &QueryStore{open(t, "", nil)} }, apitest.Options{ConsistentBulkGet: true, ValuesNotVerbatim: true})
	})
	t.Run("v2", func(t *testing.T) {
		apitest.Run(t, func(t *testing.T) component.Store { return open(t, "v2", nil) }, apitest.Options{ConsistentBulkGet: true})
	})
}
