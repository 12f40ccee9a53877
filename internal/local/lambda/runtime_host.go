package lambda

import (
	"context"
	"embed"
	"io"
	"sync"

	"github.com/stackflow/stackflow/internal/local/cachedir"
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
	pythons map[string]*cachedir.Python // by the name asked for
	nodes   map[string]*cachedir.Node
	clients map[string]*installed // by interpreter and cache directory
}

// installed is a runtime client installed in a cache directory.
type installed struct {
	dir    string // LAMBDA_RUNTIME_DIR
	script string // what the interpreter runs
}

func (h *hostRuntimes) python(ctx context.Context, name string) (*cachedir.Python, error) {
	return lookUp(&h.mu, &h.pythons, name, func() (*cachedir.Python, error) { return findPython(ctx, name) })
}

func (h *hostRuntimes) node(ctx context.Context, name string) (*cachedir.Node, error) {
	return lookUp(&h.mu, &h.nodes, name, func() (*cachedir.Node, error) { return findNode(ctx, name) })
}

func (h *hostRuntimes) pythonClient(ctx context.Context, cacheDir string, py *cachedir.Python, log io.Writer) (*installed, error) {
	return lookUp(&h.mu, &h.clients, "python\x00"+cacheDir+"\x00"+py.Path, func() (*installed, error) {
		return installPython(ctx, cacheDir, py, log)
	})
}

func (h *hostRuntimes) nodeClient(cacheDir string) (*installed, error) {
	return lookUp(&h.mu, &h.clients, "nodejs\x00"+cacheDir, func() (*installed, error) {
		return installNode(cacheDir)
	})
}

// lookUp returns what found holds under key, or finds it with find and
// keeps it when find succeeds. A start waits for another's find (an
// install under way).
func lookUp[T any](mu *sync.Mutex, found *map[string]*T, key string, find func() (*T, error)) (*T, error) {
	mu.Lock()
	defer mu.Unlock()
	if v := (*found)[key]; v != nil {
		return v, nil
	}
	v, err := find()
	if err != nil {
		return nil, err
	}
	if *found == nil {
		*found = map[string]*T{}
	}
	(*found)[key] = v
	return v, nil
}

// installPrefix starts the names of installations under way in a cache
// directory.
const installPrefix = ".install-"
