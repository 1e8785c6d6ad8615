package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	runtimev1pb "github.com/dapr/dapr/pkg/proto/runtime/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/statecar/statecar/internal/testutil"
)

// TestLockAPI runs the Distributed Lock API (other-building-blocks.md §11)
// on the binary over lock.redis: try-lock and unlock with every outcome,
// daprd's validation order and errors, the stored keys under the
// keyPrefix strategies, expiry, metadata, error-code metrics, the gRPC
// RPCs, and errors (not a crash) while Redis is down.
func TestLockAPI(t *testing.T) {
	r, rc := startRedisWithClient(t)
	ctx := context.Background()

	dir := t.TempDir()
	testutil.WriteComponent(t, dir, "lockstore", "lock.redis", map[string]string{"redisHost": r.Addr, "redisMaxRetries": "0"})
	testutil.WriteComponent(t, dir, "byname", "lock.redis", map[string]string{"redisHost": r.Addr, "keyPrefix": "Name"})
	testutil.WriteComponent(t, dir, "fixed", "lock.redis", map[string]string{"redisHost": r.Addr, "keyPrefix": "shared"})
	conf := testutil.WriteConfiguration(t, t.TempDir(), "c", "metrics:\n  recordErrorCodes: true")
	sc := testutil.Start(t, testutil.Options{AppID: "lockapp", ResourcesDir: dir, ConfigFile: conf})
	tg := target{addr: sc.Addr(), sc: sc}
	ct := "Content-Type: application/json"
	lock := func(store, body string, status int, resp string) step {
		return req("POST", "/v1.0-alpha1/lock/"+store, body, status, resp, ct)
	}
	unlock := func(store, body string, status int, resp string) step {
		return req("POST", "/v1.0-alpha1/unlock/"+store, body, status, resp, ct)
	}
	runSteps(t, tg, nil, []step{
		lock("lockstore", `{"resourceId":"r1","lockOwner":"o1","expiryInSeconds":30}`, 200, `{"success":true}`),
		lock("lockstore", `{"resourceId":"r1","lockOwner":"o2","expiryInSeconds":30}`, 200, `{"success":false}`),
		// protojson accepts the proto field names and an int32 as a string.
		lock("lockstore", `{"resource_id":"r1","lock_owner":"o3","expiry_in_seconds":"30","storeName":"ignored","extra":1}`, 200, `{"success":false}`),
		unlock("lockstore", `{"resourceId":"r1","lockOwner":"o2"}`, 200, `{"status":2}`),
		unlock("lockstore", `{"resourceId":"r1","lockOwner":"o1"}`, 200, `{"status":0}`),
		unlock("lockstore", `{"resourceId":"r1","lockOwner":"o1"}`, 200, `{"status":1}`),
		lock("lockstore", `{"resourceId":"r1","lockOwner":"o2","expiryInSeconds":30}`, 200, `{"success":true}`),

		// Validation, in daprd's order: the expiry first.
		lock("lockstore", ``, 400, `{"errorCode":"ERR_MALFORMED_REQUEST","message":"ExpiryInSeconds is not positive in lock store lockstore"}`),
		lock("nope", `{"expiryInSeconds":-1}`, 400, `{"errorCode":"ERR_MALFORMED_REQUEST","message":"ExpiryInSeconds is not positive in lock store nope"}`),
		lock("nope", `{"expiryInSeconds":5}`, 400, `{"errorCode":"ERR_MALFORMED_REQUEST","message":"ResourceId is empty in lock store nope"}`),
		lock("nope", `{"expiryInSeconds":5,"resourceId":"r"}`, 400, `{"errorCode":"ERR_MALFORMED_REQUEST","message":"LockOwner is empty in lock store nope"}`),
		lock("nope", `{"expiryInSeconds":5,"resourceId":"r","lockOwner":"o"}`, 400, `{"errorCode":"ERR_LOCK_STORE_NOT_FOUND","message":"lock store nope not found"}`),
		lock("lockstore", `{"expiryInSeconds":5,"resourceId":"a||b","lockOwner":"o"}`, 500,
			`{"errorCode":"ERR_TRY_LOCK","message":"failed to try acquiring lock: input key/keyPrefix 'a||b' can't contain '||'"}`),
		unlock("lockstore", ``, 400, `{"errorCode":"ERR_MALFORMED_REQUEST","message":"ResourceId is empty in lock store lockstore"}`),
		unlock("lockstore", `{"resourceId":"r"}`, 400, `{"errorCode":"ERR_MALFORMED_REQUEST","message":"LockOwner is empty in lock store lockstore"}`),
		unlock("nope", `{"resourceId":"r","lockOwner":"o"}`, 400, `{"errorCode":"ERR_LOCK_STORE_NOT_FOUND","message":"lock store nope not found"}`),
		unlock("lockstore", `{"resourceId":"a||b","lockOwner":"o"}`, 500,
			`{"errorCode":"ERR_UNLOCK","message":"failed to release lock: input key/keyPrefix 'a||b' can't contain '||'"}`),
		lock("lockstore", `{"expiryInSeconds":99999999999}`, 400, "").any(),
		req("PUT", "/v1.0-alpha1/lock/lockstore", `{}`, 404,
			`{"errorCode":"ERR_DIRECT_INVOKE","message":"failed getting app id either from the URL path or the header dapr-app-id"}`),
		req("POST", "/v1.0/lock/lockstore", `{}`, 404,
			`{"errorCode":"ERR_DIRECT_INVOKE","message":"failed getting app id either from the URL path or the header dapr-app-id"}`),

		// The other strategies.
		lock("byname", `{"resourceId":"r1","lockOwner":"o1","expiryInSeconds":30}`, 200, `{"success":true}`),
		lock("fixed", `{"resourceId":"r1","lockOwner":"o1","expiryInSeconds":30}`, 200, `{"success":true}`),
	})
	bad, err := rawDo(sc.Addr(), "POST", "/v1.0-alpha1/lock/lockstore", nil, "{")
	if err != nil {
		t.Fatal(err)
	}
	if bad.Status != 400 || !strings.HasPrefix(string(bad.Body), `{"errorCode":"ERR_MALFORMED_REQUEST","message":"failed deserializing HTTP body: proto:`) {
		t.Errorf("bad body: %d %s", bad.Status, bad.Body)
	}

	// The stored keys are daprd's: lock||<app id>||r1 by default,
	// lock||<store>||r1 for keyPrefix name, lock||shared||r1 for a fixed
	// prefix, each holding its owner with the expiry as a TTL.
	for k, owner := range map[string]string{"lock||lockapp||r1": "o2", "lock||byname||r1": "o1", "lock||shared||r1": "o1"} {
		if v := rc.Get(ctx, k).Val(); v != owner {
			t.Errorf("GET %s = %q, want %q", k, v, owner)
		}
		if ttl := rc.TTL(ctx, k).Val(); ttl <= 0 || ttl > 30*time.Second {
			t.Errorf("TTL %s = %v", k, ttl)
		}
	}

	// Expiry: a 1-second lock lapses and another owner takes it.
	runSteps(t, tg, nil, []step{
		lock("lockstore", `{"resourceId":"short","lockOwner":"a","expiryInSeconds":1}`, 200, `{"success":true}`),
		lock("lockstore", `{"resourceId":"short","lockOwner":"b","expiryInSeconds":1}`, 200, `{"success":false}`),
	})
	eventually := lock("lockstore", `{"resourceId":"short","lockOwner":"b","expiryInSeconds":30}`, 200, `{"success":true}`)
	eventually.Eventually = true
	runSteps(t, tg, nil, []step{eventually})

	grpcLock(t, sc)

	md, err := rawDo(sc.Addr(), "GET", "/v1.0/metadata", nil, "")
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"name":"lockstore","type":"lock.redis","version":"v1"}`; !strings.Contains(string(md.Body), want) {
		t.Errorf("metadata lacks %s:\n%s", want, md.Body)
	}
	// HTTP and gRPC errors count alike: 8 + 2 malformed requests, 2 + 1
	// unknown stores, 1 + 1 unlock failures.
	metrics := scrape(t, sc)
	for _, want := range []string{
		`dapr_error_code_total{app_id="lockapp",category="lock",error_code="ERR_LOCK_STORE_NOT_FOUND"} 3`,
		`dapr_error_code_total{app_id="lockapp",category="lock",error_code="ERR_TRY_LOCK"} 1`,
		`dapr_error_code_total{app_id="lockapp",category="lock",error_code="ERR_UNLOCK"} 2`,
		`dapr_error_code_total{app_id="lockapp",category="common",error_code="ERR_MALFORMED_REQUEST"} 10`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %s:\n%s", want, grepLines(metrics, "dapr_error_code_total"))
		}
	}

	// Redis down: the API answers ERR_TRY_LOCK / ERR_UNLOCK and the
	// sidecar lives on.
	r.Close()
	for _, c := range []struct{ path, body, prefix string }{
		{"/v1.0-alpha1/lock/lockstore", `{"resourceId":"x","lockOwner":"o","expiryInSeconds":5}`, `{"errorCode":"ERR_TRY_LOCK","message":"failed to try acquiring lock: `},
		{"/v1.0-alpha1/unlock/lockstore", `{"resourceId":"x","lockOwner":"o"}`, `{"errorCode":"ERR_UNLOCK","message":"failed to release lock: `},
	} {
		resp, err := rawDo(sc.Addr(), "POST", c.path, nil, c.body)
		if err != nil {
			t.Fatal(err)
		}
		if resp.Status != 500 || !strings.HasPrefix(string(resp.Body), c.prefix) {
			t.Errorf("%s with Redis down: %d %s", c.path, resp.Status, resp.Body)
		}
	}
	if code := sc.Stop(); code != 0 {
		t.Errorf("exit code %d; output:\n%s", code, sc.Output())
	}
}

