package runtimes

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Language is a family of Lambda runtimes whose tools the checks need, or
// UV, the tool python-uv builds need.
type Language string

// The languages whose tools Resolve provides.
const (
	Python Language = "python"
	Node   Language = "nodejs"
)

// Need is one version of a language that an app's runtimes ask for.
type Need struct {
	Language Language
	// Version is "3.12" for Python, "22" for Node.js.
	Version string
}

// Runtime is the Lambda runtime's name: "python3.12", "nodejs22.x"; for
// UV, the build method that needs it, "python-uv".
func (n Need) Runtime() string {
	switch n.Language {
	case Node:
		return "nodejs" + n.Version + ".x"
	case UV:
		return "python-uv"
	}
	return "python" + n.Version
}

// ParseRuntime returns what the Lambda runtime rt needs; false for a
// runtime whose tools Resolve does not provide (provided.al2023, java21).
func ParseRuntime(rt string) (Need, bool) {
	if v, ok := strings.CutPrefix(rt, "python3."); ok {
		if _, err := strconv.Atoi(v); err == nil && v != "" {
			return Need{Language: Python, Version: "3." + v}, true
		}
	}
	if v, ok := strings.CutPrefix(rt, "nodejs"); ok {
		if major, ok := strings.CutSuffix(v, ".x"); ok {
			if _, err := strconv.Atoi(major); err == nil {
				return Need{Language: Node, Version: major}, true
			}
		}
	}
	return Need{}, false
}

