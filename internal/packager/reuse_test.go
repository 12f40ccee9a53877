package packager_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/stackflow/stackflow/internal/gocache"
	"github.com/stackflow/stackflow/internal/packager"
	"github.com/stackflow/stackflow/internal/pipeline"
	"github.com/stackflow/stackflow/internal/staging"
	"github.com/stackflow/stackflow/internal/toolchain"
)

const reuseTemplate = `Transform: AWS::Serverless-2016-10-31
Globals:
  Function:
    Runtime: provided.al2023
    Handler: bootstrap
    Architectures: [arm64]
Resources:
  HelloFunction:
    Type: AWS::Serverless::Function
    Metadata: {BuildMethod: go1.x}
    Properties: {CodeUri: functions/hello}
  WorldFunction:
    Type: AWS::Serverless::Function
    Metadata: {BuildMethod: go1.x}
    Properties: {CodeUri: functions/world}
  AgainFunction:
    Type: AWS::Serverless::Function
    Metadata: {BuildMethod: go1.x}
    Properties: {CodeUri: functions/hello}
`

// reuseApp has a function that imports a package of the repository, one
// that embeds a file, and a go.sum with a line no build needs.
var reuseApp = map[string]string{
	"go.mod":        "module example.com/app\n\ngo 1.22\n",
	"go.sum":        "golang.org/x/text v0.3.0 h1:g61tztE5qeGQ89tm6NTjjM9VPIm088od1l6aSorWRWg=\n",
	"README.md":     "# app\n",
	"template.yaml": reuseTemplate,
	"functions/hello/main.go": "package main\n\nimport \"example.com/app/internal/greet\"\n\n" +
		"func main() { println(greet.Hello()) }\n",
	"internal/greet/greet.go": "package greet\n\n// Hello greets.\nfunc Hello() string { return \"hello\" }\n",
	"internal/other/other.go": "package other\n\n// Other is used by no function.\nconst Other = 1\n",
	"functions/world/main.go": "package main\n\nimport _ \"embed\"\n\n//go:embed msg.txt\nvar msg string\n\n" +
		"func main() { println(msg) }\n",
	"functions/world/msg.txt": "world\n",
}

const commit2 = "fedcba9876543210fedcba9876543210fedcba98"

