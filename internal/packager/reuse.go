package packager

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/stackflow/stackflow/internal/artifacts"
	"github.com/stackflow/stackflow/internal/gocache"
	"github.com/stackflow/stackflow/internal/pipeline"
	"github.com/stackflow/stackflow/internal/toolchain"
)

// target is what one build makes: one code directory for one architecture.
// Functions that share both share the zip.
type target struct{ dir, goarch string }

func (f *function) target() target { return target{f.codeDir, f.goarch} }

// result is one target's zip, built now or reused.
type result struct {
	a      *artifact
	reused bool
}

// buildRecord is what the bucket keeps under a build key: the zip that a
// build with that key made.
type buildRecord struct {
	Key          string `json:"key"`
	SHA256       string `json:"sha256"`
	Size         int64  `json:"size"`
	Function     string `json:"function"`
	Code         string `json:"code"`
	GoArch       string `json:"goarch"`
	Toolchain    string `json:"toolchain"`
	BuildVersion int    `json:"buildVersion"`
	BuiltAt      string `json:"builtAt"`
}

// buildAll gives every target of fns its zip: the recorded one when a
// build with the same build key made it before, and otherwise a new build.
// The Go caches are restored from the bucket as they are needed: the
// module cache before the build keys are computed (go list reads the
// modules), the build cache only before the first build.
func (j *job) buildAll(ctx context.Context, fns []*function) (map[target]*result, error) {
	out := map[target]*result{}
	var firsts []*function // the first function of each target
	for _, f := range fns {
		if _, ok := out[f.target()]; !ok {
			out[f.target()] = nil
			firsts = append(firsts, f)
		}
	}
	if len(firsts) == 0 {
		return out, nil
	}
	tcs := map[target]toolchain.Toolchain{}
	for _, f := range firsts {
		tc, err := j.toolchain(ctx, f)
		if err != nil {
			return nil, err
		}
		tcs[f.target()] = tc
	}
	j.openCaches(ctx, firsts, tcs)
	keys := j.buildKeys(ctx, firsts, tcs)
	for _, f := range firsts {
		t := f.target()
		key := keys[t]
		if key != "" {
			if a := j.lookup(ctx, f, key); a != nil {
				out[t] = &result{a: a, reused: true}
				continue
			}
		}
		j.restoreCache(ctx, gocache.Builds)
		a, err := j.build(ctx, f)
		if err != nil {
			return nil, err
		}
		if err := j.upload(ctx, a, "application/zip"); err != nil {
			return nil, err
		}
		if key != "" {
			j.record(ctx, f, tcs[t], key, a)
		}
		out[t] = &result{a: a}
	}
	return out, nil
}

// buildKeys computes the build key of every target, with one go list per
// module and architecture. A target without a key is built.
func (j *job) buildKeys(ctx context.Context, firsts []*function, tcs map[target]toolchain.Toolchain) map[target]string {
	type group struct{ modDir, goarch string }
	var order []group
	dirs := map[group][]string{}
	for _, f := range firsts {
		g := group{moduleDir(j.t.root, f.codeDir), f.goarch}
		if _, ok := dirs[g]; !ok {
			order = append(order, g)
		}
		dirs[g] = append(dirs[g], f.codeDir)
	}
	keys := map[target]string{}
	for _, g := range order {
		tc := tcs[target{dirs[g][0], g.goarch}]
		got, err := buildKeys(ctx, tc, j.t.root, g.modDir, g.goarch, dirs[g])
		if err != nil {
			rel, _ := filepath.Rel(j.t.root, g.modDir)
			j.note("[no build keys for %s: %v; building]\n", filepath.ToSlash(rel), err)
			j.log.Warn("build keys", "module", filepath.ToSlash(rel), "error", err)
			continue
		}
		for _, d := range dirs[g] {
			if k := got[d]; k != "" {
				keys[target{d, g.goarch}] = k
			}
		}
	}
	return keys
}

// scope is whose build records and caches the run may use: its branch's
// and its default branch's (pipeline.CacheScope).
func (j *job) scope() pipeline.CacheScope { return pipeline.ScopeOf(j.in.Run, j.in.Source.Plan) }

// lookup returns the zip that a build with key made before, when it is
// recorded, by a run of this branch or of the default branch, and still
// stored; nil otherwise.
func (j *job) lookup(ctx context.Context, f *function, key string) *artifact {
	for _, scope := range j.scope().Reads() {
		if a := j.lookupIn(ctx, f, scope, key); a != nil {
			return a
		}
	}
	return nil
}

