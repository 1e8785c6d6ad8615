package redis

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/statecar/statecar/component"
	"github.com/statecar/statecar/component/pubsub"
)

func init() {
	pubsub.Register("pubsub.redis", func(ctx context.Context, spec component.Spec, env component.Env) (pubsub.PubSub, error) {
		return OpenPubSub(ctx, spec, env)
	})
}

// PubSub is the "pubsub.redis" broker on Redis Streams (components-contrib
// pubsub/redis, redisStreams). A topic is a stream; a message is one entry
// with the fields "data" (the payload, verbatim) and, when the publish
// request has metadata, "metadata" (its JSON object). Every subscription
// reads through the consumer group named by the consumerID metadata, with
// a consumer of the same name, so brokers with the same consumerID share
// the messages of a topic (each is delivered to one of them) and brokers
// with different consumerIDs each get every message.
//
// Messages read (XREADGROUP) by all subscriptions of a broker go to one
// queue of queueDepth entries, served by concurrency workers that call the
// handlers. Messages left pending longer than processingTimeout are claimed
// again (XPENDING, XCLAIM) every redeliverInterval and redelivered; either
// set to 0 turns redelivery off.
type PubSub struct {
	cfg    *config
	st     streamSettings
	client goredis.UniversalClient
	batch  batcher // pipelines concurrent publishes (batch.go)
	log    *slog.Logger
	queue  chan streamMessage

	mu      sync.Mutex
	closed  bool
	closeCh chan struct{}  // closed by Close: stops the workers and every subscription
	loops   sync.WaitGroup // the goroutines of the subscriptions
	workers sync.WaitGroup
}

// streamMessage is one entry read from a stream, queued for a worker.
type streamMessage struct {
	ctx context.Context // the subscription's
	id  string
	msg pubsub.Message
	h   pubsub.Handler
}

// streamSettings are the pubsub-only metadata of pubsub.redis (the
// contrib Settings fields tagged mdonly:"pubsub").
type streamSettings struct {
	consumerID        string
	processingTimeout time.Duration
	redeliverInterval time.Duration
	queueDepth        uint
	concurrency       uint
	maxLenApprox      int64
	streamTTL         time.Duration
	// block is XREADGROUP's BLOCK: contrib's readTimeout setting (0 when
	// unset: block until a message arrives).
	block time.Duration
	// warnings are logged when the broker starts.
	warnings []string
}

// busyGroup is the error of XGROUP CREATE for a group that exists.
const busyGroup = "BUSYGROUP Consumer Group name already exists"

// readErrorPause is how long the poll loop waits after a failed
// XREADGROUP before it reads again.
const readErrorPause = 100 * time.Millisecond

// OpenPubSub connects to Redis as the component spec says (the metadata of
// state.redis, parsed as contrib parses a pub/sub component: no legacy
// names, backoff 8 ms to 512 ms, plus the pubsub-only settings, see
// parseStreamSettings), checks the connection with PING and starts the
// workers.
func OpenPubSub(ctx context.Context, spec component.Spec, env component.Env) (*PubSub, error) {
	var st streamSettings
	cfg, c, log, err := openPinged(ctx, spec, env, func(spec component.Spec) (*config, error) {
		cfg, err := parseContribConfig(spec, 512*time.Millisecond)
		if err != nil {
			return nil, err
		}
		st, err = parseStreamSettings(spec, env.AppID)
		return cfg, err
	}, func(hosts string, err error) error {
		return fmt.Errorf("redis streams: error connecting to redis at %s: %s", hosts, err)
	})
	if err != nil {
		return nil, err
	}
	log = log.With("component", spec.Name)
	for _, w := range st.warnings {
		log.Warn(w)
	}
	if st.maxLenApprox > 0 && st.streamTTL > 0 {
		log.Warn("redis streams: maxLenApprox and streamTTL cannot be used together; only one stream trimming strategy can be active at a time.")
	}
	p := &PubSub{cfg: cfg, st: st, client: c, log: log, queue: make(chan streamMessage, int(st.queueDepth)), closeCh: make(chan struct{})}
	p.batch.client = c
	for range st.concurrency {
		p.workers.Add(1)
		go func() {
			defer p.workers.Done()
			p.worker()
		}()
	}
	return p, nil
}

