package deploy

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/stackflow/stackflow/internal/local/cfn"
	"github.com/stackflow/stackflow/internal/pipeline"
	"github.com/stackflow/stackflow/internal/testaws"
)

// The tests below run the deploy handler against the local CloudFormation
// engine on the local AWS (kumo), the way stackflow local runs it: the
// engine really fails a first create, really fails a rollback, really
// deletes and protects stacks.

// local is one test's local AWS and CloudFormation engine behind one
// endpoint: STS requests go to kumo, every other to the engine, and both
// are recorded.
type local struct {
	t      *testing.T
	aws    aws.Config // kumo's
	cfn    *cloudformation.Client
	s3     *s3.Client
	bucket string
	// endpoint is the configuration the deploy service is built from.
	endpoint aws.Config

	mu sync.Mutex
	// assumed are the AssumeRole requests: "role as session -> access key".
	assumed []string
	// signers are the access keys that signed CloudFormation requests.
	signers []string
}

var credentialKey = regexp.MustCompile(`Credential=([^/]+)/`)

func startLocal(t *testing.T) *local {
	t.Helper()
	cfg := testaws.Start(t)
	engine, err := cfn.New(cfn.Options{AWS: cfg, WorkDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = engine.Close() })
	kumoURL, err := url.Parse(aws.ToString(cfg.BaseEndpoint))
	if err != nil {
		t.Fatal(err)
	}
	l := &local{t: t, aws: cfg, s3: testaws.S3(cfg)}
	kumo := httputil.NewSingleHostReverseProxy(kumoURL)
	engineHandler := engine.Handler()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		form, _ := url.ParseQuery(string(body))
		if form.Get("Action") != "AssumeRole" {
			if m := credentialKey.FindStringSubmatch(r.Header.Get("Authorization")); m != nil {
				l.mu.Lock()
				l.signers = append(l.signers, m[1])
				l.mu.Unlock()
			}
			engineHandler.ServeHTTP(w, r)
			return
		}
		rec := httptest.NewRecorder()
		kumo.ServeHTTP(rec, r)
		var out struct {
			AccessKeyID string `xml:"AssumeRoleResult>Credentials>AccessKeyId"`
		}
		_ = xml.Unmarshal(rec.Body.Bytes(), &out)
		l.mu.Lock()
		l.assumed = append(l.assumed, form.Get("RoleArn")+" as "+form.Get("RoleSessionName")+" -> "+out.AccessKeyID)
		l.mu.Unlock()
		for k, vs := range rec.Header() {
			w.Header()[k] = vs
		}
		w.WriteHeader(rec.Code)
		_, _ = w.Write(rec.Body.Bytes())
	}))
	t.Cleanup(srv.Close)
	l.endpoint = cfg.Copy()
	l.endpoint.BaseEndpoint = aws.String(srv.URL)
	l.cfn = cloudformation.NewFromConfig(l.endpoint)
	l.bucket = testaws.Bucket(t, cfg, "templates")
	return l
}

// template stores body and returns its URL, as the package step gives it.
func (l *local) template(key, body string) string {
	l.t.Helper()
	if _, err := l.s3.PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String(l.bucket), Key: aws.String(key), Body: strings.NewReader(body)}); err != nil {
		l.t.Fatal(err)
	}
	return "https://" + l.bucket + ".s3.us-east-1.amazonaws.com/" + key
}

// stack returns the stack nameOrID names, or nil.
func (l *local) stack(nameOrID string) *types.Stack {
	l.t.Helper()
	out, err := l.cfn.DescribeStacks(context.Background(), &cloudformation.DescribeStacksInput{StackName: aws.String(nameOrID)})
	if isStackMissing(err) {
		return nil
	}
	if err != nil {
		l.t.Fatal(err)
	}
	return &out.Stacks[0]
}

// driver calls the deploy actions for in as the state machine does,
// keeping every answer's summary.
type driver struct {
	t         *testing.T
	svc       *Service
	in        pipeline.DeployInput
	summaries []string
}

