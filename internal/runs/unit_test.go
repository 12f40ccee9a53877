package runs

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/stackflow/stackflow/internal/pipeline"
)

type definitionState struct{ name, typ string }

// definitionStates lists every state of statemachine/pipeline.asl.json,
// the promotion Map's included.
func definitionStates(t *testing.T) []definitionState {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", "statemachine", "pipeline.asl.json"))
	if err != nil {
		t.Fatal(err)
	}
	type machine struct {
		States map[string]json.RawMessage `json:"States"`
	}
	var walk func(m machine) []definitionState
	walk = func(m machine) []definitionState {
		var out []definitionState
		for name, raw := range m.States {
			var st struct {
				Type          string   `json:"Type"`
				ItemProcessor *machine `json:"ItemProcessor"`
			}
			if err := json.Unmarshal(raw, &st); err != nil {
				t.Fatal(err)
			}
			out = append(out, definitionState{name, st.Type})
			if st.ItemProcessor != nil {
				out = append(out, walk(*st.ItemProcessor)...)
			}
		}
		return out
	}
	var top machine
	if err := json.Unmarshal(data, &top); err != nil {
		t.Fatal(err)
	}
	return walk(top)
}

func TestEveryTaskStateHasAPhase(t *testing.T) {
	t.Parallel()
	tasks := map[string]bool{}
	for _, st := range definitionStates(t) {
		if st.typ != "Task" {
			continue
		}
		tasks[st.name] = true
		if phaseOf[st.name] == "" {
			t.Errorf("Task %q of the state machine has no phase in phaseOf", st.name)
		}
	}
	for name := range phaseOf {
		if !tasks[name] {
			t.Errorf("phaseOf names %q, which is no Task of the state machine", name)
		}
	}
}

func TestMayBeKeepsEveryNameOfTheFilter(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("x", 60)
	tests := []struct {
		slug, branch string
	}{
		{"hello", "main"},
		{"hello.api", "feature/login.v2"},
		{"héllo", "fix ünïcode"},
		{"...", "///"},
		{"hello", strings.Repeat("b", 120)},
		{strings.Repeat("s", 70), strings.Repeat("b", 70)},
		{long, "main"},
		{"a-" + long, "release/" + long},
		{strings.Repeat("s", 34) + "-x", strings.Repeat("b", 35) + "-y" + long},
	}
	for _, tt := range tests {
		repo := pipeline.Repository{Workspace: "acme", Slug: tt.slug}
		n := pipeline.ExecutionName(repo, tt.branch, "0123456789abcdef0123456789abcdef01234567")
		for _, f := range []struct {
			repo   *pipeline.Repository
			branch string
		}{{&repo, tt.branch}, {&repo, ""}, {nil, tt.branch}, {nil, ""}} {
			if !mayBe(n, f.repo, f.branch) {
				t.Errorf("mayBe(%q, %v, %q) = false, want true", n, f.repo, f.branch)
			}
		}
	}
	other := pipeline.Repository{Workspace: "acme", Slug: "other"}
	if mayBe("hello-main-0123456", &other, "") || mayBe("hello-main-0123456", nil, "develop") {
		t.Errorf("mayBe kept a name of another repository or branch")
	}
}

