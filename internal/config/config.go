package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/stackflow/stackflow/internal/pipeline"
)

// File is the name of the pipeline configuration at the repository root.
const File = "stackflow.yml"

// Defaults of stackflow.yml.
const (
	// DefaultTemplate is the SAM template used when neither stackflow.yml
	// nor samconfig.toml names one.
	DefaultTemplate = "template.yaml"
	// DefaultSmokeTimeout is how long smoke checks retry by default.
	DefaultSmokeTimeout = 60 * time.Second
	// MaxSmokeTimeout is the longest smoke_timeout allowed.
	MaxSmokeTimeout = 10 * time.Minute
	// DefaultApprovalTimeout is how long a deploy waits for its approval
	// by default: 7 days.
	DefaultApprovalTimeout = 7 * 24 * time.Hour
	// MaxApprovalTimeout is the longest approval_timeout allowed: a year,
	// as a Standard workflow's execution may last at most a year.
	MaxApprovalTimeout = 365 * 24 * time.Hour
)

// DefaultChecks are the checks run when stackflow.yml has no checks key.
var DefaultChecks = []string{"go vet ./...", "go test ./..."}

// DefaultCapabilities are the stack capabilities used when neither
// stackflow.yml nor samconfig.toml names any: what a SAM template with IAM
// roles needs.
var DefaultCapabilities = []string{"CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"}

// Config is a parsed stackflow.yml.
type Config struct {
	// Version is "version": the format's version. Optional; when present
	// it must be 1.
	Version int
	// Template is "template": the path of the app's SAM template from the
	// repository root. Default: samconfig.toml's template_file for the
	// environments being deployed, else template.yaml.
	Template string
	// Checks is "checks": shell commands run in order at the repository
	// root before anything is deployed; each must pass. Nil when the key is
	// absent, which means DefaultChecks ("go vet ./..." and "go test ./...");
	// an empty list runs no checks.
	Checks []string
	// Environments is "environments": the stages a commit is promoted
	// through, in order, each deployed as its own stack. A file without
	// environments runs the checks only.
	Environments []Environment
	// Previews is "previews": stacks deployed for pull requests.
	Previews Previews
	// Apps is "apps": the apps of a repository that holds several, each
	// in a folder with its own stackflow.yml, samconfig.toml and
	// template, delivered by runs of its own (see App). A file with apps
	// holds nothing else but version.
	Apps []App
}

// Previews is "previews".
type Previews struct {
	// PullRequests is "pull_requests": when true, every open pull request
	// gets its own stack, "<repository slug>-pr-<id>", deployed with each
	// update of the pull request and deleted when it is merged or declined.
	PullRequests bool
	// Environment is "environment": the environment whose settings
	// (parameters, capabilities, region, roles, smoke checks) preview
	// stacks take. Default: the first environment.
	Environment string

	line int
}

