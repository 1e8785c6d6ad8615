package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	runtimev1pb "github.com/dapr/dapr/pkg/proto/runtime/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/statecar/statecar/internal/testsrv"
	"github.com/statecar/statecar/internal/testutil"
)

// proc is a statecar process started by these tests directly (for exit
// codes, signals and the environment, which testutil does not expose).
type proc struct {
	cmd  *exec.Cmd
	out  *lockedBuf
	done chan struct{}
	code int
}

type lockedBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}
func (l *lockedBuf) String() string { l.mu.Lock(); defer l.mu.Unlock(); return l.b.String() }

func startProc(t *testing.T, args []string, env []string) *proc {
	t.Helper()
	bin := testutil.BuildBinary(t)
	p := &proc{cmd: exec.Command(bin, args...), out: &lockedBuf{}, done: make(chan struct{})}
	p.cmd.Env = env
	p.cmd.Dir = t.TempDir()
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		err := p.cmd.Wait()
		if ee, ok := err.(*exec.ExitError); ok {
			p.code = ee.ExitCode()
		} else if err != nil {
			p.code = -1
		}
		close(p.done)
	}()
	t.Cleanup(func() {
		_ = p.cmd.Process.Kill()
		<-p.done
		if t.Failed() {
			t.Logf("output:\n%s", p.out.String())
		}
	})
	return p
}

func (p *proc) wait(t *testing.T) int {
	t.Helper()
	select {
	case <-p.done:
		return p.code
	case <-time.After(30 * time.Second):
		t.Fatalf("process did not exit; output:\n%s", p.out.String())
		return -1
	}
}

// waitReady polls healthz like the launchers do.
func waitReady(t *testing.T, p *proc, port int) {
	t.Helper()
	if err := waitReadyErr(p, port); err != nil {
		t.Fatal(err)
	}
}

// waitReadyErr is waitReady returning the failure.
func waitReadyErr(p *proc, port int) error {
	c := &http.Client{Timeout: time.Second}
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		select {
		case <-p.done:
			return fmt.Errorf("exited with %d before ready:\n%s", p.code, p.out.String())
		default:
		}
		if r, err := c.Get("http://127.0.0.1:" + strconv.Itoa(port) + "/v1.0/healthz"); err == nil {
			r.Body.Close()
			if r.StatusCode == 204 {
				return nil
			}
		}
	}
	return fmt.Errorf("not ready:\n%s", p.out.String())
}

// startReady starts statecar on fresh ports (portArgs) followed by extra
// and waits until it is ready. A process that exits because another one
// bound a picked port first is started again on new ports.
func startReady(t *testing.T, env []string, extra ...string) (*proc, int) {
	t.Helper()
	for attempt := 1; ; attempt++ {
		args, port := portArgs()
		p := startProc(t, append(args, extra...), env)
		err := waitReadyErr(p, port)
		if err == nil {
			return p, port
		}
		out := p.out.String()
		if attempt < 5 && p.exited() && (strings.Contains(out, "address already in use") || strings.Contains(out, "cannot listen on 127.0.0.1:")) {
			continue
		}
		t.Fatal(err)
	}
}

// waitOutput waits until the process has written want (up to 30 s).
func waitOutput(t *testing.T, p *proc, want string) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); !strings.Contains(p.out.String(), want); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no %q in the output:\n%s", want, p.out.String())
		}
	}
}

// exited reports whether the process has exited.
func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// ports returns fresh args for HTTP, gRPC and metrics ports on 127.0.0.1.
func portArgs() (args []string, httpPort int) {
	httpPort = testutil.FreePort()
	return []string{
		"--dapr-http-port", strconv.Itoa(httpPort),
		"--dapr-grpc-port", strconv.Itoa(testutil.FreePort()),
		"--metrics-port", strconv.Itoa(testutil.FreePort()),
		"--dapr-listen-addresses", "127.0.0.1", "--metrics-listen-address", "127.0.0.1",
	}, httpPort
}

func httpDo(t *testing.T, method, url, body string, hdr ...string) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

func TestVersionAndBuildInfo(t *testing.T) {
	p := startProc(t, []string{"--version"}, nil)
	if code := p.wait(t); code != 0 || p.out.String() != "1.18.3\n" {
		t.Fatalf("--version: exit %d output %q", code, p.out.String())
	}
	p = startProc(t, []string{"-build-info"}, nil)
	if code := p.wait(t); code != 0 || !strings.HasPrefix(p.out.String(), "Version: 1.18.3\nGit Commit: ") {
		t.Fatalf("--build-info: exit %d output %q", code, p.out.String())
	}
}