// call does action a once.
func (dr *driver) call(a pipeline.DeployAction) error {
	dr.in.Action = a
	d, err := dr.svc.Handle(context.Background(), dr.in)
	if err != nil {
		return err
	}
	dr.summaries = append(dr.summaries, d.Summary)
	dr.in.Deployment = d
	return nil
}

// poll does action a until the deployment is done, waiting a little
// between looks.
func (dr *driver) poll(a pipeline.DeployAction) error {
	dr.t.Helper()
	for deadline := time.Now().Add(time.Minute); !dr.in.Deployment.Done; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			dr.t.Fatalf("%s: not done after a minute: %s", a, dr.in.Deployment.Summary)
		}
		if err := dr.call(a); err != nil {
			return err
		}
	}
	return nil
}

// deployOn deploys in's environment as the state machine does and returns
// every answer's summary, the last answer and the first error.
func deployOn(t *testing.T, svc *Service, in pipeline.DeployInput) ([]string, pipeline.Deployment, error) {
	t.Helper()
	dr := &driver{t: t, svc: svc, in: in}
	err := dr.call(pipeline.ActionCreateChangeSet)
	if err == nil {
		dr.in.Deployment.Done = false
		err = dr.poll(pipeline.ActionDescribeChangeSet)
	}
	if err == nil && !dr.in.Deployment.NoChanges {
		err = dr.call(pipeline.ActionExecuteChangeSet)
	}
	if err == nil {
		dr.in.Deployment.Done = false
		err = dr.poll(pipeline.ActionDescribeStack)
	}
	return dr.summaries, dr.in.Deployment, err
}

// deleteOn deletes in's preview stack as the state machine does.
func deleteOn(t *testing.T, svc *Service, in pipeline.DeployInput) ([]string, pipeline.Deployment, error) {
	t.Helper()
	dr := &driver{t: t, svc: svc, in: in}
	err := dr.call(pipeline.ActionDeleteStack)
	if err == nil {
		err = dr.poll(pipeline.ActionDescribeDeletion)
	}
	return dr.summaries, dr.in.Deployment, err
}

var executions atomic.Int64

// engineInput is the input of a deploy of templateURL as stack, by an
// execution of its own, as each push is.
func engineInput(stack, templateURL string) pipeline.DeployInput {
	in := testInput()
	in.Execution = fmt.Sprintf("%s-%d", testExecution, executions.Add(1))
	in.Environment = pipeline.Environment{Name: "staging", Stack: stack}
	in.Package.TemplateURL = templateURL
	return in
}

const (
	goodTemplate = `
Resources:
  Setting:
    Type: AWS::SSM::Parameter
    Properties: {Type: String, Value: one}
Outputs:
  Value: {Value: !GetAtt Setting.Value}
`
	badTemplate = `
Resources:
  Setting:
    Type: AWS::SSM::Parameter
    Properties: {Type: String, Value: one}
  Uploads:
    Type: AWS::S3::Bucket
    DependsOn: Setting
    Properties: {BucketName: Not_A_Valid_Bucket_Name}
`
	versionedTemplate = `
Resources:
  Files:
    Type: AWS::S3::Bucket
    Properties:
      VersioningConfiguration: {Status: Enabled}
Outputs:
  Files: {Value: !Ref Files}
`
)

