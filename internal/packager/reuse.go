package packager

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/stackflow/stackflow/internal/artifacts"
	"github.com/stackflow/stackflow/internal/pipeline"
)

// result is one target's zip, built now or reused.
type result struct {
	a       *artifact
	reused  bool
	handler string // see output.handler
}

// buildRecord is what the bucket keeps under a build key: the zip that a
// build with that key made.
type buildRecord struct {
	Key      string `json:"key"`
	SHA256   string `json:"sha256"`
	Size     int64  `json:"size"`
	Function string `json:"function"`
	Code     string `json:"code"`
	// GoArch and Toolchain describe Go builds, as they always have.
	GoArch    string `json:"goarch,omitempty"`
	Toolchain string `json:"toolchain,omitempty"`
	// Method, Runtime, Arch and Tools describe the other builds.
	Method  string `json:"method,omitempty"`
	Runtime string `json:"runtime,omitempty"`
	Arch    string `json:"arch,omitempty"`
	Tools   string `json:"tools,omitempty"`
	// Handler is the Handler the build's functions get, when it moves it.
	Handler      string `json:"handler,omitempty"`
	BuildVersion int    `json:"buildVersion"`
	BuiltAt      string `json:"builtAt"`
}

// buildAll gives every target of units its zip: the recorded one when a
// build with the same build key made it before, and otherwise a new build.
// Each builder computes the keys of its own units first, so that a missing
// tool fails the step before anything is built.
func (j *job) buildAll(ctx context.Context, units []*unit) (map[string]*result, error) {
	out := map[string]*result{}
	var firsts []*unit // the first unit of each target
	byMethod := map[method][]*unit{}
	var methods []method
	for _, u := range units {
		if _, ok := out[u.target()]; ok {
			continue
		}
		out[u.target()] = nil
		firsts = append(firsts, u)
		if _, ok := byMethod[u.method]; !ok {
			methods = append(methods, u.method)
		}
		byMethod[u.method] = append(byMethod[u.method], u)
	}
	keys := map[*unit]string{}
	for _, m := range methods {
		got, err := j.builder(m).keys(ctx, byMethod[m])
		if err != nil {
			return nil, err
		}
		for u, k := range got {
			keys[u] = k
		}
	}
	for _, u := range firsts {
		key := keys[u]
		began := time.Now()
		if key != "" {
			if r := j.lookup(ctx, u, key); r != nil {
				j.progress(u, Reused, FromBucket, time.Since(began), r.a.size)
				out[u.target()] = r
				continue
			}
			r, err := j.fromCache(ctx, u, key)
			if err != nil {
				return nil, err
			}
			if r != nil {
				j.progress(u, Reused, FromCache, time.Since(began), r.a.size)
				out[u.target()] = r
				continue
			}
		}
		j.progress(u, Building, "", 0, 0)
		j.restoreDownloads(ctx, u)
		o, err := j.builder(u.method).build(ctx, u)
		if err != nil {
			return nil, err
		}
		if err := j.upload(ctx, o.a, "application/zip"); err != nil {
			return nil, err
		}
		if key != "" {
			j.record(ctx, u, key, o)
			j.toCache(ctx, u, key, o)
		}
		j.progress(u, Built, "", time.Since(began), o.a.size)
		out[u.target()] = &result{a: o.a, handler: o.handler}
	}
	return out, nil
}

// fromCache returns the zip that the build cache keeps for key, stored in
// the bucket and recorded there as a build's would be; nil when there is
// no cache or it holds no good copy. Only a failure to store the zip in the
// bucket is an error.
func (j *job) fromCache(ctx context.Context, u *unit, key string) (*result, error) {
	if j.Cache == nil {
		return nil, nil
	}
	dir, err := os.MkdirTemp(j.tmp, "cached-")
	if err != nil {
		return nil, fmt.Errorf("package: %w", err)
	}
	path := filepath.Join(dir, "code.zip")
	z, found, err := j.Cache.Load(ctx, key, path)
	if err != nil {
		j.note("[%s: %v; building]\n", u.name, err)
		j.log.Warn("build cache", "function", u.name, "buildKey", key, "error", err)
		return nil, nil
	}
	if !found {
		return nil, nil
	}
	o := &output{a: &artifact{path: path, sha: z.SHA256, size: z.Size, ext: ".zip"}, handler: z.Handler, tool: z.Tool}
	if err := j.upload(ctx, o.a, "application/zip"); err != nil {
		return nil, err
	}
	j.record(ctx, u, key, o)
	j.note("reused %s (inputs unchanged) from the build cache: s3://%s/%s, build key %s\n", u.name, j.store.Bucket(), j.key(o.a), short(key))
	j.log.Info("reused", "function", u.name, "method", u.method.String(), "arch", u.arch, "sha256", z.SHA256, "buildKey", key, "from", "cache")
	return &result{a: o.a, reused: true, handler: o.handler}, nil
}

// toCache saves o, built with key, in the build cache. A failure only
// costs a build next time.
func (j *job) toCache(ctx context.Context, u *unit, key string, o *output) {
	if j.Cache == nil {
		return
	}
	z := CachedZip{SHA256: o.a.sha, Size: o.a.size, Handler: o.handler, Tool: o.tool}
	if err := j.Cache.Save(ctx, key, o.a.path, z); err != nil {
		j.note("[%s: %v]\n", u.name, err)
		j.log.Warn("build cache", "function", u.name, "buildKey", key, "error", err)
	}
}