// countingGo writes a go command that logs its first argument (build,
// list, env) to a file before running the host's go, and returns its path
// and a function that returns how many times each subcommand ran since the
// last call.
func countingGo(t *testing.T) (string, func() map[string]int) {
	t.Helper()
	real, err := exec.LookPath("go")
	if err != nil {
		t.Fatal(err)
	}
	if real, err = filepath.Abs(real); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	log := filepath.Join(dir, "calls.log")
	script := fmt.Sprintf("#!/bin/sh\necho \"$1\" >> '%s'\nexec '%s' \"$@\"\n", log, real)
	wrapper := filepath.Join(dir, "go")
	if err := os.WriteFile(wrapper, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	calls := func() map[string]int {
		t.Helper()
		b, err := os.ReadFile(log)
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		os.Remove(log)
		n := map[string]int{}
		for _, l := range strings.Fields(string(b)) {
			n[l]++
		}
		return n
	}
	return wrapper, calls
}

// Two packages of the same source in two buckets, with no record to reuse,
// make the same zips.
func TestPackageReproducible(t *testing.T) {
	t.Parallel()
	var sums []string
	for range 2 {
		f := setup(t)
		pkg, err := f.svc.Handle(context.Background(), f.source(t, reuseApp))
		if err != nil {
			t.Fatal(err)
		}
		var s []string
		for _, fn := range pkg.Functions {
			if fn.Reused {
				t.Errorf("%s reused in a new bucket", fn.Name)
			}
			s = append(s, fn.Name+" "+fn.SHA256)
		}
		sums = append(sums, strings.Join(s, ", "))
	}
	if sums[0] != sums[1] {
		t.Errorf("got zips %s, then %s: want the same", sums[0], sums[1])
	}
}

// A function is built again exactly when something its build reads
// changed.
func TestPackageReuse(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		changes []string // file, new content, ...
		arch    string
		// wantBuilt are the functions built again; the others are reused.
		wantBuilt []string
	}{
		{name: "nothing changed"},
		{name: "README changed", changes: []string{"README.md", "# app, again\n"}},
		{name: "test file added", changes: []string{"functions/world/main_test.go", "package main\n"}},
		{name: "non-Go file beside a function", changes: []string{"functions/hello/notes.txt", "notes\n"}},
		{name: "package no function imports", changes: []string{"internal/other/other.go", "package other\n\nconst Other = 2\n"}},
		{
			name:      "dependency package changed",
			changes:   []string{"internal/greet/greet.go", "package greet\n\n// Hello greets.\nfunc Hello() string { return \"hi\" }\n"},
			wantBuilt: []string{"HelloFunction", "AgainFunction"},
		},
		{
			name:      "file added to a dependency package",
			changes:   []string{"internal/greet/more.go", "package greet\n\nvar more = 1\n"},
			wantBuilt: []string{"HelloFunction", "AgainFunction"},
		},
		{name: "embedded file changed", changes: []string{"functions/world/msg.txt", "everyone\n"}, wantBuilt: []string{"WorldFunction"}},
		{
			name: "go.sum changed",
			changes: []string{"go.sum", reuseApp["go.sum"] +
				"golang.org/x/text v0.3.0/go.mod h1:NqM8EUOU14njkJ3fqMW+pc6Ldnwhi/IjpwHt7yyuwOQ=\n"},
			wantBuilt: []string{"HelloFunction", "WorldFunction", "AgainFunction"},
		},
		{
			name:      "go.mod changed",
			changes:   []string{"go.mod", "module example.com/app\n\ngo 1.23\n"},
			wantBuilt: []string{"HelloFunction", "WorldFunction", "AgainFunction"},
		},
		{name: "other architecture", arch: "amd64", wantBuilt: []string{"HelloFunction", "WorldFunction", "AgainFunction"}},
	}
	// One first package; each case packages its change as a new commit
	// against it. The records a case adds are for its own inputs only.
	f := setup(t)
	wrapper, calls := countingGo(t)
	f.svc.Toolchain.LocalGo = wrapper
	ctx := context.Background()
	first, err := f.svc.Handle(ctx, f.source(t, reuseApp))
	if err != nil {
		t.Fatal(err)
	}
	if got := calls()["build"]; got != 2 {
		t.Fatalf("first package ran go build %d times, want 2 (hello and world)", got)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f.svc.Arch = tt.arch
			defer func() { f.svc.Arch = "" }()
			second, err := f.svc.Handle(ctx, f.sourceAt(t, with(reuseApp, tt.changes...), commit2))
			if err != nil {
				t.Fatal(err)
			}
			builds := calls()["build"]
			log := string(f.get(t, second.LogKey))
			wantBuilds := 0
			for _, fn := range second.Functions {
				built := strings.Contains(strings.Join(tt.wantBuilt, " "), fn.Name)
				if fn.Reused == built {
					t.Errorf("%s: got reused %v, want %v", fn.Name, fn.Reused, !built)
				}
				if built && fn.Name != "AgainFunction" {
					wantBuilds++
				}
				var was pipeline.BuiltFunction
				for _, w := range first.Functions {
					if w.Name == fn.Name {
						was = w
					}
				}
				if !built && fn.Key != was.Key {
					t.Errorf("%s: got zip %s, want the first run's %s", fn.Name, fn.Key, was.Key)
				}
				if !built && fn.Name != "AgainFunction" && !strings.Contains(log, "reused "+fn.Name+" (inputs unchanged)") {
					t.Errorf("log does not say %s was reused:\n%s", fn.Name, log)
				}
			}
			if builds != wantBuilds {
				t.Errorf("second package ran go build %d times, want %d", builds, wantBuilds)
			}
			reused := len(second.Functions) - len(tt.wantBuilt)
			if want := fmt.Sprintf(": %d built, %d reused", len(tt.wantBuilt), reused); !strings.HasSuffix(second.Summary, want) {
				t.Errorf("got summary %q, want it to end %q", second.Summary, want)
			}
		})
	}
}

