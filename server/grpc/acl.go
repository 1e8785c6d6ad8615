package grpcserver

import (
	"net/http"
	"strings"
)

// APIRule is one Configuration spec.api allowed/denied entry. Only rules
// with Protocol "grpc" apply to this server (daprd compares it exactly).
type APIRule struct {
	Name     string // e.g. "state"
	Version  string // e.g. "v1", "v1alpha1"
	Protocol string // "grpc" or "http"
}

// daprRuntimePrefix selects the methods the access lists apply to.
const daprRuntimePrefix = "/dapr.proto.runtime."

// endpoints maps "<name>.<version>" to the gRPC methods of that API group,
// copied from daprd (pkg/api/grpc/endpoints.go, v1.18.2).
var endpoints = map[string][]string{
	"invoke.v1": {
		"/dapr.proto.runtime.v1.Dapr/InvokeService",
	},
	"state.v1": {
		"/dapr.proto.runtime.v1.Dapr/GetState",
		"/dapr.proto.runtime.v1.Dapr/GetBulkState",
		"/dapr.proto.runtime.v1.Dapr/SaveState",
		"/dapr.proto.runtime.v1.Dapr/DeleteState",
		"/dapr.proto.runtime.v1.Dapr/DeleteBulkState",
		"/dapr.proto.runtime.v1.Dapr/ExecuteStateTransaction",
	},
	"state.v1alpha1": {
		"/dapr.proto.runtime.v1.Dapr/QueryStateAlpha1",
	},
	"publish.v1": {
		"/dapr.proto.runtime.v1.Dapr/PublishEvent",
		"/dapr.proto.runtime.v1.Dapr/BulkPublishEvent",
	},
	"publish.v1alpha1": {
		"/dapr.proto.runtime.v1.Dapr/BulkPublishEventAlpha1",
	},
	"bindings.v1": {
		"/dapr.proto.runtime.v1.Dapr/InvokeBinding",
	},
	"secrets.v1": {
		"/dapr.proto.runtime.v1.Dapr/GetSecret",
		"/dapr.proto.runtime.v1.Dapr/GetBulkSecret",
	},
	"actors.v1": {
		"/dapr.proto.runtime.v1.Dapr/RegisterActorTimer",
		"/dapr.proto.runtime.v1.Dapr/UnregisterActorTimer",
		"/dapr.proto.runtime.v1.Dapr/RegisterActorReminder",
		"/dapr.proto.runtime.v1.Dapr/GetActorReminder",
		"/dapr.proto.runtime.v1.Dapr/UnregisterActorReminder",
		"/dapr.proto.runtime.v1.Dapr/UnregisterActorRemindersByType",
		"/dapr.proto.runtime.v1.Dapr/ListActorReminders",
		"/dapr.proto.runtime.v1.Dapr/GetActorState",
		"/dapr.proto.runtime.v1.Dapr/ExecuteActorStateTransaction",
		"/dapr.proto.runtime.v1.Dapr/InvokeActor",
	},
	"actors.v1alpha1": {
		"/dapr.proto.runtime.v1.Dapr/SubscribeActorEventsAlpha1",
	},
	"metadata.v1": {
		"/dapr.proto.runtime.v1.Dapr/GetMetadata",
		"/dapr.proto.runtime.v1.Dapr/SetMetadata",
	},
	"configuration.v1alpha1": {
		"/dapr.proto.runtime.v1.Dapr/GetConfigurationAlpha1",
		"/dapr.proto.runtime.v1.Dapr/SubscribeConfigurationAlpha1",
		"/dapr.proto.runtime.v1.Dapr/UnsubscribeConfigurationAlpha1",
	},
	"configuration.v1": {
		"/dapr.proto.runtime.v1.Dapr/GetConfiguration",
		"/dapr.proto.runtime.v1.Dapr/SubscribeConfiguration",
		"/dapr.proto.runtime.v1.Dapr/UnsubscribeConfiguration",
	},
	"lock.v1alpha1": {
		"/dapr.proto.runtime.v1.Dapr/TryLockAlpha1",
	},
	"unlock.v1alpha1": {
		"/dapr.proto.runtime.v1.Dapr/UnlockAlpha1",
	},
	"subtlecrypto.v1alpha1": {
		"/dapr.proto.runtime.v1.Dapr/SubtleGetKeyAlpha1",
		"/dapr.proto.runtime.v1.Dapr/SubtleEncryptAlpha1",
		"/dapr.proto.runtime.v1.Dapr/SubtleDecryptAlpha1",
		"/dapr.proto.runtime.v1.Dapr/SubtleSignAlpha1",
		"/dapr.proto.runtime.v1.Dapr/SubtleVerifyAlpha1",
		"/dapr.proto.runtime.v1.Dapr/SubtleWrapKeyAlpha1",
		"/dapr.proto.runtime.v1.Dapr/SubtleUnwrapKeyAlpha1",
	},
	"crypto.v1alpha1": {
		"/dapr.proto.runtime.v1.Dapr/EncryptAlpha1",
		"/dapr.proto.runtime.v1.Dapr/DecryptAlpha1",
	},
	"workflows.v1alpha1": {
		"/dapr.proto.runtime.v1.Dapr/StartWorkflowAlpha1",
		"/dapr.proto.runtime.v1.Dapr/GetWorkflowAlpha1",
		"/dapr.proto.runtime.v1.Dapr/TerminateWorkflowAlpha1",
		"/dapr.proto.runtime.v1.Dapr/RaiseEventWorkflowAlpha1",
		"/dapr.proto.runtime.v1.Dapr/PurgeWorkflowAlpha1",
		"/dapr.proto.runtime.v1.Dapr/PauseWorkflowAlpha1",
		"/dapr.proto.runtime.v1.Dapr/ResumeWorkflowAlpha1",
	},
	"workflows.v1beta1": {
		"/dapr.proto.runtime.v1.Dapr/StartWorkflowBeta1",
		"/dapr.proto.runtime.v1.Dapr/GetWorkflowBeta1",
		"/dapr.proto.runtime.v1.Dapr/TerminateWorkflowBeta1",
		"/dapr.proto.runtime.v1.Dapr/RaiseEventWorkflowBeta1",
		"/dapr.proto.runtime.v1.Dapr/PurgeWorkflowBeta1",
		"/dapr.proto.runtime.v1.Dapr/PauseWorkflowBeta1",
		"/dapr.proto.runtime.v1.Dapr/ResumeWorkflowBeta1",
	},
	"jobs.v1alpha1": {
		"/dapr.proto.runtime.v1.Dapr/ScheduleJobAlpha1",
		"/dapr.proto.runtime.v1.Dapr/DeleteJobAlpha1",
		"/dapr.proto.runtime.v1.Dapr/GetJobAlpha1",
		"/dapr.proto.runtime.v1.Dapr/DeleteJobsByPrefixAlpha1",
		"/dapr.proto.runtime.v1.Dapr/ListJobsAlpha1",
	},
	"jobs.v1": {
		"/dapr.proto.runtime.v1.Dapr/ScheduleJob",
		"/dapr.proto.runtime.v1.Dapr/DeleteJob",
		"/dapr.proto.runtime.v1.Dapr/GetJob",
		"/dapr.proto.runtime.v1.Dapr/DeleteJobsByPrefix",
		"/dapr.proto.runtime.v1.Dapr/ListJobs",
	},
	"shutdown.v1": {
		"/dapr.proto.runtime.v1.Dapr/Shutdown",
	},
	"subscribe.v1alpha1": {
		"/dapr.proto.runtime.v1.Dapr/SubscribeTopicEventsAlpha1",
	},
	"conversation.v1alpha1": {
		"/dapr.proto.runtime.v1.Dapr/ConverseAlpha1",
	},
	"conversation.v1alpha2": {
		"/dapr.proto.runtime.v1.Dapr/ConverseAlpha2",
	},
}

