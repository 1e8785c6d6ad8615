package daprlog

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"math"
	"strings"
	"testing"
	"time"
)

func fixedNow() time.Time { return time.Date(2026, 11, 22, 1, 28, 21, 401302586, time.UTC) }

func TestTextFormat(t *testing.T) {
	var buf bytes.Buffer
	l := slog.New(NewHandler(&buf, Options{AppID: "myapp", Instance: "myhost", Version: "1.18.3"}))
	rec := slog.NewRecord(time.Time{}, slog.LevelInfo, "Starting Dapr Runtime -- version 1.18.3 -- commit ", 0)
	h := l.Handler().(*Handler)
	h.opts.Now = fixedNow
	if err := h.Handle(t.Context(), rec); err != nil {
		t.Fatal(err)
	}
	want := `time="2026-11-22T01:28:21.401302586Z" level=info msg="Starting Dapr Runtime -- version 1.18.3 -- commit " app_id=myapp instance=myhost scope=dapr.runtime type=log ver=1.18.3` + "\n"
	if buf.String() != want {
		t.Fatalf("got\n%s\nwant\n%s", buf.String(), want)
	}
}

func TestScopeFieldsAndLevels(t *testing.T) {
	var buf bytes.Buffer
	l := slog.New(NewHandler(&buf, Options{AppID: "a", Instance: "h", Version: "v", Level: slog.LevelDebug}))
	Scope(l, "dapr.runtime.http-info").Warn("HTTP API Called", "method", "GET /v1.0/healthz", "code", 204, "duration", int64(0))
	got := buf.String()
	for _, want := range []string{
		`level=warning msg="HTTP API Called" app_id=a code=204 duration=0 instance=h method="GET /v1.0/healthz" scope=dapr.runtime.http-info type=log ver=v`,
	} {
		if !strings.Contains(got, want) {
			t.Fatalf("line %q lacks %q", got, want)
		}
	}
}

func TestJSONFormat(t *testing.T) {
	var buf bytes.Buffer
	l := slog.New(NewHandler(&buf, Options{JSON: true, AppID: "emptyapp", Instance: "myhost", Version: "1.18.3"}))
	l.Info("hello <x>")
	line := buf.String()
	if !strings.HasPrefix(line, `{"app_id":"emptyapp","instance":"myhost","level":"info","msg":"hello \u003cx\u003e","scope":"dapr.runtime","time":"`) {
		t.Fatalf("unexpected JSON line %q", line)
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(line), &m); err != nil {
		t.Fatal(err)
	}
	if m["type"] != "log" || m["ver"] != "1.18.3" {
		t.Fatalf("fixed fields wrong: %v", m)
	}
}

func TestLevelFilter(t *testing.T) {
	var buf bytes.Buffer
	lvl, err := ParseLevel("error")
	if err != nil {
		t.Fatal(err)
	}
	l := slog.New(NewHandler(&buf, Options{Level: lvl}))
	l.Info("hidden")
	l.Error("shown")
	if strings.Contains(buf.String(), "hidden") || !strings.Contains(buf.String(), "shown") {
		t.Fatalf("level filter wrong: %q", buf.String())
	}
	if _, err := ParseLevel("loud"); err == nil {
		t.Fatal("ParseLevel accepted an unknown level")
	}
}

// TestJSONErrorAttr: an error attribute is written as its text in JSON
// mode, as logrus's JSONFormatter does (json.Marshal alone gives {}).
func TestJSONErrorAttr(t *testing.T) {
	var buf bytes.Buffer
	l := slog.New(NewHandler(&buf, Options{JSON: true}))
	l.Warn("cleanup failed", "error", errors.New("connection refused"))
	var got map[string]any
	if err := json.Unmarshal(buf.Bytes(), &got); err != nil {
		t.Fatalf("line is not JSON: %v: %s", err, buf.Bytes())
	}
	if got["error"] != "connection refused" {
		t.Fatalf("error attribute = %#v, want the error text; line %s", got["error"], buf.Bytes())
	}
}

// TestJSONUnencodableAttr: a value JSON cannot encode (NaN) does not lose
// the line; the value is written in its text form.
func TestJSONUnencodableAttr(t *testing.T) {
	var buf bytes.Buffer
	l := slog.New(NewHandler(&buf, Options{JSON: true}))
	l.Info("ratio", "value", math.NaN())
	var got map[string]any
	if err := json.Unmarshal(buf.Bytes(), &got); err != nil {
		t.Fatalf("line is not JSON: %v: %q", err, buf.Bytes())
	}
	if got["msg"] != "ratio" || got["value"] != "NaN" {
		t.Fatalf("got %v", got)
	}
}