func TestStartupFailures(t *testing.T) {
	f := func(args []string, wantCode int, want string) {
		t.Helper()
		p := startProc(t, append(args, "--data-dir", t.TempDir()), nil)
		if code := p.wait(t); code != wantCode || !strings.Contains(p.out.String(), want) {
			t.Fatalf("%q: exit %d (want %d), output lacks %q:\n%s", args, code, wantCode, want, p.out.String())
		}
	}
	f([]string{"--no-such-flag"}, 2, "unknown flag: --no-such-flag")
	f([]string{"--app-health-threshold", "x"}, 2, `invalid argument "x" for "--app-health-threshold" flag`)
	f([]string{"--app-id", "a", "--dapr-http-port", "abc"}, 1, `level=fatal msg="Fatal error from runtime: error parsing dapr-http-port flag: strconv.Atoi: parsing \"abc\": invalid syntax"`)
	f([]string{"--app-id", "a", "--dapr-internal-grpc-port", "x"}, 1, `Fatal error from runtime: error parsing dapr-internal-grpc-port: strconv.Atoi: parsing \"x\": invalid syntax`)
	f([]string{"--app-id", "a", "--metrics-port", "x"}, 1, `Fatal error from runtime: failed to parse metrics port: strconv.Atoi: parsing \"x\": invalid syntax`)
	f([]string{"--app-id", "a", "--app-health-probe-timeout", "5001"}, 1, `level=fatal msg="Fatal error from runtime: value for 'health-probe-timeout' must be smaller than 'health-probe-interval'"`)
	f([]string{"--app-id", "a", "--app-health-probe-interval", "1", "--app-health-probe-timeout", "1500", "--enable-app-health-check"}, 1, "must be smaller than 'health-probe-interval'")
	f([]string{"--app-id", "a.b"}, 1, "parameter app-id cannot contain dots")
	f([]string{"--app-id", "a", "--config", "/nonexistent/config.yaml"}, 1, "error loading configuration: stat /nonexistent/config.yaml: no such file or directory")
	f([]string{"--app-id", "a", "--max-body-size", "4MB"}, 1, "invalid value for 'max-body-size' option")
	f([]string{"--app-id", "a", "--dapr-http-port", "3500", "--app-port", "3500"}, 1, "the 'dapr-http-port' argument value 3500 conflicts with 'app-port'")
	for _, v := range []string{"fast", "3ms"} {
		p := startProc(t, []string{"--app-id", "a", "--data-dir", t.TempDir()}, []string{"STATECAR_HTTP_SPIN_WORKER=" + v})
		if code, want := p.wait(t), `STATECAR_HTTP_SPIN_WORKER \"`+v+`\": want a duration from 0 (off) to 2ms`; code != 1 || !strings.Contains(p.out.String(), want) {
			t.Fatalf("STATECAR_HTTP_SPIN_WORKER=%s: exit %d, output lacks %q:\n%s", v, code, want, p.out.String())
		}
	}

	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	busyPort := strconv.Itoa(busy.Addr().(*net.TCPAddr).Port)
	f([]string{"--app-id", "a", "--dapr-listen-addresses", "127.0.0.1", "--dapr-http-port", busyPort,
		"--metrics-port", strconv.Itoa(testutil.FreePort()), "--dapr-grpc-port", strconv.Itoa(testutil.FreePort())}, 1, "Fatal error from runtime: ")

	dir := t.TempDir()
	testutil.WriteComponent(t, dir, "bad", "state.nosuchstore", nil)
	f([]string{"--app-id", "a", "--resources-path", dir}, 1,
		"Error processing component, daprd will exit gracefully: process component bad error: [CREATE_COMPONENT_FAILURE]: initialization error occurred for bad (state.nosuchstore/v1): couldn't find state store state.nosuchstore/v1")
	dir = t.TempDir()
	testutil.WriteComponent(t, dir, "vault", "secretstores.hashicorp.vault", nil)
	f([]string{"--app-id", "a", "--resources-path", dir}, 1,
		"process component vault error: [CREATE_COMPONENT_FAILURE]: initialization error occurred for vault (secretstores.hashicorp.vault/v1): couldn't find secret store secretstores.hashicorp.vault/v1")
	dir = t.TempDir()
	testutil.WriteComponent(t, dir, "files", "secretstores.local.file", nil)
	f([]string{"--app-id", "a", "--resources-path", dir}, 1,
		"process component files error: [INIT_COMPONENT_FAILURE]: initialization error occurred for files (secretstores.local.file/v1): missing local secrets file in metadata")
	dir = t.TempDir()
	testutil.WriteComponent(t, dir, "lk", "lock.nosuch", nil)
	f([]string{"--app-id", "a", "--resources-path", dir}, 1,
		"process component lk error: [CREATE_COMPONENT_FAILURE]: initialization error occurred for lk (lock.nosuch/v1): couldn't find lock store lock.nosuch/v1")
	conf := testutil.WriteConfiguration(t, t.TempDir(), "c", "secrets:\n  scopes:\n  - storeName: s\n  - storeName: s")
	f([]string{"--app-id", "a", "--config", conf}, 1, "error loading configuration: s storeName is repeated in secrets configuration")

	dir = t.TempDir()
	testutil.WriteComponent(t, dir, "rb", "bindings.redis", map[string]string{"redisHost": "127.0.0.1:1", "redisMaxRetries": "0"})
	f([]string{"--app-id", "a", "--resources-path", dir}, 1,
		"process component rb error: [INIT_COMPONENT_FAILURE]: initialization error occurred for rb (bindings.redis/v1): redis binding: error connecting to redis at 127.0.0.1:1: dial tcp 127.0.0.1:1: connect: connection refused")

	dir = t.TempDir()
	testutil.WriteComponent(t, dir, "tick", "bindings.cron", map[string]string{"schedule": "sometimes"})
	f([]string{"--app-id", "a", "--resources-path", dir}, 1,
		"process component tick error: [INIT_COMPONENT_FAILURE]: initialization error occurred for tick (bindings.cron/v1): invalid schedule format 'sometimes': ")
	dir = t.TempDir()
	testutil.WriteComponent(t, dir, "ps", "pubsub.redis", map[string]string{"redisHost": "127.0.0.1:1", "redisMaxRetries": "0"})
	f([]string{"--app-id", "a", "--resources-path", dir}, 1,
		"process component ps error: [INIT_COMPONENT_FAILURE]: initialization error occurred for ps (pubsub.redis/v1): redis streams: error connecting to redis at 127.0.0.1:1: dial tcp 127.0.0.1:1: connect: connection refused")
	dir = t.TempDir()
	testutil.WriteFile(t, dir, "ps.yaml", strings.Replace(testutil.ComponentYAML("ps", "pubsub.in-memory", nil), "version: v1", "version: v2", 1))
	f([]string{"--app-id", "a", "--resources-path", dir}, 1,
		"process component ps error: [CREATE_COMPONENT_FAILURE]: initialization error occurred for ps (pubsub.in-memory/v2): couldn't find message bus pubsub.in-memory/v2")

	// A lock store is initialised first, then its keyPrefix checked.
	r, err := testsrv.StartRedis(testsrv.RedisOptions{})
	testsrv.Require(t, err)
	defer r.Close()
	dir = t.TempDir()
	testutil.WriteComponent(t, dir, "lk", "lock.redis", map[string]string{"redisHost": r.Addr, "keyPrefix": "a||b"})
	f([]string{"--app-id", "a", "--resources-path", dir}, 1,
		"process component lk error: [INIT_COMPONENT_FAILURE]: initialization error occurred for lk (lock.redis/v1): failed to save lock keyprefix: input key/keyPrefix 'a||b' can't contain '||'")
}

