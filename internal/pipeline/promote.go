package pipeline

import (
	"fmt"
	"strings"
)

// Safe promotion: an environment's lock, approvals and rollbacks. The
// deploy handler does each of these as an action, like a change set's.

// The deploy actions that guard an environment.
const (
	// ActionLock registers the run as the newest of its branch to reach
	// the environment and tries to take the environment's lock. It fails
	// with Superseded when a newer run of the branch got there first.
	ActionLock DeployAction = "lock"
	// ActionRequestApproval keeps the approval's task token where
	// `stackflow approve` finds it and holds the lock while it waits.
	ActionRequestApproval DeployAction = "requestApproval"
	// ActionPrepareRollback finds the environment's last good release
	// after a failed smoke test.
	ActionPrepareRollback DeployAction = "prepareRollback"
	// ActionPlanRollback plans a run of `stackflow rollback`: the
	// environment and the package of the release being put back.
	ActionPlanRollback DeployAction = "planRollback"
	// ActionFindPackage finds the package a run of `stackflow promote`
	// or `stackflow retry` deploys: the one the promotion's source
	// environment released, or the one the retried run deployed.
	ActionFindPackage DeployAction = "findPackage"
	// ActionGiveUp releases the lock of an environment whose deploy
	// failed or stopped and says why, plainly, for the Fail state.
	ActionGiveUp DeployAction = "giveUp"
	// ActionDeleteStack starts deleting a closed pull request's preview
	// stack; ActionDescribeDeletion reports whether it is gone.
	ActionDeleteStack      DeployAction = "deleteStack"
	ActionDescribeDeletion DeployAction = "describeDeletion"
)

// Lock is the outcome of ActionLock.
type Lock struct {
	// Held is true when this run holds the environment's lock.
	Held bool `json:"held"`
	// HolderCommit and HolderExecution name the run that holds it when
	// this one does not.
	HolderCommit    string `json:"holderCommit,omitempty"`
	HolderExecution string `json:"holderExecution,omitempty"`
	// Announce is true when the run should say on its commit that it
	// waits: the first time it finds this holder.
	Announce bool `json:"announce"`
	// ExpiresAt is when the lease lapses unless renewed (RFC 3339).
	ExpiresAt string `json:"expiresAt,omitempty"`
	// WaitingSince is when the run first found the lock taken (RFC 3339),
	// and WaitSeconds how long it waits before it tries again: the
	// pipeline's LockPollSeconds, doubling up to MaxLockPollSeconds, so that
	// a long wait (behind an approval) stays well inside an execution's
	// history limit.
	WaitingSince string `json:"waitingSince,omitempty"`
	WaitSeconds  int    `json:"waitSeconds"`
	Summary      string `json:"summary,omitempty"`
	// FrozenUntil is set when the run waits because the environment is
	// in a freeze window, which ends then (RFC 3339): the run did not try
	// the lock. WaitSeconds is the wait until then, at most
	// MaxFreezeWaitSeconds at a time.
	FrozenUntil string `json:"frozenUntil,omitempty"`
	// DuringFreeze is set when the run holds the lock of an environment
	// in a freeze window because a person said it may deploy anyway: why,
	// and who said so.
	DuringFreeze string `json:"duringFreeze,omitempty"`
}

// MaxFreezeWaitSeconds is the longest a run waits at a time for a freeze
// window to end before it looks again: a day, so a long freeze costs a few
// state transitions a day, and a window that changed is seen within a day.
const MaxFreezeWaitSeconds = 24 * 60 * 60

// MaxLockPollSeconds is the longest wait between two tries at a taken
// environment: 5 minutes.
const MaxLockPollSeconds = 300

// MaxLockWaitSeconds is how long a run waits for a taken environment
// before it gives up: 7 days, the default approval_timeout, since a run
// waiting for its approval holds its environment. At one try every 5
// minutes that is about 2,000 tries, well inside Step Functions' 25,000
// history events.
const MaxLockWaitSeconds = 7 * 24 * 60 * 60

// Rollback is an environment being put back to its last good release.
type Rollback struct {
	// Commit and Branch are the release's; empty when not rolling back.
	Commit string `json:"commit,omitempty"`
	Branch string `json:"branch,omitempty"`
	// Environment and Package are the release's, redeployed as they were.
	Environment *Environment `json:"environment,omitempty"`
	Package     *Package     `json:"package,omitempty"`
	// FailedCommit is the commit whose smoke test failed, and Reason why.
	FailedCommit string `json:"failedCommit,omitempty"`
	Reason       string `json:"reason,omitempty"`
	Summary      string `json:"summary,omitempty"`
}

// Active reports whether r is a rollback under way.
func (r Rollback) Active() bool { return r.Commit != "" }

