package packager

import (
	"context"
	"path/filepath"
	"time"
)

// BuildCache keeps, by build key, the zips that builds made, where the
// artifact bucket does not: stackflow local's bucket is new on every run,
// its cache directory is not. The bucket's build records are looked at
// first; on AWS there is no BuildCache and they do all the work.
//
// A cache failure only costs a build: the packager notes it and builds.
type BuildCache interface {
	// Load copies the zip that the build named key made to the new file
	// path, and describes it. found is false, with no error, when the
	// cache holds no zip for key; a copy that is not the one recorded
	// (damaged or partly written) is an error, and is not copied.
	Load(ctx context.Context, key, path string) (z CachedZip, found bool, err error)
	// Save keeps the zip at path, described by z, as the one the build
	// named key made.
	Save(ctx context.Context, key, path string, z CachedZip) error
}

// CachedZip describes a zip that a BuildCache keeps: what the bucket's
// build record says of it.
type CachedZip struct {
	// SHA256 (hex) and Size are the zip's.
	SHA256 string
	Size   int64
	// Handler, when set, is the Handler that the build's functions get
	// (esbuild moves the handler's file).
	Handler string
	// Tool names the tools that built it.
	Tool string
}

// BuildState is how far one function's zip is.
type BuildState string

// The states a BuildEvent tells.
const (
	// Building: go build has started.
	Building BuildState = "building"
	// Built: go build made the zip.
	Built BuildState = "built"
	// Reused: the zip of an earlier build with the same build key is used.
	Reused BuildState = "reused"
)

// BuildEvent tells Service.Progress how one function's (or layer's) zip is
// coming along. Functions that share a build share one zip, and one event
// names the first of them.
type BuildEvent struct {
	Function string
	// Code is the function's CodeUri, relative to the repository's root.
	Code  string
	State BuildState
	// From, for Reused, is where the zip was found: FromBucket or
	// FromCache.
	From string
	// Took is how long the build or the look-up took; Size is the zip's,
	// once it is made.
	Took time.Duration
	Size int64
}

// Where a reused zip was found.
const (
	// FromBucket: the bucket's build record named it.
	FromBucket = "the artifact bucket"
	// FromCache: the Service's BuildCache held it.
	FromCache = "the build cache"
)

// progress tells s.Progress, when set, about u.
func (j *job) progress(u *unit, state BuildState, from string, took time.Duration, size int64) {
	if j.Progress == nil {
		return
	}
	rel, _ := filepath.Rel(j.t.root, u.codeDir)
	j.Progress(BuildEvent{Function: u.name, Code: filepath.ToSlash(rel), State: state, From: from, Took: took, Size: size})
}