// TestMetricsPortUnparsedWhenDisabled: daprd's metrics exporter parses
// --metrics-port only when metrics are on, so a bad value does not stop a
// sidecar started with --enable-metrics=false.
func TestMetricsPortUnparsedWhenDisabled(t *testing.T) {
	args, port := portArgs()
	for i := range args {
		if args[i] == "--metrics-port" {
			args[i+1] = "x"
		}
	}
	p := startProc(t, append(args, "--app-id", "nometrics", "--data-dir", t.TempDir(), "--enable-metrics=false"), nil)
	waitReady(t, p, port)
}

func TestAcceptsDaprFlagsAndEmptyEnvironment(t *testing.T) {
	args, port := portArgs()
	args = append(args, "--app-id", "envapp", "--data-dir", t.TempDir(),
		"--placement-host-address", "", "--scheduler-host-address", "", "--app-port", "-1",
		"--profile-port", "-1", "--app-max-concurrency", "-1", "--mode=standalone", "--enable-mtls=false",
		"-log-level", "debug", "--max-body-size", "4Mi", "--read-buffer-size", "4Ki",
		"--app-health-probe-interval", "0", "--app-health-threshold", "0", "--control-plane-address", "x:1",
		"--dapr-http-max-request-size", "4", "--enable-api-logging", "--app-protocol", "http", "--sentry-address", "")
	// env -i: no HOME, PATH or TMPDIR.
	p := startProc(t, args, []string{"DAPR_HOST_IP=127.0.0.1"})
	waitReady(t, p, port)
	base := "http://127.0.0.1:" + strconv.Itoa(port)
	if code, _, body := httpDo(t, "POST", base+"/v1.0/state/statestore", `[{"key":"k","value":1}]`); code != 204 {
		t.Fatalf("save: %d %s", code, body)
	}
	if code, _, body := httpDo(t, "GET", base+"/v1.0/state/statestore/k", ""); code != 200 || body != "1" {
		t.Fatalf("get: %d %s", code, body)
	}
	// daprd keeps --app-port -1 as given (only 0 is omitted) and turns
	// --app-max-concurrency -1 into 0 (omitted).
	if _, _, body := httpDo(t, "GET", base+"/v1.0/metadata", ""); !strings.Contains(body, `"appConnectionProperties":{"port":-1,"protocol":"http","channelAddress":"127.0.0.1"}`) {
		t.Fatalf("metadata: %s", body)
	}
	out := p.out.String()
	for _, want := range []string{
		"Flag --control-plane-address is accepted for compatibility and ignored by statecar",
		`msg="HTTP API Called"`,
	} {
		if !strings.Contains(out, want) {
			t.Fatalf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "placement-host-address is accepted") {
		t.Fatal("an empty ignored flag must not be reported")
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	if code := p.wait(t); code != 0 {
		t.Fatalf("exit %d", code)
	}
}

func TestNoAppIDUsesDefault(t *testing.T) {
	p, port := startReady(t, nil, "--data-dir", t.TempDir())
	_, _, body := httpDo(t, "GET", "http://127.0.0.1:"+strconv.Itoa(port)+"/v1.0/metadata", "")
	if !strings.HasPrefix(body, `{"id":"statecar",`) || !strings.Contains(p.out.String(), "--app-id not given") {
		t.Fatalf("metadata %s\n%s", body, p.out.String())
	}
	// Every log line, the first ones included, carries the app id in use.
	lines := 0
	for _, line := range strings.Split(strings.TrimSpace(p.out.String()), "\n") {
		if !strings.HasPrefix(line, "time=") {
			continue
		}
		lines++
		if !strings.Contains(line, " app_id=statecar ") {
			t.Fatalf("log line without app_id=statecar: %s", line)
		}
	}
	if lines < 3 {
		t.Fatalf("only %d log lines:\n%s", lines, p.out.String())
	}
}

func TestLogLinesAndJSON(t *testing.T) {
	p, port := startReady(t, nil, "--app-id", "logapp", "--data-dir", t.TempDir(), "--log-as-json")
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	p.wait(t)
	sc := bufio.NewScanner(strings.NewReader(p.out.String()))
	var msgs []string
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, `{"app_id":"logapp","instance":`) || !strings.Contains(line, `"type":"log","ver":"1.18.3"}`) {
			t.Fatalf("not a daprd JSON log line: %s", line)
		}
		msgs = append(msgs, line)
	}
	all := strings.Join(msgs, "\n")
	for _, re := range []string{
		`"msg":"Component loaded: statestore \(state.pebble/v1\)"`,
		`"msg":"HTTP server is running on port ` + strconv.Itoa(port) + `"`,
		`"msg":"API gRPC server is running on port \d+"`,
		`"msg":"dapr initialized. Status: Running. Init Elapsed \d+ms"`,
	} {
		if !regexp.MustCompile(re).MatchString(all) {
			t.Fatalf("log lacks %s:\n%s", re, all)
		}
	}
}

