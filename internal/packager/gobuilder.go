package packager

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/stackflow/stackflow/internal/gocache"
	"github.com/stackflow/stackflow/internal/pipeline"
	"github.com/stackflow/stackflow/internal/toolchain"
	"github.com/stackflow/stackflow/internal/workspace"
)

// goBuilder builds BuildMethod go1.x on a provided runtime, as sam build
// does (aws-lambda-builders workflows/go_modules): GOOS=linux
// GOARCH=<arch> CGO_ENABLED=0 go build -tags lambda.norpc -o bootstrap,
// run from the CodeUri, with the toolchain that the nearest go.mod or
// go.work asks for.
type goBuilder struct {
	j      *job
	opts   toolchain.Options
	chains map[string]toolchain.Toolchain // by module directory
	// caches is the Go caches' session, nil when they are not kept.
	caches   *gocache.Session
	restored map[gocache.Part]bool
}

var (
	_ builder  = (*goBuilder)(nil)
	_ finisher = (*goBuilder)(nil)
)

func newGoBuilder(j *job) builder {
	b := &goBuilder{j: j, opts: j.Toolchain, chains: map[string]toolchain.Toolchain{}, restored: map[gocache.Part]bool{}}
	if j.Caches != nil {
		b.opts.GoCacheDir = j.Caches.Dir
	}
	return b
}

func (b *goBuilder) check(u *unit) error {
	if u.handler != "bootstrap" {
		return fail(u.resource, "Handler %q: a %s function runs the executable bootstrap, so set Handler: bootstrap", u.handler, u.runtime)
	}
	return nil
}

// keys resolves every unit's toolchain (so a missing one fails before any
// build), restores the Go module cache, and computes the build keys with
// one go list per module and architecture.
func (b *goBuilder) keys(ctx context.Context, us []*unit) (map[*unit]string, error) {
	tcs := map[*unit]toolchain.Toolchain{}
	for _, u := range us {
		tc, err := b.toolchain(ctx, u)
		if err != nil {
			return nil, err
		}
		tcs[u] = tc
	}
	b.openCaches(ctx, us, tcs)

	type group struct{ modDir, goarch string }
	var order []group
	members := map[group][]*unit{}
	for _, u := range us {
		g := group{moduleDir(b.j.t.root, u.codeDir), u.goarch()}
		if _, ok := members[g]; !ok {
			order = append(order, g)
		}
		members[g] = append(members[g], u)
	}
	keys := map[*unit]string{}
	for _, g := range order {
		var dirs []string
		for _, u := range members[g] {
			dirs = append(dirs, u.codeDir)
		}
		got, err := buildKeys(ctx, tcs[members[g][0]], b.j.t.root, g.modDir, g.goarch, dirs)
		if err != nil {
			rel, _ := filepath.Rel(b.j.t.root, g.modDir)
			b.j.note("[no build keys for %s: %v; building]\n", filepath.ToSlash(rel), err)
			b.j.log.Warn("build keys", "module", filepath.ToSlash(rel), "error", err)
			continue
		}
		for _, u := range members[g] {
			if k := got[u.codeDir]; k != "" {
				keys[u] = k
			}
		}
	}
	return keys, nil
}

// build builds u's code for u's architecture and zips the binary as
// bootstrap. The Go build cache is restored before the first build.
func (b *goBuilder) build(ctx context.Context, u *unit) (*output, error) {
	j := b.j
	b.restoreCache(ctx, gocache.Builds)
	rel, _ := filepath.Rel(j.t.root, u.codeDir)
	tc, err := b.toolchain(ctx, u)
	if err != nil {
		return nil, err
	}
	outDir, err := os.MkdirTemp(j.tmp, "build-")
	if err != nil {
		return nil, fmt.Errorf("package: %w", err)
	}
	bin := filepath.Join(outDir, "bootstrap")
	out := &workspace.Output{Echo: j.echo}
	fmt.Fprintf(out, "$ cd %s && GOOS=linux GOARCH=%s go build -tags lambda.norpc -trimpath -buildvcs=false -ldflags=\"-s -w\" -o bootstrap .\n",
		filepath.ToSlash(rel), u.goarch())
	began := time.Now()
	cmd := tc.Command(ctx, u.codeDir, tc.Go, goBuildArgs(bin)...)
	cmd.Env = append(cmd.Env, "GOOS=linux", "GOARCH="+u.goarch())
	cmd.Stdout, cmd.Stderr = out, out
	runErr := cmd.Run()
	if runErr != nil {
		reason := "go build failed"
		if ctx.Err() != nil {
			reason = "go build ran out of time"
		}
		fmt.Fprintf(out, "[%s after %s: %v]\n", reason, round(time.Since(began)), runErr)
		j.out.WriteString(out.String())
		return nil, &pipeline.PackageFailed{Function: u.name, Reason: reason + " in " + filepath.ToSlash(rel), Tail: out.Tail()}
	}
	a, err := writeZip(outDir, []zipEntry{{name: "bootstrap", path: bin, mode: 0o755}})
	if err != nil {
		return nil, fmt.Errorf("package %s: %w", u.name, err)
	}
	fmt.Fprintf(out, "[built %s for linux/%s with %s in %s: %s zip, sha256 %s]\n\n",
		u.name, u.goarch(), tc.Version, round(time.Since(began)), size(a.size), a.sha)
	j.out.WriteString(out.String())
	j.log.Info("built", "function", u.name, "goarch", u.goarch(), "bytes", a.size, "sha256", a.sha)
	return &output{a: a, tool: tc.Version}, nil
}

