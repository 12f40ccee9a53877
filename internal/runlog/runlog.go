// Package runlog makes the handlers' logs say which run each line is
// about. Its handler adds, to every record logged with a context, the
// Lambda request id and the run the context carries (repository, branch,
// commit, execution), so a line can be found from the Step Functions
// console and the console from a line.
package runlog

import (
	"context"
	"io"
	"log/slog"

	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/stackflow/stackflow/internal/pipeline"
)

type runKey struct{}

type runInfo struct {
	run       pipeline.Run
	execution string
}

// WithRun returns ctx carrying run and the ARN of the execution that
// delivers it, for every line logged with it.
func WithRun(ctx context.Context, run pipeline.Run, execution string) context.Context {
	return context.WithValue(ctx, runKey{}, runInfo{run: run, execution: execution})
}

// NewJSON returns the logger a handler uses in Lambda: JSON lines on w,
// each with the request id and the run of its context.
func NewJSON(w io.Writer) *slog.Logger {
	return slog.New(NewHandler(slog.NewJSONHandler(w, nil)))
}

// NewHandler wraps h so that records logged with a context get the Lambda
// request id and the context's run.
func NewHandler(h slog.Handler) slog.Handler { return handler{h} }

type handler struct{ slog.Handler }

func (h handler) Handle(ctx context.Context, r slog.Record) error {
	if ctx != nil {
		if lc, ok := lambdacontext.FromContext(ctx); ok && lc.AwsRequestID != "" {
			r.AddAttrs(slog.String("requestId", lc.AwsRequestID))
		}
		if info, ok := ctx.Value(runKey{}).(runInfo); ok {
			if info.run.Repository.Slug != "" {
				r.AddAttrs(slog.String("repository", info.run.Repository.FullName()))
			}
			if info.run.Branch != "" {
				r.AddAttrs(slog.String("branch", info.run.Branch))
			}
			if info.run.Tag != "" {
				r.AddAttrs(slog.String("tag", info.run.Tag))
			}
			if a := info.run.AppName(); a != "" {
				r.AddAttrs(slog.String("app", a))
			}
			if info.run.Commit != "" {
				r.AddAttrs(slog.String("commit", info.run.Commit))
			}
			if info.execution != "" {
				r.AddAttrs(slog.String("execution", info.execution))
			}
		}
	}
	return h.Handler.Handle(ctx, r)
}

func (h handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return handler{h.Handler.WithAttrs(attrs)}
}

func (h handler) WithGroup(name string) slog.Handler {
	return handler{h.Handler.WithGroup(name)}
}

// Logger returns log bound to ctx: its lines carry ctx's request and run
// even when they are logged without a context, as code that logs through
// a *slog.Logger field does.
func Logger(ctx context.Context, log *slog.Logger) *slog.Logger {
	return slog.New(bound{Handler: log.Handler(), ctx: ctx})
}

type bound struct {
	slog.Handler
	ctx context.Context
}

func (b bound) Handle(_ context.Context, r slog.Record) error { return b.Handler.Handle(b.ctx, r) }

func (b bound) WithAttrs(attrs []slog.Attr) slog.Handler {
	return bound{Handler: b.Handler.WithAttrs(attrs), ctx: b.ctx}
}

func (b bound) WithGroup(name string) slog.Handler {
	return bound{Handler: b.Handler.WithGroup(name), ctx: b.ctx}
}