// grpcLock runs TryLockAlpha1 and UnlockAlpha1 on a sidecar whose
// "lockstore" is up.
func grpcLock(t *testing.T, sc *testutil.Sidecar) {
	t.Helper()
	conn, err := grpc.NewClient(sc.GRPCAddr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	c := runtimev1pb.NewDaprClient(conn)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tl := func(owner string) (*runtimev1pb.TryLockResponse, error) {
		return c.TryLockAlpha1(ctx, &runtimev1pb.TryLockRequest{StoreName: "lockstore", ResourceId: "g", LockOwner: owner, ExpiryInSeconds: 30})
	}
	if got, err := tl("a"); err != nil || !got.GetSuccess() {
		t.Errorf("TryLockAlpha1: %v %v", got, err)
	}
	if got, err := tl("b"); err != nil || got.GetSuccess() {
		t.Errorf("TryLockAlpha1 of a held lock: %v %v", got, err)
	}
	ul := func(owner string) (*runtimev1pb.UnlockResponse, error) {
		return c.UnlockAlpha1(ctx, &runtimev1pb.UnlockRequest{StoreName: "lockstore", ResourceId: "g", LockOwner: owner})
	}
	for _, w := range []struct {
		owner string
		want  runtimev1pb.UnlockResponse_Status
	}{{"b", runtimev1pb.UnlockResponse_LOCK_BELONGS_TO_OTHERS}, {"a", runtimev1pb.UnlockResponse_SUCCESS}, {"a", runtimev1pb.UnlockResponse_LOCK_DOES_NOT_EXIST}} {
		if got, err := ul(w.owner); err != nil || got.GetStatus() != w.want {
			t.Errorf("UnlockAlpha1 by %s: %v %v, want %v", w.owner, got, err, w.want)
		}
	}
	for _, e := range []struct {
		err  error
		code codes.Code
		msg  string
	}{
		{second(c.TryLockAlpha1(ctx, &runtimev1pb.TryLockRequest{StoreName: "lockstore", ResourceId: "g", LockOwner: "a"})), codes.InvalidArgument, "ExpiryInSeconds is not positive in lock store lockstore"},
		{second(c.TryLockAlpha1(ctx, &runtimev1pb.TryLockRequest{StoreName: "nope", ResourceId: "g", LockOwner: "a", ExpiryInSeconds: 1})), codes.InvalidArgument, "lock store nope not found"},
		{second(c.UnlockAlpha1(ctx, &runtimev1pb.UnlockRequest{StoreName: "lockstore", LockOwner: "a"})), codes.InvalidArgument, "ResourceId is empty in lock store lockstore"},
		{second(c.UnlockAlpha1(ctx, &runtimev1pb.UnlockRequest{StoreName: "lockstore", ResourceId: "x||y", LockOwner: "a"})), codes.Internal, "failed to release lock: input key/keyPrefix 'x||y' can't contain '||'"},
	} {
		// daprd's lock errors are messages.APIError: no status details.
		if st, _ := status.FromError(e.err); st.Code() != e.code || st.Message() != e.msg || len(st.Details()) != 0 {
			t.Errorf("gRPC error %v (details %v), want %v %q without details", e.err, st.Details(), e.code, e.msg)
		}
	}
}

func second[T any](_ T, err error) error { return err }

// TestLockAPIAbsent: without a lock store both routes answer 500
// ERR_LOCK_STORE_NOT_CONFIGURED (gRPC FailedPrecondition), except that a
// try-lock without a positive expiry is rejected first, as in daprd.
func TestLockAPIAbsent(t *testing.T) {
	sc := testutil.Start(t, testutil.Options{})
	notConfigured := `{"errorCode":"ERR_LOCK_STORE_NOT_CONFIGURED","message":"lock store is not configured"}`
	runSteps(t, target{addr: sc.Addr(), sc: sc}, nil, []step{
		req("POST", "/v1.0-alpha1/lock/l", `{"resourceId":"r","lockOwner":"o","expiryInSeconds":5}`, 500, notConfigured),
		req("POST", "/v1.0-alpha1/lock/l", `{}`, 400, `{"errorCode":"ERR_MALFORMED_REQUEST","message":"ExpiryInSeconds is not positive in lock store l"}`),
		req("POST", "/v1.0-alpha1/unlock/l", ``, 500, notConfigured),
	})
	conn, err := grpc.NewClient(sc.GRPCAddr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_, err = runtimev1pb.NewDaprClient(conn).UnlockAlpha1(context.Background(), &runtimev1pb.UnlockRequest{StoreName: "l", ResourceId: "r", LockOwner: "o"})
	if st, _ := status.FromError(err); st.Code() != codes.FailedPrecondition || st.Message() != "lock store is not configured" {
		t.Errorf("UnlockAlpha1 without stores: %v", err)
	}
}