func TestFormatSeconds(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   float64
		want string
	}{
		{0, "0.0s"}, {-1, "0.0s"}, {0.04, "0.0s"}, {4.25, "4.2s"}, {59.9, "59.9s"}, {59.97, "1m00s"},
		{63, "1m03s"}, {600.4, "10m00s"}, {3599.7, "1h00m"}, {7500, "2h05m"},
	}
	for _, tt := range tests {
		if got := FormatSeconds(tt.in); got != tt.want {
			t.Errorf("FormatSeconds(%v) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestCauseMessage(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{`{"errorMessage":"check \"go test\" failed:\nFAIL","errorType":"ChecksFailed"}`, "check \"go test\" failed:\nFAIL"},
		{"The execution ran longer than its TimeoutSeconds", "The execution ran longer than its TimeoutSeconds"},
		{`{"other":1}`, `{"other":1}`},
		{"", ""},
	}
	for _, tt := range tests {
		if got := causeMessage(tt.in); got != tt.want {
			t.Errorf("causeMessage(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestConsoleURL(t *testing.T) {
	t.Parallel()
	arn := "arn:aws:states:eu-west-1:123456789012:execution:Pipeline:hello-main-0123456"
	want := "https://eu-west-1.console.aws.amazon.com/states/home?region=eu-west-1#/v2/executions/details/" + arn
	if got := ConsoleURL(arn); got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

// fakeSFN is an in-memory pipeline history: executions newest first.
type fakeSFN struct {
	execs []*sfn.DescribeExecutionOutput
}

func (f *fakeSFN) ListExecutions(_ context.Context, in *sfn.ListExecutionsInput, _ ...func(*sfn.Options)) (*sfn.ListExecutionsOutput, error) {
	out := &sfn.ListExecutionsOutput{}
	for _, d := range f.execs {
		out.Executions = append(out.Executions, types.ExecutionListItem{ExecutionArn: d.ExecutionArn, Name: d.Name, Status: d.Status, StartDate: d.StartDate})
	}
	return out, nil
}

func (f *fakeSFN) DescribeExecution(_ context.Context, in *sfn.DescribeExecutionInput, _ ...func(*sfn.Options)) (*sfn.DescribeExecutionOutput, error) {
	for _, d := range f.execs {
		if aws.ToString(d.ExecutionArn) == aws.ToString(in.ExecutionArn) {
			return d, nil
		}
	}
	return nil, &types.ExecutionDoesNotExist{Message: aws.String("Execution Does Not Exist")}
}

func (f *fakeSFN) GetExecutionHistory(context.Context, *sfn.GetExecutionHistoryInput, ...func(*sfn.Options)) (*sfn.GetExecutionHistoryOutput, error) {
	return &sfn.GetExecutionHistoryOutput{}, nil
}

func fakeRun(slug, branch, commit string, age time.Duration) *sfn.DescribeExecutionOutput {
	repo := pipeline.Repository{Workspace: "acme", Slug: slug}
	name := pipeline.ExecutionName(repo, branch, commit)
	in, _ := json.Marshal(pipeline.ExecutionInput{Run: pipeline.Run{Repository: repo, Branch: branch, Commit: commit}})
	return &sfn.DescribeExecutionOutput{
		ExecutionArn: aws.String("arn:aws:states:us-east-1:000000000000:execution:m:" + name),
		Name:         aws.String(name), Status: types.ExecutionStatusSucceeded,
		StartDate: aws.Time(time.Now().Add(-age)), Input: aws.String(string(in)),
	}
}

func TestACommitFoundInSeveralRuns(t *testing.T) {
	t.Parallel()
	a := "abcdef0123456789abcdef0123456789abcdef01"
	b := "abcdef0fffffffffffffffffffffffffffffffff"
	c := &Client{pipeline: Pipeline{StateMachineARN: "arn:aws:states:us-east-1:000000000000:stateMachine:m"}, sfn: &fakeSFN{execs: []*sfn.DescribeExecutionOutput{
		fakeRun("hello", "feature", a, time.Minute),
		fakeRun("other", "main", b, 2*time.Minute),
		fakeRun("hello", "main", a, 3*time.Minute),
	}}}
	tests := []struct {
		name, ref          string
		wantName, wantNote string
		wantErr            string
	}{
		{name: "two runs of one commit", ref: a[:10], wantName: "hello-feature-abcdef0",
			wantNote: "commit abcdef0 has 2 runs (hello-feature-abcdef0, hello-main-abcdef0); this is the newest"},
		{name: "one run", ref: b[:8], wantName: "other-main-abcdef0"},
		{name: "two commits", ref: a[:7], wantErr: "commit abcdef0 is ambiguous: it starts 2 commits' runs (" + a + " in hello-feature-abcdef0, " +
			b + " in other-main-abcdef0); give more of the SHA"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			desc, note, err := c.resolve(context.Background(), tt.ref)
			if tt.wantErr != "" {
				var amb *AmbiguousCommitError
				if !errors.As(err, &amb) || err.Error() != tt.wantErr {
					t.Errorf("got %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := aws.ToString(desc.Name); got != tt.wantName || note != tt.wantNote {
				t.Errorf("got %s (note %q), want %s (note %q)", got, note, tt.wantName, tt.wantNote)
			}
		})
	}
}

func TestLoadConfig(t *testing.T) {
	// No t.Parallel: the AWS configuration is read from the environment.
	isolate := func(t *testing.T) {
		t.Helper()
		dir := t.TempDir()
		for k, v := range map[string]string{
			"AWS_CONFIG_FILE": filepath.Join(dir, "config"), "AWS_SHARED_CREDENTIALS_FILE": filepath.Join(dir, "credentials"),
			"AWS_EC2_METADATA_DISABLED": "true", "AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": "", "AWS_SESSION_TOKEN": "",
			"AWS_PROFILE": "", "AWS_DEFAULT_PROFILE": "", "AWS_REGION": "", "AWS_DEFAULT_REGION": "",
			"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": "", "AWS_CONTAINER_CREDENTIALS_FULL_URI": "", "AWS_WEB_IDENTITY_TOKEN_FILE": "",
			"AWS_ENDPOINT_URL": "", "AWS_ENDPOINT_URL_SFN": "", "AWS_ENDPOINT_URL_CLOUDFORMATION": "", "AWS_ENDPOINT_URL_S3": "",
		} {
			t.Setenv(k, v)
		}
	}
	tests := []struct {
		name       string
		env        map[string]string
		region     string
		wantErr    error
		wantRegion string
	}{
		{name: "nothing configured", env: map[string]string{"AWS_REGION": "eu-west-1"}, wantErr: ErrNoCredentials},
		{name: "no region", env: map[string]string{"AWS_ACCESS_KEY_ID": "AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY": "x"}, wantErr: ErrNoRegion},
		{name: "keys and a region", env: map[string]string{"AWS_ACCESS_KEY_ID": "AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY": "x"}, region: "eu-central-1", wantRegion: "eu-central-1"},
		{name: "a local endpoint needs neither", env: map[string]string{"AWS_ENDPOINT_URL": "http://127.0.0.1:4566"}, wantRegion: LocalRegion},
		{name: "a remote endpoint needs credentials", env: map[string]string{"AWS_ENDPOINT_URL": "https://states.example.com", "AWS_REGION": "eu-west-1"}, wantErr: ErrNoCredentials},
		{name: "one endpoint elsewhere is not local", env: map[string]string{"AWS_ENDPOINT_URL": "http://localhost:4566", "AWS_ENDPOINT_URL_SFN": "https://sfn.example.com", "AWS_REGION": "eu-west-1"}, wantErr: ErrNoCredentials},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			isolate(t)
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			cfg, err := LoadConfig(context.Background(), "", tt.region)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("got error %v, want %v", err, tt.wantErr)
			}
			if err == nil && cfg.Region != tt.wantRegion {
				t.Errorf("got region %q, want %q", cfg.Region, tt.wantRegion)
			}
		})
	}
	t.Run("a profile that does not exist", func(t *testing.T) {
		isolate(t)
		_, err := LoadConfig(context.Background(), "nope", "")
		if err == nil || !strings.Contains(err.Error(), "nope") {
			t.Errorf("got %v, want an error naming the profile", err)
		}
	})
	t.Run("a profile", func(t *testing.T) {
		isolate(t)
		config := "[profile ci]\nregion = ap-south-1\naws_access_key_id = AKIDEXAMPLE\naws_secret_access_key = x\n"
		if err := os.WriteFile(os.Getenv("AWS_CONFIG_FILE"), []byte(config), 0o600); err != nil {
			t.Fatal(err)
		}
		cfg, err := LoadConfig(context.Background(), "ci", "")
		if err != nil || cfg.Region != "ap-south-1" {
			t.Errorf("got %q, %v; want the profile's region ap-south-1", cfg.Region, err)
		}
	})
}

// TestTimelineOfAFailedPromotion reads the history of a run of
// examples/hello whose staging smoke test failed, recorded from
// `stackflow local` (the states' inputs left out).
func TestTimelineOfAFailedPromotion(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile(filepath.Join("testdata", "smoke-failed.json"))
	if err != nil {
		t.Fatal(err)
	}
	var recorded struct {
		Execution sfn.DescribeExecutionOutput `json:"execution"`
		Events    []types.HistoryEvent        `json:"events"`
	}
	if err := json.Unmarshal(data, &recorded); err != nil {
		t.Fatal(err)
	}
	tl := buildTimeline(&recorded.Execution, recorded.Events, time.Now())
	want := &Failure{State: "Smoke test the environment", Environment: "staging", Error: "SmokeTestFailed"}
	if f := tl.Failure; f == nil || f.State != want.State || f.Environment != want.Environment || f.Error != want.Error ||
		!strings.HasPrefix(f.Cause, `smoke test "greets" of staging failed`) {
		t.Fatalf("got failure %+v, want %+v with the smoke test's message", tl.Failure, want)
	}
	var mapStep, smoke *Step
	for i, s := range tl.Steps {
		switch {
		case s.Type == "Map":
			mapStep = &tl.Steps[i]
		case s.Name == "Smoke test the environment":
			smoke = &tl.Steps[i]
		}
		if s.Environment == "prod" {
			t.Errorf("got step %s in prod, which the run never reached", s.Name)
		}
	}
	if mapStep == nil || mapStep.Status != StepFailed || mapStep.Error != "SmokeTestFailed" {
		t.Errorf("got the promotion %+v, want FAILED with SmokeTestFailed", mapStep)
	}
	if smoke == nil || smoke.Status != StepFailed || smoke.Environment != "staging" || smoke.Phase != PhaseSmoke || smoke.Seconds < 1.9 {
		t.Errorf("got the smoke test %+v, want staging's, FAILED after its 2 s budget", smoke)
	}
	if len(tl.Environments) != 2 {
		t.Fatalf("got environments %+v, want staging and prod", tl.Environments)
	}
	staging, prod := tl.Environments[0], tl.Environments[1]
	if staging.Name != "staging" || staging.Status != EnvFailed || staging.StackStatus != "UPDATE_COMPLETE" ||
		staging.URL == "" || staging.Failure == nil || staging.Failure.State != "Smoke test the environment" {
		t.Errorf("got staging %+v, want FAILED at its smoke test after UPDATE_COMPLETE, with its URL", staging)
	}
	if staging.ChangeSet != "hello-staging: no resource changes" {
		t.Errorf("got staging's change set %q, want no resource changes", staging.ChangeSet)
	}
	if prod.Name != "prod" || prod.Stack != "hello-prod" || prod.Status != EnvNotReached || prod.Failure != nil {
		t.Errorf("got prod %+v, want NOT_REACHED", prod)
	}
	text := tl.render(PhaseSmoke)
	for _, want := range []string{"[staging] Smoke test the environment: FAILED in 2.0s", "  SmokeTestFailed:\n    smoke test \"greets\" of staging failed"} {
		if !strings.Contains(text, want) {
			t.Errorf("got smoke output\n%s\nwant it to contain %q", text, want)
		}
	}
}

func TestRunNames(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 11, 26, 9, 30, 0, 0, time.UTC)
	repo := pipeline.Repository{Workspace: "acme", Slug: "hello"}
	if got := runName(repo, "promote", "prod", "1a2b3c4d5e", at); got != "hello-promote-prod-1a2b3c4-20261126T093000000" {
		t.Errorf("got %q", got)
	}
	// Two within one second are two names.
	if a, b := runName(repo, "retry", "prod", "1a2b3c4", at), runName(repo, "retry", "prod", "1a2b3c4", at.Add(time.Millisecond)); a == b {
		t.Errorf("got %q twice", a)
	}
}

func TestRollbackName(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 11, 26, 9, 30, 0, 7e6, time.UTC)
	valid := regexp.MustCompile(`^[0-9A-Za-z_-]{1,80}$`)
	for _, tt := range []struct{ slug, want string }{
		{"hello", "hello-rollback-prod-1a2b3c4-20261126T093000007"},
		{"hello.api", "hello-api-rollback-prod-1a2b3c4-20261126T093000007"},
		{strings.Repeat("s", 90), ""},
	} {
		got := rollbackName(pipeline.Repository{Workspace: "acme", Slug: tt.slug}, "prod", "1a2b3c4d5e", at)
		if !valid.MatchString(got) || !strings.HasSuffix(got, "-rollback-prod-1a2b3c4-20261126T093000007") {
			t.Errorf("%s: got %q (%d), want a valid name ending in the environment, commit and time", tt.slug, got, len(got))
		}
		if tt.want != "" && got != tt.want {
			t.Errorf("got %q, want %q", got, tt.want)
		}
	}
}

// fakeAppRun is fakeRun of app's run, in a repository of several apps.
func fakeAppRun(slug, app, branch, commit string, age time.Duration) *sfn.DescribeExecutionOutput {
	repo := pipeline.Repository{Workspace: "acme", Slug: slug}
	name := pipeline.ExecutionName(repo.ForApp(app), branch, commit)
	in, _ := json.Marshal(pipeline.ExecutionInput{Run: pipeline.Run{Repository: repo, Branch: branch, Commit: commit, App: &pipeline.AppRun{Name: app}}})
	return &sfn.DescribeExecutionOutput{
		ExecutionArn: aws.String("arn:aws:states:us-east-1:000000000000:execution:m:" + name),
		Name:         aws.String(name), Status: types.ExecutionStatusRunning,
		StartDate: aws.Time(time.Now().Add(-age)), Input: aws.String(string(in)),
	}
}

// TestACommitOfSeveralAppsNeedsItsApp: in a repository of several apps a
// push's commit has a run of each app (and the push's own); approve,
// reject and retry given the commit refuse, naming the apps, rather than
// answer the newest app's run, and with --app answer that app's.
func TestACommitOfSeveralAppsNeedsItsApp(t *testing.T) {
	t.Parallel()
	sha := "5ca1ab1e0123456789abcdef0123456789abcdef"
	push := fakeRun("platform", "main", sha, 3*time.Minute)
	web, api := fakeAppRun("platform", "web", "main", sha, time.Minute), fakeAppRun("platform", "api", "main", sha, 2*time.Minute)
	c := &Client{pipeline: Pipeline{StateMachineARN: "arn:aws:states:us-east-1:000000000000:stateMachine:m", ReleasesTable: "t"},
		sfn: &fakeSFN{execs: []*sfn.DescribeExecutionOutput{web, api, push}}}
	ctx := context.Background()
	const want = "commit 5ca1ab1 has runs of several apps (api, web): name the app with --app APP"
	for name, call := range map[string]func() error{
		"approve": func() error { _, _, err := c.Approve(ctx, sha[:7], "", ""); return err },
		"reject":  func() error { _, _, err := c.Reject(ctx, sha, "", "prod", "not now"); return err },
		"retry":   func() error { _, _, err := c.Retry(ctx, sha[:9], "", "ada", nil); return err },
	} {
		if err := call(); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: got %v, want %q", name, err, want)
		}
	}
	for _, tt := range []struct{ ref, app, want string }{
		{sha[:7], "api", aws.ToString(api.Name)},
		{sha, "web", aws.ToString(web.Name)},
		{aws.ToString(api.Name), "", aws.ToString(api.Name)}, // a run by name needs no app
	} {
		desc, err := c.resolveApp(ctx, tt.ref, tt.app)
		if err != nil || aws.ToString(desc.Name) != tt.want {
			t.Errorf("%s --app %q: got %v, want %s", tt.ref, tt.app, err, tt.want)
		}
	}
	if _, err := c.resolveApp(ctx, aws.ToString(api.Name), "web"); err == nil || !strings.Contains(err.Error(), "is app api's run, not web's") {
		t.Errorf("api's run with --app web: got %v, want refused", err)
	}
}