const multiDoc = `apiVersion: dapr.io/v1alpha1
kind: Component
metadata:
  name: mem
spec:
  type: state.in-memory
  version: v1
  metadata:
  - name: keyPrefix
    envRef: MY_PREFIX
---
apiVersion: dapr.io/v1alpha1
kind: Component
metadata:
  name: notmine
spec:
  type: state.in-memory
scopes: [someoneelse]
---
apiVersion: dapr.io/v1alpha1
kind: Component
metadata:
  name: broken
spec:
  type: state.doesnotexist
  ignoreErrors: true
---
apiVersion: dapr.io/v1alpha1
kind: Subscription
metadata:
  name: sub
---
apiVersion: dapr.io/v1alpha1
kind: Component
metadata:
  name: crypto
spec:
  type: crypto.dapr.jwks
---
apiVersion: dapr.io/v1alpha1
kind: Component
metadata:
  name: kafka
spec:
  type: pubsub.kafka
`

func TestComponentsFromResources(t *testing.T) {
	dir := t.TempDir()
	testutil.WriteFile(t, dir, "comps.yaml", multiDoc)
	testutil.WriteComponent(t, dir, "durable", "state.pebble", nil)
	testutil.WriteFile(t, dir, "readme.txt", "not yaml")
	s := testutil.Start(t, testutil.Options{ResourcesDir: dir, Env: []string{"MY_PREFIX=none"}})
	_, _, body := httpDo(t, "GET", s.URL("/v1.0/metadata"), "")
	// comps.yaml sorts before durable.yaml: daprd's file order.
	if !strings.Contains(body, `"components":[{"name":"mem","type":"state.in-memory","version":"v1","capabilities":[`) ||
		!strings.Contains(body, `{"name":"durable","type":"state.pebble","version":"v1","capabilities":[`) ||
		strings.Contains(body, "notmine") || strings.Contains(body, "broken") || strings.Contains(body, `"statestore"`) {
		t.Fatalf("components: %s", body)
	}
	// keyPrefix none came from envRef: the stored key is the bare key,
	// visible through the bulk API as the same key either way; check the
	// store works.
	if code, _, b := httpDo(t, "POST", s.URL("/v1.0/state/mem"), `[{"key":"a","value":"x"}]`); code != 204 {
		t.Fatalf("save mem: %d %s", code, b)
	}
	if code, _, b := httpDo(t, "GET", s.URL("/v1.0/state/mem/a"), ""); code != 200 || b != `"x"` {
		t.Fatalf("get mem: %d %s", code, b)
	}
	if code, _, b := httpDo(t, "GET", s.URL("/v1.0/state/notmine/a"), ""); code != 400 || !strings.Contains(b, "ERR_STATE_STORE_NOT_FOUND") {
		t.Fatalf("scoped-out store: %d %s", code, b)
	}
	out := s.Output()
	for _, want := range []string{"Component loaded: mem (state.in-memory/v1)", "Ignoring error processing component: process component broken error",
		"A non-YAML Component file readme.txt was detected", "Component crypto (crypto.dapr.jwks) is not supported by statecar",
		"Component kafka (pubsub.kafka) is not supported by statecar (of the pub/sub brokers only pubsub.redis and pubsub.in-memory are); it is skipped"} {
		if !strings.Contains(out, want) {
			t.Fatalf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestDefaultStoreSurvivesRestart(t *testing.T) {
	s := testutil.Start(t, testutil.Options{})
	if code, _, b := httpDo(t, "POST", s.URL("/v1.0/state/statestore"), `[{"key":"durable","value":{"n":42}}]`); code != 204 {
		t.Fatalf("save: %d %s", code, b)
	}
	s.Restart()
	if code, _, b := httpDo(t, "GET", s.URL("/v1.0/state/statestore/durable"), ""); code != 200 || b != `{"n":42}` {
		t.Fatalf("after restart: %d %s", code, b)
	}
	if _, err := os.Stat(filepath.Join(s.DataDir, "statestore")); err != nil {
		t.Fatalf("data not under <data-dir>/statestore: %v", err)
	}
}

func TestRuntimeRoutesTokenAndPublicPort(t *testing.T) {
	pub := testutil.FreePort()
	s := testutil.Start(t, testutil.Options{Env: []string{"DAPR_API_TOKEN=s3cret"}, ExtraArgs: []string{"--dapr-public-port", strconv.Itoa(pub), "--dapr-public-listen-address", "127.0.0.1"}})
	tok := []string{"dapr-api-token", "s3cret"}
	if code, h, b := httpDo(t, "GET", s.URL("/v1.0/metadata"), ""); code != 401 || b != "invalid api token\n" || h.Get("Content-Type") != "text/plain; charset=utf-8" {
		t.Fatalf("no token: %d %q %v", code, b, h)
	}
	if code, _, _ := httpDo(t, "GET", s.URL("/v1.0/healthz/outbound"), ""); code != 204 {
		t.Fatalf("outbound exempt: %d", code)
	}
	if code, _, b := httpDo(t, "GET", s.URL("/v1.0/healthz?appid=other"), ""); code != 500 || !strings.Contains(b, "ERR_HEALTH_APPID_NOT_MATCH") {
		t.Fatalf("appid mismatch: %d %s", code, b)
	}
	if code, _, _ := httpDo(t, "PUT", s.URL("/v1.0/metadata/myKey"), "hello-value", tok...); code != 204 {
		t.Fatalf("put metadata: %d", code)
	}
	code, h, b := httpDo(t, "GET", s.URL("/v1.0/metadata"), "", tok...)
	if code != 200 || h.Get("Content-Type") != "application/json" || !strings.Contains(b, `"extended":{"daprRuntimeVersion":"1.18.3","myKey":"hello-value"}`) || !strings.HasSuffix(b, "}\n") {
		t.Fatalf("metadata: %d %v %s", code, h, b)
	}
	if code, h, b := httpDo(t, "GET", s.URL("/v1.0/nothing"), "", tok...); code != 404 || h.Get("Content-Type") != "application/json" || !strings.Contains(b, "ERR_DIRECT_INVOKE") {
		t.Fatalf("fallback: %d %s", code, b)
	}
	pubURL := "http://127.0.0.1:" + strconv.Itoa(pub)
	if code, _, b := httpDo(t, "GET", pubURL+"/v1.0/metadata", ""); code != 200 || !strings.Contains(b, `"myKey":"hello-value"`) {
		t.Fatalf("public metadata without token: %d %s", code, b)
	}
	if code, _, b := httpDo(t, "GET", pubURL+"/v1.0/state/statestore/k", ""); code != 404 || b != "404 page not found\n" {
		t.Fatalf("public state route: %d %q", code, b)
	}
	if code, _, _ := httpDo(t, "GET", pubURL+"/v1.0/healthz", ""); code != 204 {
		t.Fatalf("public healthz: %d", code)
	}
}

var seriesRE = regexp.MustCompile(`(?m)^dapr_http_server_request_count\{app_id="myapp",method="GET",path="/v1.0/state/statestore",status="204"\} (\d+)$`)

func TestMetricsScrape(t *testing.T) {
	s := testutil.Start(t, testutil.Options{})
	scrape := func() (string, http.Header) {
		t.Helper()
		_, h, b := httpDo(t, "GET", s.MetricsURL(), "")
		return b, h
	}
	count := func(body string) int {
		m := seriesRE.FindStringSubmatch(body)
		if m == nil {
			return 0
		}
		n, _ := strconv.Atoi(m[1])
		return n
	}
	before, h := scrape()
	if h.Get("Content-Type") != "text/plain; version=0.0.4; charset=utf-8; escaping=underscores" {
		t.Fatalf("content type %q", h.Get("Content-Type"))
	}
	for range 3 {
		httpDo(t, "GET", s.URL("/v1.0/state/statestore/missing-key"), "")
	}
	after, _ := scrape()
	if count(after)-count(before) != 3 {
		t.Fatalf("request_count moved by %d, want 3:\n%s", count(after)-count(before), after)
	}
	for _, want := range []string{
		`dapr_http_server_response_count{app_id="myapp",method="GET",path="/v1.0/state/statestore",status="204"}`,
		`dapr_http_server_latency_bucket{app_id="myapp",method="GET",path="/v1.0/state/statestore",status="204",le="1"}`,
		`dapr_http_server_request_bytes_count{app_id="myapp"}`,
		`dapr_http_server_response_bytes_count{app_id="myapp"}`,
		`dapr_runtime_component_loaded{app_id="myapp"} 1`,
		`dapr_runtime_component_init_total{app_id="myapp",component="state.pebble"} 1`,
		"process_resident_memory_bytes ",
		"go_goroutines ",
		`statecar_wal_fsyncs_total{store="statestore"}`,
	} {
		if !strings.Contains(after, want) {
			t.Fatalf("scrape lacks %q", want)
		}
	}
	if _, _, b := httpDo(t, "GET", strings.TrimSuffix(s.MetricsURL(), "/metrics")+"/any/path", ""); !strings.Contains(b, "dapr_runtime_component_loaded") {
		t.Fatal("metrics must be served on any path")
	}
}

func TestMetricsDisabled(t *testing.T) {
	s := testutil.Start(t, testutil.Options{ExtraArgs: []string{"--enable-metrics=false"}})
	if c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(s.MetricsPort), time.Second); err == nil {
		c.Close()
		t.Fatal("metrics port must not listen with --enable-metrics=false")
	}
}

func TestProfiling(t *testing.T) {
	pp := testutil.FreePort()
	s := testutil.Start(t, testutil.Options{ExtraArgs: []string{"--enable-profiling", "--profile-port", strconv.Itoa(pp)}})
	_ = s
	code, _, b := httpDo(t, "GET", "http://127.0.0.1:"+strconv.Itoa(pp)+"/debug/pprof/", "")
	if code != 200 || !strings.Contains(b, "goroutine") {
		t.Fatalf("pprof: %d", code)
	}
}

func TestAppPortGatesHealthz(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	appPort := ln.Addr().(*net.TCPAddr).Port
	ln.Close() // nothing listens yet
	args, port := portArgs()
	p := startProc(t, append(args, "--app-id", "gated", "--data-dir", t.TempDir(), "--app-port", strconv.Itoa(appPort)), nil)
	base := "http://127.0.0.1:" + strconv.Itoa(port)
	c := &http.Client{Timeout: time.Second}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if r, err := c.Get(base + "/v1.0/healthz/outbound"); err == nil {
			r.Body.Close()
			if r.StatusCode == 204 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("outbound never ready:\n%s", p.out.String())
		}
	}
	if code, _, b := httpDo(t, "GET", base+"/v1.0/healthz", ""); code != 500 || b != `{"errorCode":"ERR_HEALTH_NOT_READY","message":"dapr is not ready: [runtime]"}` {
		t.Fatalf("healthz before the app listens: %d %s", code, b)
	}
	if code, _, _ := httpDo(t, "GET", base+"/v1.0/state/statestore/x", ""); code != 204 {
		t.Fatalf("state API before the app listens: %d", code)
	}
	app, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(appPort))
	if err != nil {
		t.Fatal(err)
	}
	defer app.Close()
	go func() {
		for {
			c, err := app.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	waitReady(t, p, port)
	_, _, b := httpDo(t, "GET", base+"/v1.0/metadata", "")
	if !strings.Contains(b, fmt.Sprintf(`"appConnectionProperties":{"port":%d,"protocol":"http","channelAddress":"127.0.0.1"}`, appPort)) {
		t.Fatalf("metadata app props: %s", b)
	}
}

// startSlowSave sends the head and half the body of a save, so the
// request is in flight; the returned func finishes it and returns the
// status line.
func startSlowSave(t *testing.T, port int) (finish func() string) {
	t.Helper()
	c, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(port))
	if err != nil {
		t.Fatal(err)
	}
	body := `[{"key":"inflight","value":"done"}]`
	fmt.Fprintf(c, "POST /v1.0/state/statestore HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s", len(body), body[:10])
	time.Sleep(100 * time.Millisecond) // let the server read the head (not an assertion)
	return func() string {
		defer c.Close()
		if _, err := io.WriteString(c, body[10:]); err != nil {
			return "write error: " + err.Error()
		}
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
		line, err := bufio.NewReader(c).ReadString('\n')
		if err != nil {
			return "read error: " + err.Error()
		}
		return strings.TrimSpace(line)
	}
}

func TestGracefulShutdownDrainsInFlight(t *testing.T) {
	args, port := portArgs()
	dataDir := t.TempDir()
	p := startProc(t, append(args, "--app-id", "drain", "--data-dir", dataDir), nil)
	waitReady(t, p, port)
	finish := startSlowSave(t, port)
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	waitOutput(t, p, "beginning shutdown")
	if status := finish(); status != "HTTP/1.1 204 No Content" {
		t.Fatalf("in-flight save got %q", status)
	}
	if code := p.wait(t); code != 0 {
		t.Fatalf("exit %d", code)
	}
	// The acknowledged write survived.
	_, port2 := startReady(t, nil, "--app-id", "drain", "--data-dir", dataDir)
	if code, _, b := httpDo(t, "GET", "http://127.0.0.1:"+strconv.Itoa(port2)+"/v1.0/state/statestore/inflight", ""); code != 200 || b != `"done"` {
		t.Fatalf("after restart: %d %s", code, b)
	}
}

func TestSecondSignalExitsAtOnce(t *testing.T) {
	p, port := startReady(t, nil, "--app-id", "twice", "--data-dir", t.TempDir(), "--dapr-graceful-shutdown-seconds", "60")
	finish := startSlowSave(t, port) // keeps the drain waiting
	defer finish()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	waitOutput(t, p, "beginning shutdown")
	_ = p.cmd.Process.Signal(syscall.SIGINT)
	if code := p.wait(t); code != 1 {
		t.Fatalf("exit %d after a second signal, want 1", code)
	}
}

func TestShutdownAPI(t *testing.T) {
	p, port := startReady(t, nil, "--app-id", "shut", "--data-dir", t.TempDir())
	if code, _, _ := httpDo(t, "GET", "http://127.0.0.1:"+strconv.Itoa(port)+"/v1.0/shutdown", ""); code != 404 {
		t.Fatalf("GET shutdown: %d", code)
	}
	if code, _, b := httpDo(t, "POST", "http://127.0.0.1:"+strconv.Itoa(port)+"/v1.0/shutdown", ""); code != 204 || b != "" {
		t.Fatalf("POST shutdown: %d %q", code, b)
	}
	if code := p.wait(t); code != 0 {
		t.Fatalf("exit %d", code)
	}
}

func TestUnixDomainSocket(t *testing.T) {
	dir, err := os.MkdirTemp("", "uds") // short path: sun_path is 108 bytes
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	args, _ := portArgs()
	p := startProc(t, append(args, "--app-id", "udsapp", "--data-dir", t.TempDir(), "--unix-domain-socket", dir), nil)
	sock := filepath.Join(dir, "dapr-udsapp-http.socket")
	c := &http.Client{Timeout: time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", sock)
		},
	}}
	ready := false
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline) && !ready; time.Sleep(10 * time.Millisecond) {
		if r, err := c.Get("http://uds/v1.0/healthz"); err == nil {
			r.Body.Close()
			ready = r.StatusCode == 204
		}
	}
	if !ready {
		t.Fatalf("not ready on %s:\n%s", sock, p.out.String())
	}
	r, err := c.Post("http://uds/v1.0/state/statestore", "application/json", strings.NewReader(`[{"key":"u","value":"x"}]`))
	if err != nil || r.StatusCode != 204 {
		t.Fatalf("save over uds: %v %v", err, r)
	}
	r.Body.Close()
	r, err = c.Get("http://uds/v1.0/state/statestore/u")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(r.Body)
	r.Body.Close()
	if r.StatusCode != 200 || string(b) != `"x"` {
		t.Fatalf("get over uds: %d %s", r.StatusCode, b)
	}
	if _, err := os.Stat(filepath.Join(dir, "dapr-udsapp-grpc.socket")); err != nil {
		t.Fatalf("gRPC socket: %v", err)
	}
	if !strings.Contains(p.out.String(), "HTTP server is running on a Unix Domain Socket") {
		t.Fatalf("log line missing:\n%s", p.out.String())
	}
}

