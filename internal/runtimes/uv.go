package runtimes

import (
	"archive/zip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/stackflow/stackflow/internal/pipeline"
)

// UV is uv, the tool that BuildMethod python-uv builds run. It is no
// runtime's language, but Resolve provides it as it provides Python and
// Node.js: Need{Language: UV, Version: UVVersion}.
const UV Language = "uv"

// UVVersion is the uv that python-uv builds run: the one that
// requirements-test.txt pins, which the package step's tests compare with
// sam build.
const UVVersion = "0.13.9"

// pypiIndex is PyPI's simple index, where uv's wheels are listed (PEP 691's
// JSON form, which PyPI and the common mirrors serve).
const pypiIndex = "https://pypi.org/simple"

// wheel is a published wheel and its SHA-256.
type wheel struct{ file, sha256 string }

// uvWheels are uv UVVersion's wheels for Lambda's two architectures, the
// ones pip chooses on Amazon Linux 2023 (glibc 2.34), with their SHA-256
// as PyPI published them. The digests are pinned here: an index or mirror
// that lists or serves other bytes is refused. To move to another uv,
// change UVVersion and these, from https://pypi.org/simple/uv/ (or
// https://pypi.org/pypi/uv/<version>/json).
var uvWheels = map[string]wheel{
	"amd64": {"uv-0.13.9-py3-none-manylinux_2_17_x86_64.manylinux2014_x86_64.whl", "d7f459fe4fd247d830351c75686d3996ace3c6f3f728eb0e85a30b7ada0cef19"},
	"arm64": {"uv-0.13.9-py3-none-manylinux_2_28_aarch64.whl", "ecb6028d79dc96fbeafffe5c8af62a7099487ebc05a701e76714eebcffd06375"},
}

// maxUV bounds the uv binary unpacked from its wheel (about 40 MB).
const maxUV = 256 << 20

// fetchUV returns uv from opts.CacheDir, first fetching its wheel for
// opts.Arch (from the artifact bucket, else from the index), checking it
// against the pinned SHA-256 and unpacking the binary there when it is
// not.
func fetchUV(ctx context.Context, n Need, opts Options) (Tool, error) {
	began := time.Now()
	wheels := opts.uvWheels
	if wheels == nil {
		wheels = uvWheels
	}
	w, ok := wheels[opts.Arch]
	if !ok {
		return Tool{}, fmt.Errorf("uv: no wheel pinned for linux/%s", opts.Arch)
	}
	if n.Version != UVVersion {
		return Tool{}, fmt.Errorf("uv %s: only uv %s is fetched", n.Version, UVVersion)
	}
	index := pypiIndex
	if m := opts.Mirrors[UV]; m != "" {
		index = m
	}
	root := filepath.Join(opts.CacheDir, strings.TrimSuffix(w.file, ".whl"))
	t := Tool{Need: n, Version: UVVersion, Source: "PyPI", Bin: filepath.Join(root, "bin")}
	t.Exe = filepath.Join(t.Bin, "uv")
	if _, err := os.Stat(t.Exe); err == nil {
		t.Origin, t.Took = "cached", time.Since(began)
		return t, nil
	}
	if err := os.MkdirAll(opts.CacheDir, 0o755); err != nil {
		return Tool{}, fmt.Errorf("fetch %s: %w", w.file, err)
	}
	f := &fetcher{hc: opts.HTTPClient, max: opts.MaxDownload, arch: opts.Arch}
	key := pipeline.ToolchainKey(w.file)
	tmp, origin, note := fromStore(ctx, f, opts, key, w.sha256)
	if tmp == "" {
		u, listed, err := wheelURL(ctx, f, index, "uv", w.file)
		if err != nil {
			return Tool{}, err
		}
		if listed != "" && listed != w.sha256 {
			return Tool{}, fmt.Errorf("%s: the index lists SHA-256 %s, but stackflow pins %s: refused: %w", w.file, listed, w.sha256, ErrChecksum)
		}
		var got string
		if tmp, got, err = f.download(ctx, u, opts.CacheDir, w.file+".*"); err != nil {
			return Tool{}, err
		}
		if got != w.sha256 {
			os.Remove(tmp)
			return Tool{}, fmt.Errorf("%s: SHA-256 %s, but stackflow pins %s: refused: %w", redact(u), got, w.sha256, ErrChecksum)
		}
		origin = "downloaded"
	}
	defer os.Remove(tmp)
	if err := unpackUV(ctx, tmp, root, t.Exe); err != nil {
		return Tool{}, fmt.Errorf("%s: %w", w.file, err)
	}
	if origin == "downloaded" && opts.Store != nil {
		if err := opts.Store.PutFile(ctx, key, tmp, "application/zip"); err != nil {
			note = fmt.Sprintf("not kept in the artifact bucket: %v", err)
		}
	}
	t.Origin, t.Note, t.Took = origin+" and verified against the pinned SHA-256", note, time.Since(began)
	return t, nil
}

