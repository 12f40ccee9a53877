package lambda

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"
)

// process keeps one of a function's processes running until stopped.
type process struct {
	fn     Function
	launch launch
	env    []string
	log    io.Writer
	relay  *relay // its Runtime API
	tmp    string // its TMPDIR, removed when it stops; "" when the function sets one

	quit     chan struct{} // closed to stop
	quitOnce sync.Once
	done     chan struct{} // closed when run has returned
	first    chan error    // the result of the first start

	mu  sync.Mutex
	cur int // the running process's ID, 0 between runs
}

// start starts the process once. A start that fails with ETXTBSY is
// tried again for a while: while one goroutine writes an executable (the
// engine unpacking another function's code), a process forked by another
// goroutine holds the write descriptor for an instant, and executing the
// file then fails with "text file busy" (golang.org/issue/22315).
func (p *process) start() (*exec.Cmd, error) {
	for attempt := 0; ; attempt++ {
		cmd := exec.Command(p.launch.program, p.launch.args...)
		cmd.Dir = p.fn.Dir
		cmd.Env = p.env
		cmd.Stdout = p.log
		cmd.Stderr = p.log
		cmd.WaitDelay = stopGrace
		ownGroup(cmd)
		err := cmd.Start()
		if err == nil || !errors.Is(err, syscall.ETXTBSY) || attempt == 50 {
			return cmd, err
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// run starts the process and starts it again whenever it exits, until
// quit is closed. When it exits during an invocation, the invocation fails
// with Runtime.ExitError, as on Lambda. When it exits before it asked for
// work (its init failed), it is started again only once an invocation
// comes, which gets the error its init reported (Runtime.ImportModuleError,
// say) or Runtime.ExitError: Lambda runs the init again for each
// invocation after a failed one, and fails the invocation with its error.
// Otherwise it starts again after a pause, which grows while it keeps
// dying.
func (p *process) run() {
	defer close(p.done)
	defer p.relay.close()
	if p.tmp != "" {
		defer os.RemoveAll(p.tmp)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		<-p.quit
		cancel()
	}()
	pause := firstRestartPause
	for n := 0; ; n++ {
		p.relay.reset()
		cmd, err := p.start()
		began := time.Now()
		if err != nil {
			if n == 0 {
				p.first <- err
				return
			}
			fmt.Fprintf(p.log, "stackflow: cannot start function %s again: %v\n", p.fn.Name, err)
		} else {
			p.setPID(cmd.Process.Pid)
			if n == 0 {
				p.first <- nil
			}
			exited := make(chan error, 1)
			go func() { exited <- cmd.Wait() }()
			select {
			case <-p.quit:
				terminate(cmd, exited)
				p.setPID(0)
				return
			case err := <-exited:
				p.setPID(0)
				if time.Since(began) >= healthyRun {
					pause = firstRestartPause
				}
				if p.exited(ctx, err) {
					pause = firstRestartPause
					continue
				}
				fmt.Fprintf(p.log, "stackflow: function %s exited (%v); starting it again in %s\n", p.fn.Name, exitReason(err), pause)
			}
		}
		select {
		case <-p.quit:
			return
		case <-time.After(pause):
		}
		pause = min(2*pause, longestPause)
	}
}

// exited answers the invocation that a process which exited with err
// owed, if any, and reports whether it did (so the process starts again
// at once). A process killed from outside before it asked for work owes
// nothing: it starts again as if it had died while waiting.
func (p *process) exited(ctx context.Context, err error) bool {
	reason := exitReason(err)
	st := p.relay.settle()
	switch {
	case st.held != "":
		fmt.Fprintf(p.log, "stackflow: function %s exited (%s) during invocation %s, which fails with %s; starting it again\n", p.fn.Name, reason, st.held, exitErrorType)
		if err := p.relay.fail(ctx, st.held, exitErrorType, exitError(st.held, reason)); err != nil {
			fmt.Fprintf(p.log, "stackflow: %v\n", err)
		}
		return true
	case !st.polled && (st.initErr != nil || !killed(err)):
		what := fmt.Sprintf("exited (%s) before it asked for an invocation", reason)
		if st.initErr != nil {
			what = fmt.Sprintf("failed to initialise (%s)", st.initErr.errorType)
		}
		fmt.Fprintf(p.log, "stackflow: function %s %s; its next invocation fails with that error, then it starts again\n", p.fn.Name, what)
		id, err := p.relay.next(ctx)
		if err != nil {
			if ctx.Err() == nil {
				fmt.Fprintf(p.log, "stackflow: %v\n", err)
			}
			return false
		}
		errorType, body := exitErrorType, exitError(id, reason)
		if st.initErr != nil {
			errorType, body = or(st.initErr.errorType, "Runtime.Unknown"), st.initErr.body
		}
		if err := p.relay.fail(ctx, id, errorType, body); err != nil {
			fmt.Fprintf(p.log, "stackflow: %v\n", err)
		}
		return true
	}
	return false
}

// stop ends the process and waits until it has ended.
func (p *process) stop() {
	p.quitOnce.Do(func() { close(p.quit) })
	<-p.done
}

func (p *process) pid() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cur
}

func (p *process) setPID(pid int) {
	p.mu.Lock()
	p.cur = pid
	p.mu.Unlock()
}

// terminate asks the process group to end, then kills it after stopGrace.
func terminate(cmd *exec.Cmd, exited <-chan error) {
	signalGroup(cmd, false)
	select {
	case <-exited:
		// The process is gone; its children may not be.
		signalGroup(cmd, true)
		return
	case <-time.After(stopGrace):
	}
	signalGroup(cmd, true)
	<-exited
}

func exitReason(err error) string {
	if err == nil {
		return "exit status 0"
	}
	return err.Error()
}
