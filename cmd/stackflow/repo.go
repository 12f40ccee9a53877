package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/stackflow/stackflow/internal/config"
	"github.com/stackflow/stackflow/internal/localrepo"
	"github.com/stackflow/stackflow/internal/pipeline"
)

var remoteRepo = regexp.MustCompile(`[:/]([A-Za-z0-9._-]+)/([A-Za-z0-9._-]+?)(?:\.git)?/?$`)

// repository names the app: its origin remote's workspace/slug when the
// app is the top of a repository with one, else local/<folder name>.
func repository(ctx context.Context, app *localrepo.App) pipeline.Repository {
	if app.Top != "" && app.Prefix == "" {
		cmd := exec.CommandContext(ctx, "git", "remote", "get-url", "origin")
		cmd.Dir = app.Top
		if out, err := cmd.Output(); err == nil {
			if m := remoteRepo.FindStringSubmatch(strings.TrimSpace(string(out))); m != nil {
				return pipeline.Repository{Workspace: m[1], Slug: m[2]}
			}
		}
	}
	return pipeline.Repository{Workspace: "local", Slug: filepath.Base(app.Dir)}
}

// delivery is what a push of an app delivers, read before anything runs:
// HEAD, as a push delivers it, or with --work-tree a snapshot of the work
// tree as it is.
type delivery struct {
	app *localrepo.App
	// head is HEAD; commit is what is delivered: HEAD, or a snapshot.
	head, commit string
	// branch is the checked-out branch, "" when HEAD is detached.
	branch string
	// changes are what the work tree changes in the app's folder.
	changes []string
	// workTree: the work tree as it is is delivered, not HEAD.
	workTree bool
}

// prepare reads what a push of app delivers (with workTree, the work tree
// as it is), checking that the repository has a commit and that what is
// delivered has a stackflow.yml; each problem says what to do.
func prepare(ctx context.Context, app *localrepo.App, workTree bool) (*delivery, error) {
	head, branch, err := app.Head(ctx)
	if err != nil {
		return nil, err
	}
	changes, err := app.Changes(ctx)
	if err != nil {
		return nil, err
	}
	d := &delivery{app: app, head: head, commit: head, branch: branch, changes: changes, workTree: workTree}
	if workTree && len(changes) > 0 {
		if d.commit, _, err = app.Snapshot(ctx); err != nil {
			return nil, err
		}
	}
	if !app.Has(ctx, d.commit, config.File) {
		return nil, d.noConfig()
	}
	return d, nil
}

// noConfig says that what is delivered has no stackflow.yml.
func (d *delivery) noConfig() error {
	p := &localrepo.Problem{
		What: fmt.Sprintf("%s has no %s at its root", d.what(), config.File),
		Fix:  "add one at the repository root (or at the app's folder in it) and commit it; the README's stackflow.yml section shows what it holds",
	}
	if _, err := os.Stat(filepath.Join(d.app.Dir, config.File)); err == nil && !d.workTree {
		p.Fix = fmt.Sprintf("the work tree has one that is not committed: git add %s && git commit, or give --work-tree", config.File)
	}
	return p
}

// what names what is delivered for people: "examples/hello at HEAD
// (1a2b3c4)", or "... as in the work tree".
func (d *delivery) what() string {
	if d.commit != d.head || d.workTree {
		return display(d.app.Dir) + " as in the work tree"
	}
	return fmt.Sprintf("%s at HEAD (%s)", display(d.app.Dir), pipeline.ShortSHA(d.head))
}

// tell says, before anything runs, that the work tree differs from HEAD
// in the app's folder, which files, and whether they are read: reads is
// what the command does with what it reads ("this run delivers", "the plan
// reads"), done its participle ("delivered", "planned").
func (d *delivery) tell(w io.Writer, reads, done string) {
	if len(d.changes) == 0 {
		return
	}
	if d.workTree {
		fmt.Fprintf(w, "uncommitted changes in %s are %s (--work-tree): %s\n", display(d.app.Dir), done, listed(d.changes, 4))
		fmt.Fprintf(w, "  %s the work tree as it is: commit %s, a snapshot on top of HEAD (%s); no branch, index or file was changed\n",
			reads, pipeline.ShortSHA(d.commit), pipeline.ShortSHA(d.head))
		return
	}
	fmt.Fprintf(w, "uncommitted changes in %s are not %s: %s\n", display(d.app.Dir), done, listed(d.changes, 4))
	fmt.Fprintf(w, "  %s HEAD (%s), as a push would: commit them, or give --work-tree to use the work tree as it is\n",
		reads, pipeline.ShortSHA(d.head))
}

// listed is the first n names, then "and N more".
func listed(names []string, n int) string {
	if len(names) <= n {
		return strings.Join(names, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(names[:n], ", "), len(names)-n)
}

// display is path relative to the current folder when it is inside it,
// else path.
func display(path string) string {
	wd, err := os.Getwd()
	if err != nil {
		return path
	}
	rel, err := filepath.Rel(wd, path)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return path
	}
	return rel
}