// acl is the compiled allow/deny lists; immutable after newACL.
type acl struct {
	allowed map[string]struct{} // full method names; empty = all allowed
	denied  map[string]struct{} // full method names
}

// newACL compiles the lists; it returns nil when no gRPC rule applies.
func newACL(allowed, denied []APIRule) *acl {
	a := &acl{allowed: ruleMethods(allowed), denied: ruleMethods(denied)}
	if len(a.allowed) == 0 && len(a.denied) == 0 {
		return nil
	}
	return a
}

func ruleMethods(rules []APIRule) map[string]struct{} {
	out := map[string]struct{}{}
	for _, r := range rules {
		if r.Protocol != "grpc" {
			continue
		}
		for _, m := range endpoints[r.Name+"."+r.Version] {
			out[m] = struct{}{}
		}
	}
	return out
}

// check returns daprd's error for a method outside the lists: the
// 501-derived status (Unimplemented "Not Implemented").
func (a *acl) check(method string) error {
	if !strings.HasPrefix(method, daprRuntimePrefix) {
		return nil
	}
	if _, ok := a.denied[method]; ok {
		return httpStatusError(http.StatusNotImplemented, "requested endpoint is not available")
	}
	if len(a.allowed) > 0 {
		if _, ok := a.allowed[method]; !ok {
			return httpStatusError(http.StatusNotImplemented, "requested endpoint is not available")
		}
	}
	return nil
}
