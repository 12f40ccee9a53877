package main

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/stackflow/stackflow/internal/local/cfn"
	"github.com/stackflow/stackflow/internal/local/samtransform"
	"github.com/stackflow/stackflow/internal/pipeline"
)

// rehearsal is what `stackflow plan` says of what `stackflow local` would
// not rehearse of the app's template.
type rehearsal struct {
	// Gaps are what the local engine does not run as AWS does, those that
	// fail a local run first (cfn.Unrehearsed).
	Gaps []cfn.Gap
	// Err is why the template could not be read for it.
	Err error
}

// notRehearsed reads the app's template (plan.Template in tree), makes it
// plain CloudFormation with SAM's own translator (installed on first use,
// as stackflow local installs it, saying so on log) as the first
// environment's stack would get it, and lists what stackflow local's
// CloudFormation engine does not rehearse of it.
func notRehearsed(ctx context.Context, tree string, plan pipeline.Plan, log io.Writer) rehearsal {
	data, err := os.ReadFile(filepath.Join(tree, filepath.FromSlash(plan.Template)))
	if err != nil {
		return rehearsal{Err: fmt.Errorf("read %s: %w", plan.Template, err)}
	}
	data, err = withS3Paths(data)
	if err != nil {
		return rehearsal{Err: fmt.Errorf("read %s: %w", plan.Template, err)}
	}
	stack, region, params := "app", "us-east-1", map[string]string(nil)
	if len(plan.Environments) > 0 {
		e := plan.Environments[0]
		stack, region, params = e.Stack, cmp.Or(e.Region, region), e.Parameters
	}
	sam := samtransform.New(samtransform.Options{Log: log})
	defer sam.Close()
	plain, err := cfn.Translate(ctx, sam, data, stack, region, params)
	if err != nil {
		return rehearsal{Err: fmt.Errorf("%s: %w", plan.Template, err)}
	}
	gaps, err := cfn.Unrehearsed(plain)
	if err != nil {
		return rehearsal{Err: fmt.Errorf("%s: %w", plan.Template, err)}
	}
	return rehearsal{Gaps: gaps}
}

// localPaths are the properties of SAM's types that may name a file or
// folder of the repository, which the package step uploads to S3.
var localPaths = map[string][]string{
	"AWS::Serverless::Function":     {"CodeUri"},
	"AWS::Serverless::LayerVersion": {"ContentUri"},
	"AWS::Serverless::Api":          {"DefinitionUri"},
	"AWS::Serverless::HttpApi":      {"DefinitionUri"},
	"AWS::Serverless::StateMachine": {"DefinitionUri"},
}

// withS3Paths returns the template with every local path of localPaths
// (and Globals' CodeUri) replaced by an S3 URI, as the package step
// replaces them, since SAM's translator takes S3 locations only.
func withS3Paths(data []byte) ([]byte, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("not a YAML or JSON template: %w", err)
	}
	if len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		return data, nil
	}
	toS3 := func(n *yaml.Node) {
		if n != nil && n.Kind == yaml.ScalarNode && n.Tag != "!Ref" && n.Tag != "!Sub" && !strings.HasPrefix(n.Value, "s3://") {
			n.Value = "s3://stackflow-plan/" + strings.TrimPrefix(n.Value, "./")
			n.Style = 0
		}
	}
	top := doc.Content[0]
	toS3(field(field(field(top, "Globals"), "Function"), "CodeUri"))
	resources := field(top, "Resources")
	if resources == nil || resources.Kind != yaml.MappingNode {
		return data, nil
	}
	for i := 1; i < len(resources.Content); i += 2 {
		r := resources.Content[i]
		typ := field(r, "Type")
		if typ == nil {
			continue
		}
		for _, p := range localPaths[typ.Value] {
			toS3(field(field(r, "Properties"), p))
		}
	}
	return yaml.Marshal(&doc)
}

// field returns the value of key in the mapping n, or nil.
func field(n *yaml.Node, key string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

// printRehearsal says what stackflow local would not rehearse: first what
// fails a local run, then what runs differently; each line starts with
// indent.
func printRehearsal(w io.Writer, indent, template string, r rehearsal) {
	if r.Err != nil {
		fmt.Fprintf(w, "\n%sstackflow local: could not tell what it rehearses: %v\n", indent, r.Err)
		return
	}
	var fails, differs []cfn.Gap
	for _, g := range r.Gaps {
		if g.Fails {
			fails = append(fails, g)
		} else {
			differs = append(differs, g)
		}
	}
	fmt.Fprintf(w, "\n%sstackflow local (%s as SAM's translator makes it):\n", indent, template)
	if len(fails) == 0 {
		fmt.Fprintf(w, "%s  runs every resource\n", indent)
	} else {
		fmt.Fprintf(w, "%s  fails the stack on (a local run stops there; AWS runs them):\n", indent)
		for _, g := range fails {
			fmt.Fprintf(w, "%s    %s\n", indent, g)
		}
	}
	if len(differs) > 0 {
		fmt.Fprintf(w, "%s  runs differently from AWS:\n", indent)
		for _, g := range differs {
			fmt.Fprintf(w, "%s    %s\n", indent, g)
		}
	}
}