// wheelURL finds file among project's files on a PEP 691 simple index and
// returns its URL and the SHA-256 the index lists for it ("" when it lists
// none).
func wheelURL(ctx context.Context, f *fetcher, index, project, file string) (string, string, error) {
	page := strings.TrimSuffix(index, "/") + "/" + project + "/"
	body, err := f.getAccept(ctx, page, "application/vnd.pypi.simple.v1+json", maxIndex)
	if err != nil {
		return "", "", err
	}
	var listing struct {
		Files []struct {
			Filename string            `json:"filename"`
			URL      string            `json:"url"`
			Hashes   map[string]string `json:"hashes"`
		} `json:"files"`
	}
	if err := json.Unmarshal(body, &listing); err != nil {
		return "", "", fmt.Errorf("%s: not a PEP 691 JSON project page: %w", redact(page), err)
	}
	for _, lf := range listing.Files {
		if lf.Filename != file {
			continue
		}
		base, err := url.Parse(page)
		if err != nil {
			return "", "", fmt.Errorf("%s: %w", redact(page), err)
		}
		ref, err := url.Parse(lf.URL)
		if err != nil {
			return "", "", fmt.Errorf("%s: %s's URL: %w", redact(page), file, err)
		}
		return base.ResolveReference(ref).String(), strings.ToLower(lf.Hashes["sha256"]), nil
	}
	return "", "", fmt.Errorf("%s lists no %s", redact(page), file)
}

// unpackUV writes the uv binary of the wheel at tmp (its
// <name>.data/scripts/uv) to exe under root, through a staging directory
// renamed into place once it runs and says UVVersion. Nothing else of the
// wheel is unpacked, so its other names cannot reach out of root.
func unpackUV(ctx context.Context, tmp, root, exe string) error {
	zr, err := zip.OpenReader(tmp)
	if err != nil {
		return fmt.Errorf("not a wheel: %w", err)
	}
	defer zr.Close()
	var bin *zip.File
	for _, zf := range zr.File {
		dir, name := filepath.Split(zf.Name)
		if name == "uv" && strings.HasSuffix(dir, ".data/scripts/") && strings.Count(dir, "/") == 2 {
			bin = zf
		}
	}
	if bin == nil {
		return fmt.Errorf("the wheel holds no <name>.data/scripts/uv")
	}
	if bin.UncompressedSize64 > maxUV {
		return fmt.Errorf("%s: %d bytes is over the limit of %d", bin.Name, bin.UncompressedSize64, maxUV)
	}
	staging, err := os.MkdirTemp(filepath.Dir(root), filepath.Base(root)+".tmp-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(staging) // a no-op once renamed
	rel, err := filepath.Rel(root, exe)
	if err != nil {
		return err
	}
	target := filepath.Join(staging, rel)
	if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
		return err
	}
	if err := copyZipFile(bin, target); err != nil {
		return err
	}
	out, err := exec.CommandContext(ctx, target, "--version").CombinedOutput()
	if err != nil {
		return fmt.Errorf("run %s: %w: %s", rel, err, strings.TrimSpace(string(out)))
	}
	if !strings.HasPrefix(strings.TrimSpace(string(out)), "uv "+UVVersion) {
		return fmt.Errorf("%s says %q, want uv %s", rel, strings.TrimSpace(string(out)), UVVersion)
	}
	if err := os.Rename(staging, root); err != nil {
		// Another Resolve may have won the race; its copy is as good.
		if _, statErr := os.Stat(exe); statErr != nil {
			return fmt.Errorf("install: %w", err)
		}
	}
	return nil
}

// copyZipFile writes zf to target, executable, at most maxUV bytes.
func copyZipFile(zf *zip.File, target string) error {
	r, err := zf.Open()
	if err != nil {
		return fmt.Errorf("%s: %w", zf.Name, err)
	}
	defer r.Close()
	w, err := os.OpenFile(target, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o755)
	if err != nil {
		return err
	}
	n, err := io.Copy(w, io.LimitReader(r, maxUV+1))
	if cerr := w.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("%s: %w", zf.Name, err)
	}
	if n > maxUV {
		return fmt.Errorf("%s: over the limit of %d bytes", zf.Name, maxUV)
	}
	return nil
}

// hostUV finds the host's uv on path; a missing one, or another version,
// is a Warning, as for the host's Python and Node.js.
func hostUV(ctx context.Context, n Need, path string) (Tool, error) {
	t := Tool{Need: n, Host: true, Origin: "this machine's"}
	exe := LookPath("uv", filepath.SplitList(path))
	if exe == "" {
		t.Warning = fmt.Sprintf("python-uv: no uv on this machine's PATH: python-uv builds will fail; install it (pip install uv==%s)", UVVersion)
		return t, nil
	}
	out, err := exec.CommandContext(ctx, exe, "--version").Output()
	if err != nil {
		return Tool{}, fmt.Errorf("run %s: %w", exe, err)
	}
	fields := strings.Fields(string(out)) // "uv 0.13.9 (x86_64-unknown-linux-gnu)"
	if len(fields) < 2 || fields[0] != "uv" {
		return Tool{}, fmt.Errorf("run %s --version: unexpected output %q", exe, out)
	}
	t.Exe, t.Bin, t.Version = exe, filepath.Dir(exe), fields[1]
	if t.Version != UVVersion {
		t.Warning = fmt.Sprintf("python-uv builds are tested with uv %s; this machine's is uv %s", UVVersion, t.Version)
	}
	return t, nil
}
