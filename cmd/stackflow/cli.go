package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/stackflow/stackflow/internal/pipeline"
)

// The process's exit codes.
const (
	exitOK     = 0 // the command did what was asked
	exitFailed = 1 // it ran and failed, or found something wrong
	exitUsage  = 2 // the command line was wrong: nothing ran
)

// usageError is a mistake in the command line (an unknown command or
// flag, a wrong number of arguments, a flag value out of its range):
// nothing ran. run exits 2 and adds a short hint.
type usageError struct{ err error }

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

// usagef makes a usageError.
func usagef(format string, a ...any) error {
	return &usageError{fmt.Errorf(format, a...)}
}

// errReported is returned by a command that has already told why it
// failed, on stderr or in its output: run exits 1 and adds nothing.
var errReported = errors.New("failed, as reported")

// Command groups of the root's help.
const (
	groupLocal = "local"
	groupAWS   = "aws"
)

func init() {
	// Commands are listed in the order they are added: the order a
	// newcomer meets them.
	cobra.EnableCommandSorting = false
}

// run runs the command line args and returns the process's exit code.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	root := newRootCommand(stdin, stdout, stderr)
	root.SetArgs(args)
	cmd, err := root.ExecuteContextC(ctx)
	return report(stderr, cmd, err)
}

// report tells err on stderr, once, as `stackflow COMMAND: message`, with
// a hint after a usage error, and returns the exit code for it.
func report(stderr io.Writer, cmd *cobra.Command, err error) int {
	var usage *usageError
	var invalid *pipeline.ConfigInvalid
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, errReported):
		return exitFailed
	case errors.As(err, &usage):
		fmt.Fprintf(stderr, "%s: %v\n", cmd.CommandPath(), err)
		fmt.Fprintf(stderr, "Usage: %s\n", cmd.UseLine())
		fmt.Fprintf(stderr, "Run '%s --help' for more.\n", cmd.CommandPath())
		return exitUsage
	case errors.As(err, &invalid) && invalid == err:
		// file:line: problem (fix), the way compilers point at a mistake.
		fmt.Fprintln(stderr, invalid)
		return exitFailed
	}
	fmt.Fprintf(stderr, "%s: %v\n", cmd.CommandPath(), err)
	return exitFailed
}

// newRootCommand builds the whole command line, reading stdin (nil: the
// process's) and writing stdout and stderr, ready to Execute.
func newRootCommand(stdin io.Reader, stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:   "stackflow COMMAND",
		Short: "stackflow delivers serverless apps from Bitbucket through their environments",
		Long: `stackflow delivers serverless apps from Bitbucket through their environments:
every push is tested, packaged once, and that same package is promoted
through each environment's own CloudFormation stack, smoke-tested at every
step. These commands rehearse it on this machine, and follow and steer the
pipeline installed on AWS.`,
		Example: `  stackflow local                             # rehearse the whole pipeline with examples/hello, no AWS account
  stackflow local --repo ~/src/my-app         # rehearse your own app's HEAD
  stackflow plan ~/src/my-app --branch main   # what a push of main would do
  stackflow runs                              # the pipeline's recent runs on AWS
  stackflow show 1a2b3c4                      # one run's timeline`,
		Version:       versionOf(readBuildInfo()).String(),
		SilenceErrors: true,
		SilenceUsage:  true,
		// A runnable root sees the words that name no command, so that an
		// unknown command is a usage error with suggestions.
		Args: unknownCommand,
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
		// Completions offer the commands, not files, after "stackflow".
		ValidArgsFunction: cobra.NoFileCompletions,
	}
	if stdin != nil {
		root.SetIn(stdin)
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SuggestionsMinimumDistance = 2
	root.SetVersionTemplate("{{.Version}}\n")
	root.SetFlagErrorFunc(flagError)
	root.SetUsageFunc(usage)
	root.SetHelpCommand(newHelpCommand())
	root.AddGroup(
		&cobra.Group{ID: groupLocal, Title: "On this machine:"},
		&cobra.Group{ID: groupAWS, Title: "With the pipeline on AWS (or stackflow local --serve):"},
	)
	for _, c := range []*cobra.Command{newLocalCommand(), newPlanCommand()} {
		c.GroupID = groupLocal
		root.AddCommand(c)
	}
	for _, c := range []*cobra.Command{
		newRunsCommand(), newShowCommand(), newLogsCommand(), newReleasesCommand(),
		newAnswerCommand("approve"), newAnswerCommand("reject"), newRollbackCommand(), newPromoteCommand(), newRetryCommand(),
		newDashboardCommand(),
	} {
		c.GroupID = groupAWS
		root.AddCommand(c)
	}
	root.AddCommand(newVersionCommand())
	// cobra's completion command, added now rather than when it runs, so
	// that its argument errors are usage errors too (it takes its output
	// from the root now: set above).
	root.InitDefaultCompletionCmd()
	argsAreUsage(root)
	return root
}

// argsAreUsage makes every error of the positional argument checks of cmd
// and its subcommands a usage error.
func argsAreUsage(cmd *cobra.Command) {
	if check := cmd.Args; check != nil {
		cmd.Args = func(c *cobra.Command, args []string) error {
			if err := check(c, args); err != nil {
				var u *usageError
				if errors.As(err, &u) {
					return err
				}
				return &usageError{err}
			}
			return nil
		}
	}
	for _, sub := range cmd.Commands() {
		argsAreUsage(sub)
	}
}

// unknownCommand refuses words after stackflow that name no command,
// suggesting the nearest.
func unknownCommand(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	return usagef("unknown command %q%s", args[0], didYouMean(cmd, args[0]))
}

