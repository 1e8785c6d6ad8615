package torture

import (
	"context"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/statecar/statecar/internal/testutil"
)

// answerBound is how long a request may go unanswered before it counts as
// hung. It is a liveness bound, not a performance figure: a healthy save
// answers in milliseconds, and this one is 1000 times that.
const answerBound = 20 * time.Second

// mountTmpfs mounts a tmpfs of size bytes on a fresh directory, or skips
// the test when mounting is not permitted (not root, no CAP_SYS_ADMIN).
func mountTmpfs(t *testing.T, size string) string {
	t.Helper()
	dir := t.TempDir()
	out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size, "tmpfs", dir).CombinedOutput()
	if err != nil {
		t.Skipf("cannot mount a size-limited tmpfs here (%v: %s); the engine-level errorfs tests in kv cover disk faults", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", "-l", dir).CombinedOutput(); err != nil {
			t.Logf("cannot unmount %s: %v %s", dir, err, out)
		}
	})
	return dir
}

// TestDiskFull fills a 100 MiB tmpfs through the HTTP API. Wanted:
//   - every save is answered: 204, or 500 ERR_STATE_SAVE once the disk is
//     full (daprd's code for a failing store);
//   - reads of acknowledged keys keep working;
//   - after space returns (the tmpfs is grown) and the process restarts,
//     every acknowledged value is there and writes succeed again.
//
// History: this test found that a full disk hung the save (and reads of
// its shard) in Pebble's write stall, with kv's applier blocked inside
// pebble.DB.Apply; the engine now fails-stop when a shard cannot flush
// (kv commit 721ac93) and the save answers 500 ERR_STATE_SAVE "cannot flush
// shard N (is the disk full?): ...". Writes resume after a restart with
// space (fail-stop), never in the same process.
func TestDiskFull(t *testing.T) {
	dir := mountTmpfs(t, "100m")
	s := testutil.Start(t, testutil.Options{DataDir: dir})
	c := newClient("http://"+s.Addr(), "statestore", 1)
	defer c.close()
	ctx := context.Background()

	val := make([]byte, 200<<10)
	rng := rand.New(rand.NewPCG(1, 2))
	ackedKeys := map[string]string{}
	full := false
	hung := false
	for i := 0; i < 2000 && !full && !hung; i++ {
		k := "fill" + strconv.Itoa(i)
		for j := range val {
			val[j] = 'a' + byte(rng.IntN(26)) // incompressible enough
		}
		v := `"` + string(val) + `"`
		body, _ := json.Marshal([]saveItem{{Key: k, Value: json.RawMessage(v)}})
		rctx, cancel := context.WithTimeout(ctx, answerBound)
		st, b, _, err := c.do(rctx, "POST", "/v1.0/state/statestore", body, nil)
		cancel()
		switch {
		case err != nil && errors.Is(err, context.DeadlineExceeded):
			hung = true
			t.Errorf("save %s (disk %s) not answered within %v: the store hangs instead of failing", k, diskUse(dir), answerBound)
		case err != nil:
			t.Fatalf("save %s: %v", k, err)
		case st == 204:
			ackedKeys[k] = v
		case st == 500 && strings.Contains(string(b), `"ERR_STATE_SAVE"`):
			full = true
			t.Logf("disk full after %d acknowledged saves (%s): %s", len(ackedKeys), diskUse(dir), b)
		default:
			t.Fatalf("save %s: status %d %s, want 204 or 500 ERR_STATE_SAVE", k, st, b)
		}
	}
	if !full && !hung {
		t.Fatalf("disk never filled (%s)", diskUse(dir))
	}
	// Reads keep working.
	for k, v := range ackedKeys {
		rctx, cancel := context.WithTimeout(ctx, answerBound)
		found, got, _, err := c.get(rctx, k)
		cancel()
		if err != nil || !found || string(got) != v {
			t.Errorf("read of acknowledged %s on a full disk: found %v, %d bytes, err %v", k, found, len(got), err)
		}
		break // one is enough here; all are checked after the restart
	}
	// The failed store makes the sidecar unhealthy (so that an orchestrator
	// restarts it; docs/compatibility.md), while reads above kept working.
	if full {
		rctx, cancel := context.WithTimeout(ctx, answerBound)
		st, b, _, err := c.do(rctx, "GET", "/v1.0/healthz", nil, nil)
		cancel()
		if err != nil || st != 500 || !strings.Contains(string(b), "dapr is not ready: [state store statestore]") {
			t.Errorf("healthz after the store stopped writing: %d %s %v, want 500 not ready", st, b, err)
		}
	}
	// Space returns.
	if out, err := exec.Command("mount", "-o", "remount,size=400m", dir).CombinedOutput(); err != nil {
		t.Fatalf("cannot grow the tmpfs: %v %s", err, out)
	}
	s.Kill()
	s.CrashRestart()
	c2 := newClient("http://"+s.Addr(), "statestore", 1)
	defer c2.close()
	keys := make([]string, 0, len(ackedKeys))
	for k := range ackedKeys {
		keys = append(keys, k)
	}
	got, err := c2.bulkGet(ctx, keys)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range ackedKeys {
		if string(got[k]) != v {
			t.Errorf("acknowledged %s lost after the disk filled and the store restarted (%d bytes read)", k, len(got[k]))
		}
	}
	rctx, cancel := context.WithTimeout(ctx, answerBound)
	defer cancel()
	if o, msg := c2.save(rctx, saveItem{Key: "after-space", Value: json.RawMessage("1")}); o != acked {
		t.Errorf("save after space returned and a restart: %v %s", o, msg)
	}
}

func diskUse(dir string) string {
	out, err := exec.Command("df", "-k", "--output=used,avail", dir).Output()
	if err != nil {
		return "df: " + err.Error()
	}
	return strings.Join(strings.Fields(string(out)), " ")
}
