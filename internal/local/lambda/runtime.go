package lambda

import (
	"context"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// launcher runs the functions of one Lambda runtime on this machine.
type launcher interface {
	// prepare checks that fn can run here and says how to start its
	// processes; it may install the runtime's client once, and it notes on
	// log which interpreter runs the function.
	prepare(ctx context.Context, s *Supervisor, fn Function, log io.Writer) (launch, error)
}

// launch is how to start the processes of one function.
type launch struct {
	program string
	args    []string
	// env holds the variables the runtime sets, over the supervisor's
	// and under the function's own.
	env map[string]string
}

// runtimes are the Lambda runtimes that run locally, by identifier: the
// one table that says how each is started.
var runtimes = map[string]launcher{
	"provided.al2023": provided{},
	"provided.al2":    provided{},
	"provided":        provided{},
	"python3.11":      python{version: "3.11"},
	"python3.12":      python{version: "3.12"},
	"python3.13":      python{version: "3.13"},
	"python3.14":      python{version: "3.14"},
	"nodejs20.x":      nodejs{major: 20},
	"nodejs22.x":      nodejs{major: 22},
	"nodejs24.x":      nodejs{major: 24},
}

// Runtimes returns the identifiers of the Lambda runtimes that run
// locally, sorted.
func Runtimes() []string {
	return slices.Sorted(maps.Keys(runtimes))
}

// CheckRuntime returns nil when functions of runtime run locally (""
// means DefaultRuntime), and otherwise an error that names those that do.
func CheckRuntime(runtime string) error {
	if _, ok := runtimes[or(runtime, DefaultRuntime)]; ok {
		return nil
	}
	return fmt.Errorf("runtime %s does not run locally: stackflow runs %s", runtime, strings.Join(Runtimes(), ", "))
}

// provided runs a custom runtime: the function's own bootstrap executable.
type provided struct{}

func (provided) prepare(_ context.Context, _ *Supervisor, fn Function, _ io.Writer) (launch, error) {
	bootstrap := filepath.Join(fn.Dir, "bootstrap")
	st, err := os.Stat(bootstrap)
	if err != nil {
		return launch{}, fmt.Errorf("the code has no bootstrap: %w", err)
	}
	if st.IsDir() {
		return launch{}, fmt.Errorf("%s is a directory", bootstrap)
	}
	return launch{program: bootstrap, env: map[string]string{}}, nil
}

// optPath returns the path under fn's stand-in for /opt, or "" when fn
// has no layers.
func optPath(fn Function, elem ...string) string {
	if fn.Opt == "" {
		return ""
	}
	return filepath.Join(append([]string{fn.Opt}, elem...)...)
}

// joinPaths joins the non-empty paths with the list separator.
func joinPaths(paths ...string) string {
	return strings.Join(slices.DeleteFunc(paths, func(p string) bool { return p == "" }), string(os.PathListSeparator))
}
