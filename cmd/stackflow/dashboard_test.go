package main

import (
	"strings"
	"testing"
)

func TestDashboardArguments(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"dashboard", "extra"}, `unexpected "extra"`},
		{[]string{"dashboard", "--addr", "0.0.0.0:0"}, "loopback address only"},
		{[]string{"dashboard", "--addr", "192.0.2.1:8321"}, "loopback address only"},
		{[]string{"dashboard", "--addr", "8321"}, "want HOST:PORT"},
	} {
		code, _, errOut := runCLI(t, tt.args...)
		if code != 2 || !strings.Contains(errOut, tt.want) {
			t.Errorf("%v: got exit %d, stderr %q; want 2 and %q", tt.args, code, errOut, tt.want)
		}
	}
}
