package reaper

import (
	"context"
	"log/slog"
)

// Handler wraps a Lambda handler that runs the commit's code so that every
// invocation ends with KillDescendants, whatever it returns; what it
// killed is logged. Call Adopt once, before lambda.Start.
func Handler[In, Out any](h func(context.Context, In) (Out, error)) func(context.Context, In) (Out, error) {
	return func(ctx context.Context, in In) (Out, error) {
		defer func() {
			n, err := KillDescendants()
			switch {
			case err != nil:
				slog.Warn("kill what the invocation left running", "error", err.Error())
			case n > 0:
				slog.Warn("killed what the invocation left running", "processes", n)
			}
		}()
		return h(ctx, in)
	}
}
