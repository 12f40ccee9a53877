// Package packager is the package step of a run: it builds every function
// and layer of the app's SAM template once, the way `sam build` builds them
// (Go with BuildMethod go1.x on a provided runtime, Python with pip or uv,
// Node.js with npm or esbuild; see builders), zips each reproducibly, stores
// the zips and the template's other local files in the artifact bucket
// under their content hash, and stores the packaged template that refers
// to them, as `sam package` writes it. The same package is then deployed to
// every environment.
//
// A function is not built again when nothing its build reads changed: each
// build is named by a build key. For Go it is a hash of the files of every
// package of the repository it depends on, go.mod and go.sum, the
// toolchain, the architecture, the build flags and BuildVersion (see
// buildKeys); for Python and Node.js, of the files of its code directory,
// the runtime, the architecture, the BuildProperties and the tools'
// versions (see inputKey). The bucket records which zip each build key
// made (pipeline.BuildRecordKey), per branch; a later run of the same
// branch, or of a branch whose default branch recorded it, with the same
// key reuses that zip and builds nothing (pipeline.CacheScope): no run
// trusts what another feature branch built. Since the zips are
// reproducible, a commit that changes one function changes one CodeUri of
// the packaged template.
//
// The template is edited as a YAML node tree: short-form intrinsic
// functions (!Ref, !Sub, !GetAtt), comments and everything the packager does
// not rewrite keep their meaning and, mostly, their bytes.
package packager

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/stackflow/stackflow/internal/artifacts"
	"github.com/stackflow/stackflow/internal/gocache"
	"github.com/stackflow/stackflow/internal/indexes"
	"github.com/stackflow/stackflow/internal/pipeline"
	"github.com/stackflow/stackflow/internal/runlog"
	"github.com/stackflow/stackflow/internal/runtimes"
	"github.com/stackflow/stackflow/internal/toolchain"
	"github.com/stackflow/stackflow/internal/workspace"
)

// Store is the artifact bucket as the package step uses it;
// *artifacts.Store and *artifacts.URLStore are.
type Store interface {
	Open(ctx context.Context, key string) (io.ReadCloser, error)
	Get(ctx context.Context, key string) ([]byte, error)
	Put(ctx context.Context, key string, body []byte, contentType string) error
	PutFile(ctx context.Context, key, path, contentType string) error
	Exists(ctx context.Context, key string) (bool, error)
	URL(key string) string
	Bucket() string
}

// DefaultTemplate is the template's path when the plan names none, as for
// sam.
const DefaultTemplate = "template.yaml"

var (
	_ Store = (*artifacts.Store)(nil)
	_ Store = (*artifacts.URLStore)(nil)
)

// Service packages one commit per call.
type Service struct {
	// Store, when set, is the bucket the step reaches with its own
	// credentials: stackflow local packaging the pipeline itself, and
	// tests. In Lambda it is nil: the function holds no S3 rights, and each
	// call reaches the bucket through the presigned URLs of its input's
	// Grants alone, staging what it makes for the publish step (see
	// package staging).
	Store Store
	// HTTPClient fetches the Grants' URLs; nil for http.DefaultClient.
	HTTPClient *http.Client
	Toolchain  toolchain.Options
	// Arch, when set, is the Go architecture ("amd64" or "arm64") every
	// function is built for instead of the template's Architectures: local
	// runs build for the host. The template itself is left as it is.
	Arch string
	// Caches, when set, keeps the Go module and build caches between runs
	// in the artifact bucket, and pip's, npm's and uv's download caches
	// per branch; the commands then use Caches.Dir as
	// Toolchain.GoCacheDir, and as DownloadCache when that is empty. Nil
	// leaves the caches to the environment.
	Caches *gocache.Config
	// Cache, when set, keeps zips by build key beyond the bucket: a build
	// whose key the bucket has no record of is looked up there before it
	// runs, and every build is saved there. Nil (on AWS) uses the bucket
	// alone.
	Cache BuildCache
	// Progress, when set, is told when each function starts building and
	// when its zip is ready, built or reused.
	Progress func(BuildEvent)
	// ToolPath lists directories searched before PATH for the tools that
	// Python and Node.js builds run (python3.X, python3, node, npm, uv),
	// and put before PATH in their environment, as sam build's
	// executable search paths.
	ToolPath []string
	// Runtimes, when set, fetches the Python and Node.js of the units'
	// runtimes (see package runtimes) and puts them before ToolPath, as the
	// package function does in Lambda, where none are installed. Nil uses
	// what ToolPath and PATH hold.
	Runtimes *runtimes.Options
	// Indexes, when set, gives pip, uv and npm the package indexes and
	// their credentials; nil leaves them to the app's own configuration
	// (requirements.txt's --index-url, .npmrc).
	Indexes *indexes.Source
	// DownloadCache, when set, is where pip, npm and uv keep what they
	// download (in pip/, npm/ and uv/), so later builds download less.
	// Empty leaves each tool its default cache under HOME.
	DownloadCache string
	// Echo, when set, receives a copy of the build output.
	Echo io.Writer
	// Logger defaults to slog.Default().
	Logger *slog.Logger
}

