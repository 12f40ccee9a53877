// Command hook is a CodeDeploy lifecycle event hook (a PreTraffic or
// PostTraffic function) for the engine's tests: it appends the event it
// gets, with its function's name, to RECORD_FILE, and reports HOOK_STATUS
// (Succeeded when unset) through CodeDeploy's
// PutLifecycleEventHookExecutionStatus with aws-sdk-go-v2, as SAM's hook
// examples do. With HOOK_STATUS=none it reports nothing.
package main

import (
	"context"
	"encoding/json"
	"os"
	"strconv"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/codedeploy"
	"github.com/aws/aws-sdk-go-v2/service/codedeploy/types"
)

// hookEvent is what CodeDeploy invokes a hook with.
type hookEvent struct {
	DeploymentID string `json:"DeploymentId"`
	ExecutionID  string `json:"LifecycleEventHookExecutionId"`
}

func handle(ctx context.Context, ev hookEvent) error {
	line, _ := json.Marshal(map[string]string{"function": os.Getenv("AWS_LAMBDA_FUNCTION_NAME"), "deployment": ev.DeploymentID, "execution": ev.ExecutionID, "status": os.Getenv("HOOK_STATUS"), "pid": strconv.Itoa(os.Getpid())})
	f, err := os.OpenFile(os.Getenv("RECORD_FILE"), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	_, err = f.Write(append(line, '\n'))
	f.Close()
	if err != nil {
		return err
	}
	status := os.Getenv("HOOK_STATUS")
	if status == "none" {
		return nil
	}
	if status == "" {
		status = string(types.LifecycleEventStatusSucceeded)
	}
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return err
	}
	_, err = codedeploy.NewFromConfig(cfg).PutLifecycleEventHookExecutionStatus(ctx, &codedeploy.PutLifecycleEventHookExecutionStatusInput{
		DeploymentId:                  aws.String(ev.DeploymentID),
		LifecycleEventHookExecutionId: aws.String(ev.ExecutionID),
		Status:                        types.LifecycleEventStatus(status),
	})
	return err
}

func main() { lambda.Start(handle) }
