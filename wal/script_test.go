package wal

import (
	"bufio"
	"encoding/hex"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// TestScripts runs the datadriven-style scripts in testdata/*.script. Each
// case is command lines, a "----" line, and the expected output, ended by
// a blank line. Commands:
//
//	open                        open the log (replay nothing); prints last=N
//	append SEQ PAYLOAD          append and wait for the ack
//	close                       close the log
//	crash [keep=PCT]            forget the open log; keep only synced data
//	                            (plus PCT% of unsynced 4 KiB blocks, seed 1)
//	corrupt SEG OFF HEX         overwrite bytes of the SEG-th segment
//	replay [from=N]             open, print every replayed record, last=N
//	truncate UPTO               Truncate(UPTO) on the open log; prints removed
//	segments                    list segment files
func TestScripts(t *testing.T) {
	files, _ := os.ReadDir("testdata")
	n := 0
	for _, f := range files {
		if strings.HasSuffix(f.Name(), ".script") {
			n++
			t.Run(f.Name(), func(t *testing.T) { runScript(t, "testdata/"+f.Name()) })
		}
	}
	if n == 0 {
		t.Fatal("no scripts found")
	}
}

type scriptState struct {
	fs  *vfs.MemFS
	l   *Log
	h   *harness
	seg int64
}

func (s *scriptState) closeLog() {
	if s.l != nil {
		s.l.Close()
		s.l = nil
	}
}

func (s *scriptState) run(t *testing.T, line string) string {
	f := strings.Fields(line)
	arg := func(i int) string {
		if i < len(f) {
			return f[i]
		}
		return ""
	}
	switch f[0] {
	case "open":
		s.closeLog()
		s.h = newHarness()
		l, last, err := Open(s.h.opts(s.fs, s.seg), ^uint64(0), nil)
		if err != nil {
			return "error: " + err.Error()
		}
		s.l = l
		return fmt.Sprintf("last=%d", last)
	case "append":
		seq, _ := strconv.ParseUint(arg(1), 10, 64)
		if err := s.l.Append(seq, []byte(arg(2))); err != nil {
			return "error: " + err.Error()
		}
		if err := s.h.wait(seq); err != nil {
			return "error: " + err.Error()
		}
		return "ok"
	case "close":
		s.closeLog()
		return "ok"
	case "crash":
		pct := 0
		if v, ok := strings.CutPrefix(arg(1), "keep="); ok {
			pct, _ = strconv.Atoi(v)
		}
		s.fs = s.fs.CrashClone(vfs.CrashCloneCfg{UnsyncedDataPercent: pct, RNG: newRand(1)})
		s.l = nil // the old process is gone
		return "ok"
	case "corrupt":
		segs := segNames(t, s.fs)
		i, _ := strconv.Atoi(arg(1))
		off, _ := strconv.ParseInt(arg(2), 10, 64)
		b, err := hex.DecodeString(arg(3))
		if err != nil || i >= len(segs) {
			return "bad corrupt command"
		}
		corrupt(t, s.fs, segs[i], off, b)
		return "ok"
	case "replay":
		s.closeLog()
		from := uint64(1)
		if v, ok := strings.CutPrefix(arg(1), "from="); ok {
			from, _ = strconv.ParseUint(v, 10, 64)
		}
		var sb strings.Builder
		s.h = newHarness()
		l, last, err := Open(s.h.opts(s.fs, s.seg), from, func(seq uint64, p []byte) error {
			fmt.Fprintf(&sb, "%d %s\n", seq, p)
			return nil
		})
		if err != nil {
			return sb.String() + "error: " + err.Error()
		}
		s.l = l
		return sb.String() + fmt.Sprintf("last=%d", last)
	case "truncate":
		upTo, _ := strconv.ParseUint(arg(1), 10, 64)
		n, err := s.l.Truncate(upTo)
		if err != nil {
			return "error: " + err.Error()
		}
		return fmt.Sprintf("removed=%d", n)
	case "segments":
		return strings.Join(segNames(t, s.fs), "\n")
	}
	return "unknown command " + f[0]
}

func runScript(t *testing.T, path string) {
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := &scriptState{fs: vfs.NewCrashableMem(), seg: 16}
	defer s.closeLog()
	sc := bufio.NewScanner(strings.NewReader(string(data)))
	lineNo := 0
	for sc.Scan() {
		lineNo++
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		var cmds []string
		for line != "----" {
			cmds = append(cmds, line)
			if !sc.Scan() {
				t.Fatalf("%s:%d: missing ----", path, lineNo)
			}
			lineNo++
			line = strings.TrimSpace(sc.Text())
		}
		var want []string
		for sc.Scan() {
			lineNo++
			if strings.TrimSpace(sc.Text()) == "" {
				break
			}
			want = append(want, sc.Text())
		}
		var got []string
		for _, c := range cmds {
			got = append(got, s.run(t, c))
		}
		if g, w := strings.Join(got, "\n"), strings.Join(want, "\n"); g != w {
			t.Fatalf("%s:%d: %v\n got:\n%s\nwant:\n%s", path, lineNo, cmds, g, w)
		}
	}
}
