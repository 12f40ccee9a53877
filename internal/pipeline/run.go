package pipeline

import (
	"fmt"
	"regexp"
	"strings"
)

// Repository identifies a Bitbucket Cloud repository by its workspace and slug.
type Repository struct {
	Workspace string `json:"workspace"`
	Slug      string `json:"slug"`
}

// FullName is the repository's "workspace/slug".
func (r Repository) FullName() string { return r.Workspace + "/" + r.Slug }

// ParseRepository splits a "workspace/slug" full name.
func ParseRepository(fullName string) (Repository, error) {
	ws, slug, ok := strings.Cut(fullName, "/")
	if !ok || ws == "" || slug == "" || strings.Contains(slug, "/") {
		return Repository{}, fmt.Errorf("repository %q: want workspace/slug", fullName)
	}
	return Repository{Workspace: ws, Slug: slug}, nil
}

// Run is the input of one execution: which commit of which branch is being
// delivered. It holds nothing that differs between two deliveries of the same
// push, so that a redelivered webhook starts an execution with the same name
// and input, which Step Functions treats as the same execution.
type Run struct {
	Repository Repository `json:"repository"`
	// Branch is the pushed branch; the run's plan depends on it. Empty
	// when the run delivers a tag.
	Branch string `json:"branch"`
	// Tag is the pushed tag, for a run that delivers a tag (Branch is
	// then empty): the environments whose tags match it deploy the
	// tagged commit.
	Tag string `json:"tag,omitempty"`
	// Commit is the full 40-character hash being delivered.
	Commit string `json:"commit"`
	// Settings tunes how the state machine waits; it comes from the
	// pipeline's own configuration, not from the webhook.
	Settings Settings `json:"settings"`
	// PullRequest is set for a run of a pull request: its preview stack is
	// deployed, or deleted once the pull request is closed.
	PullRequest *PullRequest `json:"pullRequest,omitempty"`
	// Rollback is set for a run that puts an environment back to one of
	// its releases (stackflow rollback); Commit is that release's.
	Rollback *RollbackRequest `json:"rollback,omitempty"`
	// Push is what the repo:push that started the run says of the ref's
	// change, from which the run reads the files it changed (path
	// filters). Nil for runs no push started.
	Push *Push `json:"push,omitempty"`
	// App is set for the run of one app of a repository with several
	// (stackflow.yml's apps): the run delivers that app alone.
	App *AppRun `json:"app,omitempty"`
	// Promote is set for a run that deploys the package another
	// environment released (stackflow promote); Commit and Branch are
	// that release's.
	Promote *PromoteRequest `json:"promote,omitempty"`
	// Retry is set for a run that resumes a failed or stopped run at the
	// environment where it stopped, with its package (stackflow retry).
	Retry *RetryRequest `json:"retry,omitempty"`
	// DuringFreeze is set when a person asked for the run to deploy
	// through the freeze windows of the environments it reaches
	// (--during-freeze): the release records who and why.
	DuringFreeze *FreezeOverride `json:"duringFreeze,omitempty"`
}

// Push is a repo:push change of one ref, as the run needs it.
type Push struct {
	// Old is the commit the ref pointed at before the push; empty when
	// the push created the ref.
	Old string `json:"old,omitempty"`
	// Forced is true for a push that rewrote history (old is no
	// ancestor of the new head): every file counts as changed.
	Forced bool `json:"forced,omitempty"`
	// Truncated is true when Bitbucket cut the push's commits short:
	// every file counts as changed.
	Truncated bool `json:"truncated,omitempty"`
	// Message is the first line of the pushed commit's message (at most
	// MaxMessage characters), for people: runs and the dashboard show it.
	Message string `json:"message,omitempty"`
}

// MaxMessage bounds Push.Message, in characters.
const MaxMessage = 200

