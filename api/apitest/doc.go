// Package apitest is the transport-free conformance suite of the State API:
// it drives api.State's HTTP-shaped and typed entry points over a store
// through the rules and errors of spec/state-http.md (checklist §13, error
// catalogue §3.2) and spec/state-grpc.md §4–§5, asserting status, error
// code and exact message or body bytes.
//
// Store packages call Run from a test:
//
//	func TestConformance(t *testing.T) {
//		apitest.Run(t, func(t *testing.T) component.Store { return newStore(t) }, apitest.Options{InMemoryTexts: true})
//	}
//
// newStore must return an empty store (or one whose keys do not collide:
// every test uses its own key names under app id "myapp" unless noted).
// Tests that need a feature the store lacks are skipped.
//
// Invariants:
//  1. Run only calls exported api and component APIs; it works for any
//     component.Store.
//  2. Subtests create their own store with newStore and close it.
//  3. Run is called from the test goroutine; a few subtests start their own
//     goroutines (first-write race, transaction isolation) and wait for them.
package apitest
