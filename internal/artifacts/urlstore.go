package artifacts

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"

	"github.com/stackflow/stackflow/internal/pipeline"
)

// ErrNotGranted is returned by a URLStore for a key its grants give no
// URL for: the step may not read or write it.
var ErrNotGranted = errors.New("no URL was granted for this key")

// URLStore reads and writes the artifact bucket through the presigned URLs
// of a step's pipeline.Grants alone, and holds no credentials: a key with
// no URL is ErrNotGranted, whatever the caller asks. It serves the same
// calls as Store (Open, Get, Put, PutFile, Exists, URL, Bucket), so the
// checks and package steps use either.
//
// Objects under the grants' BundlePrefixes (the package step's zips and
// build records, whose keys are not known before it runs) are gathered in
// one local tar archive, and Flush uploads it to the grants' Bundle URL.
type URLStore struct {
	g   pipeline.Grants
	hc  *http.Client
	tmp string

	mu      sync.Mutex
	bundle  *os.File
	tw      *tar.Writer
	bundled map[string]bool
}

// NewURLStore returns a store over g's URLs, fetching with hc; the bundle,
// if any, is written in a file under tmp ("" for os.TempDir()).
func NewURLStore(g *pipeline.Grants, hc *http.Client, tmp string) *URLStore {
	if hc == nil {
		hc = http.DefaultClient
	}
	return &URLStore{g: *g, hc: hc, tmp: tmp, bundled: map[string]bool{}}
}

// Bucket is the granted bucket's name.
func (u *URLStore) Bucket() string { return u.g.Bucket }

// URL is the HTTPS URL of key, as Store.URL spells it.
func (u *URLStore) URL(key string) string {
	return fmt.Sprintf("https://%s.s3.%s.amazonaws.com/%s", u.g.Bucket, u.g.Region, key)
}

// Open reads key's object through its GET URL. A missing object is
// ErrNotFound; a key with no URL is ErrNotGranted.
func (u *URLStore) Open(ctx context.Context, key string) (io.ReadCloser, error) {
	link, ok := u.g.Get[key]
	if !ok {
		return nil, fmt.Errorf("get s3://%s/%s: %w", u.g.Bucket, key, ErrNotGranted)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, link, nil)
	if err != nil {
		return nil, fmt.Errorf("get s3://%s/%s: %w", u.g.Bucket, key, err)
	}
	resp, err := u.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("get s3://%s/%s: %w", u.g.Bucket, key, scrub(err))
	}
	if resp.StatusCode == http.StatusOK {
		return resp.Body, nil
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotFound {
		return nil, fmt.Errorf("get s3://%s/%s: %w", u.g.Bucket, key, ErrNotFound)
	}
	return nil, fmt.Errorf("get s3://%s/%s: %w", u.g.Bucket, key, u.refused(resp))
}

// Get returns key's whole object, as Open reads it.
func (u *URLStore) Get(ctx context.Context, key string) ([]byte, error) {
	body, err := u.Open(ctx, key)
	if err != nil {
		return nil, err
	}
	defer body.Close()
	b, err := io.ReadAll(body)
	if err != nil {
		return nil, fmt.Errorf("read s3://%s/%s: %w", u.g.Bucket, key, scrub(err))
	}
	return b, nil
}

