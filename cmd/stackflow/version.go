package main

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"

	"github.com/spf13/cobra"
)

// buildVersion is what `stackflow version` tells of the binary, from the
// build information the Go toolchain records in it.
type buildVersion struct {
	// Version is the main module's version: a tag, a pseudo-version
	// (v0.0.0-<time>-<revision>, "+dirty" when the tree was modified), or
	// "(devel)" when the toolchain knew none.
	Version string `json:"version"`
	// Module is the main module's path.
	Module string `json:"module"`
	// Revision is the VCS commit the binary was built from, Time its
	// commit time, and Modified whether the work tree had uncommitted
	// changes; empty and false when the build recorded no VCS information
	// (go run, go test, or -buildvcs=false).
	Revision string `json:"revision,omitempty"`
	Time     string `json:"time,omitempty"`
	Modified bool   `json:"modified"`
	// Go is the toolchain that built the binary; Platform is GOOS/GOARCH.
	Go       string `json:"go"`
	Platform string `json:"platform"`
}

// readBuildInfo is the binary's build information, nil when it has none.
func readBuildInfo() *debug.BuildInfo {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return nil
	}
	return info
}

// versionOf reads a buildVersion from info (nil: none recorded).
func versionOf(info *debug.BuildInfo) buildVersion {
	v := buildVersion{Version: "(unknown)", Module: "github.com/stackflow/stackflow", Go: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	if info == nil {
		return v
	}
	if info.Main.Path != "" {
		v.Module = info.Main.Path
	}
	if info.Main.Version != "" {
		v.Version = info.Main.Version
	}
	if info.GoVersion != "" {
		v.Go = info.GoVersion
	}
	goos, goarch := runtime.GOOS, runtime.GOARCH
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			v.Revision = s.Value
		case "vcs.time":
			v.Time = s.Value
		case "vcs.modified":
			v.Modified = s.Value == "true"
		case "GOOS":
			goos = s.Value
		case "GOARCH":
			goarch = s.Value
		}
	}
	v.Platform = goos + "/" + goarch
	return v
}

// String is the version as `stackflow version` prints it.
func (v buildVersion) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "stackflow %s\n", v.Version)
	fmt.Fprintf(&b, "  module    %s\n", v.Module)
	switch {
	case v.Revision == "":
		fmt.Fprintf(&b, "  revision  unknown (the build recorded none: go build records it in a git clone, unless -buildvcs=false)\n")
	case v.Modified:
		fmt.Fprintf(&b, "  revision  %s, with uncommitted changes\n", v.Revision)
	default:
		fmt.Fprintf(&b, "  revision  %s\n", v.Revision)
	}
	if v.Time != "" {
		fmt.Fprintf(&b, "  committed %s\n", v.Time)
	}
	fmt.Fprintf(&b, "  go        %s %s", v.Go, v.Platform)
	return b.String()
}

func newVersionCommand() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "version",
		Short: "The version of stackflow, the commit it was built from, and the Go that built it",
		Long: `The version of this stackflow binary: its module version, the commit it was
built from (and whether the work tree had uncommitted changes), that
commit's time, and the Go toolchain and platform that built it, as the Go
toolchain recorded them. stackflow --version prints the same.`,
		Args: noArgs(func(a string) string { return fmt.Sprintf("unexpected %q", a) }),
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the version as one JSON object")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		v := versionOf(readBuildInfo())
		if asJSON {
			return writeJSON(cmd.OutOrStdout(), v)
		}
		fmt.Fprintln(cmd.OutOrStdout(), v)
		return nil
	}
	return cmd
}