// RollbackPlan is the state a run that deploys a recorded package
// continues with: a run of `stackflow rollback` (the run, a plan of the
// one environment, the release's package), and of `stackflow promote` and
// `stackflow retry` (the run, its plan, and the package found).
type RollbackPlan struct {
	Run     Run     `json:"run"`
	Source  Source  `json:"source"`
	Package Package `json:"package"`
}

// Approval is what `stackflow approve` sends back to the waiting run.
type Approval struct {
	Environment string `json:"environment"`
	By          string `json:"by"`
	At          string `json:"at"`
}

// Names of errors the state machine itself or `stackflow reject` raise.
const (
	// ErrApprovalRejected is the error `stackflow reject` fails a waiting
	// approval with.
	ErrApprovalRejected = "ApprovalRejected"
	// ErrApprovalTimedOut is the error of an approval nobody gave in time.
	ErrApprovalTimedOut = "ApprovalTimedOut"
)

// Superseded is a run that stops before an environment because a newer
// commit of its branch is already waiting for it, or past it.
type Superseded struct {
	Environment string
	Branch      string
	// By is the newer commit.
	By string
	// Rollback is true when the newer run is a stackflow rollback to By.
	Rollback bool
}

// Error says which commit superseded the run, and where.
func (e *Superseded) Error() string {
	if e.Rollback {
		return fmt.Sprintf("superseded by a rollback of %s to %s", e.Environment, ShortSHA(e.By))
	}
	if e.Branch == TagLane {
		return fmt.Sprintf("superseded by %s: a newer tag has reached %s", ShortSHA(e.By), e.Environment)
	}
	return fmt.Sprintf("superseded by %s: a newer commit of %s has reached %s", ShortSHA(e.By), e.Branch, e.Environment)
}

// RolledBack is an environment whose smoke test failed after a deploy and
// that was put back to its last good release, which passes it.
type RolledBack struct {
	Environment string
	// To is the release's commit.
	To string
	// Reason is the smoke test's failure.
	Reason string
}

// Error says what the environment was rolled back to, and why.
func (e *RolledBack) Error() string {
	msg := fmt.Sprintf("rolled back %s to %s", e.Environment, ShortSHA(e.To))
	if e.Reason != "" {
		msg += " after " + e.Reason
	}
	return msg
}

// RollbackFailed is an environment whose last good release could not be
// put back after its smoke test failed.
type RollbackFailed struct {
	Environment string
	To          string
	Reason      string
}

// Error says which rollback failed, and why.
func (e *RollbackFailed) Error() string {
	return fmt.Sprintf("the rollback of %s to %s failed: %s; fix forward", e.Environment, ShortSHA(e.To), e.Reason)
}

// Frozen is a run that reached an environment during one of its freeze
// windows, whose freeze_action is stop.
type Frozen struct {
	Environment string
	// Until is when the window ends, as people read it ("2026-12-28
	// 09:00 Europe/Berlin"), and Window its name, if it has one.
	Until  string
	Window string
	// Retry is the command that resumes the run once the window ended.
	Retry string
}

// Error says which environment is frozen, until when, and what to do.
func (e *Frozen) Error() string {
	msg := fmt.Sprintf("%s is frozen until %s", e.Environment, e.Until)
	if e.Window != "" {
		msg += " (" + e.Window + ")"
	}
	msg += " and its freeze_action is stop"
	if e.Retry != "" {
		msg += ": " + e.Retry + " resumes the run after it, or with --during-freeze --reason TEXT before"
	}
	return msg
}

// Refused is a promotion or a retry the pipeline will not run: what was
// asked, why not, and what to do. Nothing was changed.
type Refused struct {
	What   string
	Reason string
	Fix    string
}

// Error says what was refused, why, and what to do.
func (e *Refused) Error() string {
	msg := "refused to " + e.What + ": " + e.Reason
	if e.Fix != "" {
		msg += "; " + e.Fix
	}
	return msg
}

func (*Superseded) stateError()     {}
func (*RolledBack) stateError()     {}
func (*RollbackFailed) stateError() {}
func (*Frozen) stateError()         {}
func (*Refused) stateError()        {}

// ChangeSummary counts a change set's lines (as Deployment.Changes has
// them) by what they do to resources: "1 to add, 2 to modify, 0 to
// replace, 1 to remove".
func ChangeSummary(lines []string) string {
	var add, modify, replace, remove int
	for _, l := range lines {
		switch {
		case strings.HasPrefix(l, "Add "):
			add++
		case strings.HasPrefix(l, "Remove "):
			remove++
		case strings.HasPrefix(l, "Modify ") && strings.Contains(l, "(replacement: "):
			replace++
		case strings.HasPrefix(l, "Modify "), strings.HasPrefix(l, "Dynamic "):
			modify++
		}
	}
	return fmt.Sprintf("%d to add, %d to modify, %d to replace, %d to remove", add, modify, replace, remove)
}
