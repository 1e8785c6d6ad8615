package daprlog

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// LevelFatal is daprd's fatal level (logged just before exiting 1).
const LevelFatal = slog.Level(12)

// ScopeKey is the attribute that names a logger's scope.
const ScopeKey = "scope"

// DefaultScope is used for records without a scope attribute.
const DefaultScope = "dapr.runtime"

// Options configure a Handler.
type Options struct {
	// JSON selects the JSON line format (--log-as-json).
	JSON bool
	// Level is the minimum level written; nil means info.
	Level slog.Leveler
	// AppID, Instance (host name) and Version fill the fixed fields.
	AppID    string
	Instance string
	Version  string
	// Now returns the record time when the record has none; tests may fix
	// it. Nil means time.Now.
	Now func() time.Time
}

// Handler implements slog.Handler in daprd's formats.
type Handler struct {
	opts  Options
	out   *output
	attrs []slog.Attr // pre-bound with WithAttrs, in order
	group string      // dotted prefix from WithGroup
}

type output struct {
	mu sync.Mutex // guards w: one Write per line (Invariant 1)
	w  io.Writer
}

// NewHandler returns a Handler that writes to w.
func NewHandler(w io.Writer, opts Options) *Handler {
	return &Handler{opts: opts, out: &output{w: w}}
}

// Scope returns l with its scope set (e.g. "dapr.runtime.http").
func Scope(l *slog.Logger, scope string) *slog.Logger {
	return l.With(ScopeKey, scope)
}

// ParseLevel maps daprd's --log-level values to slog levels.
func ParseLevel(s string) (slog.Level, error) {
	switch strings.ToLower(s) {
	case "debug":
		return slog.LevelDebug, nil
	case "info":
		return slog.LevelInfo, nil
	case "warn", "warning":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	case "fatal":
		return LevelFatal, nil
	}
	return 0, fmt.Errorf("undefined Log Output Level: %s", s)
}

// LevelName returns logrus's name of a level.
func LevelName(l slog.Level) string {
	switch {
	case l >= LevelFatal:
		return "fatal"
	case l >= slog.LevelError:
		return "error"
	case l >= slog.LevelWarn:
		return "warning"
	case l >= slog.LevelInfo:
		return "info"
	}
	return "debug"
}

// Enabled reports whether records of level l are written.
func (h *Handler) Enabled(_ context.Context, l slog.Level) bool {
	min := slog.LevelInfo
	if h.opts.Level != nil {
		min = h.opts.Level.Level()
	}
	return l >= min
}

// WithAttrs returns a handler that adds attrs to every record.
func (h *Handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	n := *h
	n.attrs = append(append([]slog.Attr(nil), h.attrs...), h.prefixed(attrs)...)
	return &n
}

// WithGroup returns a handler whose later attributes are prefixed "name.".
func (h *Handler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	n := *h
	n.group = h.group + name + "."
	return &n
}

func (h *Handler) prefixed(attrs []slog.Attr) []slog.Attr {
	if h.group == "" {
		return attrs
	}
	out := make([]slog.Attr, len(attrs))
	for i, a := range attrs {
		out[i] = slog.Attr{Key: h.group + a.Key, Value: a.Value}
	}
	return out
}

// Handle writes one line.
func (h *Handler) Handle(_ context.Context, r slog.Record) error {
	fields := map[string]any{
		"app_id":   h.opts.AppID,
		"instance": h.opts.Instance,
		ScopeKey:   DefaultScope,
		"type":     "log",
		"ver":      h.opts.Version,
	}
	add := func(a slog.Attr) {
		v := a.Value.Resolve()
		if v.Kind() == slog.KindGroup {
			for _, g := range v.Group() {
				fields[a.Key+"."+g.Key] = fieldValue(g.Value.Resolve())
			}
			return
		}
		fields[a.Key] = fieldValue(v)
	}
	for _, a := range h.attrs {
		add(a)
	}
	r.Attrs(func(a slog.Attr) bool {
		if h.group != "" {
			a.Key = h.group + a.Key
		}
		add(a)
		return true
	})
	t := r.Time
	if t.IsZero() {
		if h.opts.Now != nil {
			t = h.opts.Now()
		} else {
			t = time.Now()
		}
	}
	ts := t.Format(time.RFC3339Nano)
	level := LevelName(r.Level)

	var line []byte
	if h.opts.JSON {
		fields["time"] = ts
		fields["level"] = level
		fields["msg"] = r.Message
		b, err := json.Marshal(fields)
		if err != nil {
			// A value JSON cannot encode (NaN, a channel): write every
			// such value in its text form rather than lose the line.
			for k, v := range fields {
				if _, verr := json.Marshal(v); verr != nil {
					fields[k] = fmt.Sprint(v)
				}
			}
			if b, err = json.Marshal(fields); err != nil {
				return fmt.Errorf("cannot encode log line: %w", err)
			}
		}
		line = append(b, '\n')
	} else {
		line = make([]byte, 0, 256)
		line = appendKV(line, "time", ts)
		line = append(line, ' ')
		line = appendKV(line, "level", level)
		line = append(line, ' ')
		line = appendKV(line, "msg", r.Message)
		keys := make([]string, 0, len(fields))
		for k := range fields {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			line = append(line, ' ')
			line = appendKV(line, k, fields[k])
		}
		line = append(line, '\n')
	}
	h.out.mu.Lock()
	defer h.out.mu.Unlock()
	_, err := h.out.w.Write(line)
	return err
}

// fieldValue returns the value of an attribute; an error becomes its text,
// as logrus's formatters write it (json.Marshal would write {}).
func fieldValue(v slog.Value) any {
	x := v.Any()
	if err, ok := x.(error); ok {
		return err.Error()
	}
	return x
}

// appendKV appends key=value with logrus's quoting rule.
func appendKV(dst []byte, k string, v any) []byte {
	dst = append(dst, k...)
	dst = append(dst, '=')
	var s string
	switch x := v.(type) {
	case string:
		s = x
	case error:
		s = x.Error()
	case time.Duration:
		s = x.String()
	default:
		s = fmt.Sprint(x)
	}
	if needsQuoting(s) {
		return strconv.AppendQuote(dst, s)
	}
	return append(dst, s...)
}

func needsQuoting(s string) bool {
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			c == '-' || c == '.' || c == '_' || c == '/' || c == '@' || c == '^' || c == '+') {
			return true
		}
	}
	return false
}