// MessageLine is the first line of a commit message, cut to MaxMessage
// characters ("…" marks the cut).
func MessageLine(message string) string {
	line, _, _ := strings.Cut(strings.TrimSpace(message), "\n")
	line = strings.TrimSpace(line)
	if r := []rune(line); len(r) > MaxMessage {
		line = string(r[:MaxMessage-1]) + "…"
	}
	return line
}

// AppRun names the app a run delivers.
type AppRun struct {
	Name string `json:"name"`
	// After are the execution ARNs of the runs of the same push that
	// must succeed before this one deploys: the apps it comes after
	// that the push delivers too.
	After []string `json:"after,omitempty"`
}

// Ref is the branch or tag the run delivers, for people: "main", or
// "tag v1.2.0".
func (r Run) Ref() string {
	if r.Tag != "" {
		return "tag " + r.Tag
	}
	return r.Branch
}

// TagLane is the Lane of every tag's runs.
const TagLane = "refs/tags/*"

// Lane names the runs that supersede one another at an environment and
// share caches: a branch's runs, or every tag's (so that of two tags
// pushed one after the other, the later one wins, as of two commits of a
// branch). No branch can be named TagLane: git refuses "*" in refs.
func (r Run) Lane() string {
	if r.Tag != "" {
		return TagLane
	}
	return r.Branch
}

// AppName is the name of the app the run delivers; empty for a
// repository of one app.
func (r Run) AppName() string {
	if r.App == nil {
		return ""
	}
	return r.App.Name
}

// PromoteRequest asks a run to deploy to Environment the package that
// From released at the run's commit, with no checks and no build.
type PromoteRequest struct {
	Environment string `json:"environment"`
	From        string `json:"from"`
	// By is who asked, for the commit status and the release history.
	By string `json:"by,omitempty"`
}

// RetryRequest asks a run to resume the execution Of (an ARN), which
// failed or stopped, at Environment, with the package Of deployed.
type RetryRequest struct {
	Of          string `json:"of"`
	Environment string `json:"environment"`
	// StartedAt is when the run being retried started (RFC 3339), as the
	// pipeline recorded it: the retry stands in its place among the runs
	// of its branch, so that it never goes over a newer commit. The deploy
	// step sets it from its own record; a value given in the input is
	// replaced.
	StartedAt string `json:"startedAt,omitempty"`
	// By is who asked, for the commit status and the release history.
	By string `json:"by,omitempty"`
}

// FreezeOverride is a person's word that a run may deploy during a freeze
// window, and why.
type FreezeOverride struct {
	By     string `json:"by"`
	Reason string `json:"reason"`
}

// PullRequest is the pull request a run is for.
type PullRequest struct {
	ID    int    `json:"id"`
	Title string `json:"title,omitempty"`
	// Destination is the branch the pull request merges into.
	Destination string `json:"destination,omitempty"`
	// Closed is true when the pull request was merged or declined: the run
	// deletes its preview stack.
	Closed bool `json:"closed"`
}

// RollbackRequest asks a run to redeploy one environment's release of the
// run's commit.
type RollbackRequest struct {
	Environment string `json:"environment"`
	// By is who asked, for the commit status and the release history.
	By string `json:"by,omitempty"`
}

// ExecutionInput is the state machine's input: the run under "run", so
// that each step's result can sit beside it in the state ($.source,
// $.checks, $.package, $.environments).
type ExecutionInput struct {
	Run Run `json:"run"`
}

// Short is the commit's seven-character abbreviation.
func (r Run) Short() string { return ShortSHA(r.Commit) }

// Settings holds the pipeline's tunables that travel in the execution input.
type Settings struct {
	// PollSeconds is how long the state machine waits between two looks at
	// a change set or a stack that is still in progress.
	PollSeconds int `json:"pollSeconds"`
	// LockPollSeconds is how long a run waits before it tries again to
	// take an environment's lock that another run holds.
	LockPollSeconds int `json:"lockPollSeconds"`
	// LockLeaseSeconds is how long a lock stays taken after its holder
	// last renewed it; a run that dies holding it blocks others no longer.
	LockLeaseSeconds int `json:"lockLeaseSeconds"`
}

