package main

import (
	"strings"
	"testing"
)

func TestOperateArguments(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"approve"}, "give the run waiting for approval"},
		{[]string{"approve", "a", "b"}, "give the run waiting for approval"},
		{[]string{"reject", "hello-main-1a2b3c4"}, "give the reason with --reason TEXT"},
		{[]string{"reject", "--reason", "  ", "hello-main-1a2b3c4"}, "give the reason with --reason TEXT"},
		{[]string{"rollback", "acme/hello"}, "give the repository (WORKSPACE/SLUG) and the environment"},
		{[]string{"rollback", "hello", "prod"}, "want workspace/slug"},
	} {
		code, _, errOut := runCLI(t, tt.args...)
		if code != 2 || !strings.Contains(errOut, tt.want) {
			t.Errorf("%v: got exit %d, stderr %q; want 2 and %q", tt.args, code, errOut, tt.want)
		}
	}
}

func TestWhoAmI(t *testing.T) {
	t.Setenv("STACKFLOW_USER", "ada")
	if got := whoAmI(); got != "ada" {
		t.Errorf("got %q, want STACKFLOW_USER's ada", got)
	}
	t.Setenv("STACKFLOW_USER", "")
	if got := whoAmI(); got == "" {
		t.Error("got no name without STACKFLOW_USER, want the login name")
	}
}
