package cfn

import (
	"strings"
	"testing"
)

func TestFunctionConcurrency(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		value   any
		want    int
		wantErr string
	}{
		{name: "not given", want: 0},
		{name: "reserved", value: 2, want: 2},
		{name: "as a string", value: "3", want: 3},
		{name: "zero", value: 0, wantErr: "ReservedConcurrentExecutions 0 stops every invocation"},
		{name: "negative", value: -1, wantErr: "must be a whole number of at least 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			props := map[string]any{"Code": map[string]any{"S3Bucket": "b", "S3Key": "k.zip"}, "Runtime": "provided.al2023"}
			if tt.value != nil {
				props["ReservedConcurrentExecutions"] = tt.value
			}
			spec, err := functionConfig(&resource{Logical: "Fn", Type: "AWS::Lambda::Function", Props: props})
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got error %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if fn := spec.fn; err != nil || fn.Concurrency != tt.want {
				t.Errorf("got concurrency %d, %v; want %d", spec.fn.Concurrency, err, tt.want)
			}
		})
	}
}

func TestInlineCode(t *testing.T) {
	t.Parallel()
	tests := []struct {
		runtime string
		wantErr string
	}{
		{runtime: "python3.12"},
		{runtime: "nodejs22.x"},
		{runtime: "provided.al2023", wantErr: "Code.ZipFile (SAM's InlineCode) is for Node.js and Python runtimes only, not provided.al2023"},
	}
	for _, tt := range tests {
		t.Run(tt.runtime, func(t *testing.T) {
			t.Parallel()
			props := map[string]any{"Code": map[string]any{"ZipFile": "print(1)"}, "Runtime": tt.runtime, "Handler": "index.handler"}
			spec, err := functionConfig(&resource{Logical: "Fn", Type: "AWS::Lambda::Function", Props: props})
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("got %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || spec.inline != "print(1)" || spec.code.Bucket != "" {
				t.Errorf("got %+v, %v; want the inline code", spec, err)
			}
		})
	}
}
