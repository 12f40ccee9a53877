package bench

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/stackflow/stackflow/internal/bitbucket"
	"github.com/stackflow/stackflow/internal/local"
	"github.com/stackflow/stackflow/internal/pipeline"
	"github.com/stackflow/stackflow/internal/webhook"
)

// ChecksOnlyConfig is the stackflow.yml of the load run's app: no
// environments, so every push runs the checks only, and no checks, so the
// executions it starts cost the pipeline's own steps (report, fetch the
// source, the checks step, report) and nothing of the app's.
const ChecksOnlyConfig = `# stackflow bench: every push runs the pipeline's own steps only.
version: 1
checks: []
`

// App makes dst a git repository (branch main, one commit) holding a copy
// of the app in src (examples/hello) with its stackflow.yml replaced by
// config when config is not empty.
func App(ctx context.Context, src, dst, config string) error {
	var edit map[string]func(string) string
	if config != "" {
		edit = map[string]func(string) string{"stackflow.yml": func(string) string { return config }}
	}
	_, err := local.NewRepository(ctx, src, dst, edit)
	return err
}

// LoadOptions configure a load run.
type LoadOptions struct {
	// Repo names the repository the pushes are to; its slug starts every
	// execution's name, so give each run its own (NewRepo does).
	Repo pipeline.Repository
	// Dir is the app's git repository (see App); every push is of its HEAD.
	Dir string
	// Pushes is how many pushes are delivered, each of its own branch
	// (load/0000, load/0001, ...), so each must start its own execution.
	Pushes int
	// Twice delivers every push a second time after all the first ones,
	// as Bitbucket redelivers when it gets a 5xx or no answer in time (same
	// X-Request-UUID, X-Attempt-Number 2): it must find the execution the
	// first delivery started, not start another.
	Twice bool
	// Senders is how many deliveries are in flight at once.
	Senders int
	// Rate, when above zero, sends the deliveries at this many per second
	// (each at its due time, as pushes arrive independently of answers)
	// instead of each sender sending its next as soon as it has an answer;
	// a delivery's latency is then counted from its due time, so waiting
	// for a free sender counts too.
	Rate float64
	// Drain is how long to wait after the last answer for the executions
	// to end; those still running then are stopped. 0 stops them at once.
	Drain time.Duration
}

// NewRepo returns a repository name of its own for a load run.
func NewRepo() pipeline.Repository {
	return pipeline.Repository{Workspace: "bench", Slug: "load-" + strings.ToLower(rand.Text()[:6])}
}

// LoadResult is what a load run measured and found.
type LoadResult struct {
	Pushes     int     `json:"pushes"`
	Deliveries int     `json:"deliveries"`
	Senders    int     `json:"senders"`
	Rate       float64 `json:"rate,omitempty"`
	// Latency is of the webhook's HTTP answers, from sending the request
	// (or, with a Rate, from its due time) to reading the whole answer.
	Latency Summary `json:"latency"`
	// Elapsed is from the first request to the last answer; PerSecond is
	// Deliveries answered per second of it.
	Elapsed   time.Duration `json:"elapsed"`
	PerSecond float64       `json:"perSecond"`
	// Statuses counts the answers by HTTP status; Failed lists deliveries
	// that got no answer.
	Statuses map[int]int `json:"statuses"`
	Failed   []string    `json:"failed,omitempty"`
	// Started and Duplicates count the answers that list their push's
	// execution as started or as found; Unacknowledged lists the
	// deliveries whose answer did not list it exactly once.
	Started        int      `json:"started"`
	Duplicates     int      `json:"duplicates"`
	Unacknowledged []string `json:"unacknowledged,omitempty"`
	// Executions counts the executions of the pipeline's state machine
	// named after the run's repository; Missing, Extra and Repeated name
	// the pushes that started none, the executions no push asked for and
	// the names that appear more than once.
	Executions int      `json:"executions"`
	Missing    []string `json:"missing,omitempty"`
	Extra      []string `json:"extra,omitempty"`
	Repeated   []string `json:"repeated,omitempty"`
	// Ended counts the executions by status once the run drained;
	// DrainTime is how long they took to end, or Drain when some did not
	// and were stopped (Stopped of them).
	Ended     map[string]int `json:"ended"`
	DrainTime time.Duration  `json:"drainTime"`
	Stopped   int            `json:"stopped"`
}

