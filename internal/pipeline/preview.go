package pipeline

import (
	"regexp"
	"strconv"
	"strings"
)

// Preview stacks: a pull request's own stack, deployed with each update
// of the pull request and deleted when it is merged or declined.

// MaxStackName is the longest CloudFormation stack name.
const MaxStackName = 128

var notInStackName = regexp.MustCompile(`[^A-Za-z0-9-]+`)

// PreviewEnvironmentName is the name of pull request pr's preview
// environment: "pr-<id>".
func PreviewEnvironmentName(pr int) string { return "pr-" + strconv.Itoa(pr) }

// PreviewStack is the stack of pull request pr's preview: "<slug>-pr-<id>",
// made a valid stack name (letters, digits and dashes, starting with a
// letter, at most 128 characters). The slug is shortened, never the id, so
// two pull requests never share a stack.
func PreviewStack(repo Repository, pr int) string {
	suffix := "-" + PreviewEnvironmentName(pr)
	s := strings.Trim(notInStackName.ReplaceAllString(repo.Slug, "-"), "-")
	if s == "" || !('a' <= s[0] && s[0] <= 'z' || 'A' <= s[0] && s[0] <= 'Z') {
		s = strings.TrimSuffix("app-"+s, "-")
	}
	if room := MaxStackName - len(suffix); len(s) > room {
		s = strings.TrimRight(s[:room], "-")
	}
	return s + suffix
}

// PreviewEnvironment is the bare environment of pull request pr's preview:
// its name and stack, in the pipeline's own region and account. It is
// what a run needs to delete a preview when it has no plan of it; a plan
// made from stackflow.yml (config.PreviewPlan) also carries the region,
// roles and settings the preview was deployed with.
func PreviewEnvironment(repo Repository, pr int) Environment {
	return Environment{
		Name:                   PreviewEnvironmentName(pr),
		Stack:                  PreviewStack(repo, pr),
		Capabilities:           []string{},
		SmokeTimeoutSeconds:    previewSmokeTimeoutSeconds,
		ApprovalTimeoutSeconds: DefaultApprovalTimeoutSeconds,
		PullRequest:            pr,
	}
}

// previewSmokeTimeoutSeconds is stackflow.yml's default smoke_timeout.
const previewSmokeTimeoutSeconds = 60

// PullRequestExecutionName is the deterministic name of the execution that
// delivers commit of pull request pr, whose source branch is branch:
// "<slug>-<branch>-<sha7>-pr<id>" while the pull request is open, and
// "<slug>-<branch>-<sha7>-pr<id>-closed" for the run that deletes its
// preview. It is ExecutionName's name with the pull request after the
// commit (slug and branch shortened to leave room), so it sorts and
// filters with the branch's pushes but never equals the name of a push,
// which always ends in the commit.
func PullRequestExecutionName(repo Repository, branch string, pr int, closed bool, commit string) string {
	tail := "-pr" + strconv.Itoa(pr)
	if closed {
		tail += "-closed"
	}
	return executionName(repo, branch, commit, MaxExecutionName-len(tail)) + tail
}

// DeliveredEnvironment is one environment as the state machine's promote
// step ends it (the deploy step's ActionRecordRelease returns it): its
// name, its stack and the stack's outputs, and what the deploy, the smoke
// test and the release said.
type DeliveredEnvironment struct {
	Name    string            `json:"name"`
	Stack   string            `json:"stack"`
	Outputs map[string]string `json:"outputs,omitempty"`
	Deploy  string            `json:"deploy"`
	Smoke   string            `json:"smoke"`
	Release string            `json:"release"`
}
