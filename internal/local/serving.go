package local

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/stackflow/stackflow/internal/local/cfn"
)

// servingFile is where `stackflow local --serve` leaves its endpoints
// while it runs, so that other commands of the same user (`stackflow local
// fire`) find it: <os.UserCacheDir()>/stackflow/serving.json.
func servingFile() (string, error) {
	dir, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("find the user cache directory: %w", err)
	}
	return filepath.Join(dir, "stackflow", "serving.json"), nil
}

// serving is what servingFile holds.
type serving struct {
	PID       int               `json:"pid"`
	Endpoints map[string]string `json:"endpoints"`
}

// AnnounceServing records, for other commands of this user, that the
// local AWS of endpoints (a Pipeline's Endpoints) serves until the
// returned function is called (it removes the record, unless a later
// `stackflow local --serve` replaced it). The last one started wins.
func AnnounceServing(endpoints map[string]string) (func(), error) {
	file, err := servingFile()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		return nil, fmt.Errorf("record the local endpoints: %w", err)
	}
	data, _ := json.Marshal(serving{PID: os.Getpid(), Endpoints: endpoints})
	tmp := file + fmt.Sprintf(".%d", os.Getpid())
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return nil, fmt.Errorf("record the local endpoints: %w", err)
	}
	if err := os.Rename(tmp, file); err != nil {
		os.Remove(tmp)
		return nil, fmt.Errorf("record the local endpoints: %w", err)
	}
	return func() {
		var s serving
		if b, err := os.ReadFile(file); err == nil && json.Unmarshal(b, &s) == nil && s.PID == os.Getpid() {
			os.Remove(file)
		}
	}, nil
}

// ServingCloudFormation returns the local CloudFormation endpoint of the
// `stackflow local --serve` that runs for this user (the last started):
// endpoint when it is given, else the AWS_ENDPOINT_URL_CLOUDFORMATION
// variable, else the record AnnounceServing left.
func ServingCloudFormation(endpoint string) (string, error) {
	if endpoint = cmp.Or(endpoint, os.Getenv("AWS_ENDPOINT_URL_CLOUDFORMATION")); endpoint != "" {
		return endpoint, nil
	}
	file, err := servingFile()
	if err != nil {
		return "", err
	}
	b, err := os.ReadFile(file)
	if errors.Is(err, os.ErrNotExist) {
		return "", errors.New("no stackflow local --serve is running for this user: start one (stackflow local --serve), or give --endpoint with the AWS_ENDPOINT_URL_CLOUDFORMATION it prints")
	}
	var s serving
	if err == nil {
		err = json.Unmarshal(b, &s)
	}
	if err != nil || s.Endpoints["AWS_ENDPOINT_URL_CLOUDFORMATION"] == "" {
		return "", fmt.Errorf("read %s, which stackflow local --serve writes: %v: start stackflow local --serve again, or give --endpoint", file, err)
	}
	return s.Endpoints["AWS_ENDPOINT_URL_CLOUDFORMATION"], nil
}

// FireSchedule fires, now, the schedule logicalID of the stack stackName in
// the local CloudFormation at endpoint (an AWS::Events::Rule with a
// ScheduleExpression, or an AWS::Scheduler::Schedule; SAM names them after
// the function and its event: MyFunctionNightly), and returns what it
// fired.
func FireSchedule(ctx context.Context, endpoint, stackName, logicalID string) (string, error) {
	return cfn.FireRemote(ctx, &http.Client{Timeout: 15 * time.Minute}, endpoint, stackName, logicalID)
}

// FireSchedule fires the schedule logicalID of the stack stackName in p's
// local CloudFormation now, as FireSchedule does.
func (p *Pipeline) FireSchedule(ctx context.Context, stackName, logicalID string) (string, error) {
	return p.engine.FireSchedule(ctx, stackName, logicalID)
}