// ExactlyOnce reports whether every delivery was answered without a 5xx,
// every answer named its push's execution, every push started exactly one
// execution and no other execution appeared.
func (r *LoadResult) ExactlyOnce() bool {
	for status := range r.Statuses {
		if status >= 500 {
			return false
		}
	}
	return len(r.Failed) == 0 && len(r.Unacknowledged) == 0 && r.Started+r.Duplicates == r.Deliveries &&
		r.Executions == r.Pushes && len(r.Missing) == 0 && len(r.Extra) == 0 && len(r.Repeated) == 0
}

// delivery is one prepared push.
type delivery struct {
	branch string
	name   string // the execution it must start
	body   []byte
	sig    string
	uuid   string // X-Request-UUID, the same for a redelivery
}

// answer is what one delivery got.
type answer struct {
	status  int
	latency time.Duration
	resp    webhook.Response
	err     error
}

// Load delivers opts.Pushes signed repo:push webhooks of distinct
// branches, all at the HEAD of opts.Dir, to p's webhook URL through its
// local HTTP API, opts.Senders at a time, each as Bitbucket sends it (its
// headers, X-Hub-Signature over the body) but only once: a 5xx is counted,
// not redelivered. It then lists the state machine's executions to check
// that each push started exactly one, waits up to opts.Drain for them to
// end and stops the rest, so the pipeline is idle again.
func Load(ctx context.Context, p *local.Pipeline, opts LoadOptions) (*LoadResult, error) {
	if opts.Pushes <= 0 || opts.Senders <= 0 {
		return nil, errors.New("load run: want at least one push and one sender")
	}
	srv, err := p.Repository(opts.Repo, opts.Dir)
	if err != nil {
		return nil, fmt.Errorf("load run: %w", err)
	}
	sha, _, err := srv.Head()
	if err != nil {
		return nil, fmt.Errorf("load run: %w", err)
	}
	pushes, err := prepare(ctx, srv.PushPayload, opts, sha, p.WebhookSecret())
	if err != nil {
		return nil, err
	}
	type job struct {
		d       delivery
		attempt int
	}
	jobs := make([]job, 0, 2*len(pushes))
	for _, d := range pushes {
		jobs = append(jobs, job{d, 1})
	}
	if opts.Twice {
		for _, d := range pushes {
			jobs = append(jobs, job{d, 2})
		}
	}

	client := &http.Client{
		Transport: &http.Transport{MaxIdleConnsPerHost: opts.Senders, IdleConnTimeout: 30 * time.Second},
		Timeout:   10 * time.Second, // Bitbucket's delivery timeout
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
	defer client.CloseIdleConnections()
	answers := make([]answer, len(jobs))
	type due struct {
		i  int
		at time.Time // zero: as soon as a sender is free
	}
	work := make(chan due)
	var wg sync.WaitGroup
	start := time.Now()
	for range opts.Senders {
		wg.Go(func() {
			for w := range work {
				j := jobs[w.i]
				answers[w.i] = send(ctx, client, p.WebhookURL(), srv.HookUUID(), j.d, j.attempt, w.at)
			}
		})
	}
	for i := range jobs {
		var at time.Time
		if opts.Rate > 0 {
			at = start.Add(time.Duration(float64(i) / opts.Rate * float64(time.Second)))
			if wait := time.Until(at); wait > 0 {
				select {
				case <-ctx.Done():
				case <-time.After(wait):
				}
			}
		}
		if ctx.Err() != nil {
			break
		}
		work <- due{i, at}
	}
	close(work)
	wg.Wait()
	elapsed := time.Since(start)
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("load run: %w", err)
	}

	res := &LoadResult{
		Pushes:     len(pushes),
		Deliveries: len(jobs),
		Senders:    opts.Senders,
		Rate:       opts.Rate,
		Elapsed:    elapsed,
		PerSecond:  float64(len(jobs)) / elapsed.Seconds(),
		Statuses:   map[int]int{},
		Ended:      map[string]int{},
	}
	latencies := make([]time.Duration, 0, len(answers))
	for i, a := range answers {
		j := jobs[i]
		what := fmt.Sprintf("%s (attempt %d)", j.d.branch, j.attempt)
		if a.err != nil {
			res.Failed = append(res.Failed, fmt.Sprintf("%s: %v", what, a.err))
			continue
		}
		latencies = append(latencies, a.latency)
		res.Statuses[a.status]++
		started, found := count(a.resp.Started, j.d.name), count(a.resp.Duplicates, j.d.name)
		res.Started += started
		res.Duplicates += found
		if started+found != 1 || len(a.resp.Started)+len(a.resp.Duplicates) != 1 {
			res.Unacknowledged = append(res.Unacknowledged, fmt.Sprintf("%s: answered %d", what, a.status))
		}
	}
	res.Latency = Summarize(latencies)

	want := map[string]bool{}
	for _, d := range pushes {
		want[d.name] = true
	}
	mine, err := executions(ctx, p, opts.Repo)
	if err != nil {
		return nil, err
	}
	res.Executions = len(mine)
	seen := map[string]int{}
	for _, e := range mine {
		name := aws.ToString(e.Name)
		seen[name]++
		switch {
		case !want[name]:
			res.Extra = append(res.Extra, name)
		case seen[name] == 2:
			res.Repeated = append(res.Repeated, name)
		}
	}
	for _, d := range pushes {
		if seen[d.name] == 0 {
			res.Missing = append(res.Missing, d.name)
		}
	}
	slices.Sort(res.Extra)
	slices.Sort(res.Repeated)

	if err := drain(ctx, p, opts, res); err != nil {
		return res, err
	}
	return res, nil
}