// Environment is one entry of "environments".
type Environment struct {
	// Name is "name", required: unique, at most 32 characters of a-z, 0-9
	// and "-".
	Name string
	// Branches is "branches": the branches deployed to this environment,
	// as path.Match glob patterns ("main", "release/*"; "*" does not match
	// "/"). An environment needs branches, tags or both.
	Branches []string
	// GitTags is "tags" written as a list: the git tags whose pushes
	// deploy the tagged commit to this environment, as path.Match glob
	// patterns ("v*", "release-[0-9]*"). Deleting a tag deploys nothing.
	GitTags []string
	// Paths is "paths": globs of files from the repository root (see
	// MatchPath); a push of a branch deploys here only when it changed a
	// file one of them matches. Default: every file.
	Paths []string
	// PathsIgnore is "paths_ignore": globs of files whose changes alone
	// do not deploy here (docs/**, **/*.md).
	PathsIgnore []string
	// Stack is "stack": the CloudFormation stack's name. Default:
	// samconfig.toml's stack_name for this environment, else
	// "<repository slug>-<name>".
	Stack string
	// Region is "region": the stack's region. Default: samconfig.toml's
	// region for this environment, else the pipeline's own region.
	Region string
	// Parameters is "parameters": the stack's parameter values. Numbers
	// and booleans are taken as written. They are merged over
	// samconfig.toml's parameter_overrides for this environment.
	Parameters map[string]string
	// Capabilities is "capabilities": CAPABILITY_IAM,
	// CAPABILITY_NAMED_IAM, CAPABILITY_AUTO_EXPAND. Default: samconfig.toml's
	// capabilities, else CAPABILITY_IAM and CAPABILITY_AUTO_EXPAND.
	Capabilities []string
	// Tags is "stack_tags" (or "tags" written as a mapping, as before
	// stack_tags had its name): tags put on the stack.
	Tags map[string]string
	// SmokeTimeout is "smoke_timeout": how long the smoke checks may keep
	// retrying after a deploy, as a Go duration ("90s", "2m"). Default 60s;
	// at most 10m.
	SmokeTimeout time.Duration
	// Smoke is "smoke": HTTP checks run against the stack after each deploy.
	Smoke []SmokeCheck
	// Approval is "approval": "required" makes each deploy that changes
	// the stack wait, after its change set is made, until a person runs
	// stackflow approve (or reject); "none", the default, does not wait.
	Approval bool
	// Approvers is "approvers": who may approve or reject this
	// environment's deploys, as IAM principal ARNs or patterns of them
	// ("arn:aws:iam::123456789012:role/release", which also covers that
	// role's sessions, "arn:aws:sts::123456789012:assumed-role/release/*",
	// "arn:aws:iam::123456789012:user/ada"); "*" and "?" match as in IAM.
	// Needs approval: required. Default: whoever may call stackflow approve.
	Approvers []string
	// ApprovalTimeout is "approval_timeout": how long a deploy waits for
	// its approval before the run stops, as a Go duration ("48h"), from
	// 1m to 365 days. Default 7 days (168h).
	ApprovalTimeout time.Duration
	// RoleARN is "role_arn": an IAM role the deploy and smoke steps assume
	// for this environment, such as a role in the environment's own AWS
	// account. Default: the pipeline's own role.
	RoleARN string
	// CloudFormationRoleARN is "cloudformation_role_arn": the service
	// role CloudFormation deploys this stack with. Default: the pipeline's
	// own CloudFormation role.
	CloudFormationRoleARN string
	// Protected is "protected": true turns on the stack's termination
	// protection, so that nobody deletes it by mistake.
	Protected bool
	// ManualPromotion is "promotion: manual": pushes stop before this
	// environment, which only stackflow promote deploys to. "auto", the
	// default, deploys every push of its branches.
	ManualPromotion bool
	// Freeze is "freeze": windows in which no run deploys to this
	// environment (see freeze.go).
	Freeze []pipeline.FreezeWindow
	// FreezeAction is "freeze_action": what a run that reaches the
	// environment in a freeze window does: "wait" (the default) until it
	// ends, or "stop".
	FreezeAction string

	line int // where the environment is defined, for errors found later
}

// SmokeCheck is one entry of an environment's "smoke": an HTTP check
// (url) or an invoke check (function). Each has exactly one of the two.
type SmokeCheck struct {
	// Name is "name", required: unique within the environment.
	Name string
	// URL is "url", required for an HTTP check. ${Output} stands for the
	// value of the stack output named Output, so "${ApiUrl}hello" calls
	// the deployed API. It must start with a ${Output} or be an http(s)
	// URL.
	URL string
	// Function is "function", required for an invoke check: the function
	// of the environment's stack to invoke, as ${Output} (an output whose
	// value is the function's name or ARN) or as the function's logical
	// ID in the template ("WorkerFunction").
	Function string
	// Payload is "payload": the event an invoke check sends, written as
	// YAML and sent as its JSON. Default {}.
	Payload string
	// Timeout is "timeout": how long one try of the check may take, as a
	// Go duration, 1s to 10m. Default 10s for a request, 30s for an
	// invocation.
	Timeout time.Duration
	// Method is "method": the HTTP method. Default GET.
	Method string
	// Status is "status": the wanted HTTP status code, 100-599. Default 200.
	Status int
	// Contains is "contains": text the response body must contain.
	Contains string
	// Headers is "headers": request headers.
	Headers map[string]string

	line int // where its url is, for errors found later
}

