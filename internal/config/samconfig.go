package config

import (
	"cmp"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/pelletier/go-toml/v2"

	"github.com/stackflow/stackflow/internal/pipeline"
)

// SAMFile is the name of SAM CLI's configuration at the repository root.
const SAMFile = "samconfig.toml"

// SAMConfig holds the deploy settings of samconfig.toml that stackflow
// reads, per SAM config environment ("[staging.deploy.parameters]").
type SAMConfig struct {
	// sections is keyed by "<env>.<command>": deploy, global or build.
	sections map[string]samSection
}

type samSection struct {
	stackName, region, templateFile string
	capabilities                    []string
	overrides                       map[string]string
}

// SAMSettings are the settings samconfig.toml gives one environment. Empty
// fields were not set.
type SAMSettings struct {
	// StackName is stack_name.
	StackName string
	// Region is region.
	Region string
	// Capabilities is capabilities, a string of names separated by spaces
	// or an array of names.
	Capabilities []string
	// ParameterOverrides is parameter_overrides, in SAM's string syntax
	// (`Key=Value Other="with spaces"`, or
	// `ParameterKey=Key,ParameterValue=Value`) or an array of "Key=Value".
	ParameterOverrides map[string]string
	// TemplateFile is template_file, from the build or global parameters.
	TemplateFile string
}

// The sections of one environment each setting is read from, in order; the
// "default" environment's same sections come after, as a fallback.
var (
	deployKeys   = []string{"stack_name", "region", "capabilities", "parameter_overrides"}
	readFrom     = map[string][]string{"deploy": deployKeys, "global": append(slices.Clone(deployKeys), "template_file"), "build": {"template_file"}}
	deployOrder  = []string{"deploy", "global"}
	templateFrom = []string{"build", "global"}
)

// ParseSAMConfig reads samconfig.toml. Every error is a
// *pipeline.ConfigInvalid; values of the wrong type or form are reported
// for every environment, not only the ones deployed.
func ParseSAMConfig(data []byte) (*SAMConfig, error) {
	var doc map[string]any
	if err := toml.Unmarshal(data, &doc); err != nil {
		bad := &pipeline.ConfigInvalid{File: SAMFile, Problem: "not valid TOML: " + strings.TrimPrefix(err.Error(), "toml: "),
			Fix: "correct the syntax; `sam validate --lint` reads the same file"}
		var de *toml.DecodeError
		if errors.As(err, &de) {
			bad.Line, _ = de.Position()
		}
		return nil, bad
	}
	lines := keyLines(data)
	c := &SAMConfig{sections: map[string]samSection{}}
	for env, v := range doc {
		commands, ok := v.(map[string]any)
		if !ok {
			continue // version = 0.1
		}
		for cmd, keys := range readFrom {
			table, _ := commands[cmd].(map[string]any)
			params, _ := table["parameters"].(map[string]any)
			if params == nil {
				continue
			}
			sec, err := parseSection(env+"."+cmd+".parameters", params, keys, lines)
			if err != nil {
				return nil, err
			}
			c.sections[env+"."+cmd] = sec
		}
	}
	return c, nil
}

func parseSection(table string, params map[string]any, keys []string, lines map[string]int) (samSection, error) {
	var sec samSection
	for _, k := range keys {
		v, ok := params[k]
		if !ok {
			continue
		}
		bad := func(problem, fix string) error {
			return &pipeline.ConfigInvalid{File: SAMFile, Line: lines[table+"."+k],
				Problem: fmt.Sprintf("[%s] %s: %s", table, k, problem), Fix: fix}
		}
		s, isString := v.(string)
		switch k {
		case "stack_name", "region", "template_file":
			if !isString {
				return sec, bad(fmt.Sprintf("want a string, got %v", v), `quote the value: `+k+` = "..."`)
			}
		}
		switch k {
		case "stack_name":
			if !stackName.MatchString(s) {
				return sec, bad(fmt.Sprintf("%q is not a valid CloudFormation stack name", s),
					"start with a letter and use only letters, digits and dashes, at most 128 characters")
			}
			sec.stackName = s
		case "region":
			if !regionName.MatchString(s) {
				return sec, bad(fmt.Sprintf("%q is not an AWS region", s), "write a region code such as eu-west-1")
			}
			sec.region = s
		case "template_file":
			clean, ok := repoPath(s)
			if !ok {
				return sec, bad(fmt.Sprintf("%q is not a path inside the repository", s),
					"write the path from the repository root, such as template.yaml")
			}
			sec.templateFile = clean
		case "capabilities":
			items, ok := stringsOf(v)
			if !ok {
				return sec, bad(fmt.Sprintf("want a string or an array of strings, got %v", v),
					`write capabilities = "CAPABILITY_IAM CAPABILITY_AUTO_EXPAND"`)
			}
			for _, item := range items {
				sec.capabilities = append(sec.capabilities, strings.Fields(item)...)
			}
		case "parameter_overrides":
			var err error
			if isString {
				sec.overrides, err = parseOverrides(s)
			} else if items, ok := stringsOf(v); ok {
				sec.overrides, err = parseOverrideList(items)
			} else {
				err = fmt.Errorf("want a string or an array of strings, got %v", v)
			}
			if err != nil {
				return sec, bad(err.Error(), `write parameter_overrides = "Key=Value Other=\"value with spaces\""`)
			}
		}
	}
	return sec, nil
}