// parseStreamSettings reads the pubsub-only metadata (names matched
// case-insensitively) with contrib's defaults and decoding rules:
//
//   - consumerID: the consumer group and consumer name. daprd sets it to
//     the app ID when the component has none (or only blanks); appID is
//     used the same way here.
//   - processingTimeout (default 60s): a Go duration or an integer number
//     of milliseconds.
//   - redeliverInterval (default 15s): an integer number of milliseconds
//     only. contrib does not decode this field (mapstructure:"-") and reads
//     it only when it is an unsigned integer; any other value ("30s") is
//     ignored and the default kept, as there (a warning is logged).
//   - queueDepth (default 100), concurrency (default 10): unsigned
//     integers. 0 workers deliver nothing, as in contrib.
//   - maxLenApprox (default 0, off): an integer, XADD MAXLEN ~.
//   - streamTTL (default 0, off): a Go duration or an integer number of
//     milliseconds, XADD MINID ~ (now - streamTTL). maxLenApprox wins when
//     both are set.
//
// XREADGROUP blocks for readTimeout as contrib decodes it (a Go duration
// or integer milliseconds), until a message arrives when it is unset or 0.
// A bad value is an error worded like contrib's (mapstructure's) decoding
// error.
func parseStreamSettings(spec component.Spec, appID string) (streamSettings, error) {
	s := streamSettings{
		processingTimeout: 60 * time.Second,
		redeliverInterval: 15 * time.Second,
		queueDepth:        100,
		concurrency:       10,
	}
	var errs []string
	invalid := func(name, kind, v string) {
		errs = append(errs, fmt.Sprintf("error decoding '%s': invalid %s %q", name, kind, v))
	}
	if v, ok := spec.Meta("consumerID"); ok {
		s.consumerID = strings.TrimSpace(v)
	}
	if s.consumerID == "" {
		s.consumerID = appID
	}
	durs := []struct {
		name string
		dst  *time.Duration
	}{
		{"processingTimeout", &s.processingTimeout},
		{"streamTTL", &s.streamTTL},
	}
	for _, f := range durs {
		if v, ok := spec.Meta(f.name); ok {
			d, err := contribDuration(v)
			if err != nil {
				invalid(f.name, "duration", v)
				continue
			}
			*f.dst = d
		}
	}
	uints := []struct {
		name string
		dst  *uint
	}{
		{"queueDepth", &s.queueDepth},
		{"concurrency", &s.concurrency},
	}
	for _, f := range uints {
		if v, ok := spec.Meta(f.name); ok {
			n, err := strconv.ParseUint(v, 10, 64)
			if err != nil {
				invalid(f.name, "uint", v)
				continue
			}
			*f.dst = uint(n)
		}
	}
	if v, ok := spec.Meta("maxLenApprox"); ok {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			invalid("maxLenApprox", "int64", v)
		} else {
			s.maxLenApprox = n
		}
	}
	if v, ok := spec.Meta("redeliverInterval"); ok && v != "" {
		if n, err := strconv.ParseUint(v, 10, 64); err == nil {
			s.redeliverInterval = time.Duration(n) * time.Millisecond
		} else {
			s.warnings = append(s.warnings, fmt.Sprintf("redis streams: redeliverInterval %q is not a number of milliseconds and is ignored (as by daprd): the default %v applies", v, s.redeliverInterval))
		}
	}
	if v, ok := metaLookup(spec, "readTimeout"); ok {
		// Validated by parseConfig. contrib sends a negative readTimeout as
		// no BLOCK at all (a non-blocking read, in a busy loop); here it
		// blocks until a message arrives, as 0 does.
		if d, err := contribDuration(v); err == nil && d > 0 {
			s.block = d
		}
	}
	if len(errs) > 0 {
		sort.Strings(errs)
		return s, fmt.Errorf("redis client configuration error: decode failed. %d error(s) decoding:\n\n* %s", len(errs), strings.Join(errs, "\n* "))
	}
	return s, nil
}

// contribDuration decodes a duration as dapr's metadata decoder does: an
// integer is a number of milliseconds, anything else a Go duration.
func contribDuration(v string) (time.Duration, error) {
	if n, err := strconv.Atoi(v); err == nil {
		return time.Duration(n) * time.Millisecond, nil
	}
	return time.ParseDuration(v)
}

// minID is XADD's MINID for streamTTL at now: "<ms>-1", "" when off
// (contrib's GetMinID).
func (s *streamSettings) minID(now time.Time) string {
	if s.streamTTL == 0 {
		return ""
	}
	return fmt.Sprintf("%d-1", now.Add(-s.streamTTL).UnixMilli())
}

