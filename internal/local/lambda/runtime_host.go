package lambda

import (
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// runtimeFiles are the runtime clients' files that stackflow ships: the
// bootstrap script and pinned requirements of the Python runtimes, and the
// runtime client of the Node.js runtimes.
//
//go:embed runtimes
var runtimeFiles embed.FS

// hostRuntimes is what a supervisor found of the host's interpreters and
// installed for them. What succeeded is kept; what failed is tried again
// at the next start (the user may have installed what was missing).
type hostRuntimes struct {
	mu      sync.Mutex
	pythons map[string]*pythonHost // by the name asked for
	nodes   map[string]*nodeHost
	clients map[string][2]string // installed runtime clients: directory and script
}

func (h *hostRuntimes) python(ctx context.Context, name string) (*pythonHost, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if py := h.pythons[name]; py != nil {
		return py, nil
	}
	py, err := findPython(ctx, name)
	if err != nil {
		return nil, err
	}
	if h.pythons == nil {
		h.pythons = map[string]*pythonHost{}
	}
	h.pythons[name] = py
	return py, nil
}

func (h *hostRuntimes) node(ctx context.Context, name string) (*nodeHost, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if n := h.nodes[name]; n != nil {
		return n, nil
	}
	n, err := findNode(ctx, name)
	if err != nil {
		return nil, err
	}
	if h.nodes == nil {
		h.nodes = map[string]*nodeHost{}
	}
	h.nodes[name] = n
	return n, nil
}

func (h *hostRuntimes) pythonClient(ctx context.Context, cacheDir string, py *pythonHost, log io.Writer) (string, string, error) {
	return h.client("python\x00"+cacheDir+"\x00"+py.path, func() (string, string, error) {
		return installPython(ctx, cacheDir, py, log)
	})
}

func (h *hostRuntimes) nodeClient(cacheDir string) (string, string, error) {
	return h.client("nodejs\x00"+cacheDir, func() (string, string, error) {
		return installNode(cacheDir)
	})
}

// client returns the runtime client installed under key, installing it
// with install the first time. Starts wait for an install under way.
func (h *hostRuntimes) client(key string, install func() (string, string, error)) (string, string, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if c, ok := h.clients[key]; ok {
		return c[0], c[1], nil
	}
	dir, script, err := install()
	if err != nil {
		return "", "", err
	}
	if h.clients == nil {
		h.clients = map[string][2]string{}
	}
	h.clients[key] = [2]string{dir, script}
	return dir, script, nil
}

// installPrefix starts the names of installations under way in a cache
// directory.
const installPrefix = ".install-"

// installOnce makes dir under cacheDir, unless marker shows that it is
// there, by filling a fresh directory with fill and renaming it into place:
// processes sharing cacheDir never see half an installation, and when two
// install at once the first rename wins.
func installOnce(cacheDir, dir, marker string, fill func(tmp string) error) error {
	if _, err := os.Stat(marker); err == nil {
		return nil
	}
	if err := os.MkdirAll(cacheDir, 0o755); err != nil {
		return err
	}
	removeAbandoned(cacheDir)
	tmp, err := os.MkdirTemp(cacheDir, installPrefix)
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	if err := fill(tmp); err != nil {
		return err
	}
	if err := os.Rename(tmp, dir); err != nil {
		if _, serr := os.Stat(marker); serr == nil {
			return nil // another process installed it first
		}
		return err
	}
	return nil
}

// removeAbandoned removes installations that a process began more than an
// hour ago and never finished (it was killed); they take seconds.
func removeAbandoned(cacheDir string) {
	entries, err := os.ReadDir(cacheDir)
	if err != nil {
		return
	}
	for _, e := range entries {
		if !e.IsDir() || !strings.HasPrefix(e.Name(), installPrefix) {
			continue
		}
		if info, err := e.Info(); err == nil && time.Since(info.ModTime()) > time.Hour {
			_ = os.RemoveAll(filepath.Join(cacheDir, e.Name()))
		}
	}
}

// writeOnce writes data to path unless a file is there (its name carries
// the digest of its content), through a temporary file and a rename.
func writeOnce(path string, data []byte) error {
	if _, err := os.Stat(path); err == nil {
		return nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(path), installPrefix+filepath.Base(path)+"-")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	_, werr := f.Write(data)
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		return fmt.Errorf("write %s: %w", path, werr)
	}
	return os.Rename(f.Name(), path)
}

// digest is a short hex digest of data, for names of installed files.
func digest(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:8])
}

// lastLines returns the last n lines of s.
func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
