// Package daprlog is a log/slog Handler that writes daprd's log lines: the
// logrus text format of dapr/kit's logger
//
//	time="2026-11-22T01:28:21.401302586Z" level=info msg="Starting Dapr Runtime -- version 1.18.3 -- commit " app_id=myapp instance=myhost scope=dapr.runtime type=log ver=1.18.3
//
// and, with JSON on (--log-as-json), one JSON object per line with the same
// keys sorted by name.
//
// Every record carries app_id, instance (the host name), scope (set per
// logger with Scope; "dapr.runtime" when absent), type=log and ver. Other
// attributes become extra fields, sorted by name with the fixed ones, as
// logrus does.
//
// Invariants:
//  1. One record is one Write call of one whole line, under the handler's
//     mutex, so lines from concurrent goroutines never interleave.
//  2. Level names are logrus's: debug, info, warning, error, fatal
//     (LevelFatal).
//
// Any goroutine may log; handlers derived with WithAttrs share the writer and
// its mutex.
package daprlog
