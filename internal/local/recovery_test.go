package local

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cfntypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	awssfn "github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/stackflow/stackflow/internal/pipeline"
	"github.com/stackflow/stackflow/internal/releases"
)

// The tests below rely only on how a run ends, the stacks' statuses and
// settings, the releases and what the steps said (their outputs in the
// execution's history), not on the names of the state machine's states.

// history returns every state output of the execution arn, as JSON.
func history(t *testing.T, arn string) []string {
	t.Helper()
	var outs []string
	pages := awssfn.NewGetExecutionHistoryPaginator(shared.sfn, &awssfn.GetExecutionHistoryInput{ExecutionArn: aws.String(arn), IncludeExecutionData: aws.Bool(true)})
	for pages.HasMorePages() {
		page, err := pages.NextPage(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, ev := range page.Events {
			if d := ev.StateExitedEventDetails; d != nil {
				outs = append(outs, aws.ToString(d.Output))
			}
		}
	}
	return outs
}

// outputSays reports whether a step of the execution arn said text (in a
// summary or any other string of its output).
func outputSays(t *testing.T, arn, text string) bool {
	t.Helper()
	quoted, _ := json.Marshal(text)
	want := strings.Trim(string(quoted), `"`)
	for _, out := range history(t, arn) {
		if strings.Contains(out, want) {
			return true
		}
	}
	return false
}

// describeStack returns the stack named name as CloudFormation shows it.
func describeStack(t *testing.T, name string) cfntypes.Stack {
	t.Helper()
	out, err := shared.cfn.DescribeStacks(context.Background(), &cloudformation.DescribeStacksInput{StackName: aws.String(name)})
	if err != nil {
		t.Fatalf("describe %s: %v", name, err)
	}
	return out.Stacks[0]
}

func TestAFailedFirstCreateIsRecoveredOnTheNextPush(t *testing.T) {
	t.Parallel()
	original, err := os.ReadFile(filepath.Join("..", "..", "examples", "hello", "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	// The first commit adds a bucket whose name S3 refuses: the staging
	// stack's first create fails and is rolled back.
	repo, dir := app(t, "phoenix", map[string]func(string) string{
		"template.yaml": func(s string) string {
			return strings.Replace(s, "Resources:\n", `Resources:
  Uploads:
    Type: AWS::S3::Bucket
    Properties:
      BucketName: Not_A_Valid_Bucket_Name
`, 1)
		},
	})
	staging := repo.Slug + "-staging"
	first := run(t, repo, dir)
	if first.Status != "FAILED" || first.Error != "StackDeployFailed" {
		t.Fatalf("first push: got %s %s: %s, want FAILED StackDeployFailed", first.Status, first.Error, first.Cause)
	}
	if e := env(t, first, "staging"); e.Status != "ROLLBACK_COMPLETE" {
		t.Fatalf("first push: got staging %s, want ROLLBACK_COMPLETE", e.Status)
	}
	failedID := aws.ToString(describeStack(t, staging).StackId)

	// The next commit takes the bucket out again.
	if err := os.WriteFile(filepath.Join(dir, "template.yaml"), original, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := gitIn(context.Background(), dir, "commit", "-qam", "no uploads bucket after all"); err != nil {
		t.Fatal(err)
	}
	second := run(t, repo, dir)
	if !second.Succeeded() {
		t.Fatalf("second push: got %s %s: %s, want SUCCEEDED", second.Status, second.Error, second.Cause)
	}
	for _, name := range []string{"staging", "prod"} {
		e := env(t, second, name)
		if e.Status != "CREATE_COMPLETE" {
			t.Errorf("%s: got %s, want CREATE_COMPLETE", name, e.Status)
		}
		if got, want := get(t, e.Outputs["ApiUrl"]+"hello"), "hello from "+name+"\n"; got != want {
			t.Errorf("%s answers %q, want %q", name, got, want)
		}
	}
	if id := aws.ToString(describeStack(t, staging).StackId); id == failedID {
		t.Errorf("staging is still the stack %s that failed, want a new one", id)
	}
	for _, text := range []string{
		"deleting " + staging + ", left in ROLLBACK_COMPLETE by a failed first create, to create it again",
		staging + " CREATE_COMPLETE (deleted and created again: a failed first create had left it in ROLLBACK_COMPLETE)",
	} {
		if !outputSays(t, second.Execution, text) {
			t.Errorf("the second run never said %q", text)
		}
	}
	store := releases.New(dynamodb.NewFromConfig(shared.aws), shared.Outputs()["ReleasesTableName"])
	got, err := store.List(context.Background(), repo.FullName(), "staging", 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Execution != second.Execution {
		t.Errorf("got staging releases %+v, want the second run's deploy only", got)
	}
}

func TestAnEnvironmentWithItsOwnRolesAndProtection(t *testing.T) {
	t.Parallel()
	const (
		role    = "arn:aws:iam::" + AccountID + ":role/stackflow/deploy-staging"
		cfnRole = "arn:aws:iam::" + AccountID + ":role/stackflow/cloudformation-staging"
	)
	repo, dir := app(t, "guarded", map[string]func(string) string{
		"stackflow.yml": func(s string) string {
			return strings.Replace(s, "  - name: staging\n", "  - name: staging\n"+
				"    role_arn: "+role+"\n"+
				"    cloudformation_role_arn: "+cfnRole+"\n"+
				"    protected: true\n", 1)
		},
	})
	res := run(t, repo, dir)
	if !res.Succeeded() {
		t.Fatalf("got %s %s: %s, want SUCCEEDED", res.Status, res.Error, res.Cause)
	}
	staging := describeStack(t, repo.Slug+"-staging")
	if got := aws.ToString(staging.RoleARN); got != cfnRole {
		t.Errorf("staging: got RoleARN %q, want the environment's %q", got, cfnRole)
	}
	if !aws.ToBool(staging.EnableTerminationProtection) {
		t.Error("staging: got termination protection off, want it on")
	}
	prod := describeStack(t, repo.Slug+"-prod")
	if got := aws.ToString(prod.RoleARN); got == cfnRole || got == "" {
		t.Errorf("prod: got RoleARN %q, want the pipeline's own service role", got)
	}
	if aws.ToBool(prod.EnableTerminationProtection) {
		t.Error("prod: got termination protection on, want it off (not protected in stackflow.yml)")
	}
	if e := env(t, res, "staging"); get(t, e.Outputs["ApiUrl"]+"hello") != "hello from staging\n" {
		t.Error("staging does not greet")
	}
	// The protection is real: CloudFormation refuses to delete the stack.
	_, err := shared.cfn.DeleteStack(context.Background(), &cloudformation.DeleteStackInput{StackName: staging.StackName})
	if err == nil || !strings.Contains(err.Error(), "cannot be deleted while TerminationProtection is enabled") {
		t.Errorf("delete staging: got %v, want it refused for termination protection", err)
	}
	if !outputSays(t, res.Execution, repo.Slug+"-staging CREATE_COMPLETE; termination protection turned on") {
		t.Error("the run never said it turned staging's termination protection on")
	}
	if s := status(t, res); s.State != pipeline.StateSuccessful {
		t.Errorf("got status %+v, want SUCCESSFUL", s)
	}
}