// scope is whose build records and caches the run may use: its branch's
// and its default branch's (pipeline.CacheScope).
func (j *job) scope() pipeline.CacheScope { return pipeline.ScopeOf(j.in.Run, j.in.Source.Plan) }

// lookup returns the zip that a build with key made before, when it is
// recorded, by a run of this branch or of the default branch, and still
// stored; nil otherwise.
func (j *job) lookup(ctx context.Context, u *unit, key string) *result {
	for _, scope := range j.scope().Reads() {
		if r := j.lookupIn(ctx, u, scope, key); r != nil {
			return r
		}
	}
	return nil
}

// lookupIn is lookup in the build records of scope: its build index (kept
// by the publish step), else the record's own object (written by a
// package step that reaches the bucket itself; through grants, whose URLs
// name no record, it is not found).
func (j *job) lookupIn(ctx context.Context, u *unit, scope, key string) *result {
	var rec buildRecord
	if raw, ok := j.index(ctx, scope)[key]; ok {
		if json.Unmarshal(raw, &rec) != nil {
			return nil
		}
	} else {
		rk := pipeline.BuildRecordKey(j.in.Run.Repository, scope, key)
		body, err := j.store.Open(ctx, rk)
		if err != nil {
			if !errors.Is(err, artifacts.ErrNotFound) && !errors.Is(err, artifacts.ErrNotGranted) {
				j.log.Warn("read build record", "key", rk, "error", err)
			}
			return nil
		}
		defer body.Close()
		if err := json.NewDecoder(io.LimitReader(body, 64<<10)).Decode(&rec); err != nil {
			return nil
		}
	}
	if rec.SHA256 == "" {
		return nil
	}
	a := &artifact{sha: rec.SHA256, size: rec.Size, ext: ".zip"}
	if j.key(a) != rec.Key {
		return nil
	}
	// Through grants the zip cannot be looked at: the publish step
	// refuses a package whose reused zip is not stored.
	if ok, err := j.store.Exists(ctx, rec.Key); (err != nil && !errors.Is(err, artifacts.ErrNotGranted)) || (err == nil && !ok) {
		j.note("[%s: the zip of build %s is gone; building]\n", u.name, short(key))
		return nil
	}
	j.note("reused %s (inputs unchanged): s3://%s/%s, build key %s\n", u.name, j.store.Bucket(), rec.Key, short(key))
	j.log.Info("reused", "function", u.name, "method", u.method.String(), "arch", u.arch, "sha256", rec.SHA256, "buildKey", key)
	return &result{a: a, reused: true, handler: rec.Handler}
}

// index is the build index of scope (build key -> record), read once per
// call; empty when there is none or it cannot be read.
func (j *job) index(ctx context.Context, scope string) map[string]json.RawMessage {
	if idx, ok := j.indexes[scope]; ok {
		return idx
	}
	if j.indexes == nil {
		j.indexes = map[string]map[string]json.RawMessage{}
	}
	idx := map[string]json.RawMessage{}
	j.indexes[scope] = idx
	key := pipeline.BuildIndexKey(j.in.Run.Repository, scope)
	body, err := j.store.Open(ctx, key)
	if err != nil {
		if !errors.Is(err, artifacts.ErrNotFound) && !errors.Is(err, artifacts.ErrNotGranted) {
			j.log.Warn("read build index", "key", key, "error", err)
		}
		return idx
	}
	defer body.Close()
	if err := json.NewDecoder(io.LimitReader(body, 64<<20)).Decode(&idx); err != nil {
		j.log.Warn("read build index", "key", key, "error", err)
		clear(idx)
	}
	return idx
}

// record stores which zip the build with key made. A failure only costs
// a build next time.
func (j *job) record(ctx context.Context, u *unit, key string, o *output) {
	rel, _ := filepath.Rel(j.t.root, u.codeDir)
	rec := buildRecord{Key: j.key(o.a), SHA256: o.a.sha, Size: o.a.size, Function: u.name, Code: filepath.ToSlash(rel),
		Handler: o.handler, BuildVersion: BuildVersion, BuiltAt: time.Now().UTC().Format(time.RFC3339)}
	if u.method == (method{family: "provided", build: "go1.x"}) {
		rec.GoArch, rec.Toolchain = u.goarch(), o.tool
	} else {
		rec.Method, rec.Runtime, rec.Arch, rec.Tools = u.method.String(), u.runtime, u.arch, o.tool
	}
	body, err := json.Marshal(rec)
	if err == nil {
		err = j.store.Put(ctx, pipeline.BuildRecordKey(j.in.Run.Repository, j.scope().Writes(), key), body, "application/json")
	}
	if err != nil {
		j.log.Warn("store build record", "function", u.name, "error", err)
		return
	}
	fmt.Fprintf(&j.out, "recorded build key %s\n\n", short(key))
}

// note writes a line to the build log and its echo.
func (j *job) note(format string, args ...any) {
	s := fmt.Sprintf(format, args...)
	j.out.WriteString(s)
	if j.echo != nil {
		io.WriteString(j.echo, s)
	}
}

func short(key string) string {
	if len(key) > 12 {
		return key[:12]
	}
	return key
}
