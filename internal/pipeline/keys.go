package pipeline

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"path"
	"strings"
)

// The artifact bucket's layout. Sources and packages are keyed by what they
// are made from, so they can be shared between runs; logs by execution.

// SourceKey is where the archive of repo at commit is stored.
func SourceKey(repo Repository, commit string) string {
	return path.Join("sources", repo.Workspace, repo.Slug, commit+".tar.gz")
}

// LogKey is where the full output of one step of one execution is stored;
// step is "checks", "package" and the like.
func LogKey(repo Repository, execution, step string) string {
	return path.Join("logs", repo.Workspace, repo.Slug, execution, step+".log")
}

// ArtifactKey is where a content-addressed file of repo is stored: a function
// zip or a state machine definition, named by its SHA-256 and extension.
func ArtifactKey(repo Repository, sha256hex, ext string) string {
	return path.Join("artifacts", repo.Workspace, repo.Slug, sha256hex+ext)
}

// PackagedTemplateKey is where the packaged template of repo at commit is
// stored; app names the app of a repository with several ("" for none),
// whose packages are its own.
func PackagedTemplateKey(repo Repository, commit, app string) string {
	return path.Join("packages", repo.Workspace, repo.Slug, commit, app, "template.yaml")
}

// BuildRecordKey is where the package step records which zip a build of
// repo with the build key buildKey (a hash of everything the build reads)
// made, so that a later run with the same inputs reuses the zip instead of
// building again. scope is the branch whose run made it (BranchScope):
// records are trusted only by runs of that branch or of runs whose
// default branch it is (CacheScope).
func BuildRecordKey(repo Repository, scope, buildKey string) string {
	return path.Join("builds", repo.Workspace, repo.Slug, scope, buildKey+".json")
}

// CacheKey is where one of repo's caches is kept between runs: scope is
// the branch whose runs wrote it (BranchScope), step the step that uses
// it ("checks", "package"), name the cache ("gomodcache", "gocache",
// "pipcache", ...), and ext the object (".tar.gz" for the cache, ".json"
// for its manifest, which names the inputs the cache is good for). Each
// branch keeps one copy per step and cache, so the trusted step that hands
// the checks and package steps their URLs can name every object they may
// read or write before they run.
func CacheKey(repo Repository, scope, step, name, ext string) string {
	return path.Join("cache", repo.Workspace, repo.Slug, scope, step, name+ext)
}

// BuildIndexKey is the index of the build records of repo's runs of the
// branch scope names (BranchScope): one object, kept by the trusted
// publish step, that the package step reads through a presigned URL to
// find a zip it may reuse (the records' own keys, named by build key, are
// not known before the step runs).
func BuildIndexKey(repo Repository, scope string) string {
	return path.Join("builds", repo.Workspace, repo.Slug, scope, "index.json")
}

// StagingPrefix is the run's own staging area: everything a step that runs
// the commit's code (the checks, the package step) writes, other than its
// log, lands under it, through presigned URLs for its keys alone. A
// trusted step checks what is there and copies it to where later steps and
// runs trust it (see Grants).
func StagingPrefix(repo Repository, execution string) string {
	return path.Join("staging", repo.Workspace, repo.Slug, execution) + "/"
}

// StagedKey is the object name of step's run-scoped staging area.
func StagedKey(repo Repository, execution, step, name string) string {
	return StagingPrefix(repo, execution) + path.Join(step, name)
}

// BranchScope names branch in the keys of caches and build records: its
// name in safe characters, at most 40 of them, and 16 hex digits of its
// SHA-256, so that two branches never share one ("feature/x" ->
// "feature-x-<hash>").
func BranchScope(branch string) string {
	name := strings.Trim(nameUnsafe.ReplaceAllString(branch, "-"), "-")
	if len(name) > 40 {
		name = strings.TrimRight(name[:40], "-")
	}
	sum := sha256.Sum256([]byte(branch))
	return cmp.Or(name, "branch") + "-" + hex.EncodeToString(sum[:8])
}

// CacheScope is whose caches and build records a run may use, as CI
// caches are scoped (GitHub Actions' model): a run reads its own branch's
// and its repository's default branch's, and writes only its own
// branch's. So what a branch's code puts in a cache (its checks run it
// with the caches at hand) never reaches another branch's runs, and the
// default branch's runs read nothing another branch wrote.
type CacheScope struct {
	// Branch is the run's branch (a pull request's source branch).
	Branch string
	// Default is the repository's default branch; empty when unknown,
	// and then only Branch's are read.
	Default string
}

// ScopeOf is the cache scope of run, whose plan names its default branch.
// A tag's run has every tag's scope (Run.Lane), which no branch shares.
func ScopeOf(run Run, plan Plan) CacheScope {
	s := CacheScope{Branch: run.Lane()}
	if plan.DefaultBranch != nil {
		s.Default = plan.DefaultBranch.Name
	}
	return s
}

// Reads are the scopes a run reads, in order: its own branch's, then the
// default branch's.
func (s CacheScope) Reads() []string {
	out := []string{BranchScope(s.Branch)}
	if s.Default != "" && s.Default != s.Branch {
		out = append(out, BranchScope(s.Default))
	}
	return out
}

// Writes is the one scope a run writes: its own branch's.
func (s CacheScope) Writes() string { return BranchScope(s.Branch) }

// ToolchainKey is where a verified archive of a Python or Node.js the
// checks fetched (file is its published name, such as
// node-v22.11.0-linux-arm64.tar.gz) is kept for later cold starts. It is
// shared by every repository: whoever reads it checks it against the
// published checksum first.
func ToolchainKey(file string) string {
	return path.Join("cache", "toolchains", file)
}
