package packager

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/stackflow/stackflow/internal/pipeline"
)

func TestReadNeeds(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		template string
		runtimes []string
		goDirs   []string
	}{
		{
			name: "a runtime from Globals, another on a function, a layer's BuildMethod",
			template: `Transform: AWS::Serverless-2016-10-31
Globals: {Function: {Runtime: python3.12}}
Resources:
  A: {Type: AWS::Serverless::Function, Properties: {CodeUri: a/, Handler: app.handler}}
  B: {Type: AWS::Serverless::Function, Properties: {CodeUri: b/, Handler: app.handler, Runtime: nodejs22.x}}
  C: {Type: AWS::Serverless::Function, Properties: {CodeUri: c/, Handler: app.handler}}
  Deps: {Type: AWS::Serverless::LayerVersion, Properties: {ContentUri: deps/}, Metadata: {BuildMethod: python3.11}}
  Files: {Type: AWS::Serverless::LayerVersion, Properties: {ContentUri: files/}}
`,
			runtimes: []string{"nodejs22.x", "python3.11", "python3.12"},
		},
		{
			name: "Go functions: their code directories; the template's folder without CodeUri",
			template: `Transform: AWS::Serverless-2016-10-31
Globals: {Function: {Runtime: provided.al2023, Handler: bootstrap}}
Resources:
  A: {Type: AWS::Serverless::Function, Metadata: {BuildMethod: go1.x}, Properties: {CodeUri: functions/a/}}
  B: {Type: AWS::Serverless::Function, Metadata: {BuildMethod: go1.x}, Properties: {CodeUri: functions/a/}}
  C: {Type: AWS::Serverless::Function, Metadata: {BuildMethod: go1.x}}
  D: {Type: AWS::Serverless::Function, Metadata: {BuildMethod: go1.x}, Properties: {CodeUri: {Bucket: b, Key: k}}}
  E: {Type: AWS::Serverless::Function, Properties: {CodeUri: e/, Runtime: java21, Handler: x}}
`,
			goDirs: []string{"functions/a", "."},
		},
		{
			name:     "no functions",
			template: "Resources:\n  Queue: {Type: AWS::SQS::Queue}\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			root := t.TempDir()
			if err := os.WriteFile(filepath.Join(root, "template.yaml"), []byte(tt.template), 0o644); err != nil {
				t.Fatal(err)
			}
			got, err := ReadNeeds(root, "template.yaml")
			if err != nil {
				t.Fatal(err)
			}
			var dirs []string
			for _, d := range got.GoDirs {
				rel, _ := filepath.Rel(root, d)
				dirs = append(dirs, filepath.ToSlash(rel))
			}
			if !slices.Equal(got.Runtimes, tt.runtimes) || !slices.Equal(dirs, tt.goDirs) {
				t.Errorf("got runtimes %v, Go dirs %v; want %v, %v", got.Runtimes, dirs, tt.runtimes, tt.goDirs)
			}
		})
	}
	_, err := ReadNeeds(t.TempDir(), "template.yaml")
	var ci *pipeline.ConfigInvalid
	if !errors.As(err, &ci) {
		t.Errorf("no template: got %v, want ConfigInvalid", err)
	}
}