// Exists reports whether key holds an object: true for what this store put
// in its bundle, else what its GET URL answers. A key with neither is
// ErrNotGranted: the store cannot tell.
func (u *URLStore) Exists(ctx context.Context, key string) (bool, error) {
	u.mu.Lock()
	bundled := u.bundled[key]
	u.mu.Unlock()
	if bundled {
		return true, nil
	}
	body, err := u.Open(ctx, key)
	if errors.Is(err, ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	body.Close()
	return true, nil
}

// Put stores body under key: through key's PUT URL, or into the bundle
// when key is under one of its prefixes.
func (u *URLStore) Put(ctx context.Context, key string, body []byte, contentType string) error {
	return u.put(ctx, key, bytes.NewReader(body), int64(len(body)), contentType)
}

// PutFile stores the file at path under key, as Put.
func (u *URLStore) PutFile(ctx context.Context, key, path, contentType string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("put s3://%s/%s: %w", u.g.Bucket, key, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("put s3://%s/%s: %w", u.g.Bucket, key, err)
	}
	return u.put(ctx, key, f, fi.Size(), contentType)
}

func (u *URLStore) put(ctx context.Context, key string, body io.Reader, size int64, contentType string) error {
	if link, ok := u.g.Put[key]; ok {
		return u.upload(ctx, key, link, body, size, contentType)
	}
	if u.g.Bundle != "" && u.inBundle(key) {
		return u.addToBundle(key, body, size)
	}
	return fmt.Errorf("put s3://%s/%s: %w", u.g.Bucket, key, ErrNotGranted)
}

func (u *URLStore) inBundle(key string) bool {
	for _, p := range u.g.BundlePrefixes {
		if strings.HasPrefix(key, p) && !strings.Contains(key[len(p):], "..") {
			return true
		}
	}
	return false
}

func (u *URLStore) upload(ctx context.Context, key, link string, body io.Reader, size int64, contentType string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, link, body)
	if err != nil {
		return fmt.Errorf("put s3://%s/%s: %w", u.g.Bucket, key, err)
	}
	req.ContentLength = size
	if size == 0 {
		req.Body = http.NoBody
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := u.hc.Do(req)
	if err != nil {
		return fmt.Errorf("put s3://%s/%s: %w", u.g.Bucket, key, scrub(err))
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("put s3://%s/%s: %w", u.g.Bucket, key, u.refused(resp))
	}
	io.Copy(io.Discard, resp.Body)
	return nil
}

// addToBundle appends key's object to the bundle; a key already there is
// kept as it was first put (the bundle's keys are named by content).
func (u *URLStore) addToBundle(key string, body io.Reader, size int64) error {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.bundled[key] {
		return nil
	}
	if u.bundle == nil {
		f, err := os.CreateTemp(u.tmp, "stackflow-bundle-*.tar")
		if err != nil {
			return fmt.Errorf("put s3://%s/%s: %w", u.g.Bucket, key, err)
		}
		u.bundle, u.tw = f, tar.NewWriter(f)
	}
	hdr := &tar.Header{Name: key, Mode: 0o644, Size: size, Typeflag: tar.TypeReg, Format: tar.FormatPAX}
	if err := u.tw.WriteHeader(hdr); err != nil {
		return fmt.Errorf("put s3://%s/%s in the bundle: %w", u.g.Bucket, key, err)
	}
	if _, err := io.CopyN(u.tw, body, size); err != nil {
		return fmt.Errorf("put s3://%s/%s in the bundle: %w", u.g.Bucket, key, err)
	}
	u.bundled[key] = true
	return nil
}

// Bundled lists the keys put in the bundle so far.
func (u *URLStore) Bundled() []string {
	u.mu.Lock()
	defer u.mu.Unlock()
	var out []string
	for k := range u.bundled {
		out = append(out, k)
	}
	return out
}

// Flush uploads the bundle, when anything was put in it, and removes the
// local file. It is safe to call more than once; later puts start a new
// bundle, which a later Flush uploads in its place.
func (u *URLStore) Flush(ctx context.Context) error {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.bundle == nil {
		return nil
	}
	f := u.bundle
	defer os.Remove(f.Name())
	defer f.Close()
	u.bundle = nil
	if err := u.tw.Close(); err != nil {
		return fmt.Errorf("bundle: %w", err)
	}
	size, err := f.Seek(0, io.SeekCurrent)
	if err != nil {
		return fmt.Errorf("bundle: %w", err)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("bundle: %w", err)
	}
	return u.upload(ctx, "(the step's bundle)", u.g.Bundle, f, size, "application/x-tar")
}

// Close removes the bundle's local file without uploading it.
func (u *URLStore) Close() error {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.bundle == nil {
		return nil
	}
	u.bundle.Close()
	err := os.Remove(u.bundle.Name())
	u.bundle = nil
	return err
}

// refused names why S3 refused a presigned request, from its XML error's
// code and message, without the URL (whose signature grants access).
func (u *URLStore) refused(resp *http.Response) error {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	code, msg := between(string(b), "<Code>", "</Code>"), between(string(b), "<Message>", "</Message>")
	switch {
	case code == "AccessDenied" && strings.Contains(strings.ToLower(msg), "expired"):
		return fmt.Errorf("the presigned URL expired (the grants expire at %s): run the step again: %s", u.g.Expires, resp.Status)
	case code != "":
		return fmt.Errorf("%s: %s: %s", resp.Status, code, msg)
	}
	return errors.New(resp.Status)
}

func between(s, open, end string) string {
	i := strings.Index(s, open)
	if i < 0 {
		return ""
	}
	s = s[i+len(open):]
	if j := strings.Index(s, end); j >= 0 {
		return s[:j]
	}
	return ""
}

// scrub drops the URL from a transport error: *url.Error quotes it, and
// its query string is a credential while it is good.
func scrub(err error) error {
	var ue interface {
		Unwrap() error
		Timeout() bool
	}
	if errors.As(err, &ue) {
		if inner := ue.Unwrap(); inner != nil {
			return inner
		}
	}
	return err
}
