package staging

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"regexp"
	"slices"
	"strings"

	"github.com/stackflow/stackflow/internal/artifacts"
	"github.com/stackflow/stackflow/internal/gocache"
	"github.com/stackflow/stackflow/internal/pipeline"
	"github.com/stackflow/stackflow/internal/runlog"
)

// Bounds of what Publish takes from a staging area.
const (
	// MaxObjectBytes bounds one staged file: a zip, a cache archive.
	MaxObjectBytes = gocache.DefaultMaxBytes
	// MaxTemplateBytes bounds the packaged template.
	MaxTemplateBytes = 10 << 20
	// maxRecordBytes bounds a build record.
	maxRecordBytes = 64 << 10
	// MaxIndexRecords bounds a branch's build index: the newest are kept.
	MaxIndexRecords = 2000
)

// Publisher is the publish step: it checks what a step staged and copies
// it to where later steps and runs trust it.
type Publisher struct {
	Store Store
	// TempDir holds each staged file while it is hashed; "" for
	// os.TempDir().
	TempDir string
	Logger  *slog.Logger
}

// Handle publishes what in.Step staged. For the package step it answers
// the package as published (its template and zips at their trusted keys);
// for the checks, a Package with only a Summary. The error, if any, is in
// the form the state machine matches (a *pipeline.PackageRefused when the
// package is not what the package step said it made).
func (p *Publisher) Handle(ctx context.Context, in pipeline.PublishInput) (pipeline.Package, error) {
	out, err := p.publish(ctx, in)
	return out, pipeline.ForStateMachine(err)
}

func (p *Publisher) publish(ctx context.Context, in pipeline.PublishInput) (pipeline.Package, error) {
	l, err := LayoutOf(in.Step, in.Run, in.Execution, in.Source.Plan)
	if err != nil {
		return pipeline.Package{}, err
	}
	log := p.Logger
	if log == nil {
		log = slog.Default()
	}
	log = runlog.Logger(runlog.WithRun(ctx, in.Run, in.Execution), log)
	// The credentials' copy is the step's alone, and the step is over.
	defer p.remove(ctx, log, l.Credentials)

	var out pipeline.Package
	var did []string
	if in.Step == pipeline.StepPackage {
		if in.Package == nil {
			return pipeline.Package{}, &pipeline.PackageRefused{Reason: "the package step's output was not handed to the publish step"}
		}
		if out, err = p.publishPackage(ctx, l, in.Run, *in.Package, log); err != nil {
			return pipeline.Package{}, err
		}
	}
	kept, cacheBytes := p.publishCaches(ctx, l, log)
	if kept > 0 {
		did = append(did, fmt.Sprintf("kept %d %s of %s (%s)", kept, plural(kept, "cache"), in.Run.Lane(), size(cacheBytes)))
	}
	if in.Step == pipeline.StepChecks {
		out.Summary = "no caches to keep"
		if len(did) > 0 {
			out.Summary = did[0]
		}
	}
	return out, nil
}

// publishCaches keeps each cache the step staged, once its manifest is one
// and its archive has the size the manifest says, in the run's own
// branch's copy. A cache that is not kept only costs time next run.
func (p *Publisher) publishCaches(ctx context.Context, l Layout, log *slog.Logger) (kept int, bytes int64) {
	for _, c := range l.Caches {
		n, err := p.publishCache(ctx, c.Manifest, c.Archive)
		if err != nil {
			log.Warn("cache not kept", "cache", c.Archive.Key, "error", err)
			continue
		}
		if n > 0 {
			kept++
			bytes += n
			log.Info("cache kept", "cache", c.Archive.Key, "bytes", n)
		}
	}
	return kept, bytes
}

