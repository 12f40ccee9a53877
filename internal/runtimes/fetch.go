package runtimes

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"

	"github.com/stackflow/stackflow/internal/archive"
)

// Bounds of what is downloaded.
const (
	// DefaultMaxDownload bounds an archive: install_only CPython builds are
	// 30-40 MB, Node.js tarballs 30-50 MB.
	DefaultMaxDownload = 512 << 20
	// maxSums bounds a checksum file (python-build-standalone's lists every
	// build of a release: about 200 KB).
	maxSums = 4 << 20
	// maxIndex bounds nodejs.org's index.json (about 300 KB).
	maxIndex = 16 << 20
)

// ErrChecksum is wrapped by the refusal of an archive whose SHA-256 is not
// the published one.
var ErrChecksum = errors.New("checksum mismatch")

// fetcher downloads for one Resolve.
type fetcher struct {
	hc   *http.Client
	max  int64
	arch string
}

// get reads url's body, at most limit bytes.
func (f *fetcher) get(ctx context.Context, u string, limit int64) ([]byte, error) {
	return f.getAccept(ctx, u, "", limit)
}

// getAccept is get asking for the media type accept (none when empty).
func (f *fetcher) getAccept(ctx context.Context, u, accept string, limit int64) ([]byte, error) {
	resp, err := f.do(ctx, u, accept)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, fmt.Errorf("download %s: %w", redact(u), err)
	}
	if int64(len(body)) > limit {
		return nil, fmt.Errorf("download %s: over the limit of %d bytes", redact(u), limit)
	}
	return body, nil
}

// do GETs u, asking for the media type accept when it is set, and fails
// on any answer but 200 OK.
func (f *fetcher) do(ctx context.Context, u, accept string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, fmt.Errorf("download %s: %w", redact(u), err)
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	resp, err := f.hc.Do(req)
	if err != nil {
		if ue := (*url.Error)(nil); errors.As(err, &ue) {
			err = ue.Err // it repeats the URL, unredacted
		}
		return nil, fmt.Errorf("download %s: %w", redact(u), err)
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		return nil, fmt.Errorf("download %s: %s", redact(u), resp.Status)
	}
	return resp, nil
}

// download saves url's body into a temporary file in dir.
func (f *fetcher) download(ctx context.Context, u, dir, pattern string) (string, string, error) {
	resp, err := f.do(ctx, u, "")
	if err != nil {
		return "", "", err
	}
	defer resp.Body.Close()
	if resp.ContentLength > f.max {
		return "", "", fmt.Errorf("download %s: %d bytes is over the limit of %d", redact(u), resp.ContentLength, f.max)
	}
	p, sum, err := archive.SaveLimited(resp.Body, dir, pattern, f.max)
	if err != nil {
		return "", "", fmt.Errorf("download %s: %w", redact(u), err)
	}
	return p, sum, nil
}

// redact hides a password in a mirror's URL.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "<mirror>"
	}
	return u.Redacted()
}