// WithDefaults fills the settings left at zero with their defaults.
func (s Settings) WithDefaults() Settings {
	if s.PollSeconds <= 0 {
		s.PollSeconds = DefaultPollSeconds
	}
	if s.LockPollSeconds <= 0 {
		s.LockPollSeconds = DefaultLockPollSeconds
	}
	if s.LockLeaseSeconds <= 0 {
		s.LockLeaseSeconds = DefaultLockLeaseSeconds
	}
	return s
}

// DefaultPollSeconds is the wait between two polls of CloudFormation on AWS:
// a change set is usually ready in 5-15 s and a small stack update takes
// 30-90 s, so 10 s keeps the added latency low at a few transitions a minute.
const DefaultPollSeconds = 10

// DefaultLockPollSeconds is the wait between two tries at an environment's
// lock on AWS: the holder is deploying, which takes minutes, so 20 s adds
// little to the wait at three transitions a minute.
const DefaultLockPollSeconds = 20

// DefaultLockLeaseSeconds is how long a lock outlives its holder's last
// renewal on AWS: 15 minutes, the longest one Lambda step of a deploy may
// run, so a live run always renews in time while a run that died frees
// the environment within 15 minutes.
const DefaultLockLeaseSeconds = 900

// DefaultApprovalTimeoutSeconds is how long a deploy waits for approval
// unless the environment says otherwise: 7 days.
const DefaultApprovalTimeoutSeconds = 7 * 24 * 60 * 60

// ExecutionNameOf is the name of the execution arn: its last part, what
// stackflow show and approve take.
func ExecutionNameOf(arn string) string { return arn[strings.LastIndex(arn, ":")+1:] }

// ShortSHA abbreviates a commit hash to seven characters.
func ShortSHA(sha string) string {
	if len(sha) > 7 {
		return sha[:7]
	}
	return sha
}

// MaxExecutionName is the longest execution name Step Functions accepts.
const MaxExecutionName = 80

var nameUnsafe = regexp.MustCompile(`[^0-9A-Za-z_-]+`)

// ExecutionName is the deterministic name of the execution that delivers
// commit on branch of repo: "<slug>-<branch>-<sha7>", with every character
// outside Step Functions' safe set [0-9A-Za-z-_] replaced by "-" and the
// branch part shortened so the whole fits in 80 characters. Two deliveries
// of one push give the same name; different pushes give different names
// because the commit is always kept whole.
func ExecutionName(repo Repository, branch, commit string) string {
	return executionName(repo, branch, commit, MaxExecutionName)
}

// RunExecutionName is the deterministic name of run's execution:
// ExecutionName, with a tag's run named "tag-<tag>" where a branch is,
// and an app's run with "-<app>" after the repository's slug
// ("platform-api-main-1a2b3c4").
func RunExecutionName(run Run) string {
	ref := run.Branch
	if run.Tag != "" {
		ref = "tag-" + run.Tag
	}
	repo := run.Repository
	if run.App != nil {
		repo.Slug += "-" + run.App.Name
	}
	return ExecutionName(repo, ref, run.Commit)
}

// executionName is ExecutionName in at most size characters.
func executionName(repo Repository, branch, commit string, size int) string {
	clean := func(s string) string {
		return strings.Trim(nameUnsafe.ReplaceAllString(s, "-"), "-")
	}
	slug, br, sha := clean(repo.Slug), clean(branch), clean(ShortSHA(commit))
	if slug == "" {
		slug = "repo"
	}
	if br == "" {
		br = "branch"
	}
	// Keep the commit whole; share what is left between slug and branch.
	room := size - len(sha) - 2
	if len(slug)+len(br) > room {
		if len(slug) > room/2 {
			slug = slug[:max(room/2, room-len(br))]
		}
		if len(slug)+len(br) > room {
			br = br[:room-len(slug)]
		}
		slug, br = strings.TrimRight(slug, "-"), strings.TrimRight(br, "-")
	}
	return slug + "-" + br + "-" + sha
}
