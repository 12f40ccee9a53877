package localrepo

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/stackflow/stackflow/internal/archive"
	"github.com/stackflow/stackflow/internal/config"
)

// gitTimeout bounds one git command.
const gitTimeout = 2 * time.Minute

// Problem is why a folder cannot be delivered as it is, and what to do.
type Problem struct {
	// What is wrong, naming the folder.
	What string
	// Fix says what to do: a command to run where there is one.
	Fix string
	// Kind is ErrNotRepository, ErrNoCommits or nil; errors.Is finds it.
	Kind error
}

func (p *Problem) Error() string { return p.What + ": " + p.Fix }

// Unwrap returns the problem's Kind.
func (p *Problem) Unwrap() error { return p.Kind }

// ErrNotRepository is the Kind of the Problem of a folder that is in no
// git work tree.
var ErrNotRepository = errors.New("not in a git repository")

// ErrNoCommits is the Kind of the Problem of a repository without commits.
var ErrNoCommits = errors.New("no commits")

// App is an app's folder in a local git repository: the folder that holds
// its stackflow.yml, which need not be the repository's top (an app can
// live in a folder of a larger repository, as examples/hello does).
type App struct {
	// Dir is the app's folder, absolute.
	Dir string
	// Top is the repository's top folder.
	Top string
	// Prefix is Dir relative to Top in slash form, "" when Dir is Top.
	Prefix string
}

// Open finds the app that dir (the app's folder or a folder in it) belongs
// to: the nearest folder from dir up to its repository's top that holds a
// stackflow.yml, else dir itself. It checks, before anything is started,
// that dir exists, is a folder, and is in a git work tree, and says what to
// do when not; a Problem wrapping ErrNotRepository still returns the app,
// with Top and Prefix empty, for callers that can read a bare folder.
func Open(ctx context.Context, dir string) (*App, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", dir, err)
	}
	fi, err := os.Stat(abs)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, &Problem{What: abs + " does not exist", Fix: "give the folder of an app (one with a " + config.File + "), or a folder in one"}
	}
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", abs, err)
	}
	if !fi.IsDir() {
		return nil, &Problem{What: abs + " is a file, not a folder", Fix: "give the folder of an app (one with a " + config.File + ")"}
	}
	if _, err := exec.LookPath("git"); err != nil {
		return nil, &Problem{What: "git is not installed or not on PATH", Fix: "install git: stackflow delivers commits, and reads them with git"}
	}
	out, err := git(ctx, abs, nil, "rev-parse", "--show-toplevel", "--show-prefix")
	if err != nil {
		return &App{Dir: abs}, &Problem{
			What: abs + " is not in a git repository",
			Fix:  `a push delivers a commit, so make the folder a repository with one: cd ` + shellQuote(abs) + ` && git init && git add -A && git commit -m "first commit"`,
			Kind: ErrNotRepository,
		}
	}
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	top := lines[0]
	if top == "" {
		return nil, fmt.Errorf("open %s: git answered no top folder", abs)
	}
	// Walk up from dir (as git sees it, links resolved) to the top.
	here := filepath.Join(top, filepath.FromSlash(strings.TrimSuffix(strings.Join(lines[1:], ""), "/")))
	root := here
	for d := here; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, config.File)); err == nil {
			root = d
			break
		}
		if d == top || d == filepath.Dir(d) {
			break
		}
	}
	rel, err := filepath.Rel(top, root)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return nil, fmt.Errorf("open %s: the app's folder %s is outside its repository %s", abs, root, top)
	}
	prefix := filepath.ToSlash(rel)
	if prefix == "." {
		prefix = ""
	}
	// git may resolve links that abs went through: keep the user's path
	// when it is the same folder.
	if same(abs, root) {
		root = abs
	}
	return &App{Dir: root, Top: top, Prefix: prefix}, nil
}

// same reports whether a and b name the same folder.
func same(a, b string) bool {
	fa, err1 := os.Stat(a)
	fb, err2 := os.Stat(b)
	return err1 == nil && err2 == nil && os.SameFile(fa, fb)
}