// count counts the executions in es whose ARN ends in name.
func count(es []webhook.Execution, name string) int {
	n := 0
	for _, e := range es {
		if strings.HasSuffix(e.Execution, ":"+name) {
			n++
		}
	}
	return n
}

// prepare builds and signs every push's body before any is sent, so that
// making payloads (git reads) is not measured.
func prepare(ctx context.Context, payload func(branch, sha string) ([]byte, error), opts LoadOptions, sha, secret string) ([]delivery, error) {
	width := max(len(strconv.Itoa(opts.Pushes-1)), 4)
	deliveries := make([]delivery, opts.Pushes)
	errs := make([]error, opts.Pushes)
	work := make(chan int)
	var wg sync.WaitGroup
	for range max(runtime.NumCPU(), 2) {
		wg.Go(func() {
			for i := range work {
				branch := fmt.Sprintf("load/%0*d", width, i)
				body, err := payload(branch, sha)
				if err != nil {
					errs[i] = err
					continue
				}
				deliveries[i] = delivery{
					branch: branch,
					name:   pipeline.ExecutionName(opts.Repo, branch, sha),
					body:   body,
					sig:    bitbucket.Signature([]byte(secret), body),
					uuid:   uuid(),
				}
			}
		})
	}
	for i := range deliveries {
		if ctx.Err() != nil {
			break
		}
		work <- i
	}
	close(work)
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("load run: make the pushes: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("load run: %w", err)
	}
	return deliveries, nil
}

// send POSTs one delivery with Bitbucket's headers and times the answer
// from due, or from now when due is zero.
func send(ctx context.Context, c *http.Client, url, hookUUID string, d delivery, attempt int, due time.Time) answer {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(d.body))
	if err != nil {
		return answer{err: err}
	}
	h := req.Header
	h.Set("Content-Type", "application/json")
	h.Set("User-Agent", "Bitbucket-Webhooks/2.0")
	h.Set(bitbucket.HeaderEventKey, string(bitbucket.EventRepoPush))
	h.Set(bitbucket.HeaderRequestUUID, d.uuid)
	h.Set(bitbucket.HeaderHookUUID, hookUUID)
	h.Set(bitbucket.HeaderAttemptNumber, strconv.Itoa(attempt))
	h.Set(bitbucket.HeaderSignature, d.sig)
	if due.IsZero() {
		due = time.Now()
	}
	resp, err := c.Do(req)
	if err != nil {
		return answer{err: err}
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	took := time.Since(due)
	if err != nil {
		return answer{err: fmt.Errorf("read the answer: %w", err)}
	}
	a := answer{status: resp.StatusCode, latency: took}
	if resp.StatusCode < 300 {
		if err := json.Unmarshal(body, &a.resp); err != nil {
			return answer{err: fmt.Errorf("answer %d %q: %w", resp.StatusCode, body, err)}
		}
	}
	return a
}

// executions lists the executions named after repo's pushes.
func executions(ctx context.Context, p *local.Pipeline, repo pipeline.Repository) ([]types.ExecutionListItem, error) {
	all, err := p.Executions(ctx)
	if err != nil {
		return nil, fmt.Errorf("load run: %w", err)
	}
	prefix := pipeline.ExecutionName(repo, "x", "0000000")
	prefix = prefix[:len(prefix)-len("x-0000000")]
	var mine []types.ExecutionListItem
	for _, e := range all {
		if strings.HasPrefix(aws.ToString(e.Name), prefix) {
			mine = append(mine, e)
		}
	}
	return mine, nil
}

