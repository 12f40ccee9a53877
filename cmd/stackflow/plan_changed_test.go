package main

import (
	"encoding/json"
	"testing"
)

// stackflow plan --changed and --tag say which apps and environments a
// push reaches, and why.
func TestPlanChanged(t *testing.T) {
	t.Parallel()
	tmpl := "Transform: AWS::Serverless-2016-10-31\nResources: {}\n"
	mono := writeApp(t, map[string]string{
		"stackflow.yml":              "apps:\n  - {name: api, path: services/api}\n  - {name: web, path: services/web, after: [api], paths_ignore: ['**/*.md']}\n",
		"services/api/stackflow.yml": "checks: []\nenvironments:\n  - {name: staging, branches: [main]}\n  - {name: prod, tags: ['v*']}\n",
		"services/api/template.yaml": tmpl,
		"services/web/stackflow.yml": "checks: []\nenvironments:\n  - {name: staging, branches: [main], paths: [services/web/src/**]}\n",
		"services/web/template.yaml": tmpl,
	})
	single := writeApp(t, map[string]string{
		"stackflow.yml": "checks: []\nenvironments:\n  - {name: staging, branches: [main]}\n  - {name: prod, branches: [main], paths: [hello/**], paths_ignore: ['**/*.md']}\n",
		"template.yaml": tmpl,
	})
	tests := []cliCase{
		{
			name: "a change to one app", args: []string{"plan", mono, "--branch", "main", "--changed", "services/api/main.go"},
			wantOut: []string{
				"main: delivering api (a run each); skipped web (no change under services/web/**)",
				"api (services/api): delivered: changed services/api/main.go",
				"    main: staging (no checks)",
				"    prod: not deployed (takes no branches)",
				// CloudFormation refuses a template without resources: plan says so.
				"\n    stackflow local: could not tell what it rehearses: services/api/template.yaml: Template format error: At least one Resources member must be defined.\n",
			},
		},
		{
			name: "a change to both, comma-separated", args: []string{"plan", mono, "--branch", "main", "--changed", "services/api/main.go,services/web/README.md,services/web/src/x.ts"},
			wantOut: []string{
				"main: delivering api, web (a run each)",
				"web (services/web): delivered: changed services/web/src/x.ts",
				"staging: deployed (branch main matches [main]; changed services/web/src/x.ts)",
			},
		},
		{
			name: "web's docs only", args: []string{"plan", mono, "--branch", "main", "--changed", "services/web/README.md"},
			wantOut: []string{"web (services/web): skipped: only changes under paths_ignore (**/*.md)", "api (services/api): skipped: no change under services/api/**"},
		},
		{
			name: "a tag", args: []string{"plan", mono, "--tag", "v2.0.0"},
			wantOut: []string{
				"tag v2.0.0: delivering api (a run each); skipped web (no environment of web takes tag v2.0.0)",
				"prod: deployed (tag v2.0.0 matches [v*])",
				"staging: not deployed (takes no tags)",
			},
		},
		{
			name: "one app, an environment's paths", args: []string{"plan", single, "--branch", "main", "--changed", "README.md"},
			wantOut: []string{
				"main: staging (no checks); skipped prod (no change under hello/**)",
				"this push:",
				"    staging: deployed (branch main matches [main])",
				"    prod: not deployed (branch main matches [main]; no change under hello/**)",
			},
		},
		{
			name: "one app, its code changed", args: []string{"plan", single, "--changed", "hello/handler.go", "--changed", "docs/x.md"},
			wantOut: []string{"main: staging -> prod (no checks)", "prod: deployed (branch main matches [main]; changed hello/handler.go)"},
		},
		{
			name: "one app, docs only", args: []string{"plan", single, "--changed", "hello/README.md"},
			wantOut: []string{"main: staging (no checks); skipped prod (only changes under paths_ignore (**/*.md))", "prod: not deployed (branch main matches [main]; only changes under paths_ignore (**/*.md))"},
		},
		{
			name: "a branch and a tag", args: []string{"plan", mono, "--branch", "main", "--tag", "v1"},
			wantCode: 2, wantErrOut: []string{"give --branch or --tag, not both"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			code, out, errOut := runCLI(t, tt.args...)
			checkRun(t, code, out, errOut, tt.wantCode, tt.wantOut, tt.wantErrOut)
		})
	}

	code, out, errOut := runCLI(t, "plan", mono, "--branch", "main", "--changed", "services/api/x.go", "--json")
	if code != 0 {
		t.Fatalf("--json: exit %d: %s", code, errOut)
	}
	var got struct {
		Summary string
		Apps    []appPlan
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("--json: %v\n%s", err, out)
	}
	if len(got.Apps) != 2 || !got.Apps[0].Delivered || got.Apps[1].Delivered || got.Apps[0].Plan == nil || got.Apps[0].Plan.Template != "services/api/template.yaml" {
		t.Errorf("--json: got %+v, want api delivered with its plan and web skipped", got)
	}
}
