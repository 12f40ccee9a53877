package main

import (
	"encoding/json"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
)

func TestVersionOf(t *testing.T) {
	t.Parallel()
	stamped := &debug.BuildInfo{
		GoVersion: "go1.26.8",
		Main:      debug.Module{Path: "github.com/stackflow/stackflow", Version: "v0.0.0-20261126030405-f98086d1c0de+dirty"},
		Settings: []debug.BuildSetting{
			{Key: "GOOS", Value: "linux"}, {Key: "GOARCH", Value: "arm64"},
			{Key: "vcs", Value: "git"},
			{Key: "vcs.revision", Value: "f98086d1c0de0000000000000000000000000000"},
			{Key: "vcs.time", Value: "2026-11-26T03:04:05Z"},
			{Key: "vcs.modified", Value: "true"},
		},
	}
	clean := &debug.BuildInfo{
		GoVersion: "go1.26.8",
		Main:      debug.Module{Path: "github.com/stackflow/stackflow", Version: "v1.2.3"},
		Settings:  []debug.BuildSetting{{Key: "vcs.revision", Value: "abc"}, {Key: "vcs.modified", Value: "false"}},
	}
	tests := []struct {
		name     string
		info     *debug.BuildInfo
		want     buildVersion
		wantText []string
	}{
		{
			name: "a build in a modified clone", info: stamped,
			want: buildVersion{Version: "v0.0.0-20261126030405-f98086d1c0de+dirty", Module: "github.com/stackflow/stackflow",
				Revision: "f98086d1c0de0000000000000000000000000000", Time: "2026-11-26T03:04:05Z", Modified: true, Go: "go1.26.8", Platform: "linux/arm64"},
			wantText: []string{
				"stackflow v0.0.0-20261126030405-f98086d1c0de+dirty\n",
				"  revision  f98086d1c0de0000000000000000000000000000, with uncommitted changes\n",
				"  committed 2026-11-26T03:04:05Z\n",
				"  go        go1.26.8 linux/arm64",
			},
		},
		{
			name: "a tagged build", info: clean,
			want:     buildVersion{Version: "v1.2.3", Module: "github.com/stackflow/stackflow", Revision: "abc", Go: "go1.26.8", Platform: runtime.GOOS + "/" + runtime.GOARCH},
			wantText: []string{"stackflow v1.2.3\n", "  revision  abc\n"},
		},
		{
			name: "no build information", info: nil,
			want:     buildVersion{Version: "(unknown)", Module: "github.com/stackflow/stackflow", Go: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH},
			wantText: []string{"stackflow (unknown)\n", "  revision  unknown (the build recorded none"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := versionOf(tt.info)
			if got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
			text := got.String()
			for _, w := range tt.wantText {
				if !strings.Contains(text, w) {
					t.Errorf("got\n%s\nwant it to contain %q", text, w)
				}
			}
			if strings.Contains(text, "committed") != (tt.want.Time != "") {
				t.Errorf("got\n%s\nwant a committed line only with a commit time", text)
			}
			var back buildVersion
			data, _ := json.Marshal(got)
			if err := json.Unmarshal(data, &back); err != nil || back != got {
				t.Errorf("JSON round trip: got %+v, %v; want %+v", back, err, got)
			}
		})
	}
}

// TestVersionFlagIsTheCommand: stackflow --version prints what stackflow
// version prints.
func TestVersionFlagIsTheCommand(t *testing.T) {
	t.Parallel()
	_, byCommand, _ := runCLI(t, "version")
	_, byFlag, _ := runCLI(t, "--version")
	if byCommand != byFlag || !strings.HasPrefix(byCommand, "stackflow ") {
		t.Errorf("got\n%s\nand\n%s\nwant the same version twice", byCommand, byFlag)
	}
}
