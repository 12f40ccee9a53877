package deploy

import (
	"fmt"
	"math"
	"time"

	"github.com/stackflow/stackflow/internal/freeze"
	"github.com/stackflow/stackflow/internal/pipeline"
)

// checkFreeze looks, before a run takes an environment's lock, at the
// environment's freeze windows on the deploy step's clock. In a window,
// the run waits for its end (frozen is the Lock that says so and how long
// to wait, at most pipeline.MaxFreezeWaitSeconds at a time), or fails with
// *pipeline.Frozen when the environment's freeze_action is stop, unless a
// person said it may go through (the run's DuringFreeze): then during
// says who and why, for the release. A rollback is never held: it puts
// back a release that served.
func (s *Service) checkFreeze(in pipeline.DeployInput) (frozen *pipeline.Lock, during string, err error) {
	env := in.Environment
	if len(env.Freeze) == 0 || in.Run.Rollback != nil {
		return nil, "", nil
	}
	now := s.now()
	st, err := freeze.Check(env.Freeze, now)
	if err != nil || !st.Frozen {
		return nil, "", err
	}
	until := freeze.Format(st.Until, st.Window)
	window := ""
	if st.Window.Name != "" {
		window = " (" + st.Window.Name + ")"
	}
	if o := in.Run.DuringFreeze; o != nil {
		return nil, fmt.Sprintf("%s asked to deploy during the freeze until %s%s: %s", o.By, until, window, o.Reason), nil
	}
	if env.FreezeAction == pipeline.FreezeStop {
		return nil, "", &pipeline.Frozen{Environment: env.Name, Until: until, Window: st.Window.Name,
			Retry: "stackflow retry " + pipeline.ExecutionNameOf(in.Execution)}
	}
	wait := int(math.Ceil(st.Until.Sub(now).Seconds()))
	wait = min(max(wait, 1), pipeline.MaxFreezeWaitSeconds)
	at := st.Until.UTC().Format(time.RFC3339Nano)
	return &pipeline.Lock{
		FrozenUntil: at,
		WaitSeconds: wait,
		Announce:    in.Lock.FrozenUntil != at,
		Summary:     fmt.Sprintf("%s is frozen until %s%s: the run waits", env.Name, until, window),
	}, "", nil
}

func deref(l *pipeline.Lock) pipeline.Lock {
	if l == nil {
		return pipeline.Lock{}
	}
	return *l
}
