package main

import (
	"net"
	"strings"
	"testing"

	"github.com/stackflow/stackflow/internal/local"
)

// stackflow local fire finds the local CloudFormation of the running
// stackflow local --serve (its record in the user cache directory), or the
// one --endpoint gives, and says what to do when there is none. (Firing
// itself is tested against a real engine in internal/local/cfn and end to
// end in internal/local.)
func TestLocalFireFindsTheServingEngine(t *testing.T) {
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	t.Setenv("HOME", t.TempDir())
	t.Setenv("AWS_ENDPOINT_URL_CLOUDFORMATION", "")

	if code, _, errOut := runCLI(t, "local", "fire", "only-a-stack"); code != 2 || !strings.Contains(errOut, "give the stack and the logical ID of its schedule") {
		t.Errorf("one argument: got exit %d, stderr %q; want 2 and the usage", code, errOut)
	}
	if code, _, errOut := runCLI(t, "local", "fire", "app-staging", "Nightly"); code != 1 || !strings.Contains(errOut, "no stackflow local --serve is running") {
		t.Errorf("nothing serving: got exit %d, stderr %q; want 1 and what to start", code, errOut)
	}

	// A port nothing listens on, recorded as --serve records it.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gone := "http://" + ln.Addr().String()
	ln.Close()
	done, err := local.AnnounceServing(map[string]string{"AWS_ENDPOINT_URL_CLOUDFORMATION": gone})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := local.ServingCloudFormation(""); err != nil || got != gone {
		t.Errorf("got %q %v, want the recorded %s", got, err, gone)
	}
	if got, _ := local.ServingCloudFormation("http://given"); got != "http://given" {
		t.Errorf("got %q, want --endpoint's http://given to win", got)
	}
	if code, _, errOut := runCLI(t, "local", "fire", "app-staging", "Nightly"); code != 1 || !strings.Contains(errOut, "does not answer (is stackflow local --serve running?)") {
		t.Errorf("recorded but gone: got exit %d, stderr %q; want 1 and that it does not answer", code, errOut)
	}
	done()
	if _, err := local.ServingCloudFormation(""); err == nil {
		t.Error("the record is still read after --serve ended")
	}
}
