package pipeline

import (
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"strings"
	"testing"
)

var validName = regexp.MustCompile(`^[0-9A-Za-z_-]{1,80}$`)

func TestExecutionName(t *testing.T) {
	t.Parallel()
	sha := "0123456789abcdef0123456789abcdef01234567"
	tests := []struct {
		name   string
		slug   string
		branch string
		want   string
	}{
		{name: "plain", slug: "hello", branch: "main", want: "hello-main-0123456"},
		{name: "slashes and dots", slug: "hello.api", branch: "feature/login.v2", want: "hello-api-feature-login-v2-0123456"},
		{name: "unicode and spaces", slug: "héllo", branch: "fix ünïcode", want: "h-llo-fix-n-code-0123456"},
		{name: "only unsafe characters", slug: "...", branch: "///", want: "repo-branch-0123456"},
		{name: "long branch keeps the commit", slug: "hello", branch: strings.Repeat("b", 120), want: "hello-" + strings.Repeat("b", 80-len("hello-")-len("-0123456")) + "-0123456"},
		{name: "long slug and branch share the room", slug: strings.Repeat("s", 70), branch: strings.Repeat("b", 70)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := ExecutionName(Repository{Workspace: "acme", Slug: tt.slug}, tt.branch, sha)
			if !validName.MatchString(got) {
				t.Fatalf("got %q (%d characters), want 1-80 characters of [0-9A-Za-z_-]", got, len(got))
			}
			if !strings.HasSuffix(got, "-0123456") {
				t.Errorf("got %q, want it to end with the commit -0123456", got)
			}
			if tt.want != "" && got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
	a := ExecutionName(Repository{Slug: "hello"}, "main", sha)
	if b := ExecutionName(Repository{Slug: "hello"}, "main", sha); a != b {
		t.Errorf("two names of one push differ: %q and %q", a, b)
	}
	if b := ExecutionName(Repository{Slug: "hello"}, "main", "f"+sha[1:]); a == b {
		t.Errorf("two commits got the same name %q", a)
	}
}

func TestParseRepository(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in      string
		want    Repository
		wantErr bool
	}{
		{in: "acme/hello", want: Repository{Workspace: "acme", Slug: "hello"}},
		{in: "acme", wantErr: true},
		{in: "/hello", wantErr: true},
		{in: "acme/", wantErr: true},
		{in: "acme/hello/x", wantErr: true},
	}
	for _, tt := range tests {
		got, err := ParseRepository(tt.in)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("ParseRepository(%q) = %+v, %v; want %+v, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
		if err == nil && got.FullName() != tt.in {
			t.Errorf("FullName() = %q, want %q", got.FullName(), tt.in)
		}
	}
}

func TestForStateMachine(t *testing.T) {
	t.Parallel()
	cfg := &ConfigInvalid{File: "stackflow.yml", Line: 3, Problem: "bad", Fix: "fix it"}
	tests := []struct {
		name     string
		err      error
		wantType string
		wantMsg  string
	}{
		{name: "nil", err: nil},
		{name: "domain error as is", err: cfg, wantType: "ConfigInvalid", wantMsg: "stackflow.yml:3: bad (fix it)"},
		{name: "wrapped domain error is unwrapped", err: fmt.Errorf("read config: %w", cfg), wantType: "ConfigInvalid", wantMsg: "stackflow.yml:3: bad (fix it)"},
		{name: "other errors are unexpected", err: errors.New("disk full"), wantType: "UnexpectedError", wantMsg: "disk full"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := ForStateMachine(tt.err)
			if tt.err == nil {
				if got != nil {
					t.Fatalf("got %v, want nil", got)
				}
				return
			}
			// aws-lambda-go names the error by its type, through the pointer.
			if name := reflect.TypeOf(got).Elem().Name(); name != tt.wantType {
				t.Errorf("got type %s, want %s", name, tt.wantType)
			}
			if got.Error() != tt.wantMsg {
				t.Errorf("got message %q, want %q", got.Error(), tt.wantMsg)
			}
		})
	}
}

// TestErrorNamesAreTheTypes keeps ErrorNames, which the state machine's
// tests check Retry and Catch against, in step with the types.
func TestErrorNamesAreTheTypes(t *testing.T) {
	t.Parallel()
	errs := []error{&ConfigInvalid{}, &SourceUnavailable{}, &BitbucketUnavailable{}, &ChecksFailed{},
		&PackageFailed{}, &PackageRefused{}, &StackDeployFailed{}, &StackRefused{}, &SmokeTestFailed{}, &Throttled{}, &UnexpectedError{},
		&Superseded{}, &RolledBack{}, &RollbackFailed{}, &Frozen{}, &Refused{}}
	var got []string
	for _, e := range errs {
		got = append(got, reflect.TypeOf(e).Elem().Name())
		if ForStateMachine(e) != e {
			t.Errorf("%T is not passed through ForStateMachine as itself", e)
		}
	}
	if !reflect.DeepEqual(got, ErrorNames) {
		t.Errorf("got %v, want ErrorNames %v", got, ErrorNames)
	}
}

func TestErrorMessages(t *testing.T) {
	t.Parallel()
	tests := []struct {
		err  error
		want string
	}{
		{&StackDeployFailed{Stack: "hello-prod", Status: "UPDATE_ROLLBACK_COMPLETE", Resource: "HelloFunction", Reason: "boom"},
			"deploy hello-prod (UPDATE_ROLLBACK_COMPLETE): HelloFunction: boom"},
		{&SmokeTestFailed{Environment: "staging", Check: "greets", URL: "http://x/hello", Got: "status 500", Want: "status 200"},
			`smoke test "greets" of staging failed: GET http://x/hello: got status 500, want status 200`},
		{&SmokeTestFailed{Environment: "staging", Check: "create", Method: "POST", URL: "http://x/items", Got: "status 500", Want: "status 201"},
			`smoke test "create" of staging failed: POST http://x/items: got status 500, want status 201`},
		{&ChecksFailed{Check: "go test ./...", Tail: "--- FAIL: TestX"}, "check \"go test ./...\" failed:\n--- FAIL: TestX"},
		{&ConfigInvalid{File: "samconfig.toml", Problem: "bad"}, "samconfig.toml: bad"},
		{&StackRefused{Stack: "hello-prod", Environment: "staging", Reason: "it belongs to environment prod of acme/hello", Fix: "give each environment its own stack"},
			"refused to deploy staging to stack hello-prod: it belongs to environment prod of acme/hello; give each environment its own stack"},
		{&SourceUnavailable{Repository: "acme/hello", Reason: "no main branch"}, "source of acme/hello: no main branch"},
		{&Frozen{Environment: "prod", Until: "2026-12-28 09:00 Europe/Berlin", Window: "holidays", Retry: "stackflow retry hello-main-1a2b3c4"},
			"prod is frozen until 2026-12-28 09:00 Europe/Berlin (holidays) and its freeze_action is stop: stackflow retry hello-main-1a2b3c4 resumes the run after it, or with --during-freeze --reason TEXT before"},
		{&Refused{What: "promote 1a2b3c4 to prod", Reason: "prod takes the branches [main], and 1a2b3c4 was released from feature/x", Fix: "merge it to main"},
			"refused to promote 1a2b3c4 to prod: prod takes the branches [main], and 1a2b3c4 was released from feature/x; merge it to main"},
		{IgnoredSetting{Setting: "prod.branches", Commit: "[main, x]", Default: "[main]"}.asError(), "prod.branches: [main, x] in this commit, [main] on the default branch"},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("got %q, want %q", got, tt.want)
		}
	}
}