func stringsOf(v any) ([]string, bool) {
	switch v := v.(type) {
	case string:
		return []string{v}, true
	case []any:
		out := make([]string, 0, len(v))
		for _, item := range v {
			s, ok := item.(string)
			if !ok {
				return nil, false
			}
			out = append(out, s)
		}
		return out, true
	}
	return nil, false
}

// SAM CLI's syntax of parameter_overrides: Key=Value pairs separated by
// spaces, where a value is "double quoted", 'single quoted' or bare, and
// backslash escapes a space or a quote.
var (
	overrideValue = `("(?:\\.|[^"\\])*"|'(?:\\.|[^'\\])*'|(?:\\.|[^ "\\])+)`
	overrideKey   = `([A-Za-z0-9"']+)`
	overrideLong  = regexp.MustCompile(`^ParameterKey=` + overrideKey + `,ParameterValue=` + overrideValue)
	overrideShort = regexp.MustCompile(`^` + overrideKey + `=` + overrideValue)
)

// parseOverrides reads a parameter_overrides string the way SAM CLI does,
// but refuses text that is not a Key=Value pair rather than skipping it.
func parseOverrides(s string) (map[string]string, error) {
	out := map[string]string{}
	rest := strings.TrimLeft(s, " \t\n")
	for rest != "" {
		m := overrideLong.FindStringSubmatch(rest)
		if m == nil {
			m = overrideShort.FindStringSubmatch(rest)
		}
		if m == nil || (len(m[0]) < len(rest) && !strings.ContainsRune(" \t\n", rune(rest[len(m[0])]))) {
			word, _, _ := strings.Cut(rest, " ")
			return nil, fmt.Errorf("cannot read %q: want Key=Value", word)
		}
		k, v := unquote(m[1]), unquote(m[2])
		if !paramName.MatchString(k) {
			return nil, fmt.Errorf("%q is not a CloudFormation parameter name", k)
		}
		out[k] = v
		rest = strings.TrimLeft(rest[len(m[0]):], " \t\n")
	}
	return out, nil
}

// parseOverrideList reads the array form: each item is one Key=Value, whose
// value is the rest of the item.
func parseOverrideList(items []string) (map[string]string, error) {
	out := map[string]string{}
	for _, item := range items {
		k, v, ok := strings.Cut(item, "=")
		k = unquote(strings.TrimSpace(k))
		if !ok || !paramName.MatchString(k) {
			return nil, fmt.Errorf("cannot read %q: want Key=Value", item)
		}
		out[k] = unquote(v)
	}
	return out, nil
}

// unquote removes the quotes around a value and its escapes of spaces and
// quotes, as SAM CLI does.
func unquote(s string) string {
	if len(s) >= 2 && (s[0] == '"' || s[0] == '\'') && s[len(s)-1] == s[0] {
		s = s[1 : len(s)-1]
	}
	return strings.NewReplacer(`\ `, " ", `\"`, `"`, `\'`, "'").Replace(s)
}

// keyLines maps "<table>.<key>" to the line where the key is set, so that
// errors found after decoding can point at it. It reads only what
// samconfig.toml files hold: [table] headers and key = value lines.
func keyLines(data []byte) map[string]int {
	lines := map[string]int{}
	table := ""
	for i, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, "[") && !strings.HasPrefix(line, "[[") {
			end := strings.Index(line, "]")
			if end > 0 {
				table = dotted(line[1:end])
			}
			continue
		}
		k, _, ok := strings.Cut(line, "=")
		if !ok || strings.HasPrefix(line, "#") {
			continue
		}
		full := dotted(k)
		if table != "" {
			full = table + "." + full
		}
		if _, seen := lines[full]; !seen {
			lines[full] = i + 1
		}
	}
	return lines
}

// dotted normalises a TOML dotted key: a . "b" .c -> a.b.c.
func dotted(k string) string {
	parts := strings.Split(k, ".")
	for i, p := range parts {
		parts[i] = strings.Trim(strings.TrimSpace(p), `"'`)
	}
	return strings.Join(parts, ".")
}

// Settings returns the settings of SAM config environment env: each one
// from [env.deploy.parameters], else [env.global.parameters]; region,
// capabilities and template_file also from the same sections of "default",
// but never stack_name or parameter_overrides, which describe one stack;
// template_file from the build and global parameters. A nil SAMConfig has
// no settings.
func (c *SAMConfig) Settings(env string) SAMSettings {
	var s SAMSettings
	if c == nil {
		return s
	}
	for _, e := range []string{env, "default"} {
		own := e == env
		for _, cmd := range deployOrder {
			sec := c.sections[e+"."+cmd]
			// A stack's name and its parameter values describe that one
			// stack: the default section's (sam init writes one) would
			// make every environment the same stack.
			if own {
				s.StackName = cmp.Or(s.StackName, sec.stackName)
				if s.ParameterOverrides == nil {
					s.ParameterOverrides = sec.overrides
				}
			}
			s.Region = cmp.Or(s.Region, sec.region)
			if s.Capabilities == nil {
				s.Capabilities = sec.capabilities
			}
		}
		for _, cmd := range templateFrom {
			s.TemplateFile = cmp.Or(s.TemplateFile, c.sections[e+"."+cmd].templateFile)
		}
	}
	return s
}