// drain waits up to opts.Drain for the run's executions to end, then stops
// those still running and counts them all by status.
func drain(ctx context.Context, p *local.Pipeline, opts LoadOptions, res *LoadResult) error {
	started := time.Now()
	var mine []types.ExecutionListItem
	deadline := started.Add(opts.Drain)
	for {
		now, err := executions(ctx, p, opts.Repo)
		if err != nil {
			return err
		}
		running := 0
		for _, e := range now {
			if e.Status == types.ExecutionStatusRunning {
				running++
			}
		}
		if running == 0 || !time.Now().Before(deadline) {
			mine = now
			break
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("load run: %w", ctx.Err())
		case <-time.After(250 * time.Millisecond):
		}
	}
	res.DrainTime = time.Since(started)
	var errs []error
	for _, e := range mine {
		if e.Status != types.ExecutionStatusRunning {
			res.Ended[string(e.Status)]++
			continue
		}
		arn := aws.ToString(e.ExecutionArn)
		if err := p.Stop(ctx, arn, "stackflow bench: the load run is over"); err != nil {
			errs = append(errs, err)
			continue
		}
		// It may have ended by itself just before.
		desc, err := p.Describe(ctx, arn)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if desc.Status == types.ExecutionStatusAborted {
			res.Stopped++
		}
		res.Ended[string(desc.Status)]++
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("load run: stop the executions still running: %w", err)
	}
	return nil
}

func uuid() string {
	var b [16]byte
	rand.Read(b[:]) //nolint:errcheck // crypto/rand.Read never fails
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

// Print shows the run's figures and findings.
func (r *LoadResult) Print(w io.Writer) {
	how := fmt.Sprintf("%d senders at once", r.Senders)
	if r.Rate > 0 {
		how = fmt.Sprintf("%g per second (at most %d at once)", r.Rate, r.Senders)
	}
	what := fmt.Sprintf("%d pushes of distinct branches", r.Pushes)
	if r.Deliveries != r.Pushes {
		what += fmt.Sprintf(", each delivered twice (%d deliveries)", r.Deliveries)
	}
	fmt.Fprintf(w, "%s as signed repo:push webhooks through the local HTTP API, %s\n", what, how)
	fmt.Fprintf(w, "webhook answer latency: %s\n", r.Latency)
	fmt.Fprintf(w, "throughput: %.0f deliveries/s (%d in %s)\n", r.PerSecond, r.Deliveries, r.Elapsed.Round(time.Millisecond))
	var statuses []string
	for _, s := range sortedKeys(r.Statuses) {
		statuses = append(statuses, fmt.Sprintf("%d x%d", s, r.Statuses[s]))
	}
	fmt.Fprintf(w, "answers: %s; no answer: %d\n", strings.Join(statuses, ", "), len(r.Failed))
	fmt.Fprintf(w, "answers name their push's execution: %d as started, %d as found (duplicates), %d not exactly once\n",
		r.Started, r.Duplicates, len(r.Unacknowledged))
	fmt.Fprintf(w, "executions named after the pushes: %d for %d pushes; missing %d, extra %d, repeated %d\n",
		r.Executions, r.Pushes, len(r.Missing), len(r.Extra), len(r.Repeated))
	if r.ExactlyOnce() {
		fmt.Fprintln(w, "exactly once: yes (every push started exactly one execution: none lost, none duplicated, no 5xx)")
	} else {
		fmt.Fprintln(w, "exactly once: NO")
		for _, list := range []struct {
			what  string
			names []string
		}{{"no answer", r.Failed}, {"answer without its execution", r.Unacknowledged}, {"missing", r.Missing}, {"extra", r.Extra}, {"repeated", r.Repeated}} {
			if len(list.names) > 0 {
				fmt.Fprintf(w, "  %s: %s\n", list.what, strings.Join(first(list.names, 5), ", "))
			}
		}
	}
	var ended []string
	for _, s := range sortedKeys(r.Ended) {
		ended = append(ended, fmt.Sprintf("%s %d", s, r.Ended[s]))
	}
	fmt.Fprintf(w, "executions afterwards: %s (drained in %s; %d stopped)\n", strings.Join(ended, ", "), r.DrainTime.Round(100*time.Millisecond), r.Stopped)
}

func sortedKeys[K int | string, V any](m map[K]V) []K {
	keys := make([]K, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func first(s []string, n int) []string {
	if len(s) > n {
		return append(s[:n:n], fmt.Sprintf("... (%d more)", len(s)-n))
	}
	return s
}