// TestUnixDomainSocketInUse: a second sidecar with the same app id and
// --unix-domain-socket directory fails to start (exit 1, address already in
// use, as daprd) instead of taking the first one's sockets; a socket file
// left by a killed sidecar does not stop a restart.
func TestUnixDomainSocketInUse(t *testing.T) {
	dir, err := os.MkdirTemp("", "uds") // short path: sun_path is 108 bytes
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	sock := filepath.Join(dir, "dapr-twice-http.socket")
	c := &http.Client{Timeout: time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", sock)
		},
	}}
	healthy := func() bool {
		r, err := c.Get("http://uds/v1.0/healthz")
		if err != nil {
			return false
		}
		r.Body.Close()
		return r.StatusCode == 204
	}
	start := func() *proc {
		args, _ := portArgs()
		return startProc(t, append(args, "--app-id", "twice", "--data-dir", t.TempDir(), "--unix-domain-socket", dir), nil)
	}
	first := start()
	for deadline := time.Now().Add(30 * time.Second); !healthy(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) || first.exited() {
			t.Fatalf("first sidecar not ready:\n%s", first.out.String())
		}
	}
	second := start()
	if code := second.wait(t); code != 1 || !strings.Contains(second.out.String(), "address already in use") {
		t.Fatalf("second sidecar on the same sockets: exit %d, want 1 with address already in use:\n%s", code, second.out.String())
	}
	if !healthy() {
		t.Fatal("the first sidecar lost its HTTP socket")
	}
	if _, err := os.Stat(filepath.Join(dir, "dapr-twice-grpc.socket")); err != nil {
		t.Fatalf("the first sidecar lost its gRPC socket: %v", err)
	}
	// Killed: its socket files stay behind, and a restart replaces them.
	_ = first.cmd.Process.Kill()
	<-first.done
	third := start()
	for deadline := time.Now().Add(30 * time.Second); !healthy(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) || third.exited() {
			t.Fatalf("restart over stale sockets not ready:\n%s", third.out.String())
		}
	}
	_ = third.cmd.Process.Signal(syscall.SIGTERM)
	if code := third.wait(t); code != 0 {
		t.Fatalf("exit %d", code)
	}
	for _, kind := range []string{"http", "grpc"} {
		if _, err := os.Stat(filepath.Join(dir, "dapr-twice-"+kind+".socket")); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("%s socket left after a graceful exit: %v", kind, err)
		}
	}
}

