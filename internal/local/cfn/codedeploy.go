package cfn

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	awslambda "github.com/aws/aws-sdk-go-v2/service/lambda"
)

// What SAM's DeploymentPreference makes, run as CodeDeploy runs it, all at
// once: an AWS::Lambda::Alias whose UpdatePolicy is
// CodeDeployLambdaAliasUpdate moves to its new version through a
// deployment of its AWS::CodeDeploy::DeploymentGroup. The
// BeforeAllowTrafficHook (PreTraffic) is invoked with
// {"DeploymentId", "LifecycleEventHookExecutionId"} and reports through
// codedeploy:PutLifecycleEventHookExecutionStatus, which the engine's
// Handler answers (the local AWS has no CodeDeploy); Succeeded moves the
// alias, Failed fails the alias's update, so the stack rolls back with the
// alias on its old version. Then the AfterAllowTrafficHook (PostTraffic)
// likewise. The deployment group's DeploymentConfigName (canary, linear)
// is not followed: traffic moves all at once; its alarms are recorded,
// not watched.

// codeDeployTarget is the prefix of X-Amz-Target in CodeDeploy's JSON
// protocol (awsJson1_1).
const codeDeployTarget = "CodeDeploy_20141006."

// hookRun is a lifecycle event hook that a deployment invoked and waits
// to hear from.
type hookRun struct {
	deploymentID string
	app, group   string // the deployment's application and deployment group
	status       string // "" until the hook reports
}

// aliasDeployment is what an alias's CodeDeployLambdaAliasUpdate names,
// evaluated.
type aliasDeployment struct {
	app, group string
	pre, post  string // the hooks' function names or ARNs; "" for none
}

// codeDeployUpdate reads an evaluated UpdatePolicy's
// CodeDeployLambdaAliasUpdate; nil when it has none.
func codeDeployUpdate(policy map[string]any) *aliasDeployment {
	cd, ok := policy["CodeDeployLambdaAliasUpdate"].(map[string]any)
	if !ok {
		return nil
	}
	return &aliasDeployment{
		app:   toStringOr(cd["ApplicationName"], ""),
		group: toStringOr(cd["DeploymentGroupName"], ""),
		pre:   toStringOr(cd["BeforeAllowTrafficHook"], ""),
		post:  toStringOr(cd["AfterAllowTrafficHook"], ""),
	}
}

// deployAlias runs a CodeDeploy deployment that moves alias from version
// from to version to: the PreTraffic hook, the shift (all at once), the
// PostTraffic hook. A hook that reports Failed, fails or reports nothing
// fails the deployment, and so the alias's update.
func (e *Engine) deployAlias(ctx context.Context, o *op, alias, from, to string, d *aliasDeployment) error {
	id := "d-" + randomString(upperAlnum, 9)
	config, alarms := e.deploymentGroup(o.stackID, d.group)
	say := func(format string, args ...any) {
		msg := fmt.Sprintf(format, args...)
		if o.progress != nil {
			o.progress(msg)
		}
		if e.opts.Log != nil {
			fmt.Fprintf(e.opts.Log, "stack %s: %s\n", o.stackName, msg)
		}
	}
	how := "all at once"
	if config != "" && config != "CodeDeployDefault.LambdaAllAtOnce" {
		how = fmt.Sprintf("all at once, where AWS shifts by %s", config)
	}
	say("CodeDeploy deployment %s of %s (application %s, deployment group %s): version %s to %s, locally %s", id, alias, d.app, d.group, from, to, how)
	if len(alarms) > 0 {
		say("CodeDeploy deployment %s: alarms %s are recorded, not watched locally", id, strings.Join(alarms, ", "))
	}
	if d.pre != "" {
		if err := e.runHook(ctx, id, d, "BeforeAllowTraffic", d.pre); err != nil {
			return reasonf("CodeDeploy deployment %s failed: %v; traffic stays on version %s", id, err, from)
		}
		say("CodeDeploy deployment %s: BeforeAllowTraffic hook %s Succeeded", id, d.pre)
	}
	say("CodeDeploy deployment %s: all traffic of %s shifted to version %s", id, alias, to)
	if d.post != "" {
		if err := e.runHook(ctx, id, d, "AfterAllowTraffic", d.post); err != nil {
			return reasonf("CodeDeploy deployment %s failed: %v; traffic rolled back to version %s", id, err, from)
		}
		say("CodeDeploy deployment %s: AfterAllowTraffic hook %s Succeeded", id, d.post)
	}
	return nil
}

// deploymentGroup returns the DeploymentConfigName and the alarms of the
// stack's deployment group named group.
func (e *Engine) deploymentGroup(stackID, group string) (config string, alarms []string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	st := e.stacks[stackID]
	if st == nil {
		return "", nil
	}
	for _, r := range st.resources {
		if r.Type != "AWS::CodeDeploy::DeploymentGroup" || r.Physical != group {
			continue
		}
		config = toStringOr(r.Props["DeploymentConfigName"], "")
		if ac, ok := r.Props["AlarmConfiguration"].(map[string]any); ok {
			list, _ := ac["Alarms"].([]any)
			for _, a := range list {
				if m, ok := a.(map[string]any); ok {
					alarms = append(alarms, toStringOr(m["Name"], ""))
				}
			}
		}
	}
	return config, alarms
}

