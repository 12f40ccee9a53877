// Package staging keeps the code under test away from everything the
// pipeline trusts. The checks and the package step run the commit's code
// (its tests, its packages' install scripts, its builds) in functions whose
// roles allow no S3, DynamoDB or Secrets Manager action: whatever a check
// reads from its environment, /proc or the Lambda Runtime API can write
// nothing that a later step or run relies on. Two trusted steps stand on
// either side of each of them:
//
//   - Grant, just before the step, hands it presigned URLs for its own
//     run's objects (Layout): GET for its commit's archive and the caches
//     (and, for the package step, the build index) of its branch and the
//     default branch; PUT for its log and for keys in its run's staging
//     area (pipeline.StagingPrefix), good for a little longer than the
//     step may run.
//   - Publish, just after it, checks what it staged against what it said
//     it made and copies it to where later steps and runs trust it: the
//     package's zips (each one's SHA-256 and size against the package
//     step's output and against its own content-addressed name), its
//     packaged template (SHA-256), its build records (its own branch's
//     only, each naming a zip that is stored), and the caches of the run's
//     own branch.
//
// A URL for another run's objects, another branch's caches or a key the
// pipeline trusts is never made: Layout names the only keys a step's
// grants cover, and its tests check that every write lands in the run's
// own staging area or log.
package staging

import (
	"fmt"
	"path"
	"time"

	"github.com/stackflow/stackflow/internal/gocache"
	"github.com/stackflow/stackflow/internal/pipeline"
	"github.com/stackflow/stackflow/internal/workspace"
)

// StepTimeout is the longest the checks and package functions run
// (template.yaml's Timeout: 900) and the state machine waits for them
// (TimeoutSeconds: 930).
const StepTimeout = 930 * time.Second

// Lifetime is how long a step's grants are good for from when they are
// made: just beyond the step's timeout, so a URL outlives the step by at
// most that margin.
const Lifetime = StepTimeout + 90*time.Second

// Write is one key a step may write, and where the write lands.
type Write struct {
	// Key is the key the step writes, as it names it.
	Key string
	// To is where its URL puts it: Key itself for the step's log, else a
	// key of the run's staging area that Publish checks and copies to Key.
	To string
}

// Layout is every object one step of one run may reach.
type Layout struct {
	Step  string
	Repo  pipeline.Repository
	Scope pipeline.CacheScope
	// Execution names the run's staging area and logs.
	Execution string
	// Reads are the keys the step may read.
	Reads []string
	// Writes are the keys it may write.
	Writes []Write
	// Bundle is the staged key of the package step's bundle (see
	// pipeline.Grants.Bundle), and BundlePrefixes what goes in it; empty
	// for the checks.
	Bundle         string
	BundlePrefixes []string
	// Credentials is the staged key of the package indexes' credentials.
	Credentials string
	// Caches are the step's caches among Writes, each a manifest and an
	// archive.
	Caches []Cache
}

// Cache is one cache a step may save: its manifest and its archive.
type Cache struct {
	Manifest, Archive Write
}

// parts are the caches each step keeps.
var parts = map[string][]gocache.Part{
	pipeline.StepChecks:  {gocache.Modules, gocache.Builds, gocache.Pip, gocache.Npm},
	pipeline.StepPackage: {gocache.Modules, gocache.Builds, gocache.Pip, gocache.Npm, gocache.Uv},
}

// LayoutOf is the layout of step in the run of in's run and execution.
func LayoutOf(step string, run pipeline.Run, execution string, plan pipeline.Plan) (Layout, error) {
	if _, ok := parts[step]; !ok {
		return Layout{}, fmt.Errorf("staging: step %q: want %s or %s", step, pipeline.StepChecks, pipeline.StepPackage)
	}
	if run.Repository.Workspace == "" || run.Repository.Slug == "" || run.Commit == "" || run.Lane() == "" {
		return Layout{}, fmt.Errorf("staging: the run names no repository, branch or tag, or commit")
	}
	repo := run.Repository
	l := Layout{Step: step, Repo: repo, Scope: pipeline.ScopeOf(run, plan), Execution: workspace.ExecutionName(execution, run)}
	l.Reads = append(l.Reads, pipeline.SourceKey(repo, run.Commit))
	for _, scope := range l.Scope.Reads() {
		for _, part := range parts[step] {
			for _, ext := range []string{".json", ".tar.gz"} {
				l.Reads = append(l.Reads, pipeline.CacheKey(repo, scope, step, string(part), ext))
			}
		}
		if step == pipeline.StepPackage {
			l.Reads = append(l.Reads, pipeline.BuildIndexKey(repo, scope))
		}
	}
	logKey := pipeline.LogKey(repo, l.Execution, step)
	l.Writes = append(l.Writes, Write{Key: logKey, To: logKey})
	for _, part := range parts[step] {
		write := func(ext string) Write {
			return Write{Key: pipeline.CacheKey(repo, l.Scope.Writes(), step, string(part), ext), To: l.staged("cache/" + string(part) + ext)}
		}
		c := Cache{Manifest: write(".json"), Archive: write(".tar.gz")}
		l.Caches = append(l.Caches, c)
		l.Writes = append(l.Writes, c.Manifest, c.Archive)
	}
	if step == pipeline.StepPackage {
		l.Writes = append(l.Writes, Write{Key: pipeline.PackagedTemplateKey(repo, run.Commit, run.AppName()), To: l.staged("template.yaml")})
		l.Bundle = l.staged("bundle.tar")
		l.BundlePrefixes = []string{ArtifactPrefix(repo), RecordPrefix(repo, l.Scope.Writes())}
	}
	l.Credentials = l.staged("index-credentials.json")
	return l, nil
}

func (l Layout) staged(name string) string {
	return pipeline.StagedKey(l.Repo, l.Execution, l.Step, name)
}

// ArtifactPrefix is where repo's content-addressed files are
// (pipeline.ArtifactKey).
func ArtifactPrefix(repo pipeline.Repository) string {
	return path.Dir(pipeline.ArtifactKey(repo, "x", "")) + "/"
}

// RecordPrefix is where repo's build records of scope are
// (pipeline.BuildRecordKey).
func RecordPrefix(repo pipeline.Repository, scope string) string {
	return path.Dir(pipeline.BuildRecordKey(repo, scope, "x")) + "/"
}