var (
	topKeys     = []string{"version", "template", "checks", "environments", "previews", "apps"}
	envKeys     = []string{"name", "branches", "tags", "paths", "paths_ignore", "stack", "region", "parameters", "capabilities", "stack_tags", "smoke_timeout", "smoke", "approval", "approval_timeout", "approvers", "role_arn", "cloudformation_role_arn", "protected", "promotion", "freeze", "freeze_action"}
	previewKeys = []string{"pull_requests", "environment"}
	roleARN     = regexp.MustCompile(`^arn:aws[a-z-]*:iam::[0-9]{12}:role/[A-Za-z0-9+=,.@_/-]{1,512}$`)
	// principal is an IAM principal ARN, or a pattern of one, that may
	// answer an approval: an account's root, a user, a role (and its
	// sessions), an assumed role's session, a federated user.
	principal = regexp.MustCompile(`^arn:(aws[a-z-]*|\*):(iam|sts)::([0-9]{12}|[0-9*?]+):(root|(user|role|assumed-role|federated-user)/[A-Za-z0-9+=,.@_/*?-]{1,512})$`)
	smokeKeys = []string{"name", "url", "function", "payload", "method", "status", "contains", "headers", "timeout"}
	// httpOnly are the keys of an HTTP check that an invoke check has no
	// use for.
	httpOnly = []string{"method", "status", "headers"}

	envName     = regexp.MustCompile(`^[a-z0-9-]{1,32}$`)
	stackName   = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9-]{0,127}$`)
	regionName  = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]+$`)
	paramName   = regexp.MustCompile(`^[A-Za-z0-9]{1,255}$`)
	placeholder = regexp.MustCompile(`\$\{([^}]*)\}`)
	outputName  = regexp.MustCompile(`^[A-Za-z0-9]+$`)
	// logicalID is a template resource's logical ID.
	logicalID = regexp.MustCompile(`^[A-Za-z0-9]{1,255}$`)

	capabilities = []string{"CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"}
	methods      = []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}
)

// Parse reads stackflow.yml. An empty file, or one without environments,
// is valid: the run then only runs the checks. Every error is a
// *pipeline.ConfigInvalid.
func Parse(data []byte) (*Config, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return &Config{}, nil
		}
		return nil, syntaxError(data, err)
	}
	var extra yaml.Node
	switch err := dec.Decode(&extra); {
	case err == nil:
		return nil, errAt(&extra, "holds more than one YAML document",
			`remove the "---" line and everything after it that is not the configuration`)
	case !errors.Is(err, io.EOF):
		return nil, syntaxError(data, err)
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 || isNull(doc.Content[0]) {
		return &Config{}, nil
	}
	return decodeConfig(doc.Content[0])
}

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// syntaxError turns a YAML parser error into a ConfigInvalid with its line.
func syntaxError(data []byte, err error) error {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	line := 0
	if m := yamlLine.FindStringSubmatch(err.Error()); m != nil {
		line, _ = strconv.Atoi(m[1])
		msg = m[2]
	}
	fix := "check the indentation and the quoting on this line and the one above it"
	// The parser reports a tab in the indentation on the line before it,
	// at times: point at the first line indented with a tab from there.
	lines := strings.Split(string(data), "\n")
	for i := max(line-1, 0); i < min(line+1, len(lines)); i++ {
		indent := lines[i][:len(lines[i])-len(strings.TrimLeft(lines[i], " \t"))]
		if strings.Contains(indent, "\t") {
			line, fix = i+1, "indent with spaces: YAML does not allow tabs"
			break
		}
	}
	return &pipeline.ConfigInvalid{File: File, Line: line, Problem: "not valid YAML: " + msg, Fix: fix}
}

func decodeConfig(root *yaml.Node) (*Config, error) {
	fields, err := object(root, "", topKeys)
	if err != nil {
		return nil, err
	}
	c := &Config{}
	if n, ok := fields["version"]; ok {
		v, err := integer(n, "version", "a version number", "1")
		if err != nil {
			return nil, err
		}
		if v != 1 {
			return nil, errAt(n, fmt.Sprintf("version: %d is not a version this pipeline reads", v),
				"write version: 1, or leave the key out")
		}
		c.Version = v
	}
	if n, ok := fields["template"]; ok {
		if c.Template, err = templatePath(n, "template"); err != nil {
			return nil, err
		}
	}
	if n, ok := fields["checks"]; ok {
		if c.Checks, err = stringList(n, "checks", `["go vet ./...", "go test ./..."]`); err != nil {
			return nil, err
		}
	}
	if n, ok := fields["environments"]; ok && !isNull(resolve(n)) {
		items, err := list(n, "environments", "- name: staging")
		if err != nil {
			return nil, err
		}
		names := map[string]int{}
		for i, item := range items {
			p := index("environments", i)
			env, err := decodeEnvironment(item, p)
			if err != nil {
				return nil, err
			}
			if first, ok := names[env.Name]; ok {
				return nil, errAt(valueOf(item, "name"), fmt.Sprintf("%s.name: %q is already the name of environments[%d]", p, env.Name, first),
					"give each environment its own name")
			}
			names[env.Name] = i
			if i == 0 && env.ManualPromotion {
				return nil, errAt(valueOf(item, "promotion"), p+".promotion: the first environment has none before it to be promoted from",
					"remove promotion: manual here, or list the environment it is promoted from before it")
			}
			c.Environments = append(c.Environments, env)
		}
	}
	if n, ok := fields["previews"]; ok && !isNull(resolve(n)) {
		if c.Previews, err = decodePreviews(n, c.Environments); err != nil {
			return nil, err
		}
	}
	if n, ok := fields["apps"]; ok && !isNull(resolve(n)) {
		if c.Apps, err = decodeApps(n); err != nil {
			return nil, err
		}
		for _, k := range []string{"template", "checks", "environments", "previews"} {
			if _, ok := fields[k]; ok {
				return nil, errAt(keyOf(root, k), fmt.Sprintf("%s: a file with apps lists them and holds nothing else", k),
					fmt.Sprintf("move %s into each app's own %s (in its folder), or remove apps", k, File))
			}
		}
	}
	return c, nil
}

