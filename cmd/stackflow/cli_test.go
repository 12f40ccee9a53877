package main

import (
	"io"
	"strings"
	"testing"
)

// TestExitCodes runs command lines that need neither AWS nor a local run:
// help and version exit 0 on stdout; a usage mistake exits 2 with a short
// hint on stderr, not the whole usage; an error exits 1.
func TestExitCodes(t *testing.T) {
	t.Parallel()
	tests := []cliCase{
		{name: "no command shows the help", args: nil, wantOut: []string{"Usage:\n  stackflow COMMAND [flags]", "On this machine:", "  local ", "  runs "}},
		{name: "--help", args: []string{"--help"}, wantOut: []string{"stackflow delivers serverless apps", "stackflow plan", "Run 'stackflow COMMAND --help'"}},
		{name: "help", args: []string{"help"}, wantOut: []string{"With the pipeline on AWS", "  releases "}},
		{name: "help of a command", args: []string{"help", "releases"}, wantOut: []string{"Usage:\n  stackflow releases WORKSPACE/SLUG ENVIRONMENT [flags]", "--limit N", "--bucket NAME", "AWS flags"}},
		{name: "--help of a command", args: []string{"releases", "--help"}, wantOut: []string{"stackflow releases acme/hello prod", "--json", "--table NAME"}},
		{name: "-h after arguments", args: []string{"plan", "some/dir", "-h"}, wantOut: []string{"stackflow plan [DIR] [flags]", "--work-tree"}},
		{name: "an unknown command", args: []string{"relases"}, wantCode: 2, wantErrOut: []string{`stackflow: unknown command "relases": did you mean releases?`, "Run 'stackflow --help' for more."}},
		{name: "an unknown command near two", args: []string{"history"}, wantCode: 2, wantErrOut: []string{`unknown command "history": did you mean runs or releases?`}},
		{name: "an unknown command near none", args: []string{"frobnicate"}, wantCode: 2, wantErrOut: []string{`stackflow: unknown command "frobnicate"` + "\n"}},
		{name: "help of an unknown command", args: []string{"help", "rollbak"}, wantCode: 2, wantErrOut: []string{`stackflow help: unknown help topic "rollbak": did you mean rollback?`}},
		{name: "an unknown flag", args: []string{"runs", "--all"}, wantCode: 2, wantErrOut: []string{"stackflow runs: unknown flag: --all", "Usage: stackflow runs [flags]"}},
		{name: "a flag with one dash", args: []string{"runs", "-json"}, wantCode: 2, wantErrOut: []string{"flags take two dashes: --json"}},
		{name: "a flag without its value", args: []string{"runs", "--limit"}, wantCode: 2, wantErrOut: []string{"flag needs an argument: --limit"}},
		{name: "a number that is not one", args: []string{"releases", "acme/hello", "prod", "--limit", "ten"}, wantCode: 2, wantErrOut: []string{`--limit "ten": want a whole number`}},
		{name: "a yes or no that is neither", args: []string{"local", "--json=maybe"}, wantCode: 2, wantErrOut: []string{`--json "maybe": want true or false`}},
		{name: "too many arguments", args: []string{"show", "a", "b"}, wantCode: 2, wantErrOut: []string{"stackflow show: give one run", "Usage: stackflow show EXECUTION|EXECUTION-ARN|COMMIT-SHA [flags]"}},
		{name: "an argument to version", args: []string{"version", "now"}, wantCode: 2, wantErrOut: []string{`stackflow version: unexpected "now"`}},
		{name: "an argument to a completion", args: []string{"completion", "bash", "now"}, wantCode: 2, wantErrOut: []string{"stackflow completion bash: unknown command"}},
		{name: "flags that do not go together", args: []string{"local", "--work-tree", "--pull-request"}, wantCode: 2, wantErrOut: []string{"--work-tree and --pull-request do not go together"}},
		{name: "an SSM parameter without a value", args: []string{"local", "--ssm", "/greeter/prod"}, wantCode: 2, wantErrOut: []string{`--ssm "/greeter/prod": want NAME=VALUE`}},
		{name: "an IAM mode that is none", args: []string{"local", "--iam", "strict"}, wantCode: 2, wantErrOut: []string{`--iam "strict": want enforce, warn or off`}},
		{name: "a folder that does not exist", args: []string{"plan", "no/such/folder"}, wantCode: 1, wantErrOut: []string{"stackflow plan: ", "no/such/folder does not exist"}},
		{name: "version", args: []string{"version"}, wantOut: []string{"stackflow ", "  module    github.com/stackflow/stackflow\n", "  go        go1."}},
		{name: "--version", args: []string{"--version"}, wantOut: []string{"  module    github.com/stackflow/stackflow\n"}},
		{name: "version --json", args: []string{"version", "--json"}, wantOut: []string{`"module": "github.com/stackflow/stackflow"`, `"modified": false`, `"go": "go1.`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			code, out, errOut := runCLI(t, tt.args...)
			checkRun(t, code, out, errOut, tt.wantCode, tt.wantOut, tt.wantErrOut)
			switch tt.wantCode {
			case 0:
				if errOut != "" {
					t.Errorf("stderr: got %q, want nothing", errOut)
				}
			case 2:
				// A short hint: the message, the usage line, where to read more.
				if n := strings.Count(errOut, "\n"); n > 3 || out != "" {
					t.Errorf("got %d lines on stderr and stdout %q, want at most 3 and nothing:\n%s", n, out, errOut)
				}
			}
		})
	}
}