// reserve is the time kept back from the invocation's deadline to upload
// and answer after a build was stopped.
const reserve = 30 * time.Second

// Handle packages in.Source at in.Run.Commit; the error, if any, is in the
// form the state machine matches (a *pipeline.PackageFailed when a function
// cannot be built or a file cannot be packaged).
func (s *Service) Handle(ctx context.Context, in pipeline.PackageInput) (pipeline.Package, error) {
	pkg, err := s.run(ctx, in)
	return pkg, pipeline.ForStateMachine(err)
}

// job is the state of one Handle call.
type job struct {
	*Service
	in pipeline.PackageInput
	// store is the bucket as this call reaches it, and caches the caches
	// over it (nil when Caches is).
	store  Store
	caches *gocache.Config
	// indexes are the build indexes read so far, by scope.
	indexes map[string]map[string]json.RawMessage
	log     *slog.Logger
	t       *template
	tmp     string
	out     strings.Builder // the build log
	// builders are the builders this job made, by method.
	builders map[method]builder
	// env is the Python and Node.js tools' environment (see toolEnv).
	env []string
	// node is the node and npm that Node.js builds run, once found.
	node *nodeTools
	// downloads is the session of pip's, npm's and uv's caches, once one
	// was restored, and restored says which.
	downloads *gocache.Session
	restored  map[gocache.Part]bool
	// indexEnv gives the tools the package indexes; redact hides their
	// credentials in what the step shows, and echo is Echo through it.
	indexEnv []string
	// pythonIndexes and npmIndexes name the indexes the builds resolve
	// from, without credentials, and pipConf the repository's pip.conf,
	// for their build keys.
	pythonIndexes, npmIndexes, pipConf string
	redact                             *workspace.Redactor
	echo                               io.Writer
	// toolDirs are the bin directories of the fetched Python and Node.js,
	// searched before ToolPath.
	toolDirs []string
}

func (s *Service) run(ctx context.Context, in pipeline.PackageInput) (pipeline.Package, error) {
	if s.Arch != "" && s.Arch != "amd64" && s.Arch != "arm64" {
		return pipeline.Package{}, fmt.Errorf("package: build architecture %q: want amd64 or arm64", s.Arch)
	}
	j := &job{Service: s, in: in, builders: map[method]builder{}}
	j.log = s.Logger
	if j.log == nil {
		j.log = slog.Default()
	}
	j.log = runlog.Logger(runlog.WithRun(ctx, in.Run, in.Execution), j.log)

	var urls *artifacts.URLStore
	j.store = s.Store
	if in.Grants != nil {
		urls = artifacts.NewURLStore(in.Grants, s.HTTPClient, "")
		defer urls.Close()
		j.store = urls
	}
	if j.store == nil {
		return pipeline.Package{}, errors.New("package: the step was handed no grants (presigned URLs) and has no bucket of its own: " +
			"run it from the state machine, whose grant step hands them")
	}
	if s.Caches != nil {
		caches := *s.Caches
		caches.Store = j.store
		j.caches = &caches
	}
	root, cleanup, err := workspace.Fetch(ctx, j.store, in.Source.ArchiveKey)
	if err != nil {
		return pipeline.Package{}, err
	}
	defer cleanup()
	j.tmp, err = os.MkdirTemp("", "stackflow-package-")
	if err != nil {
		return pipeline.Package{}, fmt.Errorf("package: %w", err)
	}
	defer os.RemoveAll(j.tmp)
	idx, err := s.Indexes.Settings(ctx)
	if err != nil {
		return pipeline.Package{}, fmt.Errorf("package: %w", err)
	}
	if in.Grants != nil && in.Grants.Credentials != "" {
		secret, err := j.store.Get(ctx, in.Grants.Credentials)
		if err != nil {
			return pipeline.Package{}, fmt.Errorf("package: package index credentials: %w", err)
		}
		if idx, err = idx.WithCredentials(string(secret)); err != nil {
			return pipeline.Package{}, fmt.Errorf("package: %w", err)
		}
	}
	if j.indexEnv, err = idx.Env(j.tmp, root); err != nil {
		return pipeline.Package{}, fmt.Errorf("package: %w", err)
	}
	j.pythonIndexes, j.npmIndexes = idx.PythonKey(), idx.NpmKey()
	if j.pipConf, err = hashFileIfAny(filepath.Join(root, "pip.conf")); err != nil {
		return pipeline.Package{}, fmt.Errorf("package: %w", err)
	}
	j.redact = workspace.NewRedactor(idx.Secrets()...)
	if s.Echo != nil {
		w := j.redact.Writer(s.Echo)
		defer w.Flush()
		j.echo = w
	}

	file := in.Source.Plan.Template
	if file == "" {
		file = DefaultTemplate
	}
	fmt.Fprintf(&j.out, "# package of %s at %s: %s\n\n", in.Run.Repository.FullName(), in.Run.Commit, file)
	pkg, err := j.pack(ctx, root, file)
	if err == nil && urls != nil {
		// What has no key of its own yet (zips, build records) goes up
		// in one bundle, for the publish step to check and store.
		if err = urls.Flush(ctx); err != nil {
			err = fmt.Errorf("package: stage the zips: %w", err)
		}
	}

	logKey := pipeline.LogKey(in.Run.Repository, workspace.ExecutionName(in.Execution, in.Run), "package")
	if err != nil {
		fmt.Fprintf(&j.out, "\n[failed: %v]\n", err)
	}
	if perr := j.storeLog(ctx, logKey); perr != nil {
		j.log.Error("store package log", "key", logKey, "error", perr)
		logKey = ""
	}
	if err != nil {
		return pipeline.Package{}, j.hide(err)
	}
	pkg.LogKey = logKey
	return pkg, nil
}

