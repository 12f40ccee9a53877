package packager

import (
	"context"
	"fmt"
	"runtime"

	"github.com/stackflow/stackflow/internal/gocache"
	"github.com/stackflow/stackflow/internal/pipeline"
	"github.com/stackflow/stackflow/internal/runtimes"
)

// downloadPart is the download cache that building u fills: pip's, uv's or
// npm's; "" for a Go build, whose caches the Go builder keeps.
func downloadPart(u *unit) gocache.Part {
	switch {
	case u.method.family == "python" && u.method.build == "python-uv":
		return gocache.Uv
	case u.method.family == "python":
		return gocache.Pip
	case u.method.family == "nodejs":
		return gocache.Npm
	}
	return ""
}

// fetchRuntimes fetches the Python and Node.js of the units' runtimes,
// and uv for python-uv builds, when Runtimes says to, and searches their
// bin directories first.
func (j *job) fetchRuntimes(ctx context.Context, units []*unit) error {
	if j.Runtimes == nil {
		return nil
	}
	var rts []string
	uv := false
	for _, u := range units {
		rts = append(rts, u.runtime)
		uv = uv || u.method.build == "python-uv"
	}
	needs := runtimes.Needs(rts)
	if uv && !j.Runtimes.Host {
		// On the host, the uv builder looks uv up in ToolPath and PATH.
		needs = append(needs, runtimes.Need{Language: runtimes.UV, Version: runtimes.UVVersion})
	}
	tools, err := runtimes.Resolve(ctx, needs, *j.Runtimes)
	if err != nil {
		return fmt.Errorf("package: %w", err)
	}
	for _, t := range tools {
		j.note("[%s]\n", t)
		if t.Note != "" {
			j.note("[note: %s]\n", t.Note)
		}
		j.log.Info("runtime", "runtime", t.Need.Runtime(), "version", t.Version, "origin", t.Origin, "seconds", t.Took.Seconds())
		if t.Exe != "" {
			j.toolDirs = append(j.toolDirs, t.Bin)
		}
	}
	return nil
}

// restoreDownloads restores, once, the download cache that building u
// fills, when Caches keeps them, as the run's scope allows. A failure
// only costs time.
func (j *job) restoreDownloads(ctx context.Context, u *unit) {
	part := downloadPart(u)
	if j.Caches == nil || part == "" || j.restored[part] {
		return
	}
	if j.downloads == nil {
		j.downloads = j.caches.Session(j.in.Run.Repository, j.scope(), pipeline.StepPackage, gocache.DownloadsKey("package", runtime.GOOS, runtime.GOARCH))
		j.restored = map[gocache.Part]bool{}
	}
	j.restored[part] = true
	r, err := j.downloads.Restore(ctx, part)
	if err != nil {
		j.note("[caches: %v; going on without]\n", err)
		j.log.Warn("restore cache", "cache", string(part), "error", err)
		return
	}
	j.note("%s\n", r)
	j.log.Info("cache", "cache", string(part), "action", r.Action, "bytes", r.Bytes, "seconds", r.Took.Seconds())
}

// saveDownloads saves the download caches that were restored and grew.
func (j *job) saveDownloads(ctx context.Context) {
	if j.downloads == nil {
		return
	}
	reports, err := j.downloads.Save(ctx)
	for _, r := range reports {
		j.note("%s\n", r)
		j.log.Info("cache", "cache", string(r.Part), "action", r.Action, "bytes", r.Bytes, "archive", r.Archive, "seconds", r.Took.Seconds())
	}
	if err != nil {
		j.note("[caches: %v]\n", err)
		j.log.Warn("save caches", "error", err)
	}
}
