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
