package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/stackflow/stackflow/internal/releases"
	"github.com/stackflow/stackflow/internal/testaws"
)

func TestReleasesArguments(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"releases"}, "give the repository (WORKSPACE/SLUG) and the environment"},
		{[]string{"releases", "acme/hello"}, "give the repository (WORKSPACE/SLUG) and the environment"},
		{[]string{"releases", "hello", "prod"}, "want workspace/slug"},
		{[]string{"releases", "--limit", "0", "acme/hello", "prod"}, "--limit 0: want at least 1"},
	} {
		code, _, errOut := runCLI(t, tt.args...)
		if code != 2 || !strings.Contains(errOut, tt.want) {
			t.Errorf("%v: got exit %d, stderr %q; want 2 and %q", tt.args, code, errOut, tt.want)
		}
	}
}

// TestReleasesLists reads a releases table in the local AWS the way the
// command finds one: endpoints from AWS_ENDPOINT_URL, the table by flag.
func TestReleasesLists(t *testing.T) {
	cfg := testaws.Start(t)
	ctx := context.Background()
	db := dynamodb.NewFromConfig(cfg)
	table := testaws.Name("releases")
	if _, err := db.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName:            aws.String(table),
		BillingMode:          types.BillingModePayPerRequest,
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String("pk"), AttributeType: types.ScalarAttributeTypeS}, {AttributeName: aws.String("sk"), AttributeType: types.ScalarAttributeTypeS}},
		KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String("pk"), KeyType: types.KeyTypeHash}, {AttributeName: aws.String("sk"), KeyType: types.KeyTypeRange}},
	}); err != nil {
		t.Fatal(err)
	}
	store := releases.New(db, table)
	t0 := time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)
	for i, c := range []string{"1111111", "2222222"} {
		if err := store.Record(ctx, releases.Release{Repository: "acme/hello", Environment: "prod", Stack: "hello-prod", Branch: "main",
			Commit: c + strings.Repeat("0", 33), Execution: "arn:aws:states:us-east-1:0:execution:m:hello-main-" + c, DeployedAt: t0.Add(time.Duration(i) * time.Minute)}); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("AWS_ENDPOINT_URL", aws.ToString(cfg.BaseEndpoint))
	t.Setenv("AWS_REGION", testaws.Region)
	t.Setenv("AWS_ACCESS_KEY_ID", "test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	args := []string{"releases", "--state-machine", "arn:aws:states:us-east-1:0:stateMachine:m", "--bucket", "b", "--table", table}

	code, out, errOut := runCLI(t, append(args, "--json", "acme/hello", "prod")...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var got []releases.Release
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("%v in %s", err, out)
	}
	if len(got) != 2 || got[0].Commit[:7] != "2222222" {
		t.Errorf("got %+v, want both releases, newest first", got)
	}
	code, out, _ = runCLI(t, append(args, "acme/hello", "prod")...)
	if code != 0 || !strings.Contains(out, "2222222  main    hello-prod  hello-main-2222222") {
		t.Errorf("got exit %d:\n%s", code, out)
	}
	if code, out, _ = runCLI(t, append(args, "acme/hello", "staging")...); code != 0 || !strings.Contains(out, "no release of acme/hello staging yet") {
		t.Errorf("staging: got exit %d: %s", code, out)
	}
}