func TestAFailedFirstCreateIsDeletedAndCreatedAgain(t *testing.T) {
	t.Parallel()
	l := startLocal(t)
	svc := New(l.endpoint, "")
	_, _, err := deployOn(t, svc, engineInput("app-staging", l.template("bad.yaml", badTemplate)))
	var sf *pipeline.StackDeployFailed
	if !errors.As(err, &sf) || sf.Status != "ROLLBACK_COMPLETE" || !strings.HasPrefix(sf.Resource, "Uploads") {
		t.Fatalf("first create: got %v, want StackDeployFailed ROLLBACK_COMPLETE naming Uploads", err)
	}
	failed := l.stack("app-staging")

	in := engineInput("app-staging", l.template("good.yaml", goodTemplate))
	summaries, d, err := deployOn(t, svc, in)
	if err != nil {
		t.Fatalf("second push: %v (%q)", err, summaries)
	}
	st := l.stack("app-staging")
	if st.StackStatus != types.StackStatusCreateComplete || aws.ToString(st.StackId) == aws.ToString(failed.StackId) {
		t.Errorf("got %s %s, want a new stack CREATE_COMPLETE (the failed one was %s)", aws.ToString(st.StackId), st.StackStatus, aws.ToString(failed.StackId))
	}
	if old := l.stack(aws.ToString(failed.StackId)); old == nil || old.StackStatus != types.StackStatusDeleteComplete {
		t.Errorf("got the failed stack %v, want it DELETE_COMPLETE", old)
	}
	if d.Outputs["Value"] != "one" {
		t.Errorf("got outputs %v, want Value one", d.Outputs)
	}
	want := []string{
		"deleting app-staging, left in ROLLBACK_COMPLETE by a failed first create, to create it again",
		"deleted app-staging, left in ROLLBACK_COMPLETE by a failed first create; app-staging: creating CREATE change set " + changeSetName(in.Run, in.Execution),
	}
	for _, w := range want {
		if !slices.Contains(summaries, w) {
			t.Errorf("got summaries %q, want one to be %q", summaries, w)
		}
	}
	if last := summaries[len(summaries)-1]; last != "app-staging CREATE_COMPLETE (deleted and created again: a failed first create had left it in ROLLBACK_COMPLETE)" {
		t.Errorf("got the last summary %q, want it to say the stack was deleted and created again", last)
	}
}

func TestAFailedRollbackIsContinued(t *testing.T) {
	t.Parallel()
	l := startLocal(t)
	ctx := context.Background()
	svc := New(l.endpoint, "")
	versioned := func(status string) string {
		return l.template("versioned-"+status+".yaml", strings.Replace(versionedTemplate, "Status: Enabled", "Status: "+status, 1))
	}
	_, d, err := deployOn(t, svc, engineInput("app-prod", versioned("Enabled")))
	if err != nil {
		t.Fatal(err)
	}
	bucket := d.Outputs["Files"]
	// Someone deletes the bucket behind CloudFormation's back: the next
	// update of it fails, and so does its rollback.
	if _, err := l.s3.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String(bucket)}); err != nil {
		t.Fatal(err)
	}
	_, _, err = deployOn(t, svc, engineInput("app-prod", versioned("Suspended")))
	var sf *pipeline.StackDeployFailed
	if !errors.As(err, &sf) || sf.Status != "UPDATE_ROLLBACK_FAILED" {
		t.Fatalf("update: got %v, want StackDeployFailed UPDATE_ROLLBACK_FAILED", err)
	}

	// The next push continues the rollback, which fails again while the
	// bucket is missing: the deploy says which resource and what to do.
	_, _, err = deployOn(t, svc, engineInput("app-prod", versioned("Suspended")))
	if !errors.As(err, &sf) {
		t.Fatalf("continued unmended: got %v, want StackDeployFailed", err)
	}
	if sf.Status != "UPDATE_ROLLBACK_FAILED" || sf.Resource != "Files (AWS::S3::Bucket)" ||
		!strings.Contains(sf.Reason, "NoSuchBucket") || !strings.Contains(sf.Reason, "--resources-to-skip Files") {
		t.Errorf("continued unmended: got %s %s %q, want UPDATE_ROLLBACK_FAILED, Files, NoSuchBucket and --resources-to-skip Files", sf.Status, sf.Resource, sf.Reason)
	}

	// Once the bucket is back, the next push continues the rollback and
	// then updates the stack.
	if _, err := l.s3.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		t.Fatal(err)
	}
	summaries, _, err := deployOn(t, svc, engineInput("app-prod", versioned("Suspended")))
	if err != nil {
		t.Fatalf("continued mended: %v (%q)", err, summaries)
	}
	if st := l.stack("app-prod"); st.StackStatus != types.StackStatusUpdateComplete {
		t.Errorf("got %s, want UPDATE_COMPLETE", st.StackStatus)
	}
	v, err := l.s3.GetBucketVersioning(ctx, &s3.GetBucketVersioningInput{Bucket: aws.String(bucket)})
	if err != nil || v.Status != "Suspended" {
		t.Errorf("got the bucket's versioning %v, %v; want Suspended", v, err)
	}
	if first := summaries[0]; first != "continuing the rollback of app-prod, left in UPDATE_ROLLBACK_FAILED by an update whose rollback failed, to update it again" {
		t.Errorf("got the first summary %q, want it to say the rollback is being continued", first)
	}
}

