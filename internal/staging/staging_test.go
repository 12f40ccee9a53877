package staging_test

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stackflow/stackflow/internal/artifacts"
	"github.com/stackflow/stackflow/internal/pipeline"
	"github.com/stackflow/stackflow/internal/staging"
	"github.com/stackflow/stackflow/internal/testaws"
)

var (
	repo = pipeline.Repository{Workspace: "acme", Slug: "hello"}
	// feature is a run of a feature branch of repo, whose default branch
	// is main.
	feature   = pipeline.Run{Repository: repo, Branch: "feature/x", Commit: "0123456789abcdef0123456789abcdef01234567"}
	plan      = pipeline.Plan{DefaultBranch: &pipeline.DefaultBranch{Name: "main", Commit: "fedcba"}}
	execution = "arn:aws:states:us-east-1:000000000000:execution:Pipeline:hello-feature-x-0123456"
	quiet     = slog.New(slog.DiscardHandler)
)

// TestLayoutReachesOnlyTheRunsOwnObjects: by construction, every key a
// step may write lands in its run's staging area or is its own log; it
// reads only its commit's archive and its branch's and the default
// branch's caches and build index; its bundle takes only the repository's
// content-addressed files and its own branch's build records.
func TestLayoutReachesOnlyTheRunsOwnObjects(t *testing.T) {
	t.Parallel()
	own := pipeline.StagingPrefix(repo, "hello-feature-x-0123456")
	mine, mains := pipeline.BranchScope("feature/x"), pipeline.BranchScope("main")
	for _, step := range []string{pipeline.StepChecks, pipeline.StepPackage} {
		t.Run(step, func(t *testing.T) {
			t.Parallel()
			l, err := staging.LayoutOf(step, feature, execution, plan)
			if err != nil {
				t.Fatal(err)
			}
			log := pipeline.LogKey(repo, "hello-feature-x-0123456", step)
			for _, w := range l.Writes {
				if w.To != log && !strings.HasPrefix(w.To, own) {
					t.Errorf("%s writes %s, outside its staging area %s", step, w.To, own)
				}
				if w.To != w.Key && !strings.Contains(w.Key, "/"+mine+"/") && w.Key != pipeline.PackagedTemplateKey(repo, feature.Commit, "") {
					t.Errorf("%s stages %s for %s, not its own branch's", step, w.To, w.Key)
				}
			}
			for _, r := range l.Reads {
				ok := r == pipeline.SourceKey(repo, feature.Commit) || strings.Contains(r, "/"+mine+"/") || strings.Contains(r, "/"+mains+"/")
				if !ok {
					t.Errorf("%s reads %s: not its archive nor its branch's or main's", step, r)
				}
			}
			if !strings.HasPrefix(l.Credentials, own) {
				t.Errorf("credentials staged at %s, outside %s", l.Credentials, own)
			}
			if step == pipeline.StepChecks && (l.Bundle != "" || len(l.BundlePrefixes) > 0) {
				t.Errorf("the checks get a bundle: %+v", l)
			}
			if step == pipeline.StepPackage {
				want := []string{"artifacts/acme/hello/", "builds/acme/hello/" + mine + "/"}
				if !strings.HasPrefix(l.Bundle, own) || strings.Join(l.BundlePrefixes, ",") != strings.Join(want, ",") {
					t.Errorf("bundle %s of %v; want in %s, of %v", l.Bundle, l.BundlePrefixes, own, want)
				}
			}
		})
	}
	if _, err := staging.LayoutOf("deploy", feature, execution, plan); err == nil {
		t.Error("a layout for a step that runs no commit code: want an error")
	}
}

