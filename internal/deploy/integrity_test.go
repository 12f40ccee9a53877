package deploy

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/cloudformation/types"

	"github.com/stackflow/stackflow/internal/artifacts"
	"github.com/stackflow/stackflow/internal/pipeline"
)

// fakeBucket is the artifact bucket in memory.
type fakeBucket struct {
	mu      sync.Mutex
	objects map[string][]byte
	reads   []string
}

func (b *fakeBucket) Bucket() string { return "artifacts" }

func (b *fakeBucket) Open(_ context.Context, key string) (io.ReadCloser, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.reads = append(b.reads, key)
	body, ok := b.objects[key]
	if !ok {
		return nil, fmt.Errorf("get s3://artifacts/%s: %w", key, artifacts.ErrNotFound)
	}
	return io.NopCloser(bytes.NewReader(body)), nil
}

func (b *fakeBucket) put(key, body string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.objects[key] = []byte(body)
}

func hexSum(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// packaged returns a bucket holding a packaged template and two zips, one
// shared by two functions, and the input that deploys them.
func packaged() (*fakeBucket, pipeline.DeployInput) {
	const tmpl, hello, world = "Resources: {}\n", "zip of hello", "zip of world"
	b := &fakeBucket{objects: map[string][]byte{}}
	in := testInput()
	in.Package = pipeline.Package{
		Bucket:         "artifacts",
		TemplateKey:    "packages/acme/hello/0123456/template.yaml",
		TemplateURL:    "https://artifacts.s3.us-east-1.amazonaws.com/packages/acme/hello/0123456/template.yaml",
		TemplateSHA256: hexSum(tmpl),
		Functions: []pipeline.BuiltFunction{
			{Name: "HelloFunction", Key: "artifacts/acme/hello/" + hexSum(hello) + ".zip", SHA256: hexSum(hello), Size: int64(len(hello))},
			{Name: "AgainFunction", Key: "artifacts/acme/hello/" + hexSum(hello) + ".zip", SHA256: hexSum(hello), Size: int64(len(hello))},
			{Name: "WorldFunction", Key: "artifacts/acme/hello/" + hexSum(world) + ".zip", SHA256: hexSum(world), Size: int64(len(world))},
		},
	}
	b.put(in.Package.TemplateKey, tmpl)
	b.put(in.Package.Functions[0].Key, hello)
	b.put(in.Package.Functions[2].Key, world)
	return b, in
}

// TestWhatIsDeployedIsWhatWasPackaged changes the bucket at each point of
// a deploy: before the change set is made, and between the change set and
// its execution (as during an approval). A changed or missing object
// stops the deploy before CloudFormation is asked to use it.
func TestWhatIsDeployedIsWhatWasPackaged(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		// before changes the bucket or the package before the change set,
		// between after it.
		before, between func(b *fakeBucket, in *pipeline.DeployInput)
		want            string // the refusal's reason; "" means deployed
		// wantCalled is a CloudFormation call made before the refusal,
		// wantNot one that must not be.
		wantCalled, wantNot string
	}{
		{name: "unchanged"},
		{name: "a zip swapped before the change set", wantNot: "CreateChangeSet",
			before: func(b *fakeBucket, in *pipeline.DeployInput) { b.put(in.Package.Functions[2].Key, "zip of a miner") },
			want:   "artifact changed after packaging: s3://artifacts/artifacts/acme/hello/" + hexSum("zip of world") + ".zip (WorldFunction's zip) has SHA-256 " + hexSum("zip of a miner")[:7]},
		{name: "a zip swapped while the change set waits", wantCalled: "CreateChangeSet", wantNot: "ExecuteChangeSet",
			between: func(b *fakeBucket, in *pipeline.DeployInput) { b.put(in.Package.Functions[0].Key, "zip of a miner") },
			want:    "artifact changed after packaging: s3://artifacts/artifacts/acme/hello/" + hexSum("zip of hello") + ".zip (HelloFunction's zip)"},
		{name: "the template swapped", wantNot: "CreateChangeSet",
			before: func(b *fakeBucket, in *pipeline.DeployInput) {
				b.put(in.Package.TemplateKey, "Resources: {Miner: {Type: AWS::SQS::Queue}}\n")
			},
			want: "artifact changed after packaging: s3://artifacts/packages/acme/hello/0123456/template.yaml (the packaged template)"},
		{name: "a zip of another size", wantNot: "CreateChangeSet",
			before: func(_ *fakeBucket, in *pipeline.DeployInput) { in.Package.Functions[2].Size++ },
			want:   "(WorldFunction's zip) has SHA-256 " + hexSum("zip of world")[:7] + "… and 12 bytes, not the " + hexSum("zip of world")[:7] + "…"},
		{name: "a zip gone", wantNot: "CreateChangeSet",
			before: func(b *fakeBucket, in *pipeline.DeployInput) { delete(b.objects, in.Package.Functions[2].Key) },
			want:   "artifact missing after packaging"},
		{name: "a package in another bucket", wantNot: "CreateChangeSet",
			before: func(_ *fakeBucket, in *pipeline.DeployInput) { in.Package.Bucket = "elsewhere" },
			want:   "the package is in bucket elsewhere, not the pipeline's artifact bucket artifacts"},
		{name: "a template URL that is not the template", wantNot: "CreateChangeSet",
			before: func(_ *fakeBucket, in *pipeline.DeployInput) {
				in.Package.TemplateURL = "https://elsewhere.s3.amazonaws.com/template.yaml"
			},
			want: "the package's template URL is not its template"},
		{name: "a package recorded before templates were hashed: its zips are checked",
			before: func(b *fakeBucket, in *pipeline.DeployInput) {
				in.Package.TemplateSHA256 = ""
				b.put(in.Package.TemplateKey, "anything")
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFakeCFN()
			f.changes = []types.Change{add("HelloFunction", "AWS::Lambda::Function")}
			b, in := packaged()
			if tt.before != nil {
				tt.before(b, &in)
			}
			svc := newTestService(f)
			svc.Artifacts = b
			var err error
			if tt.between == nil {
				_, _, err = deployStack(t, svc, in)
			} else {
				in.Action = pipeline.ActionCreateChangeSet
				in.Deployment, err = svc.Handle(context.Background(), in)
				for err == nil && !in.Deployment.Done {
					in.Action = pipeline.ActionDescribeChangeSet
					in.Deployment, err = svc.Handle(context.Background(), in)
				}
				if err != nil {
					t.Fatal(err)
				}
				tt.between(b, &in)
				in.Action = pipeline.ActionExecuteChangeSet
				_, err = svc.Handle(context.Background(), in)
			}
			if tt.want == "" {
				if err != nil {
					t.Fatalf("deploy: %v", err)
				}
				return
			}
			var failed *pipeline.StackDeployFailed
			if !errors.As(err, &failed) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want StackDeployFailed: ...%s...", err, tt.want)
			}
			if tt.wantCalled != "" && !slices.Contains(f.calls, tt.wantCalled) {
				t.Errorf("calls %v: want %s", f.calls, tt.wantCalled)
			}
			if slices.Contains(f.calls, tt.wantNot) {
				t.Errorf("calls %v: want no %s", f.calls, tt.wantNot)
			}
		})
	}
}

// TestEachZipIsReadOncePerCheck: a zip two functions share is read once
// when the change set is made and once before it is executed, the template
// once.
func TestEachZipIsReadOncePerCheck(t *testing.T) {
	t.Parallel()
	f := newFakeCFN()
	f.changes = []types.Change{add("HelloFunction", "AWS::Lambda::Function")}
	b, in := packaged()
	svc := newTestService(f)
	svc.Artifacts = b
	if _, _, err := deployStack(t, svc, in); err != nil {
		t.Fatal(err)
	}
	zips := []string{in.Package.Functions[0].Key, in.Package.Functions[2].Key}
	want := append(append([]string{in.Package.TemplateKey}, zips...), zips...)
	if !slices.Equal(b.reads, want) {
		t.Errorf("got reads %v, want %v", b.reads, want)
	}
}
