// Package status is the service behind the status function: it reports a
// run's state on the commit in Bitbucket, linked to the execution in the
// Step Functions console, and shown on the pushed branch and its pull
// requests. A pull request's run reports under a key of its own, and once
// its preview stack is up, links to the preview. An app's run, in a
// repository of several apps, reports under <Key>-<app>; a tag's run
// names the tag and no branch.
package status

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/stackflow/stackflow/internal/bitbucket"
	"github.com/stackflow/stackflow/internal/pipeline"
	"github.com/stackflow/stackflow/internal/runlog"
)

// SecretSource reads the value of a secret by ARN.
type SecretSource interface {
	Get(ctx context.Context, arn string) (string, error)
}

// DefaultKey is the status key when none is configured.
const DefaultKey = "stackflow"

// Config configures the service.
type Config struct {
	// Key identifies stackflow's status among a commit's statuses; a
	// status with the same key overwrites the previous one. At most 40
	// characters; empty means DefaultKey.
	Key string
	// TokenARN is the Secrets Manager secret holding the Bitbucket token:
	// an access token, or email:token for an API token.
	TokenARN string
	// APIURL is Bitbucket's API; empty means bitbucket.DefaultAPIURL.
	APIURL string
	// ExecutionURL, when set, is the status link instead of the Step
	// Functions console, with {arn} and {name} replaced by the execution's
	// ARN and name (for local runs).
	ExecutionURL string
	// HTTPClient sends the Bitbucket requests; nil means
	// http.DefaultClient.
	HTTPClient *http.Client
	// Logger gets one line per status; nil means slog.Default().
	Logger *slog.Logger
	// TopicARN, when set, is the SNS topic that gets a short message when
	// a run ends (or when a status asks to notify); SNS publishes to it.
	TopicARN string
	SNS      Publisher
}

// Publisher publishes to an SNS topic; *sns.Client is one.
type Publisher interface {
	Publish(ctx context.Context, in *sns.PublishInput, optFns ...func(*sns.Options)) (*sns.PublishOutput, error)
}

var _ Publisher = (*sns.Client)(nil)

// Service posts build statuses.
type Service struct {
	cfg     Config
	secrets SecretSource
	log     *slog.Logger
}