// finish saves the Go caches that this step restored and grew.
func (b *goBuilder) finish(ctx context.Context) {
	if b.caches == nil {
		return
	}
	reports, err := b.caches.Save(ctx)
	for _, r := range reports {
		b.j.note("%s\n", r)
		b.j.log.Info("go cache", "cache", string(r.Part), "action", r.Action, "bytes", r.Bytes, "archive", r.Archive, "seconds", r.Took.Seconds())
	}
	if err != nil {
		b.j.note("[go caches: %v]\n", err)
		b.j.log.Warn("save go caches", "error", err)
	}
}

// toolchain resolves the toolchain of u's module: the nearest go.work, else
// go.mod, from its code up to the repository's root, as the go command
// finds them.
func (b *goBuilder) toolchain(ctx context.Context, u *unit) (toolchain.Toolchain, error) {
	root := b.j.t.root
	dir := moduleDir(root, u.codeDir)
	if dir == "" {
		return toolchain.Toolchain{}, &pipeline.PackageFailed{Function: u.name,
			Reason: "no go.mod in its CodeUri directory or above it in the repository"}
	}
	if tc, ok := b.chains[dir]; ok {
		return tc, nil
	}
	tc, err := toolchain.Resolve(ctx, dir, b.opts)
	if err != nil {
		var ci *pipeline.ConfigInvalid
		if rel, _ := filepath.Rel(root, dir); errors.As(err, &ci) && rel != "." {
			ci.File = filepath.ToSlash(filepath.Join(rel, ci.File))
		}
		return toolchain.Toolchain{}, fmt.Errorf("package %s: %w", u.name, err)
	}
	b.j.log.Info("toolchain", "version", tc.Version, "local", tc.Local, "downloaded", tc.Downloaded)
	b.chains[dir] = tc
	return tc, nil
}

func moduleDir(root, dir string) string {
	for _, name := range []string{"go.work", "go.mod"} {
		for d := dir; ; d = filepath.Dir(d) {
			if _, err := os.Stat(filepath.Join(d, name)); err == nil {
				return d
			}
			if d == root || d == filepath.Dir(d) {
				break
			}
		}
	}
	return ""
}

// openCaches starts the Go caches' session of this package step, keyed by
// the modules' go.sum files and toolchains, and restores the module cache
// (go list reads the modules).
func (b *goBuilder) openCaches(ctx context.Context, us []*unit, tcs map[*unit]toolchain.Toolchain) {
	j := b.j
	if j.Caches == nil {
		return
	}
	var versions []string
	var sums [][]byte
	seen := map[string]bool{}
	for _, u := range us {
		dir := moduleDir(j.t.root, u.codeDir)
		if seen[dir] {
			continue
		}
		seen[dir] = true
		s, err := gocache.Sums(dir)
		if err != nil {
			j.note("[go caches: %v; not used]\n", err)
			return
		}
		sums = append(sums, s)
		versions = append(versions, tcs[u].Version)
	}
	key := gocache.Key("package", strings.Join(versions, ","), runtime.GOOS, runtime.GOARCH, sums...)
	b.caches = j.caches.Session(j.in.Run.Repository, j.scope(), pipeline.StepPackage, key)
	b.restoreCache(ctx, gocache.Modules)
}

// restoreCache restores part of the Go caches, once; a failure only costs
// time.
func (b *goBuilder) restoreCache(ctx context.Context, part gocache.Part) {
	if b.caches == nil || b.restored[part] {
		return
	}
	b.restored[part] = true
	r, err := b.caches.Restore(ctx, part)
	if err != nil {
		b.j.note("[go caches: %v; going on without]\n", err)
		b.j.log.Warn("restore go cache", "cache", string(part), "error", err)
		return
	}
	b.j.note("%s\n", r)
	b.j.log.Info("go cache", "cache", string(part), "action", r.Action, "bytes", r.Bytes, "seconds", r.Took.Seconds())
}