// Head returns the repository's HEAD commit and its checked-out branch, ""
// when HEAD is detached. A repository without commits is a Problem wrapping
// ErrNoCommits that says how to make the first one.
func (a *App) Head(ctx context.Context) (sha, branch string, err error) {
	sha, err = a.git(ctx, nil, "rev-parse", "--verify", "--quiet", "HEAD^{commit}")
	if err != nil {
		return "", "", &Problem{
			What: "the repository " + a.Top + " has no commits yet",
			Fix:  `commit the app first: cd ` + shellQuote(a.Top) + ` && git add -A && git commit -m "first commit"`,
			Kind: ErrNoCommits,
		}
	}
	branch, err = a.git(ctx, nil, "symbolic-ref", "--quiet", "--short", "HEAD")
	if err != nil {
		branch = "" // detached
	}
	return sha, branch, nil
}

// Resolve returns the full hash of the commit rev names, such as a branch.
func (a *App) Resolve(ctx context.Context, rev string) (string, error) {
	sha, err := a.git(ctx, nil, "rev-parse", "--verify", "--quiet", "--end-of-options", rev+"^{commit}")
	if err != nil {
		return "", fmt.Errorf("resolve %s in %s: no such commit or branch", rev, a.Top)
	}
	return sha, nil
}

// Has reports whether the app's folder in commit holds the file name (a
// path relative to the app's folder, in slash form).
func (a *App) Has(ctx context.Context, commit, name string) bool {
	typ, err := a.git(ctx, nil, "cat-file", "-t", commit+":"+path.Join(a.Prefix, name))
	return err == nil && typ == "blob"
}

// Changes lists what in the app's folder differs from HEAD in the work tree
// or the index, as `git status` sees it (ignored files are not changes; an
// untracked folder is one entry ending in "/"), relative to the app's
// folder, in git's order.
func (a *App) Changes(ctx context.Context) ([]string, error) {
	out, err := a.git(ctx, nil, "status", "--porcelain=v1", "-z", "--", a.pathspec())
	if err != nil {
		return nil, fmt.Errorf("list the changes in %s: %w", a.Dir, err)
	}
	var changes []string
	fields := strings.Split(out, "\x00")
	for i := 0; i < len(fields); i++ {
		f := fields[i]
		if len(f) < 4 {
			continue
		}
		xy, name := f[:2], f[3:]
		if strings.ContainsAny(xy, "RC") {
			i++ // the name it was renamed or copied from follows
		}
		// Porcelain paths are relative to the repository's top.
		if a.Prefix != "" {
			name = strings.TrimPrefix(name, a.Prefix+"/")
		}
		changes = append(changes, name)
	}
	return changes, nil
}

// Snapshot returns a commit of the app's folder as it is in the work tree
// now: every file git does not ignore, tracked or not, on top of HEAD (the
// rest of the repository as in HEAD). It is made with an index of its own
// (GIT_INDEX_FILE), so the work tree, the index and every ref are left as
// they were. Its author, committer and dates are HEAD's, so the same work
// tree makes the same commit. When the folder does not differ from HEAD
// it returns HEAD and changed is false. The commit is unreferenced: `git
// gc` may prune it after some weeks; it only needs to live through a run.
func (a *App) Snapshot(ctx context.Context) (sha string, changed bool, err error) {
	head, _, err := a.Head(ctx)
	if err != nil {
		return "", false, err
	}
	tmp, err := os.MkdirTemp("", "stackflow-index-")
	if err != nil {
		return "", false, fmt.Errorf("snapshot %s: %w", a.Dir, err)
	}
	defer os.RemoveAll(tmp)
	env := []string{"GIT_INDEX_FILE=" + filepath.Join(tmp, "index")}
	if _, err := a.git(ctx, env, "read-tree", head); err != nil {
		return "", false, fmt.Errorf("snapshot %s: %w", a.Dir, err)
	}
	if _, err := a.git(ctx, env, "add", "--all", "--", a.pathspec()); err != nil {
		return "", false, fmt.Errorf("snapshot %s: %w", a.Dir, err)
	}
	tree, err := a.git(ctx, env, "write-tree")
	if err != nil {
		return "", false, fmt.Errorf("snapshot %s: %w", a.Dir, err)
	}
	headTree, err := a.git(ctx, nil, "rev-parse", head+"^{tree}")
	if err != nil {
		return "", false, fmt.Errorf("snapshot %s: %w", a.Dir, err)
	}
	if tree == headTree {
		return head, false, nil
	}
	who, err := a.git(ctx, nil, "log", "-1", "--format=%an%x00%ae%x00%ad%x00%cn%x00%ce%x00%cd", "--date=raw", head)
	if err != nil {
		return "", false, fmt.Errorf("snapshot %s: %w", a.Dir, err)
	}
	f := strings.Split(who, "\x00")
	if len(f) != 6 {
		return "", false, fmt.Errorf("snapshot %s: unexpected output of git log", a.Dir)
	}
	env = []string{
		"GIT_AUTHOR_NAME=" + f[0], "GIT_AUTHOR_EMAIL=" + f[1], "GIT_AUTHOR_DATE=" + f[2],
		"GIT_COMMITTER_NAME=" + f[3], "GIT_COMMITTER_EMAIL=" + f[4], "GIT_COMMITTER_DATE=" + f[5],
	}
	msg := "The work tree of " + a.folderName() + ", uncommitted\n\nA snapshot that stackflow made to deliver the work tree as it is;\nno branch points at it.\n"
	sha, err = a.git(ctx, env, "commit-tree", "-p", head, "-m", msg, tree)
	if err != nil {
		return "", false, fmt.Errorf("snapshot %s: %w", a.Dir, err)
	}
	return sha, true, nil
}