// Features implements pubsub.PubSub: none, as contrib reports.
func (p *PubSub) Features() []string { return nil }

// Client returns the underlying go-redis client (for tests and tools).
func (p *PubSub) Client() goredis.UniversalClient { return p.client }

func (p *PubSub) isClosed() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.closed
}

// Publish implements pubsub.PubSub: XADD <topic> [MAXLEN ~ maxLenApprox |
// MINID ~ <now - streamTTL>] * data <req.Data> [metadata <JSON of
// req.Metadata>]. The metadata field is written whenever req.Metadata is
// not nil (an empty map is "{}").
func (p *PubSub) Publish(ctx context.Context, req *pubsub.PublishRequest) error {
	if p.isClosed() {
		return pubsub.ErrClosed
	}
	values := []any{"data", req.Data}
	if req.Metadata != nil {
		md, err := json.Marshal(req.Metadata)
		if err != nil {
			return err
		}
		values = append(values, "metadata", md)
	}
	// Pipelined with the publishes in flight beside it (batch.go): one
	// round trip for all of them, each XADD its own command and reply.
	c := p.batch.xAdd(ctx, &goredis.XAddArgs{
		Stream: req.Topic,
		Values: values,
		MaxLen: p.st.maxLenApprox,
		MinID:  p.st.minID(time.Now()),
		Approx: true,
	})
	err := c.xr.Err()
	putCall(c)
	if err != nil {
		return fmt.Errorf("redis streams: error from publish: %s", err)
	}
	return nil
}

// createGroup runs XGROUP CREATE <stream> <consumerID> 0 MKSTREAM; a group
// that exists already is no error.
func (p *PubSub) createGroup(ctx context.Context, stream string) error {
	err := p.client.XGroupCreateMkStream(ctx, stream, p.st.consumerID, "0").Err()
	if err != nil && err.Error() != busyGroup {
		p.log.Error("redis streams: " + err.Error())
		return err
	}
	return nil
}

// Subscribe implements pubsub.PubSub. It creates the consumer group
// (XGROUP CREATE <topic> <consumerID> 0 MKSTREAM, BUSYGROUP ignored) and
// returns once it exists, so a message published after Subscribe returns
// is delivered; a new group starts at the beginning of the stream. Then,
// until ctx is cancelled or the broker closed:
//
//   - a poll loop reads new messages (XREADGROUP GROUP <consumerID>
//     <consumerID> COUNT queueDepth BLOCK readTimeout STREAMS <topic> >)
//     into the broker's queue; a NOGROUP error (the group or the stream was
//     deleted) creates the group again;
//   - a reclaim loop, unless processingTimeout or redeliverInterval is 0,
//     claims the group's pending messages idle for processingTimeout or
//     more (XPENDING, then XCLAIM, at once and every redeliverInterval) and
//     queues them again; a pending entry whose message is gone (trimmed or
//     deleted) is removed from the pending list (XACK).
//
// The handler gets a context that ends after processingTimeout (when
// redelivery is on). A message is acknowledged (XACK) when the handler
// returns nil, and also when it returns an error, as in contrib: an error
// does not lead to a redelivery. Only when the handler fails after its
// context is done (the processing timeout passed, or the subscription
// ended) is the message left pending, for the reclaim loop to deliver
// again. Delivery is at least once: a handler still running after
// processingTimeout may see its message claimed and delivered again.
//
// Cancelling ctx stops both loops; XREADGROUP runs on a client of its own
// per subscription, closed on cancellation, so a blocked read ends at once
// (contrib's stays blocked until a message arrives, which it then leaves
// pending). Messages queued but not yet handled stay pending, as do those
// of a handler that fails after the cancellation.
func (p *PubSub) Subscribe(ctx context.Context, req pubsub.SubscribeRequest, h pubsub.Handler) error {
	if p.isClosed() {
		return pubsub.ErrClosed
	}
	if err := p.createGroup(ctx, req.Topic); err != nil {
		if p.isClosed() {
			return pubsub.ErrClosed
		}
		return err
	}
	// The blocking reads get their own client, with no busy-polling (the
	// reply of a blocked read is not worth spinning for).
	rcfg := *p.cfg
	rcfg.busyPoll = 0
	reader := newClient(&rcfg)

	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		reader.Close()
		return pubsub.ErrClosed
	}
	loopCtx, cancel := context.WithCancel(ctx)
	p.loops.Add(3)
	p.mu.Unlock()
	go func() {
		// Close ends the subscription when ctx does not.
		defer p.loops.Done()
		defer cancel()
		select {
		case <-loopCtx.Done():
		case <-p.closeCh:
		}
	}()
	go func() {
		defer p.loops.Done()
		p.pollLoop(loopCtx, reader, req.Topic, h)
	}()
	go func() {
		defer p.loops.Done()
		p.reclaimLoop(loopCtx, req.Topic, h)
	}()
	return nil
}