func TestExecutionNameOf(t *testing.T) {
	t.Parallel()
	for arn, want := range map[string]string{
		"arn:aws:states:us-east-1:123456789012:execution:pipeline:hello-main-0123456": "hello-main-0123456",
		"hello-main-0123456": "hello-main-0123456",
	} {
		if got := ExecutionNameOf(arn); got != want {
			t.Errorf("ExecutionNameOf(%q) = %q, want %q", arn, got, want)
		}
	}
}

// asError lets TestErrorMessages check an IgnoredSetting's String.
func (s IgnoredSetting) asError() error { return errors.New(s.String()) }

func TestMatchARN(t *testing.T) {
	t.Parallel()
	tests := []struct {
		pattern, arn string
		want         bool
	}{
		{"arn:aws:iam::*:role/stackflow/*", "arn:aws:iam::210987654321:role/stackflow/deploy", true},
		{"arn:aws:iam::*:role/stackflow/*", "arn:aws:iam::210987654321:role/stackflow/team/deploy", true},
		{"arn:aws:iam::*:role/stackflow/*", "arn:aws:iam::210987654321:role/stackflow-deploy", false},
		{"arn:aws:iam::*:role/stackflow/*", "arn:aws:iam::210987654321:role/admin", false},
		{"arn:aws:iam::123456789012:role/deploy", "arn:aws:iam::123456789012:role/deploy", true},
		{"arn:aws:iam::123456789012:role/deploy", "arn:aws:iam::123456789012:role/Deploy", false},
		{"arn:aws:iam::123456789012:role/deploy", "arn:aws:iam::123456789012:role/deploy2", false},
		{"arn:aws:sts::12345678901?:assumed-role/release/*", "arn:aws:sts::123456789012:assumed-role/release/ada", true},
		{"*", "anything", true},
		{"a*b*c", "aXbYbZc", true},
		{"a*b*c", "aXbYbZ", false},
		{"", "", true},
		{"", "x", false},
	}
	for _, tt := range tests {
		if got := MatchARN(tt.pattern, tt.arn); got != tt.want {
			t.Errorf("MatchARN(%q, %q): got %v, want %v", tt.pattern, tt.arn, got, tt.want)
		}
	}
}

