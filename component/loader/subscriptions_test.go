package loader

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/statecar/statecar/component"
	"github.com/statecar/statecar/component/pubsub"
)

func TestLoadSubscriptions(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "a.yaml", `apiVersion: dapr.io/v2alpha1
kind: Subscription
metadata:
  name: v2
spec:
  pubsubname: ps
  topic: orders
  routes:
    rules:
      - match: event.type == "x"
        path: /x
    default: /orders
  metadata:
    rawPayload: true
  deadLetterTopic: dead
  bulkSubscribe:
    enabled: true
scopes: [app1]
---
apiVersion: dapr.io/v1alpha1
kind: Subscription
metadata:
  name: v1
spec:
  pubsubname: ps
  topic: legacy
  route: /legacy
---
apiVersion: dapr.io/v1alpha1
kind: Component
metadata:
  name: notasub
spec:
  type: pubsub.in-memory
---
apiVersion: dapr.io/v2alpha1
kind: Subscription
metadata:
  name: elsewhere
  namespace: other
spec:
  pubsubname: ps
  topic: t
`)
	write(t, dir, "b.yml", `apiVersion: dapr.io/v3
kind: Subscription
metadata:
  name: unknownversion
spec: {}
`)
	subs, err := LoadSubscriptions(Options{Paths: []string{dir}, Namespace: "default"})
	if err != nil {
		t.Fatal(err)
	}
	if len(subs) != 2 {
		t.Fatalf("%+v", subs)
	}
	v2, v1 := subs[0], subs[1]
	if v2.Name != "v2" || v2.PubsubName != "ps" || v2.Topic != "orders" || v2.Default != "/orders" || len(v2.Rules) != 1 ||
		v2.Rules[0].Match != `event.type == "x"` || v2.Rules[0].Path != "/x" || v2.Metadata["rawPayload"] != "true" ||
		v2.DeadLetterTopic != "dead" || !v2.BulkEnabled || len(v2.Scopes) != 1 || v2.Scopes[0] != "app1" {
		t.Fatalf("v2: %+v", v2)
	}
	if v1.Name != "v1" || v1.Default != "/legacy" || len(v1.Rules) != 0 {
		t.Fatalf("v1: %+v", v1)
	}
	if _, err := LoadSubscriptions(Options{Paths: []string{dir + "/missing"}}); err == nil {
		t.Fatal("a missing folder loaded")
	}
}

func TestInitPubSub(t *testing.T) {
	var got component.Spec
	pubsub.Register("pubsub.loadertest", func(_ context.Context, spec component.Spec, _ component.Env) (pubsub.PubSub, error) {
		got = spec
		if spec.Metadata["fail"] == "yes" {
			return nil, errors.New("cannot connect")
		}
		return pubsub.NewMemory(nil), nil
	})
	env := component.Env{AppID: "myapp"}
	c := &Component{Spec: component.Spec{Name: "ps", Type: "pubsub.loadertest", Version: "v1", Metadata: map[string]string{"consumerID": "  "}}, InitTimeout: DefaultInitTimeout}
	ps, err := InitPubSub(context.Background(), c, env)
	if err != nil {
		t.Fatal(err)
	}
	_ = ps.Close()
	// A blank consumerID is the app ID; the component's own map is untouched.
	if got.Metadata["consumerID"] != "myapp" || c.Spec.Metadata["consumerID"] != "  " {
		t.Fatalf("consumerID %q / %q", got.Metadata["consumerID"], c.Spec.Metadata["consumerID"])
	}
	c.Spec.Metadata = map[string]string{"consumerID": " group1 "}
	ps, _ = InitPubSub(context.Background(), c, env)
	_ = ps.Close()
	if got.Metadata["consumerID"] != "group1" {
		t.Fatalf("consumerID %q", got.Metadata["consumerID"])
	}
	c.Spec.Metadata = map[string]string{"fail": "yes"}
	_, err = InitPubSub(context.Background(), c, env)
	if err == nil || err.Error() != "process component ps error: [INIT_COMPONENT_FAILURE]: initialization error occurred for ps (pubsub.loadertest/v1): cannot connect" {
		t.Fatalf("%v", err)
	}
	c.Spec.Version = "v2"
	c.Spec.Metadata = nil
	_, err = InitPubSub(context.Background(), c, env)
	if err == nil || !strings.Contains(err.Error(), "[CREATE_COMPONENT_FAILURE]") || !strings.Contains(err.Error(), "couldn't find message bus pubsub.loadertest/v2") {
		t.Fatalf("%v", err)
	}
	c.Spec.Version = "v1"
	c.Spec.Type = "pubsub.unknown"
	_, err = InitPubSub(context.Background(), c, env)
	if err == nil || !strings.Contains(err.Error(), "[CREATE_COMPONENT_FAILURE]") || !strings.Contains(err.Error(), "couldn't find message bus pubsub.unknown/v1") {
		t.Fatalf("%v", err)
	}
}

func TestBindingDirections(t *testing.T) {
	mk := func(meta map[string]string) *Component {
		return &Component{Spec: component.Spec{Name: "b", Type: "bindings.cron", Metadata: meta}}
	}
	for _, tt := range []struct {
		meta              map[string]string
		in, explicit, out bool
	}{
		{nil, true, false, true},
		{map[string]string{"direction": "input"}, true, true, false},
		{map[string]string{"Direction": "Output"}, false, false, true},
		{map[string]string{"direction": "input, output"}, true, true, true},
		{map[string]string{"direction": ""}, false, false, false},
	} {
		in, explicit := IsInputDirection(mk(tt.meta))
		if in != tt.in || explicit != tt.explicit || IsOutputDirection(mk(tt.meta)) != tt.out {
			t.Errorf("%v: input %v explicit %v output %v", tt.meta, in, explicit, IsOutputDirection(mk(tt.meta)))
		}
	}
	if r := InputRoute(mk(map[string]string{"route": "/x"})); r != "/x" {
		t.Errorf("route %q", r)
	}
	if r := InputRoute(mk(nil)); r != "b" {
		t.Errorf("default route %q", r)
	}
}

func TestExpandSpecPlaceholders(t *testing.T) {
	c := &Component{Spec: component.Spec{Name: "ps", Metadata: map[string]string{
		"consumerID": "{uuid}", "two": "{uuid}-{uuid}", "app": "x-{appID}", "ns": "{namespace}", "plain": "keep"}}}
	spec, err := expandSpec(c, component.Env{AppID: "myapp", Namespace: "prod"})
	if err != nil {
		t.Fatal(err)
	}
	m := spec.Metadata
	if len(m["consumerID"]) != 36 || len(m["two"]) != 73 || m["two"][:36] == m["two"][37:] || m["app"] != "x-myapp" || m["ns"] != "prod.myapp" || m["plain"] != "keep" {
		t.Fatalf("%v", m)
	}
	if c.Spec.Metadata["consumerID"] != "{uuid}" {
		t.Fatal("the component's own metadata changed")
	}
	t.Setenv("POD_NAME", "")
	c.Spec.Metadata = map[string]string{"p": "{podName}"}
	if _, err := expandSpec(c, component.Env{}); err == nil || err.Error() != "failed to parse metadata: property p refers to {podName} but podName is not set" {
		t.Fatalf("%v", err)
	}
	t.Setenv("POD_NAME", "pod-1")
	if spec, err := expandSpec(c, component.Env{}); err != nil || spec.Metadata["p"] != "pod-1" {
		t.Fatalf("%v %v", spec.Metadata, err)
	}
}
