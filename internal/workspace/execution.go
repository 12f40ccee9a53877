package workspace

import (
	"strings"

	"github.com/stackflow/stackflow/internal/pipeline"
)

// ExecutionName is the name of the execution whose ARN is arn (its last
// segment), which names the step's log; when arn is empty, as when a
// handler is invoked by hand, it is the name run's execution would have.
func ExecutionName(arn string, run pipeline.Run) string {
	if i := strings.LastIndexByte(arn, ':'); i >= 0 && i < len(arn)-1 {
		return arn[i+1:]
	}
	if arn = strings.Trim(arn, ":"); arn != "" {
		return arn
	}
	return pipeline.ExecutionName(run.Repository, run.Branch, run.Commit)
}
