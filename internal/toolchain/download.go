package toolchain

import (
	"archive/zip"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/stackflow/stackflow/internal/archive"
)

// Bounds of an unpacked toolchain: released ones hold about 15,000 files
// and 250 MB.
const (
	maxFiles    = 100_000
	maxUnpacked = 2 << 30
)

// errNotFound is a proxy's 404 or 410: the next proxy in the list may have it.
var errNotFound = errors.New("not found")

// download fetches golang.org/toolchain@modVersion's zip from the first
// proxy of opts.Proxy that has it, as the go command walks GOPROXY: after a
// "," only a 404 or 410 moves on to the next proxy, after a "|" any error
// does. It returns the path of the zip, a temporary file in opts.CacheDir.
func download(ctx context.Context, opts Options, modVersion string) (string, error) {
	list := opts.Proxy
	var errs []error
	for list != "" {
		var proxy string
		i := strings.IndexAny(list, ",|")
		fallThroughAll := false
		if i < 0 {
			proxy, list = list, ""
		} else {
			proxy, fallThroughAll, list = list[:i], list[i] == '|', list[i+1:]
		}
		proxy = strings.TrimSpace(proxy)
		switch proxy {
		case "", "direct":
			continue // toolchains come from a proxy only
		case "off":
			errs = append(errs, errors.New("GOPROXY=off: downloads disabled"))
			return "", errors.Join(errs...)
		}
		p, err := fetch(ctx, opts, proxy, modVersion)
		if err == nil {
			return p, nil
		}
		errs = append(errs, err)
		if !fallThroughAll && !errors.Is(err, errNotFound) {
			break
		}
	}
	if len(errs) == 0 {
		return "", fmt.Errorf("GOPROXY %q lists no proxy to download toolchains from", redactList(opts.Proxy))
	}
	return "", errors.Join(errs...)
}

// fetch downloads one proxy's zip of golang.org/toolchain@modVersion into a
// temporary file, refusing one larger than opts.MaxDownload.
func fetch(ctx context.Context, opts Options, proxy, modVersion string) (string, error) {
	u := strings.TrimSuffix(proxy, "/") + "/golang.org/toolchain/@v/" + modVersion + ".zip"
	shown := redact(u)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return "", fmt.Errorf("download %s: %w", shown, err)
	}
	resp, err := opts.HTTPClient.Do(req)
	if err != nil {
		if ue := (*url.Error)(nil); errors.As(err, &ue) {
			err = ue.Err // it repeats the URL, unredacted
		}
		return "", fmt.Errorf("download %s: %w", shown, err)
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusGone:
		return "", fmt.Errorf("download %s: %s: %w", shown, resp.Status, errNotFound)
	case resp.StatusCode != http.StatusOK:
		return "", fmt.Errorf("download %s: %s", shown, resp.Status)
	case resp.ContentLength > opts.MaxDownload:
		return "", fmt.Errorf("download %s: %d bytes is over the limit of %d", shown, resp.ContentLength, opts.MaxDownload)
	}
	path, _, err := archive.SaveLimited(resp.Body, opts.CacheDir, modVersion+".*.zip", opts.MaxDownload)
	if err != nil {
		return "", fmt.Errorf("download %s: %w", shown, err)
	}
	return path, nil
}

// redact hides a password in a proxy URL.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "<proxy>"
	}
	return u.Redacted()
}

func redactList(list string) string {
	parts := strings.FieldsFunc(list, func(r rune) bool { return r == ',' || r == '|' })
	for i, p := range parts {
		if strings.Contains(p, "://") {
			parts[i] = redact(p)
		}
	}
	return strings.Join(parts, ",")
}

// unzip unpacks the module zip at zipPath into dir, every entry stripped of
// prefix. Entries outside prefix, climbing out with "..", absolute, links or
// over the size and count bounds are refused.
func unzip(zipPath, dir, prefix string) error {
	zr, err := zip.OpenReader(zipPath)
	if err != nil {
		return fmt.Errorf("unzip toolchain: %w", err)
	}
	defer zr.Close()
	if len(zr.File) > maxFiles {
		return fmt.Errorf("unzip toolchain: more than %d files", maxFiles)
	}
	var total uint64
	for _, f := range zr.File {
		rel, ok := strings.CutPrefix(f.Name, prefix)
		if !ok {
			return fmt.Errorf("unzip toolchain: entry %q is outside %s", f.Name, prefix)
		}
		if rel == "" || strings.HasSuffix(rel, "/") {
			continue // a directory
		}
		if path.IsAbs(rel) || strings.Contains(rel, `\`) || path.Clean(rel) != rel || rel == ".." || strings.HasPrefix(rel, "../") {
			return fmt.Errorf("unzip toolchain: unsafe entry %q", f.Name)
		}
		if !f.Mode().IsRegular() {
			return fmt.Errorf("unzip toolchain: entry %q is not a regular file", f.Name)
		}
		total += f.UncompressedSize64
		if total > maxUnpacked {
			return fmt.Errorf("unzip toolchain: more than %d bytes", maxUnpacked)
		}
		if err := unzipFile(f, filepath.Join(dir, filepath.FromSlash(rel))); err != nil {
			return err
		}
	}
	return nil
}

func unzipFile(f *zip.File, target string) error {
	if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
		return fmt.Errorf("unzip toolchain: %w", err)
	}
	r, err := f.Open()
	if err != nil {
		return fmt.Errorf("unzip toolchain %s: %w", f.Name, err)
	}
	defer r.Close()
	w, err := os.OpenFile(target, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("unzip toolchain: %w", err)
	}
	// The declared size bounds the copy: a lying header cannot fill the disk.
	_, err = io.Copy(w, io.LimitReader(r, int64(f.UncompressedSize64)))
	if cerr := w.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("unzip toolchain %s: %w", f.Name, err)
	}
	return nil
}