// pollLoop reads new messages of stream with reader until ctx ends, and
// queues them. Cancelling ctx closes reader, which ends a blocked read.
func (p *PubSub) pollLoop(ctx context.Context, reader goredis.UniversalClient, stream string, h pubsub.Handler) {
	closed := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		reader.Close()
		close(closed)
	})
	defer func() {
		if stop() {
			reader.Close()
		} else {
			<-closed
		}
	}()
	id := p.st.consumerID
	for ctx.Err() == nil {
		streams, err := reader.XReadGroup(ctx, &goredis.XReadGroupArgs{
			Group:    id,
			Consumer: id,
			Streams:  []string{stream, ">"},
			Count:    int64(p.st.queueDepth),
			Block:    p.st.block,
		}).Result()
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			if errors.Is(err, goredis.Nil) {
				continue
			}
			recreated := false
			if strings.Contains(err.Error(), "NOGROUP") {
				p.log.Warn(fmt.Sprintf("redis streams: consumer group %s does not exist for stream %s. This could mean the server experienced data loss, or the group/stream was deleted.", id, stream))
				p.log.Warn(fmt.Sprintf("redis streams: recreating group %s for stream %s", id, stream))
				recreated = p.createGroup(ctx, stream) == nil
			}
			p.log.Error(fmt.Sprintf("redis streams: error reading from stream %s: %s", stream, err))
			if !recreated {
				// contrib reads again at once, in a tight loop while Redis
				// is down.
				pause(ctx, readErrorPause)
			}
			continue
		}
		for _, s := range streams {
			p.enqueue(ctx, s.Stream, h, s.Messages)
		}
	}
}

// pause waits for d or until ctx ends.
func pause(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// enqueue queues msgs of stream for the workers, until ctx ends.
func (p *PubSub) enqueue(ctx context.Context, stream string, h pubsub.Handler, msgs []goredis.XMessage) {
	for _, m := range msgs {
		sm := p.wrap(ctx, stream, h, m)
		if ctx.Err() != nil {
			return
		}
		select {
		case p.queue <- sm:
		case <-ctx.Done():
			return
		}
	}
}

// wrap decodes a stream entry: "data" is the payload, "metadata" the JSON
// object of the message's metadata (a bad one is logged and dropped).
func (p *PubSub) wrap(ctx context.Context, stream string, h pubsub.Handler, m goredis.XMessage) streamMessage {
	var data []byte
	switch v := m.Values["data"].(type) {
	case string:
		data = []byte(v)
	case []byte:
		data = v
	}
	var md map[string]string
	if v, ok := m.Values["metadata"].(string); ok {
		if err := json.Unmarshal([]byte(v), &md); err != nil {
			p.log.Warn(fmt.Sprintf("Redis PubSub: Could not extract metadata for Redis message %s: %v", m.ID, err))
		}
	}
	return streamMessage{ctx: ctx, id: m.ID, msg: pubsub.Message{Topic: stream, Data: data, Metadata: md}, h: h}
}

// worker handles queued messages until Close.
func (p *PubSub) worker() {
	for {
		select {
		case <-p.closeCh:
			return
		case m := <-p.queue:
			select {
			case <-p.closeCh:
				return // left pending
			default:
			}
			p.process(m)
		}
	}
}

// process calls the handler of m and acknowledges m (see Subscribe). A
// message of a subscription that has ended is left pending.
func (p *PubSub) process(m streamMessage) {
	ctx := m.ctx
	if ctx.Err() != nil {
		return
	}
	if p.st.processingTimeout != 0 && p.st.redeliverInterval != 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, p.st.processingTimeout)
		defer cancel()
	}
	if err := m.h(ctx, &m.msg); err != nil {
		p.log.Error(fmt.Sprintf("Error processing Redis message %s: %v", m.id, err))
		if ctx.Err() != nil {
			// Left pending, to be redelivered.
			return
		}
		if err := p.client.XAck(ctx, m.msg.Topic, p.st.consumerID, m.id).Err(); err != nil {
			p.log.Error(fmt.Sprintf("Error acknowledging Redis message %s: %v", m.id, err))
		}
		return
	}
	// Not ctx: the subscription may have ended meanwhile.
	if err := p.client.XAck(context.Background(), m.msg.Topic, p.st.consumerID, m.id).Err(); err != nil {
		p.log.Error(fmt.Sprintf("Error acknowledging Redis message %s: %v", m.id, err))
	}
}

