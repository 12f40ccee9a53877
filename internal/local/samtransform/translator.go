package samtransform

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/stackflow/stackflow/internal/local/cachedir"
)

// Options configure a Translator.
type Options struct {
	// CacheDir is where the translator's virtual environments are
	// installed, shared by every stackflow process; empty means
	// <os.UserCacheDir()>/stackflow/samtranslator.
	CacheDir string
	// Python is the interpreter that makes the virtual environment, looked
	// up on PATH; empty means python3.
	Python string
	// Interpreter, when set, is a Python that already imports
	// aws-sam-translator Version (a virtual environment's bin/python):
	// nothing is installed and it runs the worker.
	Interpreter string
	// Log gets the line that says the translator is being installed;
	// nil discards it.
	Log io.Writer
}

// Error is the translator's own account of why a template is not valid
// SAM, worded as AWS's hosted transform words it ("Invalid Serverless
// Application Specification document. Number of errors found: 1.
// Resource with id [X] is invalid. ..."). CloudFormation reports it after
// "Transform AWS::Serverless-2016-10-31 failed with: ".
type Error struct {
	Message string
}

func (e *Error) Error() string { return e.Message }

// Translator turns SAM templates into plain CloudFormation with SAM's own
// translator, run in a long-lived Python worker that it installs and
// starts on first use and starts again should it die. It is safe for
// concurrent use; the worker translates one template at a time.
type Translator struct {
	opts Options

	mu     sync.Mutex // guards w, closed; held while a worker starts
	w      *worker
	closed bool
}

// New returns a translator that installs and starts nothing until it is
// first used.
func New(opts Options) *Translator {
	return &Translator{opts: opts}
}

// Start installs the translator when it is not yet and starts its worker,
// so that the first Translate pays for neither.
func (t *Translator) Start(ctx context.Context) error {
	_, err := t.worker(ctx)
	return err
}

// Translate returns template (a SAM template as JSON) translated into
// plain CloudFormation (JSON, the resources in the translator's order),
// given the values CloudFormation passes the transform: the template's
// parameters and the pseudo parameters (AWS::Region, which is required,
// AWS::AccountId, AWS::Partition, AWS::StackName, AWS::StackId, ...). A
// template that is not valid SAM is an *Error.
func (t *Translator) Translate(ctx context.Context, template []byte, params map[string]any) ([]byte, error) {
	region, _ := params["AWS::Region"].(string)
	if region == "" {
		return nil, errors.New("translate a SAM template: the parameters give no AWS::Region")
	}
	w, err := t.worker(ctx)
	if err != nil {
		return nil, err
	}
	ans, err := w.call(ctx, request{Template: template, Parameters: params, Region: region})
	if err != nil {
		return nil, err
	}
	switch {
	case ans.Error != "":
		return nil, &Error{Message: ans.Error}
	case ans.Internal != "":
		return nil, fmt.Errorf("SAM's translator failed: %s", ans.Internal)
	case len(ans.Template) == 0:
		return nil, errors.New("SAM's translator answered without a template")
	}
	return ans.Template, nil
}

// Close stops the worker. The translator cannot be used after.
func (t *Translator) Close() error {
	t.mu.Lock()
	w := t.w
	t.w, t.closed = nil, true
	t.mu.Unlock()
	if w != nil {
		w.stop()
	}
	return nil
}

// worker returns the running worker, starting one (and installing the
// translator) when there is none or the last one died.
func (t *Translator) worker(ctx context.Context) (*worker, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return nil, errClosed
	}
	if t.w != nil && !t.w.dead() {
		return t.w, nil
	}
	python := t.opts.Interpreter
	if python == "" {
		dir := t.opts.CacheDir
		if dir == "" {
			base, err := os.UserCacheDir()
			if err != nil {
				return nil, fmt.Errorf("SAM's translator: find a cache directory (set Options.CacheDir): %w", err)
			}
			dir = filepath.Join(base, "stackflow", "samtranslator")
		}
		py, err := findPython(ctx, t.opts.Python)
		if err != nil {
			return nil, err
		}
		log := t.opts.Log
		if log == nil {
			log = io.Discard
		}
		if python, err = install(ctx, dir, py, log); err != nil {
			return nil, err
		}
	}
	w, err := startWorker(ctx, python)
	if err != nil {
		return nil, err
	}
	t.w = w
	return w, nil
}

// request is one line to the worker.
type request struct {
	ID         int64           `json:"id"`
	Template   json.RawMessage `json:"template"`
	Parameters map[string]any  `json:"parameters"`
	Region     string          `json:"region"`
}

// answer is one line from the worker.
type answer struct {
	ID       *int64          `json:"id"`
	Ready    string          `json:"ready"`
	Template json.RawMessage `json:"template"`
	Error    string          `json:"error"`
	Internal string          `json:"internal"`
}

// worker is one running worker process.
type worker struct {
	python string
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stderr *tail
	exited chan struct{} // closed once the process has ended and been waited for

	mu      sync.Mutex // guards the fields below and writes to stdin
	nextID  int64
	pending map[int64]chan answer
	err     error // why it ended
	over    chan struct{}
}