// lookupIn is lookup in the build records of scope.
func (j *job) lookupIn(ctx context.Context, f *function, scope, key string) *artifact {
	rk := pipeline.BuildRecordKey(j.in.Run.Repository, scope, key)
	body, err := j.Store.Open(ctx, rk)
	if err != nil {
		if !errors.Is(err, artifacts.ErrNotFound) {
			j.log.Warn("read build record", "key", rk, "error", err)
		}
		return nil
	}
	defer body.Close()
	var rec buildRecord
	if err := json.NewDecoder(io.LimitReader(body, 64<<10)).Decode(&rec); err != nil || rec.SHA256 == "" {
		return nil
	}
	a := &artifact{sha: rec.SHA256, size: rec.Size, ext: ".zip"}
	if j.key(a) != rec.Key {
		return nil
	}
	if ok, err := j.Store.Exists(ctx, rec.Key); err != nil || !ok {
		j.note("[%s: the zip of build %s is gone; building]\n", f.name, short(key))
		return nil
	}
	j.note("reused %s (inputs unchanged): s3://%s/%s, build key %s\n", f.name, j.Store.Bucket(), rec.Key, short(key))
	j.log.Info("reused", "function", f.name, "goarch", f.goarch, "sha256", rec.SHA256, "buildKey", key)
	return a
}

// record stores which zip the build with key made. A failure only costs
// a build next time.
func (j *job) record(ctx context.Context, f *function, tc toolchain.Toolchain, key string, a *artifact) {
	rel, _ := filepath.Rel(j.t.root, f.codeDir)
	rec := buildRecord{Key: j.key(a), SHA256: a.sha, Size: a.size, Function: f.name, Code: filepath.ToSlash(rel),
		GoArch: f.goarch, Toolchain: tc.Version, BuildVersion: BuildVersion, BuiltAt: time.Now().UTC().Format(time.RFC3339)}
	body, err := json.Marshal(rec)
	if err == nil {
		err = j.Store.Put(ctx, pipeline.BuildRecordKey(j.in.Run.Repository, j.scope().Writes(), key), body, "application/json")
	}
	if err != nil {
		j.log.Warn("store build record", "function", f.name, "error", err)
		return
	}
	fmt.Fprintf(&j.out, "recorded build key %s\n\n", short(key))
}

// openCaches starts the Go caches' session of this package step, keyed by
// the modules' go.sum files and toolchains, and restores the module cache.
func (j *job) openCaches(ctx context.Context, firsts []*function, tcs map[target]toolchain.Toolchain) {
	if j.Caches == nil {
		return
	}
	var versions []string
	var sums [][]byte
	seen := map[string]bool{}
	for _, f := range firsts {
		dir := moduleDir(j.t.root, f.codeDir)
		if seen[dir] {
			continue
		}
		seen[dir] = true
		b, err := gocache.Sums(dir)
		if err != nil {
			j.note("[go caches: %v; not used]\n", err)
			return
		}
		sums = append(sums, b)
		versions = append(versions, tcs[f.target()].Version)
	}
	key := gocache.Key("package", strings.Join(versions, ","), runtime.GOOS, runtime.GOARCH, sums...)
	j.caches = j.Caches.Session(j.in.Run.Repository, j.scope(), key)
	j.restoreCache(ctx, gocache.Modules)
}

// restoreCache restores part of the Go caches, once; a failure only costs
// time.
func (j *job) restoreCache(ctx context.Context, part gocache.Part) {
	if j.caches == nil || j.restored[part] {
		return
	}
	j.restored[part] = true
	r, err := j.caches.Restore(ctx, part)
	if err != nil {
		j.note("[go caches: %v; going on without]\n", err)
		j.log.Warn("restore go cache", "cache", string(part), "error", err)
		return
	}
	j.note("%s\n", r)
	j.log.Info("go cache", "cache", string(part), "action", r.Action, "bytes", r.Bytes, "seconds", r.Took.Seconds())
}

// saveCaches saves the Go caches that this step restored and grew.
func (j *job) saveCaches(ctx context.Context) {
	if j.caches == nil {
		return
	}
	reports, err := j.caches.Save(ctx)
	for _, r := range reports {
		j.note("%s\n", r)
		j.log.Info("go cache", "cache", string(r.Part), "action", r.Action, "bytes", r.Bytes, "archive", r.Archive, "seconds", r.Took.Seconds())
	}
	if err != nil {
		j.note("[go caches: %v]\n", err)
		j.log.Warn("save go caches", "error", err)
	}
}

// note writes a line to the build log and its echo.
func (j *job) note(format string, args ...any) {
	s := fmt.Sprintf(format, args...)
	j.out.WriteString(s)
	if j.Echo != nil {
		io.WriteString(j.Echo, s)
	}
}

func short(key string) string {
	if len(key) > 12 {
		return key[:12]
	}
	return key
}