// runHook invokes a lifecycle event hook function of deployment id and
// returns nil once it has reported Succeeded.
func (e *Engine) runHook(ctx context.Context, id string, d *aliasDeployment, event, function string) error {
	exec := newUUID()
	e.mu.Lock()
	e.hooks[exec] = &hookRun{deploymentID: id, app: d.app, group: d.group}
	target := e.functionTargetLocked(function)
	e.mu.Unlock()
	defer func() {
		e.mu.Lock()
		delete(e.hooks, exec)
		e.mu.Unlock()
	}()
	payload, _ := json.Marshal(map[string]string{"DeploymentId": id, "LifecycleEventHookExecutionId": exec})
	out, err := e.lambda.Invoke(ctx, &awslambda.InvokeInput{FunctionName: aws.String(target), Payload: payload})
	e.mu.Lock()
	status := e.hooks[exec].status
	e.mu.Unlock()
	switch {
	case status == "Succeeded":
		return nil
	case status == "Failed":
		return fmt.Errorf("the %s hook %s reported Failed", event, function)
	case err != nil:
		return fmt.Errorf("the %s hook %s could not be invoked: %s", event, function, awsMessage("Lambda", err))
	case out.FunctionError != nil:
		return fmt.Errorf("the %s hook %s failed (%s) without reporting a status: %s", event, function, aws.ToString(out.FunctionError), truncateText(string(out.Payload), 300))
	}
	return fmt.Errorf("the %s hook %s returned without reporting a status through codedeploy:PutLifecycleEventHookExecutionStatus (CodeDeploy would wait an hour for it, then fail)", event, function)
}

// Deployment returns the application and deployment group of the
// CodeDeploy deployment id while one of its hooks runs (IAM authorizes a
// hook's report on the deployment group).
func (e *Engine) Deployment(id string) (application, group string, ok bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, h := range e.hooks {
		if h.deploymentID == id {
			return h.app, h.group, true
		}
	}
	return "", "", false
}

// truncateText returns s cut to at most n bytes, marked when cut.
func truncateText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// codeDeployError is an error of CodeDeploy's JSON protocol.
type codeDeployError struct {
	Type    string `json:"__type"`
	Message string `json:"message"`
}

// serveCodeDeploy answers CodeDeploy's JSON protocol for what hooks call:
// PutLifecycleEventHookExecutionStatus.
func (e *Engine) serveCodeDeploy(w http.ResponseWriter, r *http.Request) {
	answer := func(status int, v any) {
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(v)
	}
	fail := func(typ, format string, args ...any) {
		answer(http.StatusBadRequest, codeDeployError{Type: typ, Message: fmt.Sprintf(format, args...)})
	}
	op := strings.TrimPrefix(r.Header.Get("X-Amz-Target"), codeDeployTarget)
	if op != "PutLifecycleEventHookExecutionStatus" {
		fail("UnknownOperationException", "stackflow's local CodeDeploy serves PutLifecycleEventHookExecutionStatus only (what PreTraffic and PostTraffic hooks call), not %s", op)
		return
	}
	var in struct {
		DeploymentID string `json:"deploymentId"`
		ExecutionID  string `json:"lifecycleEventHookExecutionId"`
		Status       string `json:"status"`
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil || json.Unmarshal(body, &in) != nil {
		fail("SerializationException", "the request body is not the JSON of a PutLifecycleEventHookExecutionStatus request")
		return
	}
	if !slices.Contains([]string{"Succeeded", "Failed"}, in.Status) {
		fail("InvalidLifecycleEventHookExecutionStatusException", "The result of a Lambda validation function that verifies a lifecycle event is invalid. It should return Succeeded or Failed, not %q.", in.Status)
		return
	}
	if in.DeploymentID == "" {
		fail("DeploymentIdRequiredException", "At least one deployment ID must be specified.")
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	run := e.hooks[in.ExecutionID]
	switch {
	case run == nil:
		fail("InvalidLifecycleEventHookExecutionIdException", "A lifecycle event hook is invalid: no hook of a local deployment waits for %q (it may have completed already).", in.ExecutionID)
		return
	case run.deploymentID != in.DeploymentID:
		fail("DeploymentDoesNotExistException", "The deployment %s does not exist or is not the one of lifecycle event hook execution %s.", in.DeploymentID, in.ExecutionID)
		return
	case run.status != "":
		fail("LifecycleEventAlreadyCompletedException", "An attempt to return the status of an already completed lifecycle event occurred.")
		return
	}
	run.status = in.Status
	answer(http.StatusOK, map[string]string{"lifecycleEventHookExecutionId": in.ExecutionID})
}