func TestAnEnvironmentInItsOwnAccount(t *testing.T) {
	t.Parallel()
	l := startLocal(t)
	const (
		role    = "arn:aws:iam::222222222222:role/stackflow-deploy"
		cfnRole = "arn:aws:iam::222222222222:role/stackflow-cloudformation"
	)
	svc := New(l.endpoint, "arn:aws:iam::111111111111:role/pipeline-cloudformation")
	in := engineInput("app-prod", l.template("good.yaml", goodTemplate))
	in.Environment.RoleARN, in.Environment.CloudFormationRoleARN, in.Environment.Protected = role, cfnRole, true
	summaries, _, err := deployOn(t, svc, in)
	if err != nil {
		t.Fatal(err)
	}
	st := l.stack("app-prod")
	if got := aws.ToString(st.RoleARN); got != cfnRole {
		t.Errorf("got the stack's role %q, want %q", got, cfnRole)
	}
	if !aws.ToBool(st.EnableTerminationProtection) {
		t.Error("got termination protection off, want it on")
	}
	if last := summaries[len(summaries)-1]; !strings.HasSuffix(last, "; termination protection turned on") {
		t.Errorf("got the last summary %q, want it to say protection was turned on", last)
	}

	l.mu.Lock()
	assumed, signers := slices.Clone(l.assumed), slices.Clone(l.signers)
	l.mu.Unlock()
	if len(assumed) != 1 || !strings.HasPrefix(assumed[0], role+" as "+SessionName+" -> ASIA") {
		t.Fatalf("got AssumeRole calls %q, want one of %s as %s (the credentials kept)", assumed, role, SessionName)
	}
	key := assumed[0][strings.LastIndex(assumed[0], " ")+1:]
	// l.cfn's own calls (by the test) are signed as the test; all of the
	// deploy handler's by the assumed role.
	own := 0
	for _, s := range signers {
		switch s {
		case key:
		case "test":
			own++
		default:
			t.Errorf("a CloudFormation call was signed by %q, want the assumed role's %q", s, key)
		}
	}
	if own == len(signers) {
		t.Error("no CloudFormation call was signed by the assumed role")
	}

	// A second deploy keeps the protection and assumes no role again.
	in.Package.TemplateURL = l.template("good2.yaml", strings.Replace(goodTemplate, "one", "two", 1))
	if _, _, err := deployOn(t, svc, in); err != nil {
		t.Fatal(err)
	}
	l.mu.Lock()
	n := len(l.assumed)
	l.mu.Unlock()
	if n != 1 {
		t.Errorf("got %d AssumeRole calls after two deploys, want 1 (the credentials kept)", n)
	}
}

