package cfn

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/scheduler"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/stackflow/stackflow/internal/local/events"
)

// eventSources is the engine's side of the event sources: the service of
// package internal/local/events that runs them (its lifetime is the
// engine's) and the clients of the services that hold them in kumo.
type eventSources struct {
	svc       *events.Service
	sqs       *sqs.Client
	sns       *sns.Client
	bridge    *eventbridge.Client
	scheduler *scheduler.Client
}

func newEventSources(cfg aws.Config, account string, opts Options, targets func(arn string) []string) (*eventSources, error) {
	eo := events.Options{AWS: cfg, AccountID: account, Clock: opts.EventClock, Log: opts.EventLog}
	if opts.IAM != nil {
		eo.Authorize = func(d events.Delivery) error {
			return opts.IAM.AllowDelivery(d.Service, d.Action, targets(d.Target), d.SourceARN, account, d.Role)
		}
	}
	svc, err := events.New(eo)
	if err != nil {
		return nil, err
	}
	return &eventSources{
		svc:       svc,
		sqs:       sqs.NewFromConfig(cfg),
		sns:       sns.NewFromConfig(cfg),
		bridge:    eventbridge.NewFromConfig(cfg),
		scheduler: scheduler.NewFromConfig(cfg),
	}, nil
}

// deliveryTargets are the ARNs whose resource policies may let a service
// deliver to arn: arn itself and, for a function, the ARNs of its
// versions and aliases this engine published, since an event source of
// an alias is recorded with its function's ARN (invokeARN) and the
// alias's permissions are its own.
func (e *Engine) deliveryTargets(arn string) []string {
	out := []string{arn}
	if !strings.HasPrefix(arn, "arn:aws:lambda:") {
		return out
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	for q := range e.qualified {
		if q[:strings.LastIndexByte(q, ':')] == arn {
			out = append(out, q)
		}
	}
	slices.Sort(out[1:])
	return out
}

// invokeARN is what an event source invokes for the function ARN arn: a
// version's or an alias's ARN this engine published is its function's
// unqualified ARN, since the local Lambda runs one version of a function
// and refuses qualifiers other than $LATEST (SAM points event sources at
// the alias of AutoPublishAlias); anything else is arn.
func (e *Engine) invokeARN(arn string) string {
	e.mu.Lock()
	defer e.mu.Unlock()
	if _, ok := e.qualified[arn]; ok {
		return arn[:strings.LastIndexByte(arn, ':')]
	}
	return arn
}

// alreadyExists is CloudFormation's reason for a named resource whose name
// is taken.
func alreadyExists(typ, name string) error {
	return reasonf("Resource of type '%s' with identifier '%s' already exists.", typ, name)
}

// jsonProp reads a property that CloudFormation takes as a JSON object or
// as a string of JSON (EventPattern, FilterPolicy, RedrivePolicy), as a
// string of JSON; "" when it is not given.
func jsonProp(name string, v any) (string, error) {
	switch x := v.(type) {
	case nil:
		return "", nil
	case string:
		return x, nil
	case map[string]any, []any:
		b, err := json.Marshal(x)
		if err != nil {
			return "", reasonf("%s: %v", name, err)
		}
		return string(b), nil
	}
	return "", reasonf("%s must be a JSON object", name)
}

// FireSchedule fires the scheduled rule (AWS::Events::Rule with a
// ScheduleExpression) or EventBridge Scheduler schedule
// (AWS::Scheduler::Schedule) that logicalID names in the stack stackName
// now, as its schedule would, whatever its State: a nightly job is
// rehearsed without waiting a night. A schedule's function is invoked
// synchronously, and its failure returned; a rule's targets get the event
// as on schedule. It returns what it fired, as "rule NAME" or "schedule
// GROUP/NAME".
func (e *Engine) FireSchedule(ctx context.Context, stackName, logicalID string) (string, error) {
	e.mu.Lock()
	st := e.findStack(stackName)
	var r *resource
	if st != nil {
		if res := st.resources[logicalID]; res != nil {
			r = res.clone()
		}
	}
	e.mu.Unlock()
	switch {
	case st == nil || st.Status == statusDeleteComplete:
		return "", fmt.Errorf("fire %s: no stack %s: give a stack's name as DescribeStacks lists it", logicalID, stackName)
	case r == nil || r.Physical == "":
		return "", fmt.Errorf("fire %s: the stack %s has no resource %s: give the logical ID of an AWS::Events::Rule with a ScheduleExpression or an AWS::Scheduler::Schedule (SAM names them after the function and its event: MyFunctionNightly)", logicalID, stackName, logicalID)
	}
	switch r.Type {
	case "AWS::Scheduler::Schedule":
		group := toStringOr(r.Props["GroupName"], "default")
		name := group + "/" + r.Physical
		if err := e.ev.svc.Fire(ctx, name); err != nil {
			return "", err
		}
		return "schedule " + name, nil
	case "AWS::Events::Rule":
		if toStringOr(r.Props["ScheduleExpression"], "") == "" {
			return "", fmt.Errorf("fire %s: the rule has an EventPattern, not a ScheduleExpression: send it a matching event (aws events put-events) instead", logicalID)
		}
		bus, name := ruleBusAndName(r.Physical)
		if err := e.ev.svc.FireRule(ctx, bus, name); err != nil {
			return "", err
		}
		return "rule " + name, nil
	}
	return "", fmt.Errorf("fire %s: it is an %s, not a schedule: give an AWS::Events::Rule with a ScheduleExpression or an AWS::Scheduler::Schedule", logicalID, r.Type)
}

// FirePath is where the engine's Handler fires a schedule now (a POST with
// the form fields StackName and LogicalResourceId, answered with JSON), for
// `stackflow local fire` to reach a running `stackflow local --serve`.
// FireRemote is its client.
const FirePath = "/stackflow/fire-schedule"

// fireAnswer is FirePath's answer: what was fired, or why nothing was.
type fireAnswer struct {
	Fired string `json:"fired,omitempty"`
	Error string `json:"error,omitempty"`
}

// serveFire serves FirePath.
func (e *Engine) serveFire(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	if r.Method != http.MethodPost {
		w.WriteHeader(http.StatusMethodNotAllowed)
		_ = json.NewEncoder(w).Encode(fireAnswer{Error: "POST the form fields StackName and LogicalResourceId"})
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil || r.Form.Get("StackName") == "" || r.Form.Get("LogicalResourceId") == "" {
		w.WriteHeader(http.StatusBadRequest)
		_ = json.NewEncoder(w).Encode(fireAnswer{Error: "give the form fields StackName and LogicalResourceId"})
		return
	}
	what, err := e.FireSchedule(r.Context(), r.Form.Get("StackName"), r.Form.Get("LogicalResourceId"))
	if err != nil {
		var fe *events.FunctionError
		status := http.StatusBadRequest
		if errors.As(err, &fe) {
			status = http.StatusBadGateway // it fired; the function failed
		}
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(fireAnswer{Error: err.Error()})
		return
	}
	_ = json.NewEncoder(w).Encode(fireAnswer{Fired: what})
}

// FireRemote asks the engine whose CloudFormation endpoint is endpoint (a
// running `stackflow local --serve`'s) to fire the schedule logicalID of
// stackName now, and returns what it fired.
func FireRemote(ctx context.Context, client *http.Client, endpoint, stackName, logicalID string) (string, error) {
	form := url.Values{"StackName": {stackName}, "LogicalResourceId": {logicalID}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(endpoint, "/")+FirePath, strings.NewReader(form.Encode()))
	if err != nil {
		return "", fmt.Errorf("fire %s: %w", logicalID, err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := client.Do(req)
	if err != nil {
		return "", fmt.Errorf("fire %s: the local CloudFormation at %s does not answer (is stackflow local --serve running?): %w", logicalID, endpoint, err)
	}
	defer resp.Body.Close()
	var a fireAnswer
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&a); err != nil {
		return "", fmt.Errorf("fire %s: %s answered %s, not stackflow's local CloudFormation: give the address stackflow local --serve prints as AWS_ENDPOINT_URL_CLOUDFORMATION", logicalID, endpoint, resp.Status)
	}
	if a.Error != "" {
		return "", errors.New(a.Error)
	}
	return a.Fired, nil
}