// TestATagsRunHasTheTagsLane: a tag's run, which has no branch, writes the
// caches of every tag's lane, which no branch reads, and reads those and
// the default branch's.
func TestATagsRunHasTheTagsLane(t *testing.T) {
	t.Parallel()
	tag := pipeline.Run{Repository: repo, Tag: "v1.0.0", Commit: feature.Commit}
	l, err := staging.LayoutOf(pipeline.StepChecks, tag, execution, plan)
	if err != nil {
		t.Fatalf("a tag's run: %v", err)
	}
	if got, want := l.Scope.Writes(), pipeline.BranchScope(pipeline.TagLane); got != want {
		t.Errorf("a tag's run writes the caches of %q, want %q", got, want)
	}
	if _, err := staging.LayoutOf(pipeline.StepChecks, pipeline.Run{Repository: repo, Commit: feature.Commit}, execution, plan); err == nil {
		t.Error("a run of neither a branch nor a tag: want an error")
	}
}

func setup(t *testing.T) (*artifacts.Store, context.Context) {
	t.Helper()
	cfg := testaws.Start(t)
	return artifacts.New(testaws.S3(cfg), testaws.Bucket(t, cfg, "staging"), cfg.Region), context.Background()
}

type fakeSecrets map[string]string

func (f fakeSecrets) Get(_ context.Context, arn string) (string, error) {
	if v, ok := f[arn]; ok {
		return v, nil
	}
	return "", errors.New("no such secret")
}

