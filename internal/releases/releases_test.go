package releases

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/stackflow/stackflow/internal/pipeline"
	"github.com/stackflow/stackflow/internal/testaws"
)

// table makes a table shaped like template.yaml's ReleasesTable.
func table(t *testing.T) *Store {
	t.Helper()
	db := dynamodb.NewFromConfig(testaws.Start(t))
	name := testaws.Name("releases")
	_, err := db.CreateTable(context.Background(), &dynamodb.CreateTableInput{
		TableName:            aws.String(name),
		BillingMode:          types.BillingModePayPerRequest,
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String("pk"), AttributeType: types.ScalarAttributeTypeS}, {AttributeName: aws.String("sk"), AttributeType: types.ScalarAttributeTypeS}},
		KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String("pk"), KeyType: types.KeyTypeHash}, {AttributeName: aws.String("sk"), KeyType: types.KeyTypeRange}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return New(db, name)
}

func TestRecordAndList(t *testing.T) {
	t.Parallel()
	s := table(t)
	ctx := context.Background()
	t0 := time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)
	for i, c := range []string{"aaaaaaa", "bbbbbbb", "ccccccc"} {
		r := Release{Repository: "acme/hello", Environment: "prod", Stack: "hello-prod", Commit: c + "000000000000000000000000000000000", Branch: "main",
			Execution: "arn:x:" + c, TemplateURL: "https://b.s3.eu-west-1.amazonaws.com/t-" + c, DeployedAt: t0.Add(time.Duration(i) * time.Hour),
			Outputs: map[string]string{"ApiUrl": "https://" + c + ".example/"}}
		if err := s.Record(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Record(ctx, Release{Repository: "acme/hello", Environment: "staging", Commit: "ddddddd", DeployedAt: t0}); err != nil {
		t.Fatal(err)
	}
	got, err := s.List(ctx, "acme/hello", "prod", 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || got[0].Commit[:7] != "ccccccc" || got[2].Commit[:7] != "aaaaaaa" {
		t.Fatalf("got %+v, want prod's three releases, newest first", got)
	}
	if got[0].Outputs["ApiUrl"] != "https://ccccccc.example/" || got[0].Stack != "hello-prod" || !got[0].DeployedAt.Equal(t0.Add(2*time.Hour)) {
		t.Errorf("got %+v, want every field back", got[0])
	}
	if last, err := s.List(ctx, "acme/hello", "prod", 1); err != nil || len(last) != 1 || last[0].Commit[:7] != "ccccccc" {
		t.Errorf("limit 1: got %+v, %v; want the newest", last, err)
	}
	if none, err := s.List(ctx, "acme/other", "prod", 0); err != nil || len(none) != 0 {
		t.Errorf("another repository: got %+v, %v; want none", none, err)
	}
	if err := s.Record(ctx, Release{Environment: "prod"}); err == nil {
		t.Error("a release without repository and commit was recorded")
	}
}

func TestFindAndRedeployable(t *testing.T) {
	t.Parallel()
	s := table(t)
	ctx := context.Background()
	t0 := time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)
	env := &pipeline.Environment{Name: "prod", Stack: "hello-prod", Parameters: map[string]string{"Stage": "prod"},
		Smoke: []pipeline.SmokeCheck{{Name: "greets", URL: "${ApiUrl}hello", Method: "GET", Status: 200}}}
	pkg := &pipeline.Package{TemplateURL: "https://b.s3.amazonaws.com/packages/x/template.yaml"}
	for i, c := range []string{"abcd111", "abcd222", "ffff333"} {
		r := Release{Repository: "acme/hello", Environment: "prod", Commit: c + "000000000000000000000000000000000",
			DeployedAt: t0.Add(time.Duration(i) * time.Minute), Deployed: env, Package: pkg}
		if i == 2 {
			r.RollbackOf, r.By = "abcd222000000000000000000000000000000000", "ada"
		}
		if err := s.Record(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.Find(ctx, "acme/hello", "prod", "ffff")
	if err != nil {
		t.Fatal(err)
	}
	if got.Deployed == nil || got.Deployed.Smoke[0].URL != "${ApiUrl}hello" || got.Package == nil || got.Package.TemplateURL != pkg.TemplateURL {
		t.Errorf("got %+v, want the environment and package back", got)
	}
	if got.RollbackOf[:7] != "abcd222" || got.By != "ada" {
		t.Errorf("got rollbackOf %q by %q, want abcd222 by ada", got.RollbackOf, got.By)
	}
	for _, tt := range []struct{ commit, wantErr string }{
		{"abcd", "names two released commits"},
		{"9999", "was never released at 9999"},
		{"ab", "at least 4 characters"},
	} {
		if _, err := s.Find(ctx, "acme/hello", "prod", tt.commit); err == nil || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("Find(%s): got %v, want an error containing %q", tt.commit, err, tt.wantErr)
		}
	}
}

func TestPromotionFieldsAndRunRecords(t *testing.T) {
	t.Parallel()
	s := table(t)
	ctx := context.Background()
	at := time.Date(2026, 12, 24, 9, 0, 0, 0, time.UTC)
	r := Release{Repository: "acme/hello", Environment: "prod", Commit: "eeeeeee000000000000000000000000000000000", DeployedAt: at,
		PromotedFrom: "staging", RetryOf: "arn:x:hello-main-eeeeeee", DuringFreeze: "ada: the fix for the outage", By: "ada"}
	if err := s.Record(ctx, r); err != nil {
		t.Fatal(err)
	}
	got, err := s.List(ctx, "acme/hello", "prod", 1)
	if err != nil || len(got) != 1 {
		t.Fatalf("got %v, %v", got, err)
	}
	if g := got[0]; g.PromotedFrom != r.PromotedFrom || g.RetryOf != r.RetryOf || g.DuringFreeze != r.DuringFreeze || g.By != "ada" {
		t.Errorf("got %+v, want the promotion's fields back", g)
	}

	if _, err := s.Run(ctx, "arn:x:never"); err != ErrNoRunRecord {
		t.Errorf("got %v, want ErrNoRunRecord for a run never recorded", err)
	}
	rec := RunRecord{Execution: "arn:x:hello-main-eeeeeee", Repository: "acme/hello", Branch: "main", Commit: r.Commit, StartedAt: at,
		Package: pipeline.Package{TemplateKey: "packages/acme/hello/eeeeeee/template.yaml", Functions: []pipeline.BuiltFunction{{Name: "Hello", Key: "artifacts/x.zip", SHA256: "ab", Size: 3}}}}
	if err := s.RecordRun(ctx, rec); err != nil {
		t.Fatal(err)
	}
	back, err := s.Run(ctx, rec.Execution)
	if err != nil {
		t.Fatal(err)
	}
	if !back.StartedAt.Equal(at) || back.Package.Functions[0].SHA256 != "ab" || back.Branch != "main" {
		t.Errorf("got %+v, want the record back", back)
	}
	// Releases of the environment are not mistaken for it, nor it for them.
	if list, _ := s.List(ctx, "acme/hello", "prod", 0); len(list) != 1 {
		t.Errorf("got %d releases, want 1", len(list))
	}
}

func TestEnvironmentsListsEachReleasedEnvironmentOnce(t *testing.T) {
	t.Parallel()
	s := table(t)
	ctx := context.Background()
	t0 := time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)
	for i, r := range []Release{
		{Repository: "acme/hello", Environment: "staging"},
		{Repository: "acme/hello", Environment: "staging"},
		{Repository: "acme/hello", Environment: "prod"},
		{Repository: "acme/platform", App: "api", Environment: "prod"},
	} {
		r.Commit = strings.Repeat("a", 40)
		r.DeployedAt = t0.Add(time.Duration(i) * time.Minute)
		if err := s.Record(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.RecordRun(ctx, RunRecord{Execution: "arn:x", Repository: "acme/other", Commit: "b"}); err != nil {
		t.Fatal(err)
	}
	got, err := s.Environments(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := []Released{
		{Repository: "acme/hello", Environment: "prod"},
		{Repository: "acme/hello", Environment: "staging"},
		{Repository: "acme/platform", App: "api", Environment: "prod"},
	}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("environment %d: got %+v, want %+v", i, got[i], want[i])
		}
	}
	if k := got[2].Key(); k != "api/prod" {
		t.Errorf("key: got %q, want api/prod", k)
	}
}
