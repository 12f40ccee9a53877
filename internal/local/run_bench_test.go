package local

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/stackflow/stackflow/internal/pipeline"
)

// BenchmarkLocalRun is what `stackflow local` does, warm: Start (the
// pipeline's functions from the build cache in the user's cache directory,
// filled by the first iteration if need be), a push of examples/hello's
// main through checks, package and both environments, and Close. It
// reports the parts: start-s (Start: the local AWS up and the pipeline
// installed) and run-s (the push, to the run's end).
//
//	go test -run '^$' -bench LocalRun -benchtime 3x ./internal/local
func BenchmarkLocalRun(b *testing.B) {
	ctx := context.Background()
	dir := b.TempDir()
	if _, err := NewRepository(ctx, filepath.Join("..", "..", "examples", "hello"), dir, nil); err != nil {
		b.Fatal(err)
	}
	// The first Start fills the build cache when it is empty; it is not
	// measured.
	p, err := Start(ctx, Options{})
	if err != nil {
		b.Fatal(err)
	}
	p.Close()
	var start, run time.Duration
	b.ResetTimer()
	for range b.N {
		began := time.Now()
		p, err := Start(ctx, Options{})
		if err != nil {
			b.Fatal(err)
		}
		start += time.Since(began)
		began = time.Now()
		res, err := p.Run(ctx, Push{Repo: pipeline.Repository{Workspace: "local", Slug: "hello"}, Dir: dir}, nil)
		run += time.Since(began)
		p.Close()
		if err != nil {
			b.Fatal(err)
		}
		if !res.Succeeded() || len(res.Environments) != 2 {
			b.Fatalf("the run %s: %s %s (%d environments), want SUCCEEDED through staging and prod", res.Status, res.Error, res.Cause, len(res.Environments))
		}
	}
	b.ReportMetric(start.Seconds()/float64(b.N), "start-s")
	b.ReportMetric(run.Seconds()/float64(b.N), "run-s")
}