// TestGrantsAreTheRunsOwnURLs: the checks' grants read the archive, write
// the log, and stage a cache (its own key untouched until published);
// every URL expires by Lifetime and names a key of the layout; the index
// credentials are staged for the step and removed by publish.
func TestGrantsAreTheRunsOwnURLs(t *testing.T) {
	t.Parallel()
	store, ctx := setup(t)
	store.Put(ctx, pipeline.SourceKey(repo, feature.Commit), []byte("archive"), "")
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	g := &staging.Granter{Store: store, Now: func() time.Time { return now }, Logger: quiet,
		Secrets: fakeSecrets{"arn:idx": `{"pypi.example.com": {"username": "ci", "password": "s3cret"}}`}, IndexSecretARN: "arn:idx"}
	in := pipeline.GrantInput{Step: pipeline.StepChecks, Run: feature, Execution: execution,
		Source: pipeline.Source{ArchiveKey: pipeline.SourceKey(repo, feature.Commit), Plan: plan}}
	grants, err := g.Handle(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	if want := now.Add(staging.Lifetime).Format(time.RFC3339); grants.Expires != want {
		t.Errorf("expires %s, want %s", grants.Expires, want)
	}
	l, _ := staging.LayoutOf(pipeline.StepChecks, feature, execution, plan)
	for key, link := range grants.Put {
		u, err := url.Parse(link)
		if err != nil {
			t.Fatal(err)
		}
		if e := u.Query().Get("X-Amz-Expires"); e != "1020" {
			t.Errorf("%s: X-Amz-Expires %s, want 1020 (the step's 930 s and a margin)", key, e)
		}
		var to string
		for _, w := range l.Writes {
			if w.Key == key {
				to = w.To
			}
		}
		if to == "" || !strings.HasSuffix(u.Path, "/"+to) {
			t.Errorf("%s: URL path %s, want the layout's %s", key, u.Path, to)
		}
	}
	if strings.Contains(mustJSON(t, grants), "s3cret") {
		t.Error("the grants carry the credentials themselves; want only a URL to them")
	}

	u := artifacts.NewURLStore(&grants, nil, t.TempDir())
	if b, err := u.Get(ctx, pipeline.SourceKey(repo, feature.Commit)); err != nil || string(b) != "archive" {
		t.Errorf("archive: %q, %v", b, err)
	}
	if b, err := u.Get(ctx, grants.Credentials); err != nil || !strings.Contains(string(b), "s3cret") {
		t.Errorf("credentials through their URL: %v", err)
	}
	cacheKey := pipeline.CacheKey(repo, pipeline.BranchScope("feature/x"), "checks", "gomodcache", ".tar.gz")
	if err := u.Put(ctx, cacheKey, []byte("planted"), ""); err != nil {
		t.Fatal(err)
	}
	if ok, _ := store.Exists(ctx, cacheKey); ok {
		t.Error("the step wrote its branch's cache itself; want it staged")
	}
	mainCache := pipeline.CacheKey(repo, pipeline.BranchScope("main"), "checks", "gomodcache", ".tar.gz")
	if err := u.Put(ctx, mainCache, []byte("poison"), ""); !errors.Is(err, artifacts.ErrNotGranted) {
		t.Errorf("writing main's cache: %v, want ErrNotGranted", err)
	}

	// Publish: a staged archive without a manifest is not kept; the
	// credentials' copy is gone.
	p := &staging.Publisher{Store: store, Logger: quiet, TempDir: t.TempDir()}
	out, err := p.Handle(ctx, pipeline.PublishInput{Step: pipeline.StepChecks, Run: feature, Execution: execution, Source: in.Source})
	if err != nil || out.Summary != "no caches to keep" {
		t.Errorf("publish the checks: %+v, %v; want no caches to keep", out, err)
	}
	if ok, _ := store.Exists(ctx, grants.Credentials); ok {
		t.Error("the staged credentials outlived the step")
	}
}

// TestPublishKeepsTheBranchsCaches: a cache staged with its manifest is
// copied to the run's own branch's keys; one whose archive is not the size
// its manifest says is not.
func TestPublishKeepsTheBranchsCaches(t *testing.T) {
	t.Parallel()
	store, ctx := setup(t)
	l, _ := staging.LayoutOf(pipeline.StepChecks, feature, execution, plan)
	good, bad := l.Caches[0], l.Caches[1]
	archive := []byte("a gzip of a module cache")
	manifest := func(n int) []byte {
		return []byte(`{"key":"checks-abc","hash":"h","files":1,"bytes":10,"archiveBytes":` + itoa(n) + `,"savedAt":"2026-05-01T12:00:00Z"}`)
	}
	store.Put(ctx, good.Archive.To, archive, "")
	store.Put(ctx, good.Manifest.To, manifest(len(archive)), "")
	store.Put(ctx, bad.Archive.To, archive, "")
	store.Put(ctx, bad.Manifest.To, manifest(len(archive)+1), "")

	p := &staging.Publisher{Store: store, Logger: quiet}
	out, err := p.Handle(ctx, pipeline.PublishInput{Step: pipeline.StepChecks, Run: feature, Execution: execution,
		Source: pipeline.Source{Plan: plan}})
	if err != nil || !strings.HasPrefix(out.Summary, "kept 1 cache of feature/x") {
		t.Fatalf("got %+v, %v; want one cache kept", out, err)
	}
	if b, err := store.Get(ctx, good.Archive.Key); err != nil || !bytes.Equal(b, archive) {
		t.Errorf("the kept cache: %q, %v", b, err)
	}
	if ok, _ := store.Exists(ctx, bad.Archive.Key); ok {
		t.Error("a cache whose archive is not its manifest's size was kept")
	}
	if ok, _ := store.Exists(ctx, good.Archive.To); ok {
		t.Error("the staged copy was left behind")
	}
}

// staged is a package step's staged output, built as the package step
// stages it.
type staged struct {
	zip      []byte
	template []byte
	record   bool
	// extra bundles another entry, named so.
	extra string
}

func (s staged) stage(t *testing.T, ctx context.Context, store *artifacts.Store, l staging.Layout) pipeline.Package {
	t.Helper()
	sum := sha256.Sum256(s.zip)
	sha := hex.EncodeToString(sum[:])
	key := pipeline.ArtifactKey(repo, sha, ".zip")
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	add := func(name string, body []byte) {
		tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg})
		tw.Write(body)
	}
	add(key, s.zip)
	if s.record {
		rec := `{"key":"` + key + `","sha256":"` + sha + `","size":` + itoa(len(s.zip)) + `,"function":"Hello","builtAt":"2026-05-01T12:00:00Z"}`
		add(pipeline.BuildRecordKey(repo, pipeline.BranchScope("feature/x"), "0123456789abcdef0123"), []byte(rec))
	}
	if s.extra != "" {
		add(s.extra, []byte("planted"))
	}
	tw.Close()
	if err := store.Put(ctx, l.Bundle, buf.Bytes(), ""); err != nil {
		t.Fatal(err)
	}
	tsum := sha256.Sum256(s.template)
	store.Put(ctx, pipeline.StagedKey(repo, l.Execution, "package", "template.yaml"), s.template, "")
	return pipeline.Package{TemplateSHA256: hex.EncodeToString(tsum[:]), Summary: "packaged 1 function",
		LogKey:    pipeline.LogKey(repo, l.Execution, "package"),
		Functions: []pipeline.BuiltFunction{{Name: "Hello", Key: key, SHA256: sha, Size: int64(len(s.zip))}}}
}