// TestBuildRecordsAreScopedByBranch: a feature branch's run reuses what
// main's runs built, and records what it builds for itself only: main's
// runs, and other branches', never reuse a zip a feature branch's run
// recorded, which its code could have made.
func TestBuildRecordsAreScopedByBranch(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	on := func(in pipeline.PackageInput, branch string) pipeline.PackageInput {
		in.Run.Branch = branch
		in.Source.Plan.DefaultBranch = &pipeline.DefaultBranch{Name: "main", Commit: run.Commit}
		return in
	}
	reused := func(pkg pipeline.Package) int {
		n := 0
		for _, fn := range pkg.Functions {
			if fn.Reused {
				n++
			}
		}
		return n
	}
	changed := with(reuseApp, "internal/greet/greet.go", "package greet\n\n// Hello greets.\nfunc Hello() string { return \"hi\" }\n")
	tests := []struct {
		name       string
		branch     string
		files      map[string]string
		commit     string
		wantReused int
	}{
		{name: "main builds everything", branch: "main", files: reuseApp, commit: run.Commit},
		{name: "feature/x reuses main's builds", branch: "feature/x", files: reuseApp, commit: commit2, wantReused: 3},
		{name: "feature/x builds its change", branch: "feature/x", files: changed, commit: commit2, wantReused: 1},
		{name: "feature/y does not reuse feature/x's build of the same change", branch: "feature/y", files: changed,
			commit: "1111111111111111111111111111111111111111", wantReused: 1},
		{name: "nor does main", branch: "main", files: changed, commit: commit2, wantReused: 1},
		{name: "then feature/x reuses its own", branch: "feature/x", files: changed, commit: commit2, wantReused: 3},
	}
	for _, tt := range tests {
		pkg, err := f.svc.Handle(ctx, on(f.sourceAt(t, tt.files, tt.commit), tt.branch))
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if got := reused(pkg); got != tt.wantReused {
			t.Errorf("%s: reused %d functions, want %d (%s)", tt.name, got, tt.wantReused, pkg.Summary)
		}
	}
}

// A build that cannot be keyed (go list fails on it) is built, and fails
// as a build.
func TestPackageUnkeyableBuilds(t *testing.T) {
	t.Parallel()
	f := setup(t)
	in := f.source(t, with(reuseApp, "functions/hello/main.go", "package main\n\nimport \"example.com/app/internal/gone\"\n\nfunc main() { gone.X() }\n"))
	_, err := f.svc.Handle(context.Background(), in)
	if err == nil || !strings.Contains(err.Error(), "go build failed in functions/hello") {
		t.Fatalf("got %v, want the build of functions/hello to fail", err)
	}
}

