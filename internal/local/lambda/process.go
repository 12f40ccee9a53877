package lambda

import (
	"errors"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"time"
)

// process keeps one function's bootstrap running until stopped.
type process struct {
	fn  Function
	env []string
	log io.Writer

	quit     chan struct{} // closed to stop
	quitOnce sync.Once
	done     chan struct{} // closed when run has returned
	first    chan error    // the result of the first start

	mu  sync.Mutex
	cur int // the running process's ID, 0 between runs
}

// start starts the bootstrap once. A start that fails with ETXTBSY is
// tried again for a while: while one goroutine writes an executable (the
// engine unpacking another function's code), a process forked by another
// goroutine holds the write descriptor for an instant, and executing the
// file then fails with "text file busy" (golang.org/issue/22315).
func (p *process) start() (*exec.Cmd, error) {
	for attempt := 0; ; attempt++ {
		cmd := exec.Command(filepath.Join(p.fn.Dir, "bootstrap"))
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

// run starts the bootstrap and starts it again whenever it exits, until
// quit is closed.
func (p *process) run() {
	defer close(p.done)
	pause := firstRestartPause
	for n := 0; ; n++ {
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