// Extract writes the app's folder as it is in commit into dst, an empty
// folder: what the pipeline's source step unpacks from the commit's archive.
func (a *App) Extract(ctx context.Context, commit, dst string) error {
	treeish := commit
	if a.Prefix != "" {
		treeish = commit + ":" + a.Prefix
		if typ, err := a.git(ctx, nil, "cat-file", "-t", treeish); err != nil || typ != "tree" {
			return &Problem{What: "the folder " + a.Prefix + " is not in commit " + short(commit), Fix: "commit the app's folder"}
		}
	}
	out, err := Git(ctx, a.Top, nil, "archive", "--format=tar.gz", "--prefix=app/", treeish)
	if err != nil {
		return fmt.Errorf("read %s at %s: %w", a.folderName(), short(commit), err)
	}
	if err := archive.Extract(bytes.NewReader(out), dst, archive.DefaultLimits); err != nil {
		return fmt.Errorf("read %s at %s: %w", a.folderName(), short(commit), err)
	}
	return nil
}

// folderName names the app's folder for people: its path in the
// repository, or the repository's folder name at the top.
func (a *App) folderName() string {
	if a.Prefix != "" {
		return a.Prefix
	}
	return filepath.Base(a.Top)
}

// pathspec is the app's folder as a pathspec from the repository's top.
func (a *App) pathspec() string {
	if a.Prefix == "" {
		return ":/"
	}
	return ":/" + a.Prefix
}

// git runs git in the repository's top folder with env added to the
// environment, and returns its output without the trailing newline.
func (a *App) git(ctx context.Context, env []string, args ...string) (string, error) {
	return git(ctx, a.Top, env, args...)
}

func git(ctx context.Context, dir string, env []string, args ...string) (string, error) {
	out, err := Git(ctx, dir, env, args...)
	return strings.TrimRight(string(out), "\n"), err
}

// Git runs git with args in dir, env added to the environment, and returns
// its standard output. It never prompts or waits on a pager, and takes no
// optional locks, so that reading a repository never changes its index. Its
// error wraps the *exec.ExitError and holds git's own message, cut to 500
// characters.
func Git(ctx context.Context, dir string, env []string, args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, gitTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_TERMINAL_PROMPT=0", "GIT_OPTIONAL_LOCKS=0", "LC_ALL=C")
	cmd.Env = append(cmd.Env, env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		if len(msg) > 500 {
			msg = msg[:500] + "..."
		}
		if msg == "" {
			return nil, fmt.Errorf("git %s: %w", args[0], err)
		}
		return nil, fmt.Errorf("git %s: %w: %s", args[0], err, msg)
	}
	return stdout.Bytes(), nil
}

// short is a commit's first seven digits.
func short(sha string) string {
	if len(sha) > 7 {
		return sha[:7]
	}
	return sha
}

// shellQuote quotes s for a POSIX shell when it needs it.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./~+@%:=,") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