// With Caches, the module cache is restored before the build keys are
// computed, the build cache only before a build, and both are saved when
// they grew.
func TestPackageCaches(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	if _, err := f.svc.Handle(ctx, f.source(t, reuseApp)); err != nil {
		t.Fatal(err)
	}

	// Store caches holding a marker each, under the key the step uses:
	// the step, go.sum, the toolchain and the platform.
	mod := t.TempDir()
	for _, name := range []string{"go.mod", "go.sum"} {
		if err := os.WriteFile(filepath.Join(mod, name), []byte(reuseApp[name]), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	tc, err := toolchain.Resolve(ctx, mod, f.svc.Toolchain)
	if err != nil {
		t.Fatal(err)
	}
	sums, err := gocache.Sums(mod)
	if err != nil {
		t.Fatal(err)
	}
	key := gocache.Key("package", tc.Version, runtime.GOOS, runtime.GOARCH, sums)
	seed := &gocache.Config{Store: f.store, Dir: t.TempDir()}
	s := seed.Session(run.Repository, pipeline.CacheScope{Branch: run.Branch}, pipeline.StepPackage, key)
	s.Restore(ctx, gocache.Modules)
	s.Restore(ctx, gocache.Builds)
	for _, sub := range []string{"mod", "build"} {
		writeFile(t, filepath.Join(seed.Dir, sub, "marker.txt"), sub)
	}
	if _, err := s.Save(ctx); err != nil {
		t.Fatal(err)
	}

	dir := t.TempDir()
	f.svc.Caches = &gocache.Config{Store: f.store, Dir: dir}
	modMarker, buildMarker := filepath.Join(dir, "mod", "marker.txt"), filepath.Join(dir, "build", "marker.txt")

	t.Run("reused: only the module cache", func(t *testing.T) {
		pkg, err := f.svc.Handle(ctx, f.sourceAt(t, with(reuseApp, "README.md", "changed\n"), commit2))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasSuffix(pkg.Summary, "0 built, 3 reused") {
			t.Errorf("got summary %q, want all reused", pkg.Summary)
		}
		if _, err := os.Stat(modMarker); err != nil {
			t.Errorf("GOMODCACHE not restored: %v", err)
		}
		if _, err := os.Stat(buildMarker); err == nil {
			t.Errorf("GOCACHE restored, but nothing was built")
		}
		log := string(f.get(t, pkg.LogKey))
		if !strings.Contains(log, "GOMODCACHE restored: 1 files") || !strings.Contains(log, "GOMODCACHE unchanged: not uploaded") ||
			strings.Contains(log, "GOCACHE") {
			t.Errorf("log does not say GOMODCACHE alone was restored, and saved unchanged:\n%s", log)
		}
	})
	t.Run("building: the build cache too; nothing saved after a failure", func(t *testing.T) {
		// A broken import fails go build before it compiles anything.
		in := f.sourceAt(t, with(reuseApp, "functions/world/main.go", "package main\n\nimport \"\n"), commit2)
		_, err := f.svc.Handle(ctx, in)
		if err == nil || !strings.Contains(err.Error(), "go build failed in functions/world") {
			t.Fatalf("got %v, want the build of functions/world to fail", err)
		}
		if _, err := os.Stat(buildMarker); err != nil {
			t.Errorf("GOCACHE not restored before the build: %v", err)
		}
		log := string(f.get(t, "logs/acme/app/app-main-0123456/package.log"))
		if !strings.Contains(log, "GOMODCACHE current") || !strings.Contains(log, "GOCACHE restored: 1 files") || strings.Contains(log, "not uploaded") {
			t.Errorf("log does not say GOMODCACHE was current, GOCACHE restored and nothing saved:\n%s", log)
		}
	})
}

func writeFile(t *testing.T, path, body string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestPackageThroughGrants is TestBuildRecordsAreScopedByBranch as the
// pipeline runs it: grant, then the package step with no bucket of its own
// (its zips, template and records staged through its grants' URLs, none at
// the keys later steps trust), then publish. Reuse goes through the build
// index the publish step keeps, scoped by branch.
func TestPackageThroughGrants(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	quiet := f.svc.Logger
	granter := &staging.Granter{Store: f.store, Logger: quiet}
	publisher := &staging.Publisher{Store: f.store, Logger: quiet, TempDir: t.TempDir()}
	untrusted := &packager.Service{Toolchain: f.svc.Toolchain, Logger: quiet}
	changed := with(reuseApp, "internal/greet/greet.go", "package greet\n\n// Hello greets.\nfunc Hello() string { return \"hi\" }\n")
	tests := []struct {
		name       string
		branch     string
		files      map[string]string
		commit     string
		wantReused int
	}{
		{name: "main builds everything", branch: "main", files: reuseApp, commit: run.Commit},
		{name: "feature/x reuses main's builds", branch: "feature/x", files: reuseApp, commit: commit2, wantReused: 3},
		{name: "feature/x builds its change", branch: "feature/x", files: changed, commit: commit2, wantReused: 1},
		{name: "main does not reuse feature/x's build", branch: "main", files: changed, commit: commit2, wantReused: 1},
		{name: "then feature/x reuses its own", branch: "feature/x", files: changed, commit: commit2, wantReused: 3},
	}
	for i, tt := range tests {
		in := f.sourceAt(t, tt.files, tt.commit)
		in.Run.Branch = tt.branch
		in.Source.Plan.DefaultBranch = &pipeline.DefaultBranch{Name: "main", Commit: run.Commit}
		in.Execution = fmt.Sprintf("%s-%d", execution, i)
		grants, err := granter.Handle(ctx, pipeline.GrantInput{Step: pipeline.StepPackage, Run: in.Run, Execution: in.Execution, Source: in.Source})
		if err != nil {
			t.Fatal(err)
		}
		in.Grants = &grants
		staged, err := untrusted.Handle(ctx, in)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		tmpl := pipeline.PackagedTemplateKey(run.Repository, tt.commit, run.AppName())
		if ok, _ := f.store.Exists(ctx, tmpl); ok && i == 0 {
			t.Errorf("%s: the package step wrote %s itself; want it staged", tt.name, tmpl)
		}
		pkg, err := publisher.Handle(ctx, pipeline.PublishInput{Step: pipeline.StepPackage, Run: in.Run, Execution: in.Execution,
			Source: in.Source, Package: &staged})
		if err != nil {
			t.Fatalf("%s: publish: %v", tt.name, err)
		}
		reused := 0
		for _, fn := range pkg.Functions {
			if fn.Reused {
				reused++
			}
			if ok, err := f.store.Exists(ctx, fn.Key); err != nil || !ok {
				t.Errorf("%s: %s's zip %s is not published", tt.name, fn.Name, fn.Key)
			}
		}
		if reused != tt.wantReused {
			t.Errorf("%s: reused %d functions, want %d (%s)", tt.name, reused, tt.wantReused, pkg.Summary)
		}
		if pkg.TemplateKey != tmpl {
			t.Errorf("%s: template at %s, want %s", tt.name, pkg.TemplateKey, tmpl)
		}
	}
	in := f.source(t, reuseApp)
	if _, err := untrusted.Handle(ctx, in); err == nil || !strings.Contains(err.Error(), "handed no grants") {
		t.Errorf("without grants: %v, want a refusal", err)
	}
}
