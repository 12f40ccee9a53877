package config

import (
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/stackflow/stackflow/internal/pipeline"
)

// CheckOutputs checks, before anything is built or deployed, that the app's
// template (plan.Template, at the root of the repository tree) exists and
// that every ${Name} in the smoke checks of the environments plan deploys
// is one of its Outputs (for a pull request's preview, in the smoke checks
// of the environment it takes them from). A misspelt output would
// otherwise be found only after the first stack was deployed.
func (c *Config) CheckOutputs(tree string, plan pipeline.Plan) error {
	if !plan.Deploy {
		return nil
	}
	outputs, resources, err := templateOutputs(tree, plan.Template)
	if err != nil {
		return err
	}
	deployed := map[string]bool{}
	for _, e := range plan.Environments {
		deployed[e.Name] = true
		// A preview takes its smoke checks from another environment.
		if from, ok := c.previewSource(); ok && e.PullRequest != 0 {
			deployed[from.Name] = true
		}
	}
	for i, e := range c.Environments {
		if !deployed[e.Name] {
			continue
		}
		for j, sc := range e.Smoke {
			if err := checkLogicalFunction(i, j, sc, plan.Template, resources); err != nil {
				return err
			}
			texts := []string{sc.URL, sc.Function}
			for _, k := range slices.Sorted(maps.Keys(sc.Headers)) {
				texts = append(texts, sc.Headers[k])
			}
			for _, t := range texts {
				for _, m := range placeholder.FindAllStringSubmatch(t, -1) {
					name := m[1]
					if outputs[name] {
						continue
					}
					return &pipeline.ConfigInvalid{
						File: File,
						Line: sc.line,
						Problem: fmt.Sprintf("environments[%d].smoke[%d] (%s) refers to ${%s}, but %s has no output %s (%s)",
							i, j, sc.Name, name, plan.Template, name, describeOutputs(outputs)),
						Fix: nearOutput(name, outputs),
					}
				}
			}
		}
	}
	return nil
}

// functionTypes are the template types of the functions an invoke check
// may name by logical ID.
var functionTypes = []string{"AWS::Serverless::Function", "AWS::Lambda::Function"}

// checkLogicalFunction checks that an invoke check that names its function
// by logical ID (environments[i].smoke[j]) names a function of the
// template, whose resources (logical ID -> type) are given.
func checkLogicalFunction(i, j int, sc SmokeCheck, template string, resources map[string]string) error {
	if sc.Function == "" || strings.HasPrefix(sc.Function, "${") {
		return nil
	}
	typ, ok := resources[sc.Function]
	if ok && slices.Contains(functionTypes, typ) {
		return nil
	}
	problem := fmt.Sprintf("environments[%d].smoke[%d] (%s) invokes %s, but %s has no resource %s", i, j, sc.Name, sc.Function, template, sc.Function)
	if ok {
		problem = fmt.Sprintf("environments[%d].smoke[%d] (%s) invokes %s, but %s is of type %s, not a function", i, j, sc.Name, sc.Function, sc.Function, typ)
	}
	var functions []string
	for name, typ := range resources {
		if slices.Contains(functionTypes, typ) {
			functions = append(functions, name)
		}
	}
	sort.Strings(functions)
	fix := "the template has no function: an invoke check needs an AWS::Serverless::Function or AWS::Lambda::Function"
	if len(functions) > 0 {
		fix = "name one of the template's functions: " + strings.Join(functions, ", ")
	}
	return &pipeline.ConfigInvalid{File: File, Line: sc.line, Problem: problem, Fix: fix}
}

// templateOutputs reads the names of the template's Outputs, and its
// resources' logical IDs and types.
func templateOutputs(tree, name string) (outputs map[string]bool, resources map[string]string, err error) {
	data, err := os.ReadFile(filepath.Join(tree, filepath.FromSlash(name)))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil, &pipeline.ConfigInvalid{File: name, Problem: "the app's SAM template is not in the repository",
			Fix: "add it, or name it with template in stackflow.yml or template_file in samconfig.toml"}
	}
	if err != nil {
		return nil, nil, fmt.Errorf("read %s: %w", name, err)
	}
	var doc yaml.Node // JSON templates are YAML too; short-form tags parse as tags
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, nil, &pipeline.ConfigInvalid{File: name, Problem: "is not a YAML or JSON template: " + err.Error()}
	}
	outputs, resources = map[string]bool{}, map[string]string{}
	if len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		return outputs, resources, nil
	}
	top := doc.Content[0].Content
	for i := 0; i+1 < len(top); i += 2 {
		section := top[i+1]
		if section.Kind != yaml.MappingNode {
			continue
		}
		for j := 0; j+1 < len(section.Content); j += 2 {
			key, body := section.Content[j].Value, section.Content[j+1]
			switch top[i].Value {
			case "Outputs":
				outputs[key] = true
			case "Resources":
				resources[key] = ""
				if body.Kind != yaml.MappingNode {
					continue
				}
				for k := 0; k+1 < len(body.Content); k += 2 {
					if body.Content[k].Value == "Type" {
						resources[key] = body.Content[k+1].Value
					}
				}
			}
		}
	}
	return outputs, resources, nil
}

func describeOutputs(outputs map[string]bool) string {
	if len(outputs) == 0 {
		return "it has no Outputs"
	}
	names := make([]string, 0, len(outputs))
	for n := range outputs {
		names = append(names, n)
	}
	sort.Strings(names)
	return "it has " + strings.Join(names, ", ")
}

// nearOutput suggests the output name meant, or how to give one.
func nearOutput(name string, outputs map[string]bool) string {
	best, bestDist := "", 3
	for o := range outputs {
		d := distance(strings.ToLower(name), strings.ToLower(o))
		if d < bestDist || (d == bestDist && o < best) {
			best, bestDist = o, d
		}
	}
	if best != "" {
		return fmt.Sprintf("did you mean ${%s}?", best)
	}
	return "add the output to the template's Outputs, or use one it has"
}
