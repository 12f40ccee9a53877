package reaper

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// prSetChildSubreaper is PR_SET_CHILD_SUBREAPER of <linux/prctl.h>.
const prSetChildSubreaper = 36

// Adopt makes the calling process the subreaper of its descendants.
func Adopt() error {
	if _, _, errno := syscall.RawSyscall(syscall.SYS_PRCTL, prSetChildSubreaper, 1, 0); errno != 0 {
		return fmt.Errorf("become the subreaper of the commands' processes: %w", errno)
	}
	return nil
}

// KillDescendants kills every descendant of the calling process and reaps
// what became its children, and returns how many it killed. It stops them
// all first (SIGSTOP), round after round until none is left, so that one
// cannot fork a new one between being found and being killed. Call it when
// no command of the caller's own runs: it reaps every child.
func KillDescendants() (int, error) {
	self := os.Getpid()
	killed := map[int]bool{}
	for round := 0; round < 100; round++ {
		pids, err := descendants(self)
		if err != nil {
			return len(killed), err
		}
		var fresh []int
		for _, pid := range pids {
			if !killed[pid] {
				fresh = append(fresh, pid)
			}
		}
		if len(fresh) == 0 {
			break
		}
		for _, pid := range fresh {
			syscall.Kill(pid, syscall.SIGSTOP)
		}
		for _, pid := range fresh {
			syscall.Kill(pid, syscall.SIGKILL)
			killed[pid] = true
		}
		reap()
	}
	reap()
	return len(killed), nil
}

// reap waits for every child that has ended.
func reap() {
	for {
		var ws syscall.WaitStatus
		pid, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil)
		if pid <= 0 || err != nil {
			return
		}
	}
}

// descendants lists the living descendants of root, from /proc.
func descendants(root int) ([]int, error) {
	dirs, err := filepath.Glob("/proc/[0-9]*")
	if err != nil {
		return nil, err
	}
	children := map[int][]int{}
	for _, d := range dirs {
		pid, err := strconv.Atoi(filepath.Base(d))
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join(d, "stat"))
		if err != nil {
			continue // it ended
		}
		// pid (comm) state ppid ...: comm may hold spaces and parentheses.
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(s[i+1:])
		if len(f) < 2 || f[0] == "Z" {
			continue // a zombie: reap() takes it
		}
		ppid, err := strconv.Atoi(f[1])
		if err != nil {
			continue
		}
		children[ppid] = append(children[ppid], pid)
	}
	var out []int
	queue := []int{root}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		for _, c := range children[p] {
			out = append(out, c)
			queue = append(queue, c)
		}
	}
	return out, nil
}