// TestPublishThePackage: the zips, the template and the build record the
// package step staged reach their trusted keys, the record its branch's
// index, and the staging area is emptied.
func TestPublishThePackage(t *testing.T) {
	t.Parallel()
	store, ctx := setup(t)
	l, _ := staging.LayoutOf(pipeline.StepPackage, feature, execution, plan)
	pkg := staged{zip: []byte("PK a zip"), template: []byte("Resources: {}\n"), record: true}.stage(t, ctx, store, l)

	p := &staging.Publisher{Store: store, Logger: quiet, TempDir: t.TempDir()}
	out, err := p.Handle(ctx, pipeline.PublishInput{Step: pipeline.StepPackage, Run: feature, Execution: execution,
		Source: pipeline.Source{Plan: plan}, Package: &pkg})
	if err != nil {
		t.Fatal(err)
	}
	tmpl := pipeline.PackagedTemplateKey(repo, feature.Commit, "")
	if out.TemplateKey != tmpl || out.Bucket != store.Bucket() || out.TemplateURL != store.URL(tmpl) || out.LogKey != pkg.LogKey {
		t.Errorf("published package %+v; want the template at %s", out, tmpl)
	}
	if b, err := store.Get(ctx, pkg.Functions[0].Key); err != nil || string(b) != "PK a zip" {
		t.Errorf("the zip: %q, %v", b, err)
	}
	if b, err := store.Get(ctx, tmpl); err != nil || string(b) != "Resources: {}\n" {
		t.Errorf("the template: %q, %v", b, err)
	}
	idx, err := store.Get(ctx, pipeline.BuildIndexKey(repo, pipeline.BranchScope("feature/x")))
	var index map[string]json.RawMessage
	if err != nil || json.Unmarshal(idx, &index) != nil || index["0123456789abcdef0123"] == nil {
		t.Errorf("feature/x's build index: %s, %v; want the record", idx, err)
	}
	if ok, _ := store.Exists(ctx, l.Bundle); ok {
		t.Error("the staged bundle was left behind")
	}

	// Published again with every zip reused (nothing bundled): the zip is
	// stored, so the package stands.
	pkg2 := pkg
	store.Put(ctx, pipeline.StagedKey(repo, l.Execution, "package", "template.yaml"), []byte("Resources: {}\n"), "")
	if _, err := p.Handle(ctx, pipeline.PublishInput{Step: pipeline.StepPackage, Run: feature, Execution: execution,
		Source: pipeline.Source{Plan: plan}, Package: &pkg2}); err != nil {
		t.Errorf("a package of reused zips: %v", err)
	}
}