func TestGracefulShutdownBudget(t *testing.T) {
	p, port := startReady(t, nil, "--app-id", "budget", "--data-dir", t.TempDir(), "--dapr-graceful-shutdown-seconds", "1")
	finish := startSlowSave(t, port) // never completed before the budget ends
	defer finish()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	if code := p.wait(t); code != 0 {
		t.Fatalf("exit %d when the drain budget ran out, want 0", code)
	}
	if !strings.Contains(p.out.String(), "Daprd shutdown gracefully") {
		t.Fatalf("stores not closed:\n%s", p.out.String())
	}
}

// TestGracefulShutdownZeroSeconds: --dapr-graceful-shutdown-seconds 0 is no
// time limit (daprd: an infinite grace period, with its warning), not a
// drain cut at once; the HTTP listeners still give up after 10 s, as
// daprd's HTTP server.
func TestGracefulShutdownZeroSeconds(t *testing.T) {
	p, port := startReady(t, nil, "--app-id", "zero", "--data-dir", t.TempDir(), "--dapr-graceful-shutdown-seconds", "0")
	// The warning is logged as the servers start, which may be just after
	// healthz answers: wait for it.
	waitOutput(t, p, "Graceful shutdown timeout is infinite, will wait indefinitely to shutdown")
	finish := startSlowSave(t, port)
	stuck := startSlowSave(t, port) // never completed
	defer stuck()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	waitOutput(t, p, "beginning shutdown")
	time.Sleep(1500 * time.Millisecond)
	if status := finish(); status != "HTTP/1.1 204 No Content" {
		t.Fatalf("in-flight save 1.5 s into the shutdown got %q", status)
	}
	start := time.Now()
	if code := p.wait(t); code != 0 {
		t.Fatalf("exit %d", code)
	}
	if d := time.Since(start); d > 12*time.Second {
		t.Fatalf("a stuck HTTP request held the shutdown for %v (daprd's HTTP server drains at most 10 s)", d)
	}
}

