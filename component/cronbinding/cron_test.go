package cronbinding

import (
	"context"
	"strings"
	"testing"
	"time"

	clocktesting "k8s.io/utils/clock/testing"

	"github.com/statecar/statecar/component"
	"github.com/statecar/statecar/component/binding"
)

func spec(schedule string) component.Spec {
	return component.Spec{Name: "tick", Type: "bindings.cron", Metadata: map[string]string{"schedule": schedule}}
}

func TestScheduleErrors(t *testing.T) {
	for _, tt := range []struct{ schedule, err string }{
		{"", "schedule not set"},
		{"every minute", "invalid schedule format 'every minute': "},
		{"* * *", "invalid schedule format '* * *': expected 5 to 6 fields, found 3: [* * *]"},
		{"@every 1x", "invalid schedule format '@every 1x': "},
	} {
		_, err := New(spec(tt.schedule), nil, nil)
		if err == nil || !strings.HasPrefix(err.Error(), tt.err) {
			t.Errorf("%q: %v, want %q", tt.schedule, err, tt.err)
		}
	}
	for _, ok := range []string{"@every 15s", "*/5 * * * * *", "0 30 * * * *", "30 * * * *", "@daily", "@hourly"} {
		if _, err := New(spec(ok), nil, nil); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
}

func TestTicks(t *testing.T) {
	start := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	clk := clocktesting.NewFakeClock(start)
	b, err := New(spec("@every 10s"), nil, clk)
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan *binding.ReadResponse, 10)
	ctx, cancel := context.WithCancel(context.Background())
	if err := b.Read(ctx, func(_ context.Context, ev *binding.ReadResponse) ([]byte, error) {
		got <- ev
		return nil, nil
	}); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 3; i++ {
		// Wait until the scheduler sleeps on the fake clock, then step it.
		for !clk.HasWaiters() {
			time.Sleep(time.Millisecond)
		}
		clk.Step(10 * time.Second)
		select {
		case ev := <-got:
			want := start.Add(time.Duration(i) * 10 * time.Second).String()
			if ev.Data != nil || ev.Metadata["timeZone"] != "Local" && ev.Metadata["timeZone"] != "UTC" || ev.Metadata["readTimeUTC"] != want {
				t.Fatalf("tick %d: %+v, want readTimeUTC %s", i, ev, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("tick %d did not fire", i)
		}
	}
	cancel()
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	clk.Step(time.Minute)
	select {
	case ev := <-got:
		t.Fatalf("tick after Close: %+v", ev)
	case <-time.After(50 * time.Millisecond):
	}
	if err := b.Read(context.Background(), nil); err == nil || err.Error() != "binding is closed" {
		t.Fatalf("Read after Close: %v", err)
	}
}

func TestRegistered(t *testing.T) {
	if _, err := binding.OpenInput(context.Background(), spec("@every 1h"), component.Env{}); err != nil {
		t.Fatal(err)
	}
	if _, err := binding.OpenInput(context.Background(), component.Spec{Type: "bindings.nope", Version: "v1"}, component.Env{}); err == nil ||
		err.Error() != "couldn't find input binding bindings.nope/v1" {
		t.Fatalf("%v", err)
	}
}
