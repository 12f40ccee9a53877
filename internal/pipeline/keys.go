package pipeline

import "path"

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
// stored.
func PackagedTemplateKey(repo Repository, commit string) string {
	return path.Join("packages", repo.Workspace, repo.Slug, commit, "template.yaml")
}

// BuildRecordKey is where the package step records which zip a build of
// repo with the build key buildKey (a hash of everything the build reads)
// made, so that a later run with the same inputs reuses the zip instead of
// building again.
func BuildRecordKey(repo Repository, buildKey string) string {
	return path.Join("builds", repo.Workspace, repo.Slug, buildKey+".json")
}

// CacheKey is where one of repo's Go caches ("gomodcache", "gocache") is
// kept between runs: cacheKey names the inputs the cache is good for (the
// step, go.sum, the toolchain and the platform), name the cache, and ext
// the object (".tar.gz" for the cache, ".json" for its manifest).
func CacheKey(repo Repository, cacheKey, name, ext string) string {
	return path.Join("cache", repo.Workspace, repo.Slug, cacheKey, name+ext)
}

// ToolchainKey is where a verified archive of a Python or Node.js the
// checks fetched (file is its published name, such as
// node-v22.11.0-linux-arm64.tar.gz) is kept for later cold starts. It is
// shared by every repository: whoever reads it checks it against the
// published checksum first.
func ToolchainKey(file string) string {
	return path.Join("cache", "toolchains", file)
}