// TestStateRoutesSmoke drives each state route once through the binary.
func TestStateRoutesSmoke(t *testing.T) {
	s := testutil.Start(t, testutil.Options{})
	f := func(method, path, body string, wantCode int, wantBody string, hdr ...string) http.Header {
		t.Helper()
		code, h, b := httpDo(t, method, s.URL(path), body, hdr...)
		if code != wantCode || (wantBody != "" && b != wantBody) {
			t.Fatalf("%s %s: %d %q, want %d %q", method, path, code, b, wantCode, wantBody)
		}
		return h
	}
	f("POST", "/v1.0/state/statestore", `[{"key":"a","value":{"n":1}},{"key":"b","value":"x"}]`, 204, "")
	h := f("GET", "/v1.0/state/statestore/a", "", 200, `{"n":1}`)
	if h.Get("Content-Type") != "application/json" || h.Get("Etag") == "" {
		t.Fatalf("GET headers %v", h)
	}
	etag := h.Get("Etag")
	f("PUT", "/v1.0/state/statestore/bulk", `{"keys":["a","zz"]}`, 200, `[{"key":"a","data":{"n":1},"etag":"`+etag+`"},{"key":"zz"}]`+"\n")
	f("DELETE", "/v1.0/state/statestore/a", "", 409, "", "If-Match", "not-"+etag)
	f("DELETE", "/v1.0/state/statestore/a", "", 204, "", "If-Match", etag)
	f("GET", "/v1.0/state/statestore/a", "", 204, "")
	f("POST", "/v1.0/state/statestore/transaction", `{"operations":[{"operation":"upsert","request":{"key":"c","value":3}},{"operation":"delete","request":{"key":"b"}}]}`, 204, "")
	f("GET", "/v1.0/state/statestore/c", "", 200, "3")
	f("GET", "/v1.0/state/statestore/b", "", 204, "")
	code, _, b := httpDo(t, "POST", s.URL("/v1.0-alpha1/state/statestore/query"), `{"filter":{"EQ":{"n":1}}}`)
	if code != 200 && code != 204 {
		t.Fatalf("query: %d %s", code, b)
	}
	f("POST", "/v1.0/state/statestore/query", `{}`, 404, "")
}