// TestHelpOfEveryCommand: every command has help that exits 0, shows its
// usage line and its flags with two dashes, however it is asked for.
func TestHelpOfEveryCommand(t *testing.T) {
	t.Parallel()
	for _, c := range newRootCommand(nil, io.Discard, io.Discard).Commands() {
		if c.Hidden {
			continue
		}
		for _, args := range [][]string{{c.Name(), "--help"}, {"help", c.Name()}, {c.Name(), "-h"}} {
			t.Run(strings.Join(args, " "), func(t *testing.T) {
				t.Parallel()
				code, out, errOut := runCLI(t, args...)
				if code != 0 || errOut != "" {
					t.Errorf("got exit %d, stderr %q; want 0 and nothing", code, errOut)
				}
				for _, want := range []string{"Usage:\n  stackflow " + c.Name(), "  -h, --help "} {
					if !strings.Contains(out, want) {
						t.Errorf("got\n%s\nwant it to contain %q", out, want)
					}
				}
				if strings.Contains(out, " -json") || strings.Contains(out, "  -repo") {
					t.Errorf("got a flag with one dash:\n%s", out)
				}
			})
		}
	}
}

// TestCompletion: cobra's completion scripts for each shell, and the
// completions themselves as a shell asks for them (__complete).
func TestCompletion(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		args    []string
		want    []string
		notWant []string
	}{
		{name: "bash", args: []string{"completion", "bash"}, want: []string{"# bash completion V2 for stackflow", "__stackflow_"}},
		{name: "zsh", args: []string{"completion", "zsh"}, want: []string{"#compdef stackflow"}},
		{name: "fish", args: []string{"completion", "fish"}, want: []string{"# fish completion for stackflow"}},
		{name: "powershell", args: []string{"completion", "powershell"}, want: []string{"# powershell completion for stackflow"}},
		{name: "commands", args: []string{"__complete", "r"}, want: []string{"runs\t", "releases\t", "reject\t", "rollback\t"}, notWant: []string{"local\t"}},
		{name: "a flag's values", args: []string{"__complete", "logs", "hello-main-1a2b3c4", "--step", ""}, want: []string{"checks\n", "package\n", "deploy\n", "smoke\n"}},
		{name: "flags", args: []string{"__complete", "releases", "--st"}, want: []string{"--stack", "--state-machine"}},
		{name: "help topics", args: []string{"__complete", "help", "ro"}, want: []string{"rollback\t"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			code, out, errOut := runCLI(t, tt.args...)
			if code != 0 {
				t.Fatalf("got exit %d, stderr %q; want 0", code, errOut)
			}
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("got\n%s\nwant it to contain %q", out, w)
				}
			}
			for _, w := range tt.notWant {
				if strings.Contains(out, w) {
					t.Errorf("got\n%s\nwant it not to contain %q", out, w)
				}
			}
		})
	}
}

// TestSuggestions: a mistyped or familiar word names the command meant.
func TestSuggestions(t *testing.T) {
	t.Parallel()
	tests := []struct {
		typed string
		want  string
	}{
		{"relases", "releases"},
		{"run", "runs"},
		{"lgos", "logs"},
		{"shwo", "show"},
		{"aprove", "approve"},
		{"revert", "rollback"},
		{"validate", "plan"},
		{"deliver", "local"},
		{"verison", "version"},
	}
	for _, tt := range tests {
		t.Run(tt.typed, func(t *testing.T) {
			t.Parallel()
			code, _, errOut := runCLI(t, tt.typed)
			if code != 2 || !strings.Contains(errOut, "did you mean ") || !strings.Contains(errOut, tt.want) {
				t.Errorf("got exit %d, stderr %q; want 2 and a suggestion of %s", code, errOut, tt.want)
			}
		})
	}
}