// hide returns err with the package indexes' credentials hidden in what it
// says (a build's output in a PackageFailed's tail, say).
func (j *job) hide(err error) error {
	var pf *pipeline.PackageFailed
	if errors.As(err, &pf) {
		c := *pf
		c.Reason, c.Tail = j.redact.String(c.Reason), j.redact.String(c.Tail)
		return &c
	}
	if msg := j.redact.String(err.Error()); msg != err.Error() {
		return errors.New(msg)
	}
	return err
}

func (j *job) pack(ctx context.Context, root, file string) (pipeline.Package, error) {
	t, err := readTemplate(root, file)
	if err != nil {
		return pipeline.Package{}, err
	}
	j.t = t
	// Check every function and layer before building any, so a template
	// mistake fails in a second rather than after minutes of builds.
	var units []*unit
	for _, r := range t.resources() {
		var u *unit
		switch r.typ {
		case "AWS::Serverless::Function":
			u, err = j.function(r)
		case "AWS::Serverless::LayerVersion":
			u, err = j.layer(r)
		}
		if err != nil {
			return pipeline.Package{}, err
		}
		if u != nil {
			units = append(units, u)
		}
	}

	if err := j.fetchRuntimes(ctx, units); err != nil {
		return pipeline.Package{}, err
	}
	buildCtx, cancel := workspace.WithReserve(ctx, reserve)
	defer cancel()
	builds, err := j.buildAll(buildCtx, units)
	if err != nil {
		return pipeline.Package{}, err
	}
	pkg := pipeline.Package{Functions: []pipeline.BuiltFunction{}}
	var total int64
	counted := map[*artifact]bool{}
	built, reused, fns, layers := 0, 0, 0, 0
	for _, u := range units {
		b := builds[u.target()]
		if !counted[b.a] {
			counted[b.a] = true
			total += b.a.size
		}
		if b.reused {
			reused++
		} else {
			built++
		}
		props := mapping(u.node, "Properties")
		uri := scalar(props, "s3://"+j.store.Bucket()+"/"+j.key(b.a))
		if u.layer {
			layers++
			set(props, "ContentUri", uri)
		} else {
			fns++
			set(props, "CodeUri", uri)
			j.rewrite(u, b, props)
		}
		pkg.Functions = append(pkg.Functions, pipeline.BuiltFunction{Name: u.name, Key: j.key(b.a), SHA256: b.a.sha, Size: b.a.size, Reused: b.reused})
	}
	// Every function that took its CodeUri from Globals now has its own.
	if _, ok := localPath(t.globalFunction("CodeUri")); ok {
		remove(get(t.top, "Globals", "Function"), "CodeUri")
	}

	for _, r := range t.resources() {
		for _, ref := range references {
			if r.typ == ref.typ {
				if err := j.reference(ctx, r, ref); err != nil {
					return pipeline.Package{}, err
				}
			}
		}
	}

	body, err := t.encode()
	if err != nil {
		return pipeline.Package{}, err
	}
	key := pipeline.PackagedTemplateKey(j.in.Run.Repository, j.in.Run.Commit, j.in.Run.AppName())
	if err := j.store.Put(ctx, key, body, "application/yaml"); err != nil {
		return pipeline.Package{}, fmt.Errorf("package: store template: %w", err)
	}
	fmt.Fprintf(&j.out, "packaged template: s3://%s/%s\n", j.store.Bucket(), key)
	pkg.Bucket, pkg.TemplateKey, pkg.TemplateURL = j.store.Bucket(), key, j.store.URL(key)
	sum := sha256.Sum256(body) // the deploy step checks it
	pkg.TemplateSHA256 = hex.EncodeToString(sum[:])
	for _, b := range j.builders {
		if f, ok := b.(finisher); ok {
			f.finish(ctx)
		}
	}
	j.saveDownloads(ctx)
	what := fmt.Sprintf("%d %s", fns, plural(fns, "function"))
	if layers > 0 {
		what += fmt.Sprintf(" and %d %s", layers, plural(layers, "layer"))
	}
	pkg.Summary = fmt.Sprintf("packaged %s (%s): %d built, %d reused", what, size(total), built, reused)
	j.log.Info("packaged", "functions", fns, "layers", layers, "built", built, "reused", reused, "bytes", total, "template", key)
	return pkg, nil
}