func TestBranchScope(t *testing.T) {
	t.Parallel()
	tests := []struct {
		branch, wantPrefix string
	}{
		{"main", "main-"},
		{"feature/x", "feature-x-"},
		{"feature-x", "feature-x-"},
		{"///", "branch-"},
		{strings.Repeat("long", 20), strings.Repeat("long", 10) + "-"},
	}
	seen := map[string]string{}
	for _, tt := range tests {
		got := BranchScope(tt.branch)
		if !strings.HasPrefix(got, tt.wantPrefix) || len(got) != len(tt.wantPrefix)+16 || !validName.MatchString(got) {
			t.Errorf("BranchScope(%q): got %q, want %q and 16 hex digits", tt.branch, got, tt.wantPrefix)
		}
		if other, ok := seen[got]; ok {
			t.Errorf("branches %q and %q share the scope %q", other, tt.branch, got)
		}
		seen[got] = tt.branch
	}
}

func TestCacheScope(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		scope     CacheScope
		wantReads []string
	}{
		{name: "a feature branch reads its own, then main's", scope: CacheScope{Branch: "feature/x", Default: "main"},
			wantReads: []string{BranchScope("feature/x"), BranchScope("main")}},
		{name: "main reads only main's", scope: CacheScope{Branch: "main", Default: "main"}, wantReads: []string{BranchScope("main")}},
		{name: "no default branch known", scope: CacheScope{Branch: "feature/x"}, wantReads: []string{BranchScope("feature/x")}},
	}
	for _, tt := range tests {
		if got := tt.scope.Reads(); !reflect.DeepEqual(got, tt.wantReads) {
			t.Errorf("%s: reads %v, want %v", tt.name, got, tt.wantReads)
		}
		if got := tt.scope.Writes(); got != BranchScope(tt.scope.Branch) {
			t.Errorf("%s: writes %q, want its own branch's", tt.name, got)
		}
	}
	plan := Plan{DefaultBranch: &DefaultBranch{Name: "trunk"}}
	if got := ScopeOf(Run{Branch: "feature/x"}, plan); got != (CacheScope{Branch: "feature/x", Default: "trunk"}) {
		t.Errorf("ScopeOf: got %+v", got)
	}
}

func TestRepositoryForApp(t *testing.T) {
	t.Parallel()
	repo := Repository{Workspace: "acme", Slug: "platform"}
	if got := repo.ForApp("api"); got != (Repository{Workspace: "acme", Slug: "platform-api"}) {
		t.Errorf("got %+v, want acme/platform-api", got)
	}
	if got := repo.ForApp(""); got != repo {
		t.Errorf("got %+v, want the repository itself", got)
	}
}
