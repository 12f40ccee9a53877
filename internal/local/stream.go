package local

import (
	"bufio"
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// streamer reads, as it is written, the output of the checks and the
// builds: what the checks and package functions echo to their logs. The
// functions' own JSON log lines are left in the log files. It is not safe
// for concurrent use: the printer calls it under its lock.
type streamer struct {
	dir     string
	offsets map[string]int64
	partial map[string][]byte
	// found holds the files each pattern of streamed matched, once it
	// matched any: a function's log file keeps its name while the pipeline
	// is installed, and listing the log folder at every tick of every run
	// costs more than reading what the files hold.
	found map[string][]string
}

// newStreamer starts at the end of what the logs in dir hold now: earlier
// runs' output is old.
func newStreamer(dir string) *streamer {
	s := &streamer{dir: dir, offsets: map[string]int64{}, partial: map[string][]byte{}, found: map[string][]string{}}
	for f := range s.files() {
		if fi, err := os.Stat(f); err == nil {
			s.offsets[f] = fi.Size()
		}
	}
	return s
}

// outputLine is a line of output and the state whose function wrote it.
type outputLine struct {
	state, text string
}

// lines returns the whole lines of output written since the last call.
func (s *streamer) lines() []outputLine {
	var out []outputLine
	for f, state := range s.files() {
		data, next := readFrom(f, s.offsets[f])
		s.offsets[f] = next
		if len(data) == 0 {
			continue
		}
		data = append(s.partial[f], data...)
		cut := bytes.LastIndexByte(data, '\n')
		if cut < 0 {
			s.partial[f] = data
			continue
		}
		s.partial[f] = append([]byte(nil), data[cut+1:]...)
		sc := bufio.NewScanner(bytes.NewReader(data[:cut+1]))
		sc.Buffer(make([]byte, 64*1024), 1<<20)
		for sc.Scan() {
			if line := sc.Text(); !isLogLine(line) {
				out = append(out, outputLine{state: state, text: line})
			}
		}
	}
	return out
}

// streamed maps the log files of the functions whose output is worth
// watching, the checks and the builds, to the state that runs them.
var streamed = map[string]string{
	"function-*ChecksFunction*.log":  "Run the checks",
	"function-*PackageFunction*.log": "Package the app once",
}

// files are the watched log files, each with its state.
func (s *streamer) files() map[string]string {
	out := map[string]string{}
	for pattern, state := range streamed {
		m, ok := s.found[pattern]
		if !ok {
			m, _ = filepath.Glob(filepath.Join(s.dir, pattern))
			if len(m) > 0 {
				s.found[pattern] = m
			}
		}
		for _, f := range m {
			out[f] = state
		}
	}
	return out
}

// readFrom returns what file holds past offset, and the new offset.
func readFrom(file string, offset int64) ([]byte, int64) {
	f, err := os.Open(file)
	if err != nil {
		return nil, offset
	}
	defer f.Close()
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		return nil, offset
	}
	data, _ := io.ReadAll(io.LimitReader(f, 1<<20))
	return data, offset + int64(len(data))
}

// isLogLine tells a handler's own log line (JSON from slog, or the AWS
// SDK's notes) from the output of the commands it runs.
func isLogLine(line string) bool {
	return strings.HasPrefix(line, "{") || strings.HasPrefix(line, "SDK ") || strings.TrimSpace(line) == ""
}