// reference packages r's property ref when it names a local file or
// directory, and points it at the stored copy.
func (j *job) reference(ctx context.Context, r resource, ref reference) error {
	props := get(r.node, "Properties")
	p, ok := localPath(get(props, ref.prop))
	if !ok {
		return nil
	}
	fail := func(format string, args ...any) error {
		return &pipeline.PackageFailed{Function: r.name, Reason: ref.prop + " " + fmt.Sprintf(format, args...)}
	}
	abs, err := within(j.t.root, j.t.dir, p)
	if err != nil {
		return fail("%v", err)
	}
	fi, err := os.Stat(abs)
	if err != nil {
		return fail("%q: no such file in the repository", p)
	}
	var a *artifact
	switch {
	case fi.IsDir() && !ref.zipDir:
		return fail("%q is a directory: want a file", p)
	case fi.IsDir():
		entries, err := treeEntries(abs, "", nil)
		if err != nil {
			return fmt.Errorf("package %s: %w", r.name, err)
		}
		if a, err = writeZip(j.tmp, entries); err != nil {
			return fmt.Errorf("package %s: %w", r.name, err)
		}
	default:
		if a, err = hashFile(abs, strings.ToLower(filepath.Ext(abs))); err != nil {
			return fmt.Errorf("package %s: %w", r.name, err)
		}
	}
	ctype := mime.TypeByExtension(a.ext)
	if a.ext == ".yaml" || a.ext == ".yml" {
		ctype = "application/yaml"
	}
	if err := j.upload(ctx, a, ctype); err != nil {
		return err
	}
	key := j.key(a)
	if ref.bucket == "" {
		set(props, ref.prop, scalar(props, "s3://"+j.store.Bucket()+"/"+key))
	} else {
		set(props, ref.prop, s3Location(props, ref.bucket, j.store.Bucket(), ref.key, key))
	}
	fmt.Fprintf(&j.out, "%s %s: %s -> s3://%s/%s\n", r.name, ref.prop, p, j.store.Bucket(), key)
	return nil
}

func (j *job) key(a *artifact) string {
	return pipeline.ArtifactKey(j.in.Run.Repository, a.sha, a.ext)
}

// upload stores a under its content-addressed key unless it is there
// already.
func (j *job) upload(ctx context.Context, a *artifact, contentType string) error {
	key := j.key(a)
	ok, err := j.store.Exists(ctx, key)
	if err != nil && !errors.Is(err, artifacts.ErrNotGranted) { // through grants: bundled, once
		return fmt.Errorf("package: %w", err)
	}
	if ok {
		fmt.Fprintf(&j.out, "already stored: s3://%s/%s\n", j.store.Bucket(), key)
		return nil
	}
	if err := j.store.PutFile(ctx, key, a.path, contentType); err != nil {
		return fmt.Errorf("package: %w", err)
	}
	fmt.Fprintf(&j.out, "stored: s3://%s/%s\n", j.store.Bucket(), key)
	return nil
}

// storeLog stores the build log even when ctx is done: the log is most
// wanted when a build ran out of time.
func (j *job) storeLog(ctx context.Context, key string) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), reserve/2)
	defer cancel()
	return j.store.Put(ctx, key, []byte(j.redact.String(j.out.String())), "text/plain; charset=utf-8")
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

func round(d time.Duration) time.Duration {
	if d < time.Second {
		return d.Round(time.Millisecond)
	}
	return d.Round(100 * time.Millisecond)
}

func plural(n int, word string) string {
	if n == 1 {
		return word
	}
	return word + "s"
}
