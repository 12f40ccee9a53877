package pipeline

import (
	"regexp"
	"strings"
	"testing"
)

var validStack = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9-]{0,127}$`)

func TestPreviewStack(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		slug string
		pr   int
		want string
	}{
		{name: "plain", slug: "hello", pr: 7, want: "hello-pr-7"},
		{name: "dots and underscores", slug: "hello.api_v2", pr: 12, want: "hello-api-v2-pr-12"},
		{name: "starts with a digit", slug: "2048-game", pr: 1, want: "app-2048-game-pr-1"},
		{name: "no usable character", slug: "...", pr: 3, want: "app-pr-3"},
		{name: "long slug keeps the id", slug: strings.Repeat("s", 200), pr: 123456, want: strings.Repeat("s", 128-len("-pr-123456")) + "-pr-123456"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := PreviewStack(Repository{Workspace: "acme", Slug: tt.slug}, tt.pr)
			if got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
			if !validStack.MatchString(got) {
				t.Errorf("got %q, want a valid stack name", got)
			}
		})
	}
}

func TestPreviewEnvironment(t *testing.T) {
	t.Parallel()
	got := PreviewEnvironment(Repository{Workspace: "acme", Slug: "hello"}, 7)
	if got.Name != "pr-7" || got.Stack != "hello-pr-7" || got.PullRequest != 7 {
		t.Errorf("got name %q, stack %q, pull request %d; want pr-7, hello-pr-7, 7", got.Name, got.Stack, got.PullRequest)
	}
	if got.Protected || got.ApprovalRequired || got.ApprovalTimeoutSeconds <= 0 || got.Capabilities == nil {
		t.Errorf("got %+v, want unprotected, no approval, a timeout set and capabilities a list", got)
	}
}

func TestPullRequestExecutionName(t *testing.T) {
	t.Parallel()
	sha := "0123456789abcdef0123456789abcdef01234567"
	tests := []struct {
		name   string
		slug   string
		branch string
		pr     int
		closed bool
		want   string
	}{
		{name: "open", slug: "hello", branch: "feature/greeting", pr: 7, want: "hello-feature-greeting-0123456-pr7"},
		{name: "closed", slug: "hello", branch: "feature/greeting", pr: 7, closed: true, want: "hello-feature-greeting-0123456-pr7-closed"},
		{name: "unsafe characters", slug: "héllo.api", branch: "fix ünïcode", pr: 42, want: "h-llo-api-fix-n-code-0123456-pr42"},
		{name: "only unsafe characters", slug: "...", branch: "///", pr: 1, want: "repo-branch-0123456-pr1"},
		{name: "long branch keeps commit and id", slug: "hello", branch: strings.Repeat("b", 100), pr: 99999, closed: true,
			want: "hello-" + strings.Repeat("b", 80-len("hello-")-len("-0123456-pr99999-closed")) + "-0123456-pr99999-closed"},
		{name: "long slug and branch", slug: strings.Repeat("s", 70), branch: strings.Repeat("b", 70), pr: 123},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := PullRequestExecutionName(Repository{Workspace: "acme", Slug: tt.slug}, tt.branch, tt.pr, tt.closed, sha)
			if tt.want != "" && got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
			if !validName.MatchString(got) {
				t.Errorf("got %q (%d characters), want 1-80 characters of [0-9A-Za-z_-]", got, len(got))
			}
			if !strings.Contains(got, "-0123456-pr") {
				t.Errorf("got %q, want the commit and the pull request kept whole", got)
			}
		})
	}
	repo := Repository{Slug: "hello"}
	if a, b := PullRequestExecutionName(repo, "x", 7, false, sha), PullRequestExecutionName(repo, "x", 7, true, sha); a == b {
		t.Errorf("open and closed runs of one commit got the same name %q", a)
	}
	// No branch's push has the name of a pull request's run: a push's
	// name ends in the commit.
	for _, branch := range []string{"x-0123456-pr7", "x", "pr7"} {
		if a, b := PullRequestExecutionName(repo, "x", 7, false, sha), ExecutionName(repo, branch, sha); a == b {
			t.Errorf("pull request #7 of x and a push of %s got the same name %q", branch, a)
		}
	}
}