// TestGRPCWiring checks what cmd/statecar hands the gRPC server: the
// shared metadata (GetMetadata/SetMetadata), the API token and Shutdown.
func TestGRPCWiring(t *testing.T) {
	s := testutil.Start(t, testutil.Options{AppID: "grpcapp", Env: []string{"DAPR_API_TOKEN=tk"}})
	conn, err := grpc.NewClient(s.GRPCAddr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	client := runtimev1pb.NewDaprClient(conn)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := client.GetMetadata(ctx, &runtimev1pb.GetMetadataRequest{}); status.Code(err) != codes.Unauthenticated {
		t.Fatalf("without token: %v", err)
	}
	ctx = metadata.AppendToOutgoingContext(ctx, "dapr-api-token", "tk")
	if _, err := client.SetMetadata(ctx, &runtimev1pb.SetMetadataRequest{Key: "fromGRPC", Value: "v1"}); err != nil {
		t.Fatal(err)
	}
	md, err := client.GetMetadata(ctx, &runtimev1pb.GetMetadataRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if md.GetId() != "grpcapp" || md.GetExtendedMetadata()["fromGRPC"] != "v1" || md.GetExtendedMetadata()["daprRuntimeVersion"] != "1.18.3" ||
		len(md.GetRegisteredComponents()) != 1 || md.GetRegisteredComponents()[0].GetName() != "statestore" {
		t.Fatalf("GetMetadata: %v", md)
	}
	// Set over gRPC, visible over HTTP: one shared runtime.
	if _, _, b := httpDo(t, "GET", s.URL("/v1.0/metadata"), "", "dapr-api-token", "tk"); !strings.Contains(b, `"fromGRPC":"v1"`) {
		t.Fatalf("HTTP metadata lacks the gRPC-set key: %s", b)
	}
	if _, err := client.Shutdown(ctx, &runtimev1pb.ShutdownRequest{}); err != nil {
		t.Fatal(err)
	}
	if code := s.Wait(30 * time.Second); code != 0 {
		t.Fatalf("exit %d after gRPC Shutdown", code)
	}
}

func TestBlockShutdownDurationKeepsServing(t *testing.T) {
	p, port := startReady(t, nil, "--app-id", "block", "--data-dir", t.TempDir(), "--dapr-block-shutdown-duration", "30s")
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	// Still serving while blocked: a write is acknowledged after SIGTERM.
	base := "http://127.0.0.1:" + strconv.Itoa(port)
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(p.out.String(), "Blocking graceful shutdown for 30s"); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no blocking log line:\n%s", p.out.String())
		}
	}
	if code, _, b := httpDo(t, "POST", base+"/v1.0/state/statestore", `[{"key":"late","value":1}]`); code != 204 {
		t.Fatalf("save while blocked: %d %s", code, b)
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	if code := p.wait(t); code != 1 {
		t.Fatalf("second signal while blocked: exit %d, want 1", code)
	}
}

func TestWaitFlag(t *testing.T) {
	s := testutil.Start(t, testutil.Options{})
	p := startProc(t, []string{"--wait", "--dapr-http-port", strconv.Itoa(s.HTTPPort)}, nil)
	if code := p.wait(t); code != 0 {
		t.Fatalf("--wait against a ready sidecar: exit %d", code)
	}
}

// TestGRPCForcedShutdown: a gRPC Shutdown with dapr-force-shutdown: true
// answers OK and the process exits 1 at once (daprd 1.18), keeping what was
// acknowledged before.
func TestGRPCForcedShutdown(t *testing.T) {
	dir := t.TempDir()
	s := testutil.Start(t, testutil.Options{AppID: "forceapp", DataDir: dir})
	if code, _, b := httpDo(t, "POST", s.URL("/v1.0/state/statestore"), `[{"key":"kept","value":7}]`); code != 204 {
		t.Fatalf("save: %d %s", code, b)
	}
	conn, err := grpc.NewClient(s.GRPCAddr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ctx = metadata.AppendToOutgoingContext(ctx, "dapr-force-shutdown", "true")
	if _, err := runtimev1pb.NewDaprClient(conn).Shutdown(ctx, &runtimev1pb.ShutdownRequest{}); err != nil {
		t.Fatal(err)
	}
	if code := s.Wait(10 * time.Second); code != 1 {
		t.Fatalf("exit %d after forced shutdown, want 1", code)
	}
	s2 := testutil.Start(t, testutil.Options{AppID: "forceapp", DataDir: dir})
	if code, _, b := httpDo(t, "GET", s2.URL("/v1.0/state/statestore/kept"), ""); code != 200 || b != "7" {
		t.Fatalf("after forced exit: %d %q", code, b)
	}
}

// TestHTTPForcedShutdown: POST /v1.0/shutdown with dapr-force-shutdown: true
// answers 204 and the process exits 1 at once (daprd 1.18,
// pkg/api/http/shutdown.go), keeping what was acknowledged before.
func TestHTTPForcedShutdown(t *testing.T) {
	dir := t.TempDir()
	s := testutil.Start(t, testutil.Options{AppID: "forcehttp", DataDir: dir})
	if code, _, b := httpDo(t, "POST", s.URL("/v1.0/state/statestore"), `[{"key":"kept","value":7}]`); code != 204 {
		t.Fatalf("save: %d %s", code, b)
	}
	if code, _, b := httpDo(t, "POST", s.URL("/v1.0/shutdown"), "", "dapr-force-shutdown", "True"); code != 204 || b != "" {
		t.Fatalf("forced shutdown: %d %q", code, b)
	}
	if code := s.Wait(10 * time.Second); code != 1 {
		t.Fatalf("exit %d after forced shutdown, want 1", code)
	}
	s2 := testutil.Start(t, testutil.Options{AppID: "forcehttp", DataDir: dir})
	if code, _, b := httpDo(t, "GET", s2.URL("/v1.0/state/statestore/kept"), ""); code != 200 || b != "7" {
		t.Fatalf("after forced exit: %d %q", code, b)
	}
}
