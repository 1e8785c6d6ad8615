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

// TestActorsAbsent: statecar has no actor runtime, so every Actors API
// route answers as daprd without a placement address (400
// ERR_ACTOR_NO_PLACEMENT, gRPC Unavailable), after daprd's own checks on
// each route, in its order: the workflow runtime's reserved actor types,
// the JSON body (decoded into daprd's types, so the errors name them), the
// reminder or timer name.
func TestActorsAbsent(t *testing.T) {
	conf := testutil.WriteConfiguration(t, t.TempDir(), "c", "metrics:\n  recordErrorCodes: true")
	sc := testutil.Start(t, testutil.Options{AppID: "noactors", ConfigFile: conf})
	noPlacement := `{"errorCode":"ERR_ACTOR_NO_PLACEMENT","message":"placement service is not configured"}`
	reserved := `{"errorCode":"ERR_ACTOR_TYPE_RESERVED","message":"actor type \"dapr.internal.default.wf\" is reserved for the Dapr workflow runtime; direct actor API access is not permitted"}`
	malformed := func(msg string) string {
		return `{"errorCode":"ERR_MALFORMED_REQUEST","message":"failed deserializing HTTP body: ` + msg + `"}`
	}
	const a = "/v1.0/actors/Cart/c1"
	const internal = "/v1.0/actors/dapr.internal.default.wf/i1"
	runSteps(t, target{addr: sc.Addr(), sc: sc}, nil, []step{
		// Invocation asks for the router first: no other check.
		req("POST", a+"/method/add", `{"n":1}`, 400, noPlacement),
		req("GET", a+"/method/get", ``, 400, noPlacement),
		req("PUT", internal+"/method/x", `{bad`, 400, noPlacement),
		req("DELETE", a+"/method/x", ``, 400, noPlacement),

		req("GET", a+"/state/k", ``, 400, noPlacement),
		req("GET", internal+"/state/k", ``, 403, reserved),

		req("POST", a+"/state", `[{"operation":"upsert","request":{"key":"k","value":1}}]`, 400, noPlacement),
		req("PUT", a+"/state", `[]`, 400, noPlacement),
		req("POST", internal+"/state", `{bad`, 403, reserved),
		req("POST", a+"/state", ``, 400, malformed("EOF")),
		req("POST", a+"/state", `{}`, 400, malformed("json: cannot unmarshal object into Go value of type []api.TransactionalOperation")),
		req("POST", a+"/state", `[{"operation":5}]`, 400,
			malformed("json: cannot unmarshal number into Go struct field TransactionalOperation.operation of type api.OperationType")),

		req("POST", a+"/reminders/r1", `{"dueTime":"1s","period":"R2/PT1S","data":{"x":1}}`, 400, noPlacement),
		req("PUT", a+"/reminders/r1", `{}`, 400, noPlacement),
		req("POST", a+"/reminders/r1", `{"dueTime":5}`, 400,
			malformed("json: cannot unmarshal number into Go struct field .createReminderAlias.dueTime of type string")),
		req("POST", a+"/reminders/r1", `[]`, 400, malformed(`json: cannot unmarshal array into Go value of type struct { Data json.RawMessage \"json:\\\"data\\\"\"; FailurePolicy *common.JobFailurePolicy \"json:\\\"failure_policy,omitempty\\\"\"; *api.createReminderAlias }`)),
		req("POST", a+"/reminders/r1", ``, 400, malformed("EOF")),
		req("POST", a+"/reminders/bad%23name", `{}`, 400,
			`{"errorCode":"ERR_BAD_REQUEST","message":"invalid request: name contains forbidden character: \"bad#name\""}`),
		req("POST", internal+"/reminders/r1", ``, 403, reserved),
		req("GET", a+"/reminders/r1", ``, 400, noPlacement),
		req("DELETE", a+"/reminders/r1", ``, 400, noPlacement),
		req("DELETE", a+"/reminders/r1", `{bad`, 400, "").any(),
		req("DELETE", internal+"/reminders/r1", ``, 403, reserved),

		req("POST", a+"/timers/t1", `{"dueTime":"1s","callback":"tick"}`, 400, noPlacement),
		req("PUT", a+"/timers/t1", `{"callback":7}`, 400,
			malformed("json: cannot unmarshal number into Go struct field .createTimerAlias.callback of type string")),
		req("POST", a+"/timers/t%01", `{}`, 400,
			`{"errorCode":"ERR_BAD_REQUEST","message":"invalid request: name contains control character at position 1: \"t\\x01\""}`),
		req("DELETE", a+"/timers/t1", ``, 400, noPlacement),
		req("GET", internal+"/timers/t1", ``, 404,
			`{"errorCode":"ERR_DIRECT_INVOKE","message":"failed getting app id either from the URL path or the header dapr-app-id"}`),
	})

	conn, err := grpc.NewClient(sc.GRPCAddr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	c := runtimev1pb.NewDaprClient(conn)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	const wf = "dapr.internal.default.wf"
	for _, e := range []struct {
		name string
		err  error
		code codes.Code
	}{
		{"InvokeActor", second(c.InvokeActor(ctx, &runtimev1pb.InvokeActorRequest{ActorType: wf, ActorId: "1", Method: "m"})), codes.Unavailable},
		{"GetActorState", second(c.GetActorState(ctx, &runtimev1pb.GetActorStateRequest{ActorType: "Cart", ActorId: "1", Key: "k"})), codes.Unavailable},
		{"GetActorState internal", second(c.GetActorState(ctx, &runtimev1pb.GetActorStateRequest{ActorType: wf, ActorId: "1", Key: "k"})), codes.PermissionDenied},
		{"ExecuteActorStateTransaction", second(c.ExecuteActorStateTransaction(ctx, &runtimev1pb.ExecuteActorStateTransactionRequest{ActorType: "Cart", ActorId: "1"})), codes.Unavailable},
		{"RegisterActorTimer", second(c.RegisterActorTimer(ctx, &runtimev1pb.RegisterActorTimerRequest{ActorType: "Cart", ActorId: "1", Name: "t"})), codes.Unavailable},
		{"UnregisterActorTimer", second(c.UnregisterActorTimer(ctx, &runtimev1pb.UnregisterActorTimerRequest{ActorType: "Cart", ActorId: "1", Name: "t"})), codes.Unavailable},
		{"RegisterActorReminder", second(c.RegisterActorReminder(ctx, &runtimev1pb.RegisterActorReminderRequest{ActorType: wf, ActorId: "1", Name: "r"})), codes.PermissionDenied},
		{"UnregisterActorReminder", second(c.UnregisterActorReminder(ctx, &runtimev1pb.UnregisterActorReminderRequest{ActorType: "Cart", ActorId: "1", Name: "r"})), codes.Unavailable},
		{"GetActorReminder", second(c.GetActorReminder(ctx, &runtimev1pb.GetActorReminderRequest{ActorType: "Cart", ActorId: "1", Name: "r"})), codes.Unavailable},
		{"ListActorReminders", second(c.ListActorReminders(ctx, &runtimev1pb.ListActorRemindersRequest{ActorType: "Cart"})), codes.Unavailable},
		{"UnregisterActorRemindersByType", second(c.UnregisterActorRemindersByType(ctx, &runtimev1pb.UnregisterActorRemindersByTypeRequest{ActorType: "Cart"})), codes.Unavailable},
	} {
		want := "placement service is not configured"
		if e.code == codes.PermissionDenied {
			want = `actor type "dapr.internal.default.wf" is reserved for the Dapr workflow runtime; direct actor API access is not permitted`
		}
		if st, _ := status.FromError(e.err); st.Code() != e.code || st.Message() != want || len(st.Details()) != 0 {
			t.Errorf("%s: %v, want %v %q without details", e.name, e.err, e.code, want)
		}
	}
	metrics := scrape(t, sc)
	for _, want := range []string{
		`dapr_error_code_total{app_id="noactors",category="actor",error_code="ERR_ACTOR_NO_PLACEMENT"} 22`,
		`dapr_error_code_total{app_id="noactors",category="actor",error_code="ERR_ACTOR_TYPE_RESERVED"} 6`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %s:\n%s", want, grepLines(metrics, "dapr_error_code_total"))
		}
	}
}
