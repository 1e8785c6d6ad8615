package torture

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"

	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/statecar/statecar/internal/quantity"
	"github.com/statecar/statecar/internal/testutil"
	"github.com/statecar/statecar/kv"
)

var walSize = flag.String("walsize", "8Mi", "bytes written before the crash of TestRecoveryAfterCrashWithBigWAL (a quantity; docs/reliability.md records 1Gi)")

// keepWAL is the real filesystem except that WAL segments are never
// deleted, so a store keeps several segments behind its checkpoint.
type keepWAL struct{ vfs.FS }

func (k keepWAL) Remove(name string) error {
	if strings.HasSuffix(name, ".wal") {
		return nil
	}
	return k.FS.Remove(name)
}

// walSegments returns the store's WAL segment paths in order.
func walSegments(t *testing.T, storeDir string) []string {
	t.Helper()
	segs, err := filepath.Glob(filepath.Join(storeDir, "wal", "*.wal"))
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(segs)
	return segs
}

// copyTree copies directory src to dst (files and directories only).
func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.Walk(src, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		to := filepath.Join(dst, rel)
		if fi.IsDir() {
			return os.MkdirAll(to, 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(to, b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// multiSegmentStore writes a store under dir/statestore (the binary's
// default embedded store for --data-dir dir) whose WAL has several
// segments, and returns the keys written (client keys of app "myapp").
func multiSegmentStore(t *testing.T, dir string) []string {
	t.Helper()
	db, err := kv.Open(filepath.Join(dir, "statestore"), kv.Options{FS: keepWAL{vfs.Default}, WALSegmentSize: 32 << 10})
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	var b kv.Batch
	for i := range 200 {
		b.Reset()
		k := "seg" + strconv.Itoa(i)
		b.Put([]byte("myapp||"+k), []byte(strconv.Itoa(i)), kv.Cond{}, 0)
		b.Put([]byte("myapp||pad"+strconv.Itoa(i)), bytes.Repeat([]byte{'x'}, 700), kv.Cond{}, 0)
		if _, err := db.Apply(&b); err != nil {
			t.Fatal(err)
		}
		keys = append(keys, k)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if n := len(walSegments(t, filepath.Join(dir, "statestore"))); n < 3 {
		t.Fatalf("store has %d WAL segments, want >= 3", n)
	}
	return keys
}

// TestCorruptMiddleSegmentRefusesStart damages one byte of a WAL segment
// that is not the last: the binary must refuse to start, exit non-zero and
// log what is wrong and what to do. The same store undamaged starts and
// serves every key (control).
func TestCorruptMiddleSegmentRefusesStart(t *testing.T) {
	dir := t.TempDir()
	keys := multiSegmentStore(t, dir)

	control := t.TempDir()
	copyTree(t, dir, control)
	s := testutil.Start(t, testutil.Options{DataDir: control})
	c := newClient("http://"+s.Addr(), "statestore", 1)
	got, err := c.bulkGet(context.Background(), keys)
	if err != nil {
		t.Fatal(err)
	}
	for i, k := range keys {
		if string(got[k]) != strconv.Itoa(i) {
			t.Fatalf("control store: %s = %q, want %d", k, got[k], i)
		}
	}
	c.close()
	s.Kill()

	segs := walSegments(t, filepath.Join(dir, "statestore"))
	victim := segs[1]
	f, err := os.OpenFile(victim, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	var one [1]byte
	if _, err := f.ReadAt(one[:], 40); err != nil {
		t.Fatal(err)
	}
	one[0] ^= 0xff
	if _, err := f.WriteAt(one[:], 40); err != nil {
		t.Fatal(err)
	}
	f.Close()

	s = testutil.Start(t, testutil.Options{DataDir: dir, NoWait: true})
	code := s.Wait(30 * time.Second)
	out := s.Output()
	if code == 0 {
		t.Fatalf("statecar started on a corrupted WAL (exit 0); output:\n%s", out)
	}
	for _, want := range []string{"wal: corruption", filepath.Base(victim), "restore the data directory from a backup or remove the damaged segment"} {
		if !strings.Contains(out, want) {
			t.Errorf("exit %d, output lacks %q:\n%s", code, want, out)
		}
	}
	t.Logf("exit code %d; log:\n%s", code, lastLines(out, 3))
}

// TestTornTailStartsNormally appends garbage after the last record of the
// last segment (an unsynced write cut by the crash): the binary starts,
// logs the truncation, and every acknowledged key is there.
func TestTornTailStartsNormally(t *testing.T) {
	s := testutil.Start(t, testutil.Options{})
	c := newClient("http://"+s.Addr(), "statestore", 1)
	ctx := context.Background()
	var keys []string
	for i := range 50 {
		k := "torn" + strconv.Itoa(i)
		if o, msg := c.save(ctx, saveItem{Key: k, Value: json.RawMessage(strconv.Itoa(i))}); o != acked {
			t.Fatalf("save %s: %v %s", k, o, msg)
		}
		keys = append(keys, k)
	}
	c.close()
	s.Kill()

	segs := walSegments(t, filepath.Join(s.DataDir, "statestore"))
	if len(segs) == 0 {
		t.Fatal("no WAL segment after the crash")
	}
	last := segs[len(segs)-1]
	b, err := os.ReadFile(last)
	if err != nil {
		t.Fatal(err)
	}
	end := len(b)
	for end > 0 && b[end-1] == 0 {
		end--
	}
	garbage := make([]byte, 64)
	for i := range garbage {
		garbage[i] = byte(i*7 + 1)
	}
	f, err := os.OpenFile(last, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt(garbage, int64(end)); err != nil {
		t.Fatal(err)
	}
	f.Close()

	s.CrashRestart()
	if !strings.Contains(s.Output(), "torn tail") {
		t.Errorf("no torn-tail log line after restart:\n%s", s.Output())
	}
	c = newClient("http://"+s.Addr(), "statestore", 1)
	defer c.close()
	got, err := c.bulkGet(ctx, keys)
	if err != nil {
		t.Fatal(err)
	}
	for i, k := range keys {
		if string(got[k]) != strconv.Itoa(i) {
			t.Errorf("%s = %q after torn-tail recovery, want %d", k, got[k], i)
		}
	}
	if o, msg := c.save(ctx, saveItem{Key: "after", Value: json.RawMessage("1")}); o != acked {
		t.Errorf("save after torn-tail recovery: %v %s", o, msg)
	}
}

// writeLoad saves keys prefix0, prefix1, ... with values of valueSize bytes
// from conc goroutines until total bytes were acknowledged; it returns the
// acknowledged keys' values by key index.
func writeLoad(t *testing.T, c *client, prefix string, total int64, valueSize, conc int) map[int]string {
	t.Helper()
	var next, written atomic.Int64
	var mu sync.Mutex
	ackedVals := map[int]string{}
	var wg sync.WaitGroup
	var failed atomic.Value
	for g := range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(g), 1))
			buf := make([]byte, valueSize)
			for written.Load() < total && failed.Load() == nil {
				i := int(next.Add(1))
				for j := range buf {
					buf[j] = 'a' + byte(rng.IntN(26))
				}
				v := `"` + string(buf) + `"`
				o, msg := c.save(context.Background(), saveItem{Key: prefix + strconv.Itoa(i), Value: json.RawMessage(v)})
				if o != acked {
					failed.Store(fmt.Sprintf("save %d: outcome %d %s", i, o, msg))
					return
				}
				written.Add(int64(valueSize))
				mu.Lock()
				ackedVals[i] = v
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if f := failed.Load(); f != nil {
		t.Fatal(f)
	}
	return ackedVals
}

// TestRecoveryAfterCrashWithBigWAL writes -walsize bytes (default 8Mi; CI),
// kills the process and measures the time until healthz answers; every
// acknowledged value must read back intact.
func TestRecoveryAfterCrashWithBigWAL(t *testing.T) {
	size, err := quantity.Parse(*walSize)
	if err != nil {
		t.Fatal(err)
	}
	s := testutil.Start(t, testutil.Options{})
	c := newClient("http://"+s.Addr(), "statestore", 16)
	t0 := time.Now()
	vals := writeLoad(t, c, "big", size, 16<<10, 16)
	wrote := time.Since(t0)
	c.close()
	s.Kill()
	var walBytes int64
	for _, p := range walSegments(t, filepath.Join(s.DataDir, "statestore")) {
		if fi, err := os.Stat(p); err == nil {
			walBytes += fi.Size()
		}
	}
	t1 := time.Now()
	s.CrashRestart()
	healthy := time.Since(t1)
	t.Logf("wrote %d values (%d bytes) in %v; WAL on disk at the kill %d bytes; healthy %v after restart",
		len(vals), int64(len(vals))*16<<10, wrote.Round(time.Millisecond), walBytes, healthy.Round(time.Millisecond))

	c = newClient("http://"+s.Addr(), "statestore", 1)
	defer c.close()
	keys := make([]string, 0, len(vals))
	idx := make([]int, 0, len(vals))
	for i := range vals {
		keys = append(keys, "big"+strconv.Itoa(i))
		idx = append(idx, i)
	}
	got, err := c.bulkGet(context.Background(), keys)
	if err != nil {
		t.Fatal(err)
	}
	bad := 0
	for j, k := range keys {
		if string(got[k]) != vals[idx[j]] {
			bad++
			if bad <= 5 {
				t.Errorf("%s: read %d bytes, want the acknowledged %d bytes", k, len(got[k]), len(vals[idx[j]]))
			}
		}
	}
	if bad > 0 {
		t.Errorf("%d of %d acknowledged values lost or damaged", bad, len(keys))
	}
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