// TestPublishRefuses: what the package step staged is not what it said it
// made, or reaches outside its run: the package is refused
// (PackageRefused) and nothing of it is published.
func TestPublishRefuses(t *testing.T) {
	t.Parallel()
	l, _ := staging.LayoutOf(pipeline.StepPackage, feature, execution, plan)
	tests := []struct {
		name   string
		s      staged
		change func(*pipeline.Package)
		want   string
	}{
		{name: "a zip changed after packaging", s: staged{zip: []byte("PK built")},
			change: func(p *pipeline.Package) {
				sum := sha256.Sum256([]byte("PK other"))
				p.Functions[0].SHA256 = hex.EncodeToString(sum[:])
				p.Functions[0].Key = pipeline.ArtifactKey(repo, p.Functions[0].SHA256, ".zip")
			}, want: "neither staged nor stored"},
		{name: "a zip of another size than said", s: staged{zip: []byte("PK built")},
			change: func(p *pipeline.Package) { p.Functions[0].Size++ }, want: "the package step said"},
		{name: "a zip at another repository's key", s: staged{zip: []byte("PK built")},
			change: func(p *pipeline.Package) {
				p.Functions[0].Key = pipeline.ArtifactKey(pipeline.Repository{Workspace: "acme", Slug: "other"}, p.Functions[0].SHA256, ".zip")
			}, want: "not the repository's key"},
		{name: "a template changed after packaging", s: staged{zip: []byte("PK built")},
			change: func(p *pipeline.Package) { p.TemplateSHA256 = strings.Repeat("0", 64) }, want: "staged template's SHA-256"},
		{name: "a build record of main", s: staged{zip: []byte("PK built"),
			extra: pipeline.BuildRecordKey(repo, pipeline.BranchScope("main"), "0123456789abcdef0123")}, want: "outside the run's own"},
		{name: "a cache of main", s: staged{zip: []byte("PK built"),
			extra: pipeline.CacheKey(repo, pipeline.BranchScope("main"), "package", "gocache", ".tar.gz")}, want: "outside the run's own"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			store, ctx := setup(t)
			pkg := tt.s.stage(t, ctx, store, l)
			if tt.change != nil {
				tt.change(&pkg)
			}
			p := &staging.Publisher{Store: store, Logger: quiet, TempDir: t.TempDir()}
			_, err := p.Handle(ctx, pipeline.PublishInput{Step: pipeline.StepPackage, Run: feature, Execution: execution,
				Source: pipeline.Source{Plan: plan}, Package: &pkg})
			var refused *pipeline.PackageRefused
			if !errors.As(err, &refused) || !strings.Contains(refused.Reason, tt.want) {
				t.Fatalf("got %v, want PackageRefused saying %q", err, tt.want)
			}
			if ok, _ := store.Exists(ctx, pipeline.PackagedTemplateKey(repo, feature.Commit, "")); ok {
				t.Error("the template of a refused package was published")
			}
			if tt.s.extra != "" {
				if ok, _ := store.Exists(ctx, tt.s.extra); ok {
					t.Errorf("%s was written", tt.s.extra)
				}
			}
		})
	}
}

// TestPublishRefusesAZipWhoseContentIsNotItsName: a zip in the bundle
// changed after the package step hashed it (its name is its old SHA-256)
// is refused before it is stored.
func TestPublishRefusesAZipWhoseContentIsNotItsName(t *testing.T) {
	t.Parallel()
	store, ctx := setup(t)
	l, _ := staging.LayoutOf(pipeline.StepPackage, feature, execution, plan)
	pkg := staged{zip: []byte("PK built"), template: []byte("t")}.stage(t, ctx, store, l)
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	swapped := []byte("PK swap")
	tw.WriteHeader(&tar.Header{Name: pkg.Functions[0].Key, Mode: 0o644, Size: int64(len(swapped)), Typeflag: tar.TypeReg})
	tw.Write(swapped)
	tw.Close()
	store.Put(ctx, l.Bundle, buf.Bytes(), "")

	p := &staging.Publisher{Store: store, Logger: quiet, TempDir: t.TempDir()}
	_, err := p.Handle(ctx, pipeline.PublishInput{Step: pipeline.StepPackage, Run: feature, Execution: execution,
		Source: pipeline.Source{Plan: plan}, Package: &pkg})
	var refused *pipeline.PackageRefused
	if !errors.As(err, &refused) || !strings.Contains(refused.Reason, "changed after packaging") {
		t.Fatalf("got %v, want PackageRefused: changed after packaging", err)
	}
	if ok, _ := store.Exists(ctx, pkg.Functions[0].Key); ok {
		t.Error("the swapped zip was stored")
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func itoa(n int) string { return strconv.Itoa(n) }