// reclaimLoop reclaims the pending messages of stream at once and every
// redeliverInterval, until ctx ends; it does nothing when redelivery is
// off.
func (p *PubSub) reclaimLoop(ctx context.Context, stream string, h pubsub.Handler) {
	if p.st.processingTimeout == 0 || p.st.redeliverInterval == 0 {
		return
	}
	p.reclaim(ctx, stream, h)
	t := time.NewTicker(p.st.redeliverInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			p.reclaim(ctx, stream, h)
		}
	}
}

// reclaim claims the pending messages of stream idle for processingTimeout
// or more, queueDepth at a time, and queues them (contrib's
// reclaimPendingMessages).
func (p *PubSub) reclaim(ctx context.Context, stream string, h pubsub.Handler) {
	id := p.st.consumerID
	for ctx.Err() == nil {
		pending, err := p.client.XPendingExt(ctx, &goredis.XPendingExtArgs{
			Stream: stream, Group: id, Start: "-", End: "+", Count: int64(p.st.queueDepth),
		}).Result()
		if err != nil && !errors.Is(err, goredis.Nil) {
			if ctx.Err() == nil {
				p.log.Error(fmt.Sprintf("error retrieving pending Redis messages: %v", err))
			}
			return
		}
		ids := make([]string, 0, len(pending))
		for _, m := range pending {
			if m.Idle >= p.st.processingTimeout {
				ids = append(ids, m.ID)
			}
		}
		if len(ids) == 0 {
			return
		}
		claimed, err := p.client.XClaim(ctx, &goredis.XClaimArgs{
			Stream: stream, Group: id, Consumer: id, MinIdle: p.st.processingTimeout, Messages: ids,
		}).Result()
		if err != nil && !errors.Is(err, goredis.Nil) {
			if ctx.Err() == nil {
				p.log.Error(fmt.Sprintf("error claiming pending Redis messages: %v", err))
			}
			return
		}
		p.enqueue(ctx, stream, h, claimed)
		// A nil reply (Redis < 7: an entry of the reply is nil) means some
		// pending messages no longer exist; Redis 7 drops those from the
		// pending list itself.
		if errors.Is(err, goredis.Nil) {
			gone := make(map[string]struct{}, len(ids))
			for _, id := range ids {
				gone[id] = struct{}{}
			}
			for _, m := range claimed {
				delete(gone, m.ID)
			}
			p.removeGone(ctx, stream, gone, h)
		}
	}
}

// removeGone claims each of ids alone: one that no longer exists is
// acknowledged, to remove it from the pending list; one that does is
// queued (contrib's removeMessagesThatNoLongerExistFromPending).
func (p *PubSub) removeGone(ctx context.Context, stream string, ids map[string]struct{}, h pubsub.Handler) {
	group := p.st.consumerID
	for id := range ids {
		claimed, err := p.client.XClaim(ctx, &goredis.XClaimArgs{
			Stream: stream, Group: group, Consumer: group, MinIdle: 0, Messages: []string{id},
		}).Result()
		switch {
		case errors.Is(err, goredis.Nil):
			if err := p.client.XAck(context.Background(), stream, group, id).Err(); err != nil {
				p.log.Error(fmt.Sprintf("error acknowledging Redis message %s after failed claim for %s: %v", id, stream, err))
			}
		case err != nil:
			p.log.Error(fmt.Sprintf("error claiming pending Redis message %s: %v", id, err))
		default:
			p.enqueue(ctx, stream, h, claimed)
		}
	}
}

// Close implements pubsub.PubSub: it ends every subscription (a blocked
// read at once), waits for the subscriptions' goroutines and for the
// workers, and so for the handlers running (do not call Close from a
// handler), then closes the client. Queued messages not yet handled stay
// pending in Redis. A second Close does nothing.
func (p *PubSub) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	close(p.closeCh)
	p.mu.Unlock()
	p.loops.Wait()
	p.workers.Wait()
	return p.client.Close()
}