// keyOf is the key node k of the mapping n, for errors about the key
// itself; n when it has none.
func keyOf(n *yaml.Node, k string) *yaml.Node {
	n = resolve(n)
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == k {
			return n.Content[i]
		}
	}
	return n
}

func decodePreviews(n *yaml.Node, envs []Environment) (Previews, error) {
	fields, err := object(n, "previews", previewKeys)
	if err != nil {
		return Previews{}, err
	}
	pv := Previews{line: resolve(n).Line}
	if v, ok := fields["pull_requests"]; ok {
		if pv.PullRequests, err = boolean(v, "previews.pull_requests"); err != nil {
			return pv, err
		}
	}
	if v, ok := fields["environment"]; ok {
		if pv.Environment, err = nonEmpty(v, "previews.environment"); err != nil {
			return pv, err
		}
		known := make([]string, len(envs))
		for i, e := range envs {
			known[i] = e.Name
		}
		if !slices.Contains(known, pv.Environment) {
			return pv, errAt(resolve(v), fmt.Sprintf("previews.environment: %q is not one of the environments", pv.Environment),
				"name an environment of this file ("+strings.Join(known, ", ")+"), or leave the key out to use the first")
		}
	}
	if pv.PullRequests && len(envs) == 0 {
		return pv, errAt(resolve(n), "previews.pull_requests: preview stacks need an environment to take their settings from",
			"add an environment, or remove previews")
	}
	return pv, nil
}

// valueOf is the value of key k in the mapping item, or item itself when it
// has none, for errors found after decoding.
func valueOf(item *yaml.Node, k string) *yaml.Node {
	item = resolve(item)
	for i := 0; i+1 < len(item.Content); i += 2 {
		if item.Content[i].Value == k {
			return resolve(item.Content[i+1])
		}
	}
	return item
}

func templatePath(n *yaml.Node, p string) (string, error) {
	s, err := nonEmpty(n, p)
	if err != nil {
		return "", err
	}
	clean, ok := repoPath(s)
	if !ok {
		return "", errAt(resolve(n), fmt.Sprintf("%s: %q is not a path inside the repository", p, s),
			"write the path from the repository root, such as template.yaml")
	}
	return clean, nil
}

