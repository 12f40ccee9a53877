package workspace

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// Bounds of what an Output keeps.
const (
	// DefaultOutputLimit is how much of a command's output goes to the log
	// in full; beyond it only the last lastBytes are kept.
	DefaultOutputLimit = 8 << 20
	lastBytes          = 64 << 10
	// TailLines and TailBytes bound Tail.
	TailLines = 30
	TailBytes = 3 << 10
)

// Output collects a command's combined output for the step's log: its first
// Limit bytes and always its last 64 KiB, so that a command that prints
// without end cannot exhaust memory and its end is never lost. It is safe
// for concurrent writes.
type Output struct {
	// Limit is how many bytes are kept from the start; 0 means
	// DefaultOutputLimit.
	Limit int
	// Echo, when set, receives a copy of everything written, such as the
	// function's log stream.
	Echo io.Writer

	mu      sync.Mutex
	head    []byte
	last    []byte
	dropped int64
}

// Write keeps p as described on Output; it never fails.
func (o *Output) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.Echo != nil {
		o.Echo.Write(p) // best effort: the log is what counts
	}
	limit := o.Limit
	if limit <= 0 {
		limit = DefaultOutputLimit
	}
	rest := p
	if room := limit - len(o.head); room > 0 {
		n := min(room, len(rest))
		o.head = append(o.head, rest[:n]...)
		rest = rest[n:]
	}
	if len(rest) == 0 {
		return len(p), nil
	}
	o.last = append(o.last, rest...)
	if over := len(o.last) - lastBytes; over > 0 {
		o.dropped += int64(over)
		o.last = append(o.last[:0], o.last[over:]...)
	}
	return len(p), nil
}

// String is the output as kept, with a note where bytes were left out.
func (o *Output) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	var b strings.Builder
	b.Write(o.head)
	if o.dropped > 0 {
		fmt.Fprintf(&b, "\n[... %d bytes left out ...]\n", o.dropped)
	}
	b.Write(o.last)
	return b.String()
}

// Tail is the end of the output, as Tail of its String.
func (o *Output) Tail() string {
	o.mu.Lock()
	end := string(o.last)
	if len(end) < TailBytes {
		end = string(o.head) + end
	}
	o.mu.Unlock()
	return Tail(end)
}

// Tail returns the last TailLines lines of out, at most TailBytes, without
// trailing blank lines: what an error message shows of a command's output.
func Tail(out string) string {
	out = strings.TrimRight(out, " \t\r\n")
	if len(out) > TailBytes {
		out = out[len(out)-TailBytes:]
		// Start at a whole line, or at least at a whole character.
		if i := strings.IndexByte(out, '\n'); i >= 0 && i < len(out)-1 {
			out = out[i+1:]
		}
		for len(out) > 0 && !utf8.RuneStart(out[0]) {
			out = out[1:]
		}
	}
	lines := strings.Split(out, "\n")
	if len(lines) > TailLines {
		lines = lines[len(lines)-TailLines:]
	}
	return strings.Join(lines, "\n")
}

// WithReserve returns ctx with its deadline, if it has one, brought forward
// by reserve, or by a quarter of the time left when that is less: the time a
// step needs to store its log and answer after a command was stopped.
func WithReserve(ctx context.Context, reserve time.Duration) (context.Context, context.CancelFunc) {
	dl, ok := ctx.Deadline()
	if !ok {
		return context.WithCancel(ctx)
	}
	return context.WithDeadline(ctx, dl.Add(-min(reserve, time.Until(dl)/4)))
}
