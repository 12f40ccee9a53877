package packager

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"

	"github.com/stackflow/stackflow/internal/runtimes"
	"github.com/stackflow/stackflow/internal/toolchain"
)

// toolEnvAllowed are the variables of the process environment that the
// Python and Node.js tools see. Everything else (AWS_* credentials, tokens,
// the process's own registry settings) is left out: the app's install
// scripts run with this environment. The package indexes come from
// Service.Indexes.
var toolEnvAllowed = []string{
	"HOME", "TMPDIR", "USER", "LANG", "LC_ALL", "LC_CTYPE", "TZ",
	"SSL_CERT_FILE", "SSL_CERT_DIR",
	"HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy",
}

// toolEnv is the environment of the Python and Node.js tools: the allowed
// variables, PATH with ToolPath first, a HOME (Lambda sets none), the
// download caches, the settings that keep the tools quiet and
// non-interactive, and the package indexes (see package indexes).
func (j *job) toolEnv() ([]string, error) {
	if j.env != nil {
		return j.env, nil
	}
	env := map[string]string{}
	for _, kv := range os.Environ() {
		if k, v, ok := strings.Cut(kv, "="); ok && slices.Contains(toolEnvAllowed, k) {
			env[k] = v
		}
	}
	env["PATH"] = strings.Join(j.searchPath(), string(os.PathListSeparator))
	if env["HOME"] == "" {
		env["HOME"] = filepath.Join(os.TempDir(), "stackflow", "home")
		if err := os.MkdirAll(env["HOME"], 0o755); err != nil {
			return nil, fmt.Errorf("tool environment: %w", err)
		}
	}
	c := j.DownloadCache
	if c == "" && j.Caches != nil {
		c = j.Caches.Dir // the folders gocache keeps: pip, npm, uv
	}
	if c != "" {
		env["PIP_CACHE_DIR"] = filepath.Join(c, "pip")
		env["npm_config_cache"] = filepath.Join(c, "npm")
		env["UV_CACHE_DIR"] = filepath.Join(c, "uv")
	}
	for k, v := range map[string]string{
		"PIP_DISABLE_PIP_VERSION_CHECK": "1", "PIP_NO_INPUT": "1", "PIP_PROGRESS_BAR": "off",
		"PYTHONDONTWRITEBYTECODE": "1", "UV_NO_PROGRESS": "1",
		"npm_config_update_notifier": "false", "npm_config_fund": "false", "npm_config_audit": "false",
	} {
		env[k] = v
	}
	for k, v := range env {
		j.env = append(j.env, k+"="+v)
	}
	slices.Sort(j.env)
	j.env = append(j.env, j.indexEnv...)
	return j.env, nil
}

// searchPath is ToolPath followed by PATH.
func (j *job) searchPath() []string {
	dirs := append(slices.Clone(j.toolDirs), j.ToolPath...)
	path := os.Getenv("PATH")
	if path == "" {
		path = "/usr/local/bin:/usr/bin:/bin"
	}
	return append(dirs, filepath.SplitList(path)...)
}

// look finds the executable name in ToolPath, then PATH; "" when there is
// none.
func (j *job) look(name string) string { return runtimes.LookPath(name, j.searchPath()) }

// command is name args run in dir with the tools' environment and extra
// variables. Cancelling ctx kills it and every process it started.
func (j *job) command(ctx context.Context, dir string, extra []string, name string, args ...string) (*exec.Cmd, error) {
	env, err := j.toolEnv()
	if err != nil {
		return nil, err
	}
	// The zero toolchain's command is a plain command that dies with its
	// process group; its environment is ours.
	cmd := toolchain.Toolchain{}.Command(ctx, dir, name, args...)
	cmd.Env = append(slices.Clone(env), extra...)
	return cmd, nil
}

// run runs name args in dir, writing the command line and its output to
// out.
func (j *job) run(ctx context.Context, out io.Writer, dir string, extra []string, name string, args ...string) error {
	cmd, err := j.command(ctx, dir, extra, name, args...)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "$ %s\n", commandLine(j.tmp, extra, name, args))
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s: %w", filepath.Base(name), err)
	}
	return nil
}

// capture runs name args and returns its standard output, trimmed.
func (j *job) capture(ctx context.Context, dir, name string, args ...string) (string, error) {
	cmd, err := j.command(ctx, dir, nil, name, args...)
	if err != nil {
		return "", err
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("%s %s: %w: %s", filepath.Base(name), strings.Join(args, " "), err, firstLine(stderr.String()))
	}
	return strings.TrimSpace(stdout.String()), nil
}

// commandLine shows a command for the build log, with the job's scratch
// directory written as $TMP.
func commandLine(tmp string, extra []string, name string, args []string) string {
	words := append(slices.Clone(extra), filepath.Base(name))
	for _, a := range args {
		if strings.ContainsAny(a, " \"'$*") {
			a = fmt.Sprintf("%q", a)
		}
		words = append(words, a)
	}
	return strings.ReplaceAll(strings.Join(words, " "), tmp, "$TMP")
}