// didYouMean is ": did you mean X?" with the commands nearest to typed,
// or "".
func didYouMean(cmd *cobra.Command, typed string) string {
	s := cmd.SuggestionsFor(typed)
	if len(s) == 0 {
		return ""
	}
	return ": did you mean " + strings.Join(s, " or ") + "?"
}

// newHelpCommand is `stackflow help [COMMAND]`: cobra's, except that an
// unknown command is a usage error rather than the root's help.
func newHelpCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "help [COMMAND]",
		Short: "Help about any command",
		Long:  "Help shows what a command does, its arguments and its flags, as COMMAND --help does.",
		ValidArgsFunction: func(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
			var out []cobra.Completion
			if len(args) == 0 {
				for _, c := range cmd.Root().Commands() {
					if c.IsAvailableCommand() && strings.HasPrefix(c.Name(), toComplete) {
						out = append(out, cobra.CompletionWithDesc(c.Name(), c.Short))
					}
				}
			}
			return out, cobra.ShellCompDirectiveNoFileComp
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			target, rest, err := cmd.Root().Find(args)
			if err != nil {
				return err
			}
			if len(rest) > 0 {
				return usagef("unknown help topic %q%s", rest[0], didYouMean(target, rest[0]))
			}
			// As cobra's help command does: the flags that are added only
			// when a command runs are shown too.
			target.InitDefaultHelpFlag()
			target.InitDefaultVersionFlag()
			return target.Help()
		},
	}
}

// badValue matches pflag's error for a value that does not parse.
var badValue = regexp.MustCompile(`^invalid argument (".*") for "(.*)" flag: strconv\.Parse(Int|Bool)`)

// flagError makes pflag's errors (an unknown flag, a flag without its
// value, a value that does not parse) usage errors, with a hint for a
// long flag given one dash, as Go's flag package took them.
func flagError(cmd *cobra.Command, err error) error {
	msg := err.Error()
	if m := badValue.FindStringSubmatch(msg); m != nil {
		want := map[string]string{"Int": "a whole number", "Bool": "true or false"}[m[3]]
		return usagef("%s %s: want %s", m[2], m[1], want)
	}
	if name, ok := strings.CutPrefix(msg, "unknown shorthand flag: "); ok {
		// "'j' in -json"
		if _, word, ok := strings.Cut(name, " in -"); ok {
			word, _, _ = strings.Cut(word, "=")
			if cmd.Flags().Lookup(word) != nil {
				return usagef("%s: flags take two dashes: --%s", msg, word)
			}
		}
	}
	return &usageError{err}
}

// noArgs refuses positional arguments with what says why.
func noArgs(why func(arg string) string) cobra.PositionalArgs {
	return func(_ *cobra.Command, args []string) error {
		if len(args) > 0 {
			return usagef("%s", why(args[0]))
		}
		return nil
	}
}

// exactArgs wants n positional arguments, and says what otherwise.
func exactArgs(n int, what string) cobra.PositionalArgs {
	return func(_ *cobra.Command, args []string) error {
		if len(args) != n {
			return usagef("%s", what)
		}
		return nil
	}
}

// flagGroup is the annotation that puts a flag in a section of its own in
// a command's help; awsFlags uses it.
const flagGroup = "stackflow_group"

// usage writes a command's usage, as cobra's default does, with the flags
// that find AWS in a section of their own.
func usage(c *cobra.Command) error {
	w := c.OutOrStderr()
	fmt.Fprintf(w, "Usage:\n  %s\n", c.UseLine())
	if len(c.Aliases) > 0 {
		fmt.Fprintf(w, "\nAliases:\n  %s\n", c.NameAndAliases())
	}
	if c.HasExample() {
		fmt.Fprintf(w, "\nExamples:\n%s\n", c.Example)
	}
	if c.HasAvailableSubCommands() {
		printed := map[*cobra.Command]bool{}
		section := func(title string, in func(*cobra.Command) bool) {
			var lines []string
			for _, sub := range c.Commands() {
				if !printed[sub] && in(sub) && (sub.IsAvailableCommand() || sub.Name() == "help") {
					lines = append(lines, fmt.Sprintf("  %-*s %s", sub.NamePadding(), sub.Name(), sub.Short))
					printed[sub] = true
				}
			}
			if len(lines) > 0 {
				fmt.Fprintf(w, "\n%s\n%s\n", title, strings.Join(lines, "\n"))
			}
		}
		for _, g := range c.Groups() {
			section(g.Title, func(sub *cobra.Command) bool { return sub.GroupID == g.ID })
		}
		section("More commands:", func(*cobra.Command) bool { return true })
	}
	own, aws := pflag.NewFlagSet("own", pflag.ContinueOnError), pflag.NewFlagSet("aws", pflag.ContinueOnError)
	c.LocalFlags().VisitAll(func(f *pflag.Flag) {
		if _, ok := f.Annotations[flagGroup]; ok {
			aws.AddFlag(f)
		} else {
			own.AddFlag(f)
		}
	})
	if own.HasAvailableFlags() {
		fmt.Fprintf(w, "\nFlags:\n%s\n", strings.TrimRight(own.FlagUsages(), " \n"))
	}
	if aws.HasAvailableFlags() {
		fmt.Fprintf(w, "\nAWS flags (AWS_PROFILE, AWS_REGION and AWS_ENDPOINT_URL* work as for the AWS CLI):\n%s\n", strings.TrimRight(aws.FlagUsages(), " \n"))
	}
	if c.HasAvailableSubCommands() {
		fmt.Fprintf(w, "\nRun '%s COMMAND --help' for more about a command.\n", c.CommandPath())
	}
	return nil
}