func (p *Publisher) publishCache(ctx context.Context, manifest, archive Write) (int64, error) {
	body, err := p.read(ctx, manifest.To, 1<<20)
	if errors.Is(err, artifacts.ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	defer p.remove(ctx, nil, manifest.To, archive.To)
	want, err := gocache.CheckStored(body, MaxObjectBytes)
	if err != nil {
		return 0, err
	}
	obj, err := p.Store.Head(ctx, archive.To)
	if err != nil {
		return 0, err
	}
	if obj.Size != want {
		return 0, fmt.Errorf("the staged archive has %d bytes, its manifest says %d", obj.Size, want)
	}
	// The archive first, its manifest second, as gocache saves them; the
	// copy is of the version that was measured.
	if err := p.Store.Copy(ctx, archive.To, archive.Key, obj.ETag, "application/gzip"); err != nil {
		return 0, err
	}
	if err := p.Store.Put(ctx, manifest.Key, body, "application/json"); err != nil {
		return 0, err
	}
	return obj.Size, nil
}

// sha256Name is a content-addressed file's name: its SHA-256 and an
// extension.
var sha256Name = regexp.MustCompile(`^([0-9a-f]{64})(\.[A-Za-z0-9]{1,16})?$`)

// buildKeyName is a build record's name: its build key.
var buildKeyName = regexp.MustCompile(`^([0-9a-f]{16,128})\.json$`)

// record is what Publish reads of a build record (packager's buildRecord).
type record struct {
	Key     string `json:"key"`
	SHA256  string `json:"sha256"`
	Size    int64  `json:"size"`
	BuiltAt string `json:"builtAt"`
}

// publishPackage checks the package step's staged bundle and template
// against pkg, its output, and publishes them.
func (p *Publisher) publishPackage(ctx context.Context, l Layout, run pipeline.Run, pkg pipeline.Package, log *slog.Logger) (pipeline.Package, error) {
	refuse := func(format string, args ...any) error {
		return &pipeline.PackageRefused{Reason: fmt.Sprintf(format, args...)}
	}
	files, records, err := p.unbundle(ctx, l, log)
	if err != nil {
		return pipeline.Package{}, err
	}
	defer p.remove(ctx, log, l.Bundle)

	// Every zip the package names: its key is its SHA-256's, and it is
	// either staged now (and so hashed) or stored by an earlier run.
	for _, f := range pkg.Functions {
		if f.Key != pipeline.ArtifactKey(l.Repo, f.SHA256, ".zip") || !sha256Name.MatchString(f.SHA256) {
			return pipeline.Package{}, refuse("function %s: its zip's key %s is not the repository's key of its SHA-256 %s", f.Name, f.Key, f.SHA256)
		}
		if n, ok := files[f.Key]; ok {
			if n != f.Size {
				return pipeline.Package{}, refuse("function %s: its zip has %d bytes, the package step said %d", f.Name, n, f.Size)
			}
			continue
		}
		obj, err := p.Store.Head(ctx, f.Key)
		if errors.Is(err, artifacts.ErrNotFound) {
			return pipeline.Package{}, refuse("function %s: its zip %s was neither staged nor stored by an earlier run", f.Name, f.Key)
		}
		if err != nil {
			return pipeline.Package{}, fmt.Errorf("publish: %w", err)
		}
		if obj.Size != f.Size {
			return pipeline.Package{}, refuse("function %s: the stored zip %s has %d bytes, the package step said %d", f.Name, f.Key, obj.Size, f.Size)
		}
	}

	// The packaged template, checked against the SHA-256 the deploy step
	// checks it against again.
	tmplKey := pipeline.PackagedTemplateKey(l.Repo, run.Commit, run.AppName())
	staged := l.staged("template.yaml")
	body, err := p.read(ctx, staged, MaxTemplateBytes)
	if errors.Is(err, artifacts.ErrNotFound) {
		return pipeline.Package{}, refuse("the packaged template was not staged")
	}
	if err != nil {
		return pipeline.Package{}, fmt.Errorf("publish: %w", err)
	}
	defer p.remove(ctx, log, staged)
	sum := sha256.Sum256(body)
	if pkg.TemplateSHA256 == "" || hex.EncodeToString(sum[:]) != pkg.TemplateSHA256 {
		return pipeline.Package{}, refuse("the staged template's SHA-256 is %s, the package step said %q", hex.EncodeToString(sum[:]), pkg.TemplateSHA256)
	}
	if err := p.Store.Put(ctx, tmplKey, body, "application/yaml"); err != nil {
		return pipeline.Package{}, fmt.Errorf("publish: %w", err)
	}

	// Build records last: each names a zip that is now stored.
	nrec, err := p.publishRecords(ctx, l, records, files, log)
	if err != nil {
		return pipeline.Package{}, err
	}

	out := pipeline.Package{
		Bucket: p.Store.Bucket(), TemplateKey: tmplKey, TemplateURL: p.Store.URL(tmplKey), TemplateSHA256: pkg.TemplateSHA256,
		Functions: pkg.Functions, Summary: pkg.Summary,
	}
	if out.Functions == nil {
		out.Functions = []pipeline.BuiltFunction{}
	}
	if pkg.LogKey == pipeline.LogKey(l.Repo, l.Execution, l.Step) {
		out.LogKey = pkg.LogKey
	}
	log.Info("published", "files", len(files), "records", nrec, "template", tmplKey, "functions", len(pkg.Functions))
	return out, nil
}

// unbundle publishes the content-addressed files of the staged bundle,
// each hashed as it is read and refused unless its name is its SHA-256's,
// and returns their sizes by key and the build records it holds, unread.
// A bundle holding anything else is refused whole.
func (p *Publisher) unbundle(ctx context.Context, l Layout, log *slog.Logger) (map[string]int64, map[string][]byte, error) {
	files, records := map[string]int64{}, map[string][]byte{}
	body, err := p.Store.Open(ctx, l.Bundle)
	if errors.Is(err, artifacts.ErrNotFound) {
		return files, records, nil // every build was reused
	}
	if err != nil {
		return nil, nil, fmt.Errorf("publish: %w", err)
	}
	defer body.Close()
	refuse := func(format string, args ...any) error {
		return &pipeline.PackageRefused{Reason: fmt.Sprintf(format, args...)}
	}
	artifactPrefix, recordPrefix := ArtifactPrefix(l.Repo), RecordPrefix(l.Repo, l.Scope.Writes())
	tr := tar.NewReader(body)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, nil, refuse("the staged bundle is not a tar archive: %v", err)
		}
		if h.Typeflag != tar.TypeReg || h.Size < 0 {
			return nil, nil, refuse("the staged bundle holds %s, which is not a file", h.Name)
		}
		switch {
		case strings.HasPrefix(h.Name, artifactPrefix) && sha256Name.MatchString(h.Name[len(artifactPrefix):]):
			if h.Size > MaxObjectBytes {
				return nil, nil, refuse("%s has %d bytes, over the bound of %d", h.Name, h.Size, int64(MaxObjectBytes))
			}
			if err := p.publishFile(ctx, h.Name, sha256Name.FindStringSubmatch(h.Name[len(artifactPrefix):])[1], tr); err != nil {
				return nil, nil, err
			}
			files[h.Name] = h.Size
		case strings.HasPrefix(h.Name, recordPrefix) && buildKeyName.MatchString(h.Name[len(recordPrefix):]):
			if h.Size > maxRecordBytes {
				return nil, nil, refuse("the build record %s has %d bytes", h.Name, h.Size)
			}
			b, err := io.ReadAll(tr)
			if err != nil {
				return nil, nil, fmt.Errorf("publish: read the bundle: %w", err)
			}
			records[h.Name] = b
		default:
			return nil, nil, refuse("the staged bundle holds %s, outside the run's own zips (%s) and build records (%s)", h.Name, artifactPrefix, recordPrefix)
		}
	}
	return files, records, nil
}