// Needs returns what the runtimes need, each once: Python first, then
// Node.js, newest version first within each. Runtimes of other languages
// are left out.
func Needs(runtimes []string) []Need {
	var out []Need
	for _, rt := range runtimes {
		if n, ok := ParseRuntime(rt); ok && !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	slices.SortFunc(out, func(a, b Need) int {
		if a.Language != b.Language {
			return cmp.Compare(b.Language, a.Language) // "python" before "nodejs"
		}
		return -compareVersions(a.Version, b.Version)
	})
	return out
}

// compareVersions compares dotted decimal versions ("3.9" < "3.12").
func compareVersions(a, b string) int {
	as, bs := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < len(as) || i < len(bs); i++ {
		var x, y int
		if i < len(as) {
			x, _ = strconv.Atoi(as[i])
		}
		if i < len(bs) {
			y, _ = strconv.Atoi(bs[i])
		}
		if c := cmp.Compare(x, y); c != 0 {
			return c
		}
	}
	return 0
}

// source is where one language's tools come from: how the exact version
// for a Need is chosen, where its archive for an architecture and the
// published checksums of that archive are, and what the archive holds.
type source struct {
	// name says where the tools come from, for the log.
	name string
	// mirror is the default base URL; Options.Mirrors overrides it.
	mirror string
	// sums names the checksum file, for messages.
	sums string
	// version chooses the exact version to fetch for need.
	version func(ctx context.Context, f *fetcher, mirror string, need Need) (string, error)
	// asset returns the archive's file name, its URL and its checksum
	// file's URL, for version on arch (a Go architecture).
	asset func(mirror, version, arch string) (file, archive, sums string, err error)
	// exe is the command, in the archive's bin directory, that must run
	// and say version: the interpreter.
	exe func(need Need) string
	// versionArgs make exe print its version, which check compares.
	versionArgs []string
	check       func(out, version string) bool
}

// sources is every language's source. To move to newer builds, change
// pythonRelease and pythonVersions; Node.js follows nodejs.org by itself.
var sources = map[Language]source{
	Python: {
		name:        "python-build-standalone " + pythonRelease,
		mirror:      "https://github.com/astral-sh/python-build-standalone/releases/download",
		sums:        "SHA256SUMS",
		version:     pythonVersion,
		asset:       pythonAsset,
		exe:         func(n Need) string { return "python" + n.Version },
		versionArgs: []string{"--version"},
		check:       func(out, v string) bool { return strings.TrimSpace(out) == "Python "+v },
	},
	Node: {
		name:        "nodejs.org",
		mirror:      "https://nodejs.org/dist",
		sums:        "SHASUMS256.txt",
		version:     nodeVersion,
		asset:       nodeAsset,
		exe:         func(Need) string { return "node" },
		versionArgs: []string{"--version"},
		check:       func(out, v string) bool { return strings.TrimSpace(out) == "v"+v },
	},
}

// pythonRelease is the python-build-standalone release whose CPython builds
// the python3.X runtimes get, and pythonVersions the newest CPython of each
// runtime in it. python-build-standalone publishes no index but GitHub's
// API (60 requests an hour without a token), so the versions are pinned
// here, as uv pins them in its download-metadata.json.
const pythonRelease = "20251031"

var pythonVersions = map[string]string{
	"3.11": "3.11.14",
	"3.12": "3.12.12",
	"3.13": "3.13.9",
	"3.14": "3.14.0",
}

func pythonVersion(_ context.Context, _ *fetcher, _ string, need Need) (string, error) {
	v, ok := pythonVersions[need.Version]
	if !ok {
		return "", fmt.Errorf("%s: no CPython build for it (python3.11-python3.14 are fetched)", need.Runtime())
	}
	return v, nil
}

// pythonAsset is the install_only build: a tar.gz of python/ with bin/,
// lib/ and pip.
func pythonAsset(mirror, version, arch string) (string, string, string, error) {
	triple, ok := map[string]string{"arm64": "aarch64-unknown-linux-gnu", "amd64": "x86_64-unknown-linux-gnu"}[arch]
	if !ok {
		return "", "", "", fmt.Errorf("python-build-standalone: no build for linux/%s", arch)
	}
	file := "cpython-" + version + "+" + pythonRelease + "-" + triple + "-install_only.tar.gz"
	base := strings.TrimSuffix(mirror, "/") + "/" + pythonRelease + "/"
	// GitHub's release asset URLs escape the "+".
	return file, base + strings.ReplaceAll(file, "+", "%2B"), base + "SHA256SUMS", nil
}

// nodeRelease is one entry of nodejs.org's /dist/index.json.
type nodeRelease struct {
	Version string   `json:"version"` // "v22.11.0"
	Files   []string `json:"files"`   // "linux-arm64", "linux-x64", ...
}

// nodeVersion is the newest release of need's major version with a Linux
// build for this architecture, from the mirror's index.json (newest
// first), as Lambda's nodejsNN.x runtimes follow their major version.
func nodeVersion(ctx context.Context, f *fetcher, mirror string, need Need) (string, error) {
	body, err := f.get(ctx, strings.TrimSuffix(mirror, "/")+"/index.json", maxIndex)
	if err != nil {
		return "", err
	}
	var releases []nodeRelease
	if err := json.Unmarshal(body, &releases); err != nil {
		return "", fmt.Errorf("nodejs.org index.json: %w", err)
	}
	want := "linux-" + nodeArch(f.arch)
	best := ""
	for _, r := range releases {
		v := strings.TrimPrefix(r.Version, "v")
		major, _, _ := strings.Cut(v, ".")
		if major != need.Version || !slices.Contains(r.Files, want) || strings.Contains(v, "-") {
			continue
		}
		if best == "" || compareVersions(v, best) > 0 {
			best = v
		}
	}
	if best == "" {
		return "", fmt.Errorf("%s: index.json lists no Node.js %s release for %s", need.Runtime(), need.Version, want)
	}
	return best, nil
}

func nodeArch(goarch string) string {
	if goarch == "amd64" {
		return "x64"
	}
	return goarch
}

// nodeAsset is the Linux tarball: node-vX.Y.Z-linux-<arch>/ with bin/node,
// and bin/npm and bin/npx linked into lib/node_modules/npm.
func nodeAsset(mirror, version, arch string) (string, string, string, error) {
	if arch != "arm64" && arch != "amd64" {
		return "", "", "", fmt.Errorf("nodejs.org: no build for linux/%s", arch)
	}
	file := "node-v" + version + "-linux-" + nodeArch(arch) + ".tar.gz"
	base := strings.TrimSuffix(mirror, "/") + "/v" + version + "/"
	return file, base + file, base + "SHASUMS256.txt", nil
}

// parseSums finds file's SHA-256 in a checksum file in sha256sum's format
// ("<hex>  <name>", or "<hex> *<name>" for binary mode).
func parseSums(body []byte, file string) (string, bool) {
	for _, line := range strings.Split(string(body), "\n") {
		f := strings.Fields(line)
		if len(f) == 2 && strings.TrimPrefix(f[1], "*") == file && len(f[0]) == 64 {
			return strings.ToLower(f[0]), true
		}
	}
	return "", false
}
