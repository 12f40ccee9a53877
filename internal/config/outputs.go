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
	outputs, err := templateOutputs(tree, plan.Template)
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
			texts := []string{sc.URL}
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

// templateOutputs reads the names of the template's Outputs.
func templateOutputs(tree, name string) (map[string]bool, error) {
	data, err := os.ReadFile(filepath.Join(tree, filepath.FromSlash(name)))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, &pipeline.ConfigInvalid{File: name, Problem: "the app's SAM template is not in the repository",
			Fix: "add it, or name it with template in stackflow.yml or template_file in samconfig.toml"}
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	var doc yaml.Node // JSON templates are YAML too; short-form tags parse as tags
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, &pipeline.ConfigInvalid{File: name, Problem: "is not a YAML or JSON template: " + err.Error()}
	}
	outputs := map[string]bool{}
	if len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		return outputs, nil
	}
	top := doc.Content[0].Content
	for i := 0; i+1 < len(top); i += 2 {
		if top[i].Value != "Outputs" || top[i+1].Kind != yaml.MappingNode {
			continue
		}
		for j := 0; j+1 < len(top[i+1].Content); j += 2 {
			outputs[top[i+1].Content[j].Value] = true
		}
	}
	return outputs, nil
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