// publishFile copies a content-addressed file from r to key, through a
// temporary file it hashes on the way: what is stored is what was hashed.
func (p *Publisher) publishFile(ctx context.Context, key, wantSHA string, r io.Reader) error {
	tmp, err := os.CreateTemp(p.TempDir, "stackflow-publish-*")
	if err != nil {
		return fmt.Errorf("publish: %w", err)
	}
	defer os.Remove(tmp.Name())
	h := sha256.New()
	_, err = io.Copy(io.MultiWriter(tmp, h), r)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("publish: read the bundle: %w", err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != wantSHA {
		return &pipeline.PackageRefused{Reason: fmt.Sprintf("%s: its content's SHA-256 is %s, not the one its name says (it changed after packaging)", key, got)}
	}
	ctype := "application/octet-stream"
	if strings.HasSuffix(key, ".zip") {
		ctype = "application/zip"
	}
	if err := p.Store.PutFile(ctx, key, tmp.Name(), ctype); err != nil {
		return fmt.Errorf("publish: %w", err)
	}
	return nil
}

// publishRecords stores the build records of the run's own branch whose
// zips are stored, and adds them to the branch's build index. A record
// that names no stored zip is refused (with the package): the package step
// made it, and says something false.
func (p *Publisher) publishRecords(ctx context.Context, l Layout, records map[string][]byte, files map[string]int64,
	log *slog.Logger) (int, error) {
	if len(records) == 0 {
		return 0, nil
	}
	recordPrefix := RecordPrefix(l.Repo, l.Scope.Writes())
	add := map[string]json.RawMessage{}
	for _, key := range slices.Sorted(maps.Keys(records)) {
		var rec record
		if err := json.Unmarshal(records[key], &rec); err != nil || rec.SHA256 == "" {
			return 0, &pipeline.PackageRefused{Reason: fmt.Sprintf("the build record %s is not one", key)}
		}
		if rec.Key != pipeline.ArtifactKey(l.Repo, rec.SHA256, ".zip") {
			return 0, &pipeline.PackageRefused{Reason: fmt.Sprintf("the build record %s names %s, not the repository's zip of its SHA-256", key, rec.Key)}
		}
		if n, ok := files[rec.Key]; ok {
			if n != rec.Size {
				return 0, &pipeline.PackageRefused{Reason: fmt.Sprintf("the build record %s says %d bytes, its zip has %d", key, rec.Size, n)}
			}
		} else if obj, err := p.Store.Head(ctx, rec.Key); err != nil || obj.Size != rec.Size {
			return 0, &pipeline.PackageRefused{Reason: fmt.Sprintf("the build record %s names %s, which is not stored with its size", key, rec.Key)}
		}
		if err := p.Store.Put(ctx, key, records[key], "application/json"); err != nil {
			return 0, fmt.Errorf("publish: %w", err)
		}
		add[strings.TrimSuffix(key[len(recordPrefix):], ".json")] = records[key]
	}
	if err := p.index(ctx, l, add); err != nil {
		// The records are stored; a run that misses them only builds.
		log.Warn("build index not updated", "error", err)
	}
	return len(add), nil
}

// index adds records (build key -> record) to the branch's build index,
// keeping the newest MaxIndexRecords.
func (p *Publisher) index(ctx context.Context, l Layout, add map[string]json.RawMessage) error {
	key := pipeline.BuildIndexKey(l.Repo, l.Scope.Writes())
	idx := map[string]json.RawMessage{}
	body, err := p.read(ctx, key, 64<<20)
	switch {
	case errors.Is(err, artifacts.ErrNotFound):
	case err != nil:
		return err
	default:
		if json.Unmarshal(body, &idx) != nil {
			idx = map[string]json.RawMessage{} // a broken index is rebuilt
		}
	}
	for k, v := range add {
		idx[k] = v
	}
	if len(idx) > MaxIndexRecords {
		type aged struct{ key, at string }
		var all []aged
		for k, v := range idx {
			var r record
			json.Unmarshal(v, &r)
			all = append(all, aged{k, r.BuiltAt})
		}
		slices.SortFunc(all, func(a, b aged) int { return strings.Compare(b.at, a.at) })
		for _, a := range all[MaxIndexRecords:] {
			delete(idx, a.key)
		}
	}
	out, err := json.Marshal(idx)
	if err != nil {
		return err
	}
	return p.Store.Put(ctx, key, out, "application/json")
}

// read reads at most limit bytes of key's object; a longer one is an
// error.
func (p *Publisher) read(ctx context.Context, key string, limit int64) ([]byte, error) {
	body, err := p.Store.Open(ctx, key)
	if err != nil {
		return nil, err
	}
	defer body.Close()
	b, err := io.ReadAll(io.LimitReader(body, limit+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", key, err)
	}
	if int64(len(b)) > limit {
		return nil, &pipeline.PackageRefused{Reason: fmt.Sprintf("%s is over %d bytes", key, limit)}
	}
	return b, nil
}

// remove deletes staged objects once they are published or refused; a
// failure leaves them to the bucket's lifecycle rule.
func (p *Publisher) remove(ctx context.Context, log *slog.Logger, keys ...string) {
	for _, k := range keys {
		if err := p.Store.Delete(context.WithoutCancel(ctx), k); err != nil && log != nil {
			log.Warn("staged object not removed", "key", k, "error", err)
		}
	}
}

func plural(n int, word string) string {
	if n == 1 {
		return word
	}
	return word + "s"
}

func size(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