// startWorker starts the worker script under python and waits for it to
// say that it is ready.
func startWorker(ctx context.Context, python string) (*worker, error) {
	script, err := files.ReadFile("python/worker.py")
	if err != nil {
		return nil, fmt.Errorf("start SAM's translator: %w", err)
	}
	// -I: isolated from the user's PYTHON* variables and site-packages.
	cmd := exec.Command(python, "-I", "-c", string(script))
	cmd.Env = workerEnv()
	w := &worker{python: python, cmd: cmd, stderr: &tail{}, exited: make(chan struct{}), pending: map[int64]chan answer{}, over: make(chan struct{})}
	cmd.Stderr = w.stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("start SAM's translator: %w", err)
	}
	if w.stdin, err = cmd.StdinPipe(); err != nil {
		return nil, fmt.Errorf("start SAM's translator: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start SAM's translator with %s: %w", python, err)
	}
	ready := make(chan string, 1)
	go w.read(bufio.NewReaderSize(stdout, 1<<16), ready)
	select {
	case v := <-ready:
		if v != Version {
			w.stop()
			return nil, fmt.Errorf("start SAM's translator: %s has aws-sam-translator %s, and stackflow runs %s", python, v, Version)
		}
		return w, nil
	case <-w.over:
		return nil, w.failure()
	case <-ctx.Done():
		w.stop()
		return nil, fmt.Errorf("start SAM's translator: %w", ctx.Err())
	}
}

// workerEnv is the worker's environment: enough to run Python, and
// nothing that would make boto3 look for AWS.
func workerEnv() []string {
	var env []string
	for _, k := range []string{"PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "SYSTEMROOT"} {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	return append(env, "AWS_EC2_METADATA_DISABLED=true", "PYTHONIOENCODING=utf-8")
}

// read hands each answer to its caller until the worker's stdout ends.
func (w *worker) read(r *bufio.Reader, ready chan<- string) {
	var err error
	for {
		line, rerr := r.ReadBytes('\n')
		if len(strings.TrimSpace(string(line))) > 0 {
			var a answer
			if jerr := json.Unmarshal(line, &a); jerr != nil {
				err = fmt.Errorf("SAM's translator wrote what is not an answer: %.200q", line)
				break
			}
			if a.Ready != "" {
				select {
				case ready <- a.Ready:
				default:
				}
				continue
			}
			if a.ID != nil {
				w.mu.Lock()
				ch := w.pending[*a.ID]
				delete(w.pending, *a.ID)
				w.mu.Unlock()
				if ch != nil {
					ch <- a
				}
			}
		}
		if rerr != nil {
			break
		}
	}
	w.stdin.Close()
	werr := w.cmd.Wait()
	close(w.exited)
	if err == nil {
		err = fmt.Errorf("SAM's translator (%s) stopped: %v", w.python, werr)
		if t := strings.TrimSpace(w.stderr.String()); t != "" {
			err = fmt.Errorf("%w\n%s", err, cachedir.LastLines(t, 20))
		}
	}
	w.mu.Lock()
	w.err = err
	w.pending = nil
	close(w.over)
	w.mu.Unlock()
}

// dead reports whether the worker has ended.
func (w *worker) dead() bool {
	select {
	case <-w.over:
		return true
	default:
		return false
	}
}

// failure is why the worker ended.
func (w *worker) failure() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

// call sends one request and waits for its answer.
func (w *worker) call(ctx context.Context, req request) (answer, error) {
	ch := make(chan answer, 1)
	w.mu.Lock()
	if w.pending == nil {
		w.mu.Unlock()
		return answer{}, w.failure()
	}
	w.nextID++
	id := w.nextID
	req.ID = id
	line, err := json.Marshal(req)
	if err != nil {
		w.mu.Unlock()
		return answer{}, fmt.Errorf("translate a SAM template: %w", err)
	}
	w.pending[id] = ch
	_, err = w.stdin.Write(append(line, '\n'))
	w.mu.Unlock()
	if err != nil {
		<-w.over
		return answer{}, w.failure()
	}
	select {
	case a := <-ch:
		return a, nil
	case <-w.over:
		return answer{}, w.failure()
	case <-ctx.Done():
		w.mu.Lock()
		if w.pending != nil {
			delete(w.pending, id)
		}
		w.mu.Unlock()
		return answer{}, fmt.Errorf("translate a SAM template: %w", ctx.Err())
	}
}

// stop ends the worker: it exits when its stdin closes, and is killed if
// it has not a few seconds later.
func (w *worker) stop() {
	w.stdin.Close()
	select {
	case <-w.exited:
	case <-time.After(5 * time.Second):
		_ = w.cmd.Process.Kill()
		<-w.exited
	}
}

// tail keeps the last few KiB written to it: the worker's stderr, for
// errors.
type tail struct {
	mu  sync.Mutex
	buf []byte
}

const tailBytes = 8 << 10

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if len(t.buf) > tailBytes {
		t.buf = t.buf[len(t.buf)-tailBytes:]
	}
	return len(p), nil
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.buf)
}