// New returns a service that reads the Bitbucket token from secrets. It
// fails when the key is longer than Bitbucket accepts.
func New(cfg Config, secrets SecretSource) (*Service, error) {
	if cfg.Key == "" {
		cfg.Key = DefaultKey
	}
	if n := utf8.RuneCountInString(cfg.Key); n > bitbucket.MaxStatusKey {
		return nil, fmt.Errorf("status key %q is %d characters long, want at most %d", cfg.Key, n, bitbucket.MaxStatusKey)
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	return &Service{cfg: cfg, secrets: secrets, log: log}, nil
}

// Handle posts the status in describes on its run's commit and returns what
// it posted. Its error is one the state machine can match: a
// BitbucketUnavailable is worth retrying.
func (s *Service) Handle(ctx context.Context, in pipeline.StatusInput) (pipeline.StatusResult, error) {
	ctx = runlog.WithRun(ctx, in.Run, in.Execution)
	res, err := s.post(ctx, in)
	attrs := []slog.Attr{slog.String("state", in.State)}
	if err != nil {
		s.log.LogAttrs(ctx, slog.LevelError, "post build status", append(attrs, slog.String("error", err.Error()))...)
		return pipeline.StatusResult{}, pipeline.ForStateMachine(err)
	}
	s.log.LogAttrs(ctx, slog.LevelInfo, "post build status", append(attrs, slog.String("description", res.Description))...)
	if s.notifies(in) {
		// A notification is a courtesy: its failure is logged and does
		// not change the run, nor make the state machine post again.
		if err := s.notify(ctx, in, res); err != nil {
			s.log.LogAttrs(ctx, slog.LevelError, "notify", append(attrs, slog.String("error", err.Error()))...)
		} else {
			s.log.LogAttrs(ctx, slog.LevelInfo, "notify", append(attrs, slog.String("topic", s.cfg.TopicARN))...)
		}
	}
	return res, nil
}

// notifies reports whether in's status is one to notify the topic of.
func (s *Service) notifies(in pipeline.StatusInput) bool {
	if s.cfg.TopicARN == "" || s.cfg.SNS == nil {
		return false
	}
	return in.Notify || in.State != pipeline.StateInProgress
}

// maxSubject is the longest subject SNS accepts for email endpoints.
const maxSubject = 100

// notify publishes a short message about the run to the topic: a subject
// that says what and how it ended, the status's line and the link.
func (s *Service) notify(ctx context.Context, in pipeline.StatusInput, res pipeline.StatusResult) error {
	what := fmt.Sprintf("%s %s at %s", in.Run.Repository.FullName(), in.Run.Ref(), in.Run.Short())
	if a := in.Run.AppName(); a != "" {
		what = fmt.Sprintf("%s (%s) %s at %s", in.Run.Repository.FullName(), a, in.Run.Ref(), in.Run.Short())
	}
	subject := bitbucket.Truncate("stackflow "+res.State+": "+what, maxSubject)
	// SNS subjects are ASCII without line breaks.
	subject = strings.Map(func(r rune) rune {
		if r < 0x20 || r > 0x7e {
			return '?'
		}
		return r
	}, subject)
	msg := what + ": " + res.State + "\n" + res.Description + "\n"
	if a := in.Awaiting; a != nil {
		msg += "\nWhat the deploy to " + a.Environment + " will change:\n"
		for _, c := range a.Changes {
			msg += "  " + c + "\n"
		}
		msg += "\nstackflow approve " + pipeline.ExecutionNameOf(in.Execution) + "    or    stackflow reject " + pipeline.ExecutionNameOf(in.Execution) + " --reason TEXT\n"
	}
	if res.URL != "" {
		msg += res.URL + "\n"
	}
	_, err := s.cfg.SNS.Publish(ctx, &sns.PublishInput{
		TopicArn: aws.String(s.cfg.TopicARN),
		Subject:  aws.String(subject),
		Message:  aws.String(msg),
	})
	if err != nil {
		return fmt.Errorf("publish to %s: %w", s.cfg.TopicARN, err)
	}
	return nil
}

func (s *Service) post(ctx context.Context, in pipeline.StatusInput) (pipeline.StatusResult, error) {
	if in.Run.Repository.Workspace == "" || in.Run.Repository.Slug == "" || in.Run.Commit == "" {
		return pipeline.StatusResult{}, errors.New("status input: want run.repository and run.commit")
	}
	st := bitbucket.BuildStatus{
		Key:         s.key(in.Run),
		State:       in.State,
		Name:        s.cfg.Key + ": " + in.Run.Ref(),
		URL:         s.executionURL(in.Execution),
		Description: describe(in),
		// A tag's status shows on its commit, under no branch.
		RefName: in.Run.Branch,
	}
	if a := in.Run.AppName(); a != "" {
		st.Name = s.cfg.Key + " " + a + ": " + in.Run.Ref()
	}
	if pr := in.Run.PullRequest; pr != nil {
		st.Name = fmt.Sprintf("%s: pull request #%d (%s)", s.cfg.Key, pr.ID, in.Run.Branch)
		// A preview that is up links to itself: that is what a reviewer
		// opens from the pull request.
		if stack, u := previewURL(in); u != "" {
			st.URL = u
			st.Description = fmt.Sprintf("Preview %s is up: %s", stack, u)
		}
	}
	if err := st.Validate(); err != nil {
		return pipeline.StatusResult{}, fmt.Errorf("status of %s: %w", in.Run.Short(), err)
	}

	secret, err := s.secrets.Get(ctx, s.cfg.TokenARN)
	if err != nil {
		return pipeline.StatusResult{}, fmt.Errorf("read Bitbucket token: %w", err)
	}
	creds, err := bitbucket.ParseCredentials(secret)
	if err != nil {
		return pipeline.StatusResult{}, fmt.Errorf("bitbucket token in %s: %w", s.cfg.TokenARN, err)
	}
	st.Description = redact(st.Description, secret)
	st = st.Fit()

	client := bitbucket.NewClient(s.cfg.APIURL, "", creds, s.cfg.HTTPClient)
	if err := client.PostStatus(ctx, in.Run.Repository, in.Run.Commit, st); err != nil {
		return pipeline.StatusResult{}, err
	}
	return pipeline.StatusResult{Key: st.Key, State: st.State, Description: st.Description, URL: st.URL}, nil
}

// key is the status key of run. A pull request's run has a key of its
// own, "<key>-pr-<id>", so that its status and the status of a push of the
// same commit to the branch do not overwrite each other.
func (s *Service) key(run pipeline.Run) string {
	suffix := ""
	if run.App != nil {
		suffix = "-" + run.App.Name
	}
	if run.PullRequest != nil {
		suffix += fmt.Sprintf("-pr-%d", run.PullRequest.ID)
	}
	if suffix == "" {
		return s.cfg.Key
	}
	key := []rune(s.cfg.Key)
	if room := bitbucket.MaxStatusKey - utf8.RuneCountInString(suffix); len(key) > room {
		key = key[:max(room, 0)]
	}
	return string(key) + suffix
}

// previewURL returns the stack and the URL of an open pull request's
// preview once the run delivered it: the first of the stack's outputs, by
// name, whose name ends in "Url" or "URL" and whose value is an http(s)
// URL. It returns "" for any other status.
func previewURL(in pipeline.StatusInput) (stack, u string) {
	pr := in.Run.PullRequest
	if pr == nil || pr.Closed || in.State != pipeline.StateSuccessful {
		return "", ""
	}
	for _, e := range in.Environments {
		if e.Name != pipeline.PreviewEnvironmentName(pr.ID) {
			continue
		}
		for _, name := range slices.Sorted(maps.Keys(e.Outputs)) {
			v := e.Outputs[name]
			if !strings.HasSuffix(name, "Url") && !strings.HasSuffix(name, "URL") {
				continue
			}
			if p, err := url.Parse(v); err == nil && (p.Scheme == "https" || p.Scheme == "http") && p.Host != "" {
				return e.Stack, v
			}
		}
	}
	return "", ""
}

// executionURL links to the execution arn: its page in the Step Functions
// console, or the configured template. It is empty when arn is not an
// execution ARN.
func (s *Service) executionURL(arn string) string {
	// arn:partition:states:region:account:execution:machine:name
	parts := strings.Split(arn, ":")
	if len(parts) < 8 || parts[0] != "arn" || parts[2] != "states" || parts[3] == "" || parts[5] != "execution" {
		return ""
	}
	if s.cfg.ExecutionURL != "" {
		return strings.NewReplacer(
			"{arn}", url.PathEscape(arn),
			"{name}", url.PathEscape(parts[len(parts)-1]),
		).Replace(s.cfg.ExecutionURL)
	}
	region := parts[3]
	console := "console.aws.amazon.com"
	switch parts[1] {
	case "aws-cn":
		console = "console.amazonaws.cn"
	case "aws-us-gov":
		console = "console.amazonaws-us-gov.com"
	}
	return fmt.Sprintf("https://%s.%s/states/home?region=%s#/v2/executions/details/%s", region, console, region, arn)
}

// describe is the status's one line: the input's description, else the
// caught error, else a line for the state.
func describe(in pipeline.StatusInput) string {
	if d := firstLine(in.Description); d != "" {
		return d
	}
	if a := in.Awaiting; a != nil {
		return fmt.Sprintf("%s awaits approval: %s (stackflow approve %s)", a.Environment,
			pipeline.ChangeSummary(a.Changes), pipeline.ExecutionNameOf(in.Execution))
	}
	if in.Error != nil {
		if d := describeError(*in.Error); d != "" {
			return d
		}
	}
	sha := in.Run.Short()
	switch in.State {
	case pipeline.StateInProgress:
		return "Delivering " + sha
	case pipeline.StateSuccessful:
		return "Delivered " + sha
	case pipeline.StateFailed:
		return "Delivery of " + sha + " failed"
	case pipeline.StateStopped:
		return "Delivery of " + sha + " was stopped"
	}
	return ""
}

// describeError says "<Error>: <first line of the message>". Step Functions
// puts a Lambda function's error in Cause as JSON with errorMessage and
// errorType; its own errors (States.Timeout) have a plain-text Cause.
func describeError(e pipeline.StateError) string {
	name, msg := e.Error, e.Cause
	var lambdaErr struct {
		ErrorMessage string `json:"errorMessage"`
		ErrorType    string `json:"errorType"`
	}
	if json.Unmarshal([]byte(e.Cause), &lambdaErr) == nil && (lambdaErr.ErrorMessage != "" || lambdaErr.ErrorType != "") {
		msg = lambdaErr.ErrorMessage
		if name == "" {
			name = lambdaErr.ErrorType
		}
	}
	line := strings.TrimRight(firstLine(msg), ": ")
	switch {
	case name == "":
		return line
	case line == "":
		return name
	}
	return name + ": " + line
}

// firstLine is the first line of s that is not blank, trimmed.
func firstLine(s string) string {
	for line := range strings.Lines(s) {
		if line = strings.TrimSpace(line); line != "" {
			return line
		}
	}
	return ""
}

// minRedacted is the shortest part of a secret that is redacted; shorter
// parts would blot out ordinary words.
const minRedacted = 8

// redact removes the secret, and each part of an email:token secret, from
// s. Nothing should ever put a token into a description; this makes sure.
func redact(s, secret string) string {
	secret = strings.TrimSpace(secret)
	for _, p := range append([]string{secret}, strings.Split(secret, ":")...) {
		if len(p) >= minRedacted {
			s = strings.ReplaceAll(s, p, "[redacted]")
		}
	}
	return s
}
