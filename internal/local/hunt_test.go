package local

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/stackflow/stackflow/internal/gocache"
	"github.com/stackflow/stackflow/internal/pipeline"
)

// TestCodeUnderTestCanWriteNothingThePipelineTrusts delivers main, then a
// feature branch whose only check is testdata/hunter: a program that
// searches everything the checks function's processes can read (its
// environment, every /proc/<pid>/environ and the writable memory of the
// function's processes, the Runtime API, every file of the function's
// /tmp) for AWS credentials and presigned URLs, and with each tries to
// overwrite main's package (packaged template and zip), caches and build
// records. With IAM enforced, every write is refused: the run ends green,
// its checks log shows what was tried, and main's objects are unchanged.
func TestCodeUnderTestCanWriteNothingThePipelineTrusts(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	repo, dir := app(t, "hunted", map[string]func(string) string{
		"stackflow.yml": func(s string) string { return s[:strings.Index(s, "  - name: prod\n")] },
	})
	main := git(t, dir, "rev-parse", "HEAD")
	if res := run(t, repo, dir); !res.Succeeded() {
		t.Fatalf("main: got %s %s: %s, want SUCCEEDED", res.Status, res.Error, res.Cause)
	}

	// What the pipeline trusts of main: its packaged template and zips,
	// its build records, and its caches (kept in the bucket on AWS; the
	// local checks use the machine's, so the test puts main's in place).
	bucket := shared.Outputs()["ArtifactBucketName"]
	s3c := s3.NewFromConfig(shared.aws, func(o *s3.Options) { o.UsePathStyle = true })
	scope := pipeline.BranchScope("main")
	var keys []string
	for _, prefix := range []string{
		pipeline.PackagedTemplateKey(repo, main, ""),
		folderOf(pipeline.ArtifactKey(repo, "x", "")),
		folderOf(pipeline.BuildRecordKey(repo, scope, "x")),
	} {
		list, err := s3c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String(prefix)})
		if err != nil || len(list.Contents) == 0 {
			t.Fatalf("main's objects under %s: got %v, %v; want some", prefix, list, err)
		}
		for _, o := range list.Contents {
			keys = append(keys, aws.ToString(o.Key))
		}
	}
	for _, part := range []gocache.Part{gocache.Modules, gocache.Builds} {
		for _, ext := range []string{".json", ".tar.gz"} {
			key := pipeline.CacheKey(repo, scope, pipeline.StepChecks, string(part), ext)
			if _, err := s3c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: strings.NewReader("main's " + key)}); err != nil {
				t.Fatal(err)
			}
			keys = append(keys, key)
		}
	}
	before := digests(t, s3c, bucket, keys)

	hunter, err := os.ReadFile(filepath.Join("testdata", "hunter", "main.go"))
	if err != nil {
		t.Fatal(err)
	}
	targets, _ := json.Marshal(map[string]any{"bucket": bucket, "region": Region, "keys": keys})
	git(t, dir, "checkout", "-q", "-b", "feature/hunt")
	if err := os.Mkdir(filepath.Join(dir, "hunt"), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, b := range map[string][]byte{"main.go": hunter, "targets.json": targets} {
		if err := os.WriteFile(filepath.Join(dir, "hunt", name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	git(t, dir, "add", "hunt")
	commit(t, dir, map[string]func(string) string{
		"stackflow.yml": func(s string) string {
			return strings.Replace(s, "checks:\n  - go vet ./...\n  - go test ./...\n", "checks:\n  - go run ./hunt\n", 1)
		},
	})
	res := run(t, repo, dir)
	out := checksLog(t, res)
	if !res.Succeeded() {
		t.Fatalf("feature/hunt: got %s %s: %s, want SUCCEEDED (every write refused); its checks log:\n%s", res.Status, res.Error, res.Cause, out)
	}
	if after := digests(t, s3c, bucket, keys); !maps.Equal(before, after) {
		t.Errorf("main's objects changed:\nbefore %v\nafter  %v", before, after)
	}

	// What the log shows: the places searched, each write tried with the
	// function's own credentials and with the grants' presigned URLs
	// (found in the handler's memory), and every one refused.
	for _, want := range []string{
		"hunt: the function's process is ",
		"hunt: the Runtime API's next invocation: ",
		"hunt: read ",
		"hunt: found ",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the checks log does not say %q:\n%s", want, out)
		}
	}
	tried := regexp.MustCompile(`(?m)^PUT s3://`+regexp.QuoteMeta(bucket)+`/(\S+) with the (credentials|presigned URL) .*$`).FindAllStringSubmatch(out, -1)
	with := map[string]map[string]bool{}
	var let []string
	for _, m := range tried {
		if !strings.HasSuffix(m[0], ": refused") {
			let = append(let, m[0])
		}
		if with[m[2]] == nil {
			with[m[2]] = map[string]bool{}
		}
		with[m[2]][m[1]] = true
	}
	if len(let) > 0 {
		t.Errorf("writes not refused:\n%s", strings.Join(let, "\n"))
	}
	for _, how := range []string{"credentials", "presigned URL"} {
		for _, key := range keys {
			if !with[how][key] {
				t.Errorf("the hunt tried no write of %s with %s; its checks log:\n%s", key, how, out)
			}
		}
	}
	if want := regexp.MustCompile(`hunt: \d+ writes tried, 0 let through`); !want.MatchString(out) {
		t.Errorf("the checks log does not end with every write refused:\n%s", out)
	}
}

// folderOf is the folder of key, with its slash.
func folderOf(key string) string { return key[:strings.LastIndex(key, "/")+1] }

// digests are the SHA-256 of each object of keys.
func digests(t *testing.T, s3c *s3.Client, bucket string, keys []string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, key := range keys {
		o, err := s3c.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
		if err != nil {
			t.Fatalf("get %s: %v", key, err)
		}
		var b bytes.Buffer
		_, err = io.Copy(&b, o.Body)
		o.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(b.Bytes())
		out[key] = hex.EncodeToString(sum[:])
	}
	return out
}
