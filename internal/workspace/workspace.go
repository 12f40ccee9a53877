// Package workspace is where the checks and package steps work: the source
// of the commit, read from the artifact bucket and unpacked safely into a
// fresh temporary directory, and the bounded capture of the output of the
// commands they run there.
package workspace

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/stackflow/stackflow/internal/archive"
)

// Opener reads objects of the artifact bucket; *artifacts.Store is one.
type Opener interface {
	Open(ctx context.Context, key string) (io.ReadCloser, error)
}

// Fetch unpacks the gzip-compressed tar archive stored at key into a new
// directory under os.TempDir() and returns it with a cleanup that removes
// it. The archive's common top-level directory is stripped, so dir is the
// repository's root; unsafe archives are refused (see package archive).
func Fetch(ctx context.Context, store Opener, key string) (dir string, cleanup func(), err error) {
	body, err := store.Open(ctx, key)
	if err != nil {
		return "", nil, fmt.Errorf("fetch source: %w", err)
	}
	defer body.Close()
	dir, err = os.MkdirTemp("", "stackflow-src-")
	if err != nil {
		return "", nil, fmt.Errorf("fetch source: %w", err)
	}
	cleanup = func() { os.RemoveAll(dir) }
	if err := archive.Extract(body, dir, archive.DefaultLimits); err != nil {
		cleanup()
		return "", nil, fmt.Errorf("fetch source %s: %w", key, err)
	}
	return dir, cleanup, nil
}