// repoPath cleans a slash-separated path that must stay inside the
// repository.
func repoPath(s string) (string, bool) {
	clean := path.Clean(strings.TrimSpace(s))
	if path.IsAbs(clean) || clean == "." || clean == ".." || strings.HasPrefix(clean, "../") || strings.Contains(clean, `\`) {
		return "", false
	}
	return clean, true
}

func required(fields map[string]*yaml.Node, mapping *yaml.Node, p, k, fix string) (*yaml.Node, error) {
	n, ok := fields[k]
	if !ok {
		return nil, errAt(resolve(mapping), fmt.Sprintf("%s: missing %q", p, k), fix)
	}
	return n, nil
}

func decodeEnvironment(item *yaml.Node, p string) (Environment, error) {
	fields, err := object(item, p, envKeys)
	if err != nil {
		return Environment{}, err
	}
	env := Environment{SmokeTimeout: DefaultSmokeTimeout, ApprovalTimeout: DefaultApprovalTimeout, line: resolve(item).Line}

	n, err := required(fields, item, p, "name", "name the environment, such as name: staging")
	if err != nil {
		return env, err
	}
	if env.Name, err = text(n, p+".name"); err != nil {
		return env, err
	}
	if !envName.MatchString(env.Name) {
		return env, errAt(resolve(n), fmt.Sprintf("%s.name: %q is not a valid environment name", p, env.Name),
			"use at most 32 lowercase letters, digits and dashes, such as staging")
	}

	if n, ok := fields["branches"]; ok {
		if env.Branches, err = refPatterns(n, p+".branches", "branch", "[main]"); err != nil {
			return env, err
		}
	}
	if n, ok := fields["tags"]; ok {
		switch resolve(n).Kind {
		case yaml.MappingNode: // stack tags, as they were written before stack_tags
			if _, both := fields["stack_tags"]; both {
				return env, errAt(resolve(n), p+".tags: a mapping of stack tags beside stack_tags",
					"move these stack tags into stack_tags; tags: is a list of git tag patterns, such as [\"v*\"]")
			}
			if env.Tags, err = stringMap(n, p+".tags", nil); err != nil {
				return env, err
			}
		default:
			if env.GitTags, err = refPatterns(n, p+".tags", "tag", `["v*"]`); err != nil {
				return env, err
			}
		}
	}
	if len(env.Branches) == 0 && len(env.GitTags) == 0 {
		return env, errAt(resolve(item), p+`: missing "branches" or "tags"`,
			"list the branches deployed to "+env.Name+", such as branches: [main], or the git tags, such as tags: [\"v*\"]")
	}
	if env.Paths, env.PathsIgnore, err = pathFilters(fields, p); err != nil {
		return env, err
	}

	if n, ok := fields["stack"]; ok {
		if env.Stack, err = text(n, p+".stack"); err != nil {
			return env, err
		}
		if !stackName.MatchString(env.Stack) {
			return env, errAt(resolve(n), fmt.Sprintf("%s.stack: %q is not a valid CloudFormation stack name", p, env.Stack),
				"start with a letter and use only letters, digits and dashes, at most 128 characters")
		}
	}
	if n, ok := fields["region"]; ok {
		if env.Region, err = text(n, p+".region"); err != nil {
			return env, err
		}
		if !regionName.MatchString(env.Region) {
			return env, errAt(resolve(n), fmt.Sprintf("%s.region: %q is not an AWS region", p, env.Region),
				"write a region code such as eu-west-1, or leave the key out to use the pipeline's region")
		}
	}
	if n, ok := fields["parameters"]; ok {
		if env.Parameters, err = stringMap(n, p+".parameters", validParameterName); err != nil {
			return env, err
		}
	}
	if n, ok := fields["capabilities"]; ok {
		if env.Capabilities, err = decodeCapabilities(n, p+".capabilities"); err != nil {
			return env, err
		}
	}
	if n, ok := fields["stack_tags"]; ok {
		if env.Tags, err = stringMap(n, p+".stack_tags", nil); err != nil {
			return env, err
		}
	}
	if n, ok := fields["smoke_timeout"]; ok {
		if env.SmokeTimeout, err = decodeTimeout(n, p+".smoke_timeout"); err != nil {
			return env, err
		}
	}
	if n, ok := fields["approval"]; ok {
		v, err := text(n, p+".approval")
		if err != nil {
			return env, err
		}
		switch v {
		case "required":
			env.Approval = true
		case "none":
		default:
			return env, errAt(resolve(n), fmt.Sprintf("%s.approval: %q is not an approval setting", p, v),
				`write approval: required to have each deploy approved, or approval: none`)
		}
	}
	if n, ok := fields["approval_timeout"]; ok {
		if env.ApprovalTimeout, err = duration(n, p+".approval_timeout", time.Second, MaxApprovalTimeout, "168h"); err != nil {
			return env, err
		}
	}
	if n, ok := fields["approvers"]; ok {
		if env.Approvers, err = stringList(n, p+".approvers", "[arn:aws:iam::123456789012:role/release-managers]"); err != nil {
			return env, err
		}
		for i, a := range env.Approvers {
			if !principal.MatchString(a) {
				return env, errAt(resolve(resolve(n).Content[i]), fmt.Sprintf("%s: %q is not an IAM principal ARN", index(p+".approvers", i), a),
					"write a user's, a role's or an assumed role's ARN, or a pattern of one, such as arn:aws:iam::123456789012:role/release-managers")
			}
		}
		if len(env.Approvers) > 0 && !env.Approval {
			return env, errAt(resolve(n), p+".approvers: approvers answer approvals, but this environment asks for none",
				"add approval: required, or remove approvers")
		}
	}
	for _, k := range []string{"role_arn", "cloudformation_role_arn"} {
		n, ok := fields[k]
		if !ok {
			continue
		}
		v, err := text(n, p+"."+k)
		if err != nil {
			return env, err
		}
		if !roleARN.MatchString(v) {
			return env, errAt(resolve(n), fmt.Sprintf("%s.%s: %q is not an IAM role ARN", p, k, v),
				"write the role's ARN, such as arn:aws:iam::123456789012:role/deploy")
		}
		if k == "role_arn" {
			env.RoleARN = v
		} else {
			env.CloudFormationRoleARN = v
		}
	}
	if n, ok := fields["protected"]; ok {
		if env.Protected, err = boolean(n, p+".protected"); err != nil {
			return env, err
		}
	}
	if err := decodePromotion(fields, p, &env); err != nil {
		return env, err
	}
	if n, ok := fields["smoke"]; ok && !isNull(resolve(n)) {
		items, err := list(n, p+".smoke", "- name: greets")
		if err != nil {
			return env, err
		}
		names := map[string]int{}
		for i, item := range items {
			sp := index(p+".smoke", i)
			sc, err := decodeSmoke(item, sp)
			if err != nil {
				return env, err
			}
			if first, ok := names[sc.Name]; ok {
				return env, errAt(valueOf(item, "name"), fmt.Sprintf("%s.name: %q is already the name of %s", sp, sc.Name, index(p+".smoke", first)),
					"give each smoke check of an environment its own name")
			}
			names[sc.Name] = i
			env.Smoke = append(env.Smoke, sc)
		}
	}
	return env, nil
}

// refPatterns reads a non-empty list of branch or tag patterns.
func refPatterns(n *yaml.Node, p, what, example string) ([]string, error) {
	pats, err := stringList(n, p, example)
	if err != nil {
		return nil, err
	}
	if len(pats) == 0 {
		return nil, errAt(resolve(n), p+": is empty",
			fmt.Sprintf("list at least one %s, such as %s, or remove the key", what, example))
	}
	for i, b := range pats {
		if _, err := path.Match(b, ""); err != nil {
			return nil, errAt(resolve(resolve(n).Content[i]), fmt.Sprintf("%s: %q is not a valid %s pattern", index(p, i), b, what),
				`use path.Match syntax: * matches within one path segment, [a-z] a range; escape "[" as "\\["`)
		}
	}
	return pats, nil
}

// pathFilters reads the path filters of an app or an environment at p:
// paths and paths_ignore, each left out or a non-empty list of globs.
func pathFilters(fields map[string]*yaml.Node, p string) (paths, ignore []string, err error) {
	if n, ok := fields["paths"]; ok {
		if paths, err = pathGlobs(n, p+".paths"); err != nil {
			return nil, nil, err
		}
	}
	if n, ok := fields["paths_ignore"]; ok {
		if ignore, err = pathGlobs(n, p+".paths_ignore"); err != nil {
			return nil, nil, err
		}
	}
	return paths, ignore, nil
}

// pathGlobs reads a non-empty list of file globs (paths, paths_ignore).
func pathGlobs(n *yaml.Node, p string) ([]string, error) {
	globs, err := stringList(n, p, `["services/api/**"]`)
	if err != nil {
		return nil, err
	}
	if len(globs) == 0 {
		return nil, errAt(resolve(n), p+": is empty", "list at least one glob, such as services/api/**, or remove the key")
	}
	for i, g := range globs {
		if problem := ValidGlob(g); problem != "" {
			return nil, errAt(resolve(resolve(n).Content[i]), fmt.Sprintf("%s: %q %s", index(p, i), g, problem),
				"write a glob from the repository root, such as services/api/** or **/*.md")
		}
	}
	return globs, nil
}

func validParameterName(k *yaml.Node, p string) error {
	if !paramName.MatchString(k.Value) {
		return errAt(k, fmt.Sprintf("%s: %q is not a CloudFormation parameter name", p, k.Value),
			"use the parameter's name from the template: letters and digits only")
	}
	return nil
}

func decodeCapabilities(n *yaml.Node, p string) ([]string, error) {
	caps, err := stringList(n, p, "[CAPABILITY_IAM, CAPABILITY_AUTO_EXPAND]")
	if err != nil {
		return nil, err
	}
	if len(caps) == 0 {
		return nil, errAt(resolve(n), p+": is empty",
			"list the capabilities the template needs, or leave the key out for CAPABILITY_IAM and CAPABILITY_AUTO_EXPAND")
	}
	for i, c := range caps {
		if !slices.Contains(capabilities, c) {
			return nil, errAt(resolve(resolve(n).Content[i]), fmt.Sprintf("%s: %q is not a CloudFormation capability", index(p, i), c),
				"use "+strings.Join(capabilities, ", "))
		}
	}
	return caps, nil
}

func decodeTimeout(n *yaml.Node, p string) (time.Duration, error) {
	return duration(n, p, time.Nanosecond, MaxSmokeTimeout, "60s")
}

// duration reads a Go duration from least to most; example is one.
func duration(n *yaml.Node, p string, least, most time.Duration, example string) (time.Duration, error) {
	n = resolve(n)
	bad := func(problem string) error {
		return errAt(n, fmt.Sprintf("%s: %s", p, problem),
			fmt.Sprintf("write a duration with its unit, such as %s, at most %s", example, short(most)))
	}
	if n.Kind != yaml.ScalarNode || isNull(n) {
		return 0, bad(fmt.Sprintf("want a duration such as %s, got %s", example, describe(n)))
	}
	d, err := time.ParseDuration(n.Value)
	if err != nil {
		return 0, bad(fmt.Sprintf("want a duration such as %s, got %q", example, n.Value))
	}
	if d < least || d > most {
		lower := "more than 0s"
		if least > time.Nanosecond {
			lower = "at least " + short(least)
		}
		return 0, bad(fmt.Sprintf("%s is out of range: want %s and at most %s", short(d), lower, short(most)))
	}
	return d, nil
}

// short writes d without the zero units time.Duration.String adds ("10m",
// not "10m0s").
func short(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}

// boolean reads true or false.
func boolean(n *yaml.Node, p string) (bool, error) {
	n = resolve(n)
	if n.Kind == yaml.ScalarNode && !isNull(n) {
		switch n.Value {
		case "true":
			return true, nil
		case "false":
			return false, nil
		}
	}
	return false, errAt(n, fmt.Sprintf("%s: want true or false, got %s", p, describe(n)), "write true or false, without quotes")
}

func decodeSmoke(item *yaml.Node, p string) (SmokeCheck, error) {
	fields, err := object(item, p, smokeKeys)
	if err != nil {
		return SmokeCheck{}, err
	}
	sc := SmokeCheck{Method: "GET", Status: 200}
	n, err := required(fields, item, p, "name", "name the check, such as name: greets")
	if err != nil {
		return sc, err
	}
	if sc.Name, err = nonEmpty(n, p+".name"); err != nil {
		return sc, err
	}
	_, hasURL := fields["url"]
	if fn, ok := fields["function"]; ok {
		if hasURL {
			return sc, errAt(resolve(fn), p+": has both url and function",
				"give an HTTP check a url, or an invoke check a function, not both")
		}
		return decodeInvoke(fields, sc, p)
	}
	if n, ok := fields["payload"]; ok {
		return sc, errAt(resolve(n), p+".payload: only an invoke check sends a payload",
			"name the function to invoke with function: (a ${Output} or a logical ID), or remove payload")
	}
	n, err = required(fields, item, p, "url", "give the URL to call, such as url: ${ApiUrl}hello, or the function to invoke, such as function: WorkerFunction")
	if err != nil {
		return sc, err
	}
	if sc.URL, err = nonEmpty(n, p+".url"); err != nil {
		return sc, err
	}
	sc.line = resolve(n).Line
	if problem, fix := checkURL(sc.URL); problem != "" {
		return sc, errAt(resolve(n), p+".url: "+problem, fix)
	}
	if n, ok := fields["method"]; ok {
		if sc.Method, err = text(n, p+".method"); err != nil {
			return sc, err
		}
		sc.Method = strings.ToUpper(sc.Method)
		if !slices.Contains(methods, sc.Method) {
			return sc, errAt(resolve(n), fmt.Sprintf("%s.method: %q is not an HTTP method", p, sc.Method),
				"use "+strings.Join(methods, ", "))
		}
	}
	if n, ok := fields["status"]; ok {
		if sc.Status, err = integer(n, p+".status", "an HTTP status code", "200"); err != nil {
			return sc, err
		}
		if sc.Status < 100 || sc.Status > 599 {
			return sc, errAt(resolve(n), fmt.Sprintf("%s.status: %d is not an HTTP status code", p, sc.Status),
				"use a code from 100 to 599, such as 200")
		}
	}
	if n, ok := fields["contains"]; ok {
		if sc.Contains, err = text(n, p+".contains"); err != nil {
			return sc, err
		}
	}
	if n, ok := fields["headers"]; ok {
		if sc.Headers, err = stringMap(n, p+".headers", nil); err != nil {
			return sc, err
		}
	}
	if n, ok := fields["timeout"]; ok {
		if sc.Timeout, err = duration(n, p+".timeout", time.Second, MaxSmokeTimeout, "10s"); err != nil {
			return sc, err
		}
	}
	return sc, nil
}

// MaxPayload is the largest payload an invoke check may send, in bytes of
// JSON: it travels in the state machine's state, which holds 256 KiB.
const MaxPayload = 32 << 10

// decodeInvoke reads the rest of an invoke check, whose name sc has.
func decodeInvoke(fields map[string]*yaml.Node, sc SmokeCheck, p string) (SmokeCheck, error) {
	sc.Method, sc.Status = "", 0
	for _, k := range httpOnly {
		if n, ok := fields[k]; ok {
			return sc, errAt(resolve(n), fmt.Sprintf("%s.%s: an invoke check has no %s", p, k, k),
				"remove it: an invoke check passes when the function returns no error (and its result contains contains:)")
		}
	}
	n := fields["function"]
	fn, err := nonEmpty(n, p+".function")
	if err != nil {
		return sc, err
	}
	sc.Function, sc.line = fn, resolve(n).Line
	if problem, fix := checkFunction(fn); problem != "" {
		return sc, errAt(resolve(n), p+".function: "+problem, fix)
	}
	if n, ok := fields["payload"]; ok {
		var v any
		if err := resolve(n).Decode(&v); err != nil {
			return sc, errAt(resolve(n), fmt.Sprintf("%s.payload: %v", p, err), "write the event as YAML, such as payload: {name: smoke}")
		}
		b, err := json.Marshal(v)
		if err != nil {
			return sc, errAt(resolve(n), fmt.Sprintf("%s.payload: cannot be sent as JSON: %v", p, err),
				"use only string keys and plain values")
		}
		if len(b) > MaxPayload {
			return sc, errAt(resolve(n), fmt.Sprintf("%s.payload: %d bytes of JSON, more than %d", p, len(b), MaxPayload),
				"send a smaller event")
		}
		sc.Payload = string(b)
	}
	if n, ok := fields["contains"]; ok {
		if sc.Contains, err = text(n, p+".contains"); err != nil {
			return sc, err
		}
	}
	if n, ok := fields["timeout"]; ok {
		if sc.Timeout, err = duration(n, p+".timeout", time.Second, MaxSmokeTimeout, "30s"); err != nil {
			return sc, err
		}
	}
	return sc, nil
}

// checkFunction returns what is wrong with an invoke check's function, and
// the fix.
func checkFunction(fn string) (problem, fix string) {
	if m := placeholder.FindStringSubmatch(fn); m != nil {
		if m[0] != fn {
			return fmt.Sprintf("%q is not one ${Output}", fn),
				"name the function by one output, such as ${WorkerFunctionName}, or by its logical ID, such as WorkerFunction"
		}
		if !outputName.MatchString(m[1]) {
			return fmt.Sprintf("%q is not a stack output", fn),
				"refer to an output of the environment's stack by its name, such as ${WorkerFunctionName}"
		}
		return "", ""
	}
	if !logicalID.MatchString(fn) {
		return fmt.Sprintf("%q is neither a ${Output} nor a logical ID", fn),
			"name the function by an output of the stack, such as ${WorkerFunctionName}, or by its logical ID in the template, such as WorkerFunction"
	}
	return "", ""
}

// checkURL returns what is wrong with a smoke check's URL, and the fix.
func checkURL(u string) (problem, fix string) {
	for _, m := range placeholder.FindAllStringSubmatch(u, -1) {
		if !outputName.MatchString(m[1]) {
			return fmt.Sprintf("%q is not a stack output", m[0]),
				"refer to an output of the environment's stack by its name, such as ${ApiUrl}"
		}
	}
	if strings.Contains(placeholder.ReplaceAllString(u, ""), "${") {
		return fmt.Sprintf("%q has a ${ without its closing }", u), "close it, such as ${ApiUrl}"
	}
	if strings.HasPrefix(u, "${") {
		return "", ""
	}
	parsed, err := url.Parse(placeholder.ReplaceAllString(u, "x"))
	if err != nil || (parsed.Scheme != "http" && parsed.Scheme != "https") || parsed.Host == "" {
		return fmt.Sprintf("%q is not an http(s) URL", u),
			"write a full URL such as https://example.com/health, or start with a stack output such as ${ApiUrl}"
	}
	return "", ""
}
