package cronbinding

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/dapr/kit/cron"
	"k8s.io/utils/clock"

	"github.com/statecar/statecar/component"
	"github.com/statecar/statecar/component/binding"
)

func init() {
	binding.RegisterInput("bindings.cron", func(_ context.Context, spec component.Spec, env component.Env) (binding.Input, error) {
		return New(spec, env.Logger, clock.RealClock{})
	})
}

// parser is contrib's: an optional seconds field, minute to weekday, and
// descriptors.
var parser = cron.NewParser(cron.SecondOptional | cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// Binding is one "bindings.cron" component. Each tick calls the handler
// with no data and the metadata timeZone and readTimeUTC, as contrib does;
// the handler's error is ignored (the next tick comes anyway).
type Binding struct {
	name     string
	schedule string
	clk      clock.Clock
	log      *slog.Logger

	mu     sync.Mutex
	closed bool
	crons  []*cron.Cron
	wg     sync.WaitGroup // the goroutines stopping the schedules
	stop   chan struct{}
}

// New checks the schedule metadata (contrib's errors: "schedule not set",
// "invalid schedule format '…': …") and returns the binding on clk.
func New(spec component.Spec, log *slog.Logger, clk clock.Clock) (*Binding, error) {
	schedule, _ := spec.Meta("schedule")
	if schedule == "" {
		return nil, errors.New("schedule not set")
	}
	if _, err := parser.Parse(schedule); err != nil {
		return nil, fmt.Errorf("invalid schedule format '%s': %w", schedule, err)
	}
	if log == nil {
		log = slog.Default()
	}
	return &Binding{name: spec.Name, schedule: schedule, clk: clk, log: log, stop: make(chan struct{})}, nil
}

// Read implements binding.Input: the schedule runs until ctx is done or
// the binding is closed.
func (b *Binding) Read(ctx context.Context, h binding.InputHandler) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return errors.New("binding is closed")
	}
	c := cron.New(cron.WithParser(parser), cron.WithClock(b.clk))
	if _, err := c.AddFunc(b.schedule, func() {
		_, _ = h(ctx, &binding.ReadResponse{Metadata: map[string]string{
			"timeZone":    c.Location().String(),
			"readTimeUTC": b.clk.Now().UTC().String(),
		}})
	}); err != nil {
		return fmt.Errorf("name: %s, error scheduling %s: %w", b.name, b.schedule, err)
	}
	c.Start()
	b.crons = append(b.crons, c)
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		select {
		case <-ctx.Done():
		case <-b.stop:
		}
		<-c.Stop().Done() // waits for a tick in flight
	}()
	return nil
}

// Close implements binding.Input.
func (b *Binding) Close() error {
	b.mu.Lock()
	if !b.closed {
		b.closed = true
		close(b.stop)
	}
	b.mu.Unlock()
	b.wg.Wait()
	return nil
}