func TestPreviewStacksAreDeleted(t *testing.T) {
	t.Parallel()
	l := startLocal(t)
	ctx := context.Background()
	svc := New(l.endpoint, "")
	preview := func(stack string) pipeline.DeployInput {
		in := engineInput(stack, l.template("good.yaml", goodTemplate))
		in.Environment.Name, in.Environment.PullRequest = "preview", 7
		return in
	}
	deploy := func(in pipeline.DeployInput) {
		t.Helper()
		if _, _, err := deployOn(t, svc, in); err != nil {
			t.Fatal(err)
		}
	}
	deleteIt := func(in pipeline.DeployInput) ([]string, pipeline.Deployment, error) {
		return deleteOn(t, svc, in)
	}

	t.Run("deleted", func(t *testing.T) {
		in := preview("app-pr-7")
		in.Environment.Protected = true // a preview is never protected
		deploy(in)
		summaries, d, err := deleteIt(in)
		if err != nil {
			t.Fatal(err)
		}
		if !d.Done || l.stack("app-pr-7") != nil {
			t.Errorf("got done %v and the stack %v, want it gone", d.Done, l.stack("app-pr-7"))
		}
		if st := l.stack(d.StackID); st == nil || st.StackStatus != types.StackStatusDeleteComplete {
			t.Errorf("got %v by its ID, want DELETE_COMPLETE", st)
		}
		if got, want := summaries[0], "deleting preview stack app-pr-7 of pull request #7: the pull request was closed"; got != want {
			t.Errorf("got %q, want %q", got, want)
		}
		if got, want := summaries[len(summaries)-1], "deleted preview stack app-pr-7 of pull request #7"; got != want {
			t.Errorf("got %q, want %q", got, want)
		}
		// Again (a redelivered webhook): nothing left to do.
		in.Deployment = pipeline.Deployment{}
		summaries, d, err = deleteIt(in)
		if err != nil || !d.Done || summaries[0] != "preview stack app-pr-7 of pull request #7 does not exist: nothing to delete" {
			t.Errorf("again: got %q, done %v, %v; want done, nothing to delete", summaries, d.Done, err)
		}
	})

	refusals := []struct {
		name, stack string
		change      func(*pipeline.DeployInput)
		want        string
	}{
		{"not a preview", "app-staging", func(in *pipeline.DeployInput) { in.Environment.PullRequest = 0; in.Environment.Name = "staging" },
			`delete stack app-staging: refused: environment "staging" is not a pull request's preview`},
		{"protected", "app-pr-8", func(*pipeline.DeployInput) {}, "refused: the stack has termination protection"},
		{"another repository's", "app-pr-9", func(in *pipeline.DeployInput) { in.Run.Repository.Slug = "other" },
			`refused: the stack's stackflow:repository tag is "acme/hello", not "acme/other"`},
	}
	for _, tt := range refusals {
		t.Run("refused: "+tt.name, func(t *testing.T) {
			in := preview(tt.stack)
			deploy(in)
			if tt.name == "protected" {
				if _, err := l.cfn.UpdateTerminationProtection(ctx, &cloudformation.UpdateTerminationProtectionInput{StackName: aws.String(tt.stack), EnableTerminationProtection: aws.Bool(true)}); err != nil {
					t.Fatal(err)
				}
			}
			tt.change(&in)
			_, _, err := deleteIt(in)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v, want an error containing %q", err, tt.want)
			}
			if st := l.stack(tt.stack); st == nil || st.StackStatus != types.StackStatusCreateComplete {
				t.Errorf("got the stack %v, want it untouched, CREATE_COMPLETE", st)
			}
		})
	}

	t.Run("a resource that cannot be deleted", func(t *testing.T) {
		in := preview("app-pr-10")
		in.Package.TemplateURL = l.template("versioned.yaml", versionedTemplate)
		_, d, err := deployOn(t, svc, in)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := l.s3.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(d.Outputs["Files"]), Key: aws.String("kept"), Body: strings.NewReader("data")}); err != nil {
			t.Fatal(err)
		}
		in.Deployment = pipeline.Deployment{}
		_, _, err = deleteIt(in)
		if err == nil || !strings.Contains(err.Error(), "delete preview stack app-pr-10 (DELETE_FAILED): Files (AWS::S3::Bucket): ") ||
			!strings.Contains(err.Error(), "--retain-resources Files") {
			t.Errorf("got %v, want an error naming Files and --retain-resources Files", err)
		}
	})
}
