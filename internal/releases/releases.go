// Package releases records every successful deploy of an environment (the
// commit, the packaged template, when, by which execution) in the
// pipeline's releases table, and lists an environment's releases, newest
// first: what `stackflow releases` shows and what a rollback goes back to.
package releases

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/stackflow/stackflow/internal/pipeline"
)

// Release is one successful deploy of an environment's stack.
type Release struct {
	Repository string `json:"repository"`
	// App is the app of a repository with several whose environment this
	// is; empty for a repository of one app.
	App         string            `json:"app,omitempty"`
	Environment string            `json:"environment"`
	Stack       string            `json:"stack"`
	Commit      string            `json:"commit"`
	Branch      string            `json:"branch"`
	Execution   string            `json:"execution"`
	TemplateURL string            `json:"templateURL"`
	DeployedAt  time.Time         `json:"deployedAt"`
	Outputs     map[string]string `json:"outputs,omitempty"`
	// Deployed is the environment as it was deployed (stack, parameters,
	// smoke checks) and Package the package, so that a rollback redeploys
	// the release exactly. Nil in releases recorded before they were kept.
	Deployed *pipeline.Environment `json:"deployed,omitempty"`
	Package  *pipeline.Package     `json:"package,omitempty"`
	// RollbackOf is set when the release put the environment back after
	// the commit it names failed; By names who asked for a rollback on
	// demand.
	RollbackOf string `json:"rollbackOf,omitempty"`
	By         string `json:"by,omitempty"`
	// PromotedFrom is set when the release is a promotion (stackflow
	// promote): the environment whose release of the commit it deployed.
	PromotedFrom string `json:"promotedFrom,omitempty"`
	// RetryOf is set when a retry (stackflow retry) made the release: the
	// execution it resumed.
	RetryOf string `json:"retryOf,omitempty"`
	// DuringFreeze is set when the release was deployed during one of the
	// environment's freeze windows because a person said so
	// (--during-freeze): who, and why.
	DuringFreeze string `json:"duringFreeze,omitempty"`
}

type dynamoAPI interface {
	PutItem(context.Context, *dynamodb.PutItemInput, ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	Query(context.Context, *dynamodb.QueryInput, ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
	Scan(context.Context, *dynamodb.ScanInput, ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error)
}

var _ dynamoAPI = (*dynamodb.Client)(nil)

// Store reads and writes the releases of one table, whose key is pk (the
// repository and the environment) and sk (when, then the commit).
type Store struct {
	db    dynamoAPI
	table string
}

// New returns the store of table.
func New(db *dynamodb.Client, table string) *Store { return &Store{db: db, table: table} }

// partition is the key of an environment's releases; env is EnvKey's.
func partition(repo, env string) string { return "release#" + repo + "#" + env }

// EnvKey names the environment env of app (of a repository with several;
// "" for none) as List takes it: "api/staging", or "staging".
func EnvKey(app, env string) string {
	if app == "" {
		return env
	}
	return app + "/" + env
}

// Record stores r.
func (s *Store) Record(ctx context.Context, r Release) error {
	if r.Repository == "" || r.Environment == "" || r.Commit == "" {
		return errors.New("record release: want repository, environment and commit")
	}
	at := r.DeployedAt.UTC()
	outputs := map[string]types.AttributeValue{}
	for k, v := range r.Outputs {
		outputs[k] = &types.AttributeValueMemberS{Value: v}
	}
	str := func(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
	item := map[string]types.AttributeValue{
		"pk":          str(partition(r.Repository, EnvKey(r.App, r.Environment))),
		"app":         str(r.App),
		"sk":          str(at.Format(time.RFC3339Nano) + "#" + r.Commit),
		"repository":  str(r.Repository),
		"environment": str(r.Environment),
		"stack":       str(r.Stack),
		"commit":      str(r.Commit),
		"branch":      str(r.Branch),
		"execution":   str(r.Execution),
		"templateURL": str(r.TemplateURL),
		"deployedAt":  str(at.Format(time.RFC3339Nano)),
		"outputs":     &types.AttributeValueMemberM{Value: outputs},
		"rollbackOf":  str(r.RollbackOf),
		"by":          str(r.By),
	}
	for k, v := range map[string]string{"promotedFrom": r.PromotedFrom, "retryOf": r.RetryOf, "duringFreeze": r.DuringFreeze} {
		if v != "" {
			item[k] = str(v)
		}
	}
	for k, v := range map[string]any{"deployed": r.Deployed, "package": r.Package} {
		if reflect.ValueOf(v).IsNil() {
			continue
		}
		data, err := json.Marshal(v)
		if err != nil {
			return fmt.Errorf("record release: %w", err)
		}
		item[k] = str(string(data))
	}
	_, err := s.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(s.table), Item: item})
	if err != nil {
		return fmt.Errorf("record release of %s %s at %s: %w", r.Repository, r.Environment, pipeline.ShortSHA(r.Commit), err)
	}
	return nil
}

// List returns at most limit releases of repository's environment env
// (EnvKey's, for an app's), newest first; limit <= 0 means all.
func (s *Store) List(ctx context.Context, repository, env string, limit int) ([]Release, error) {
	in := &dynamodb.QueryInput{
		TableName:                 aws.String(s.table),
		KeyConditionExpression:    aws.String("pk = :pk"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": &types.AttributeValueMemberS{Value: partition(repository, env)}},
		ScanIndexForward:          aws.Bool(false),
	}
	var out []Release
	for {
		page, err := s.db.Query(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("list releases of %s %s: %w", repository, env, err)
		}
		for _, item := range page.Items {
			out = append(out, fromItem(item))
		}
		if page.LastEvaluatedKey == nil || (limit > 0 && len(out) >= limit) {
			break
		}
		in.ExclusiveStartKey = page.LastEvaluatedKey
	}
	// Newest first, whatever order the store kept.
	sort.SliceStable(out, func(i, j int) bool { return out[i].DeployedAt.After(out[j].DeployedAt) })
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

func fromItem(item map[string]types.AttributeValue) Release {
	str := func(k string) string {
		if v, ok := item[k].(*types.AttributeValueMemberS); ok {
			return v.Value
		}
		return ""
	}
	r := Release{
		Repository: str("repository"), App: str("app"), Environment: str("environment"), Stack: str("stack"), Commit: str("commit"),
		Branch: str("branch"), Execution: str("execution"), TemplateURL: str("templateURL"),
		RollbackOf: str("rollbackOf"), By: str("by"),
		PromotedFrom: str("promotedFrom"), RetryOf: str("retryOf"), DuringFreeze: str("duringFreeze"),
	}
	if v := str("deployed"); v != "" {
		var e pipeline.Environment
		if json.Unmarshal([]byte(v), &e) == nil {
			r.Deployed = &e
		}
	}
	if v := str("package"); v != "" {
		var p pipeline.Package
		if json.Unmarshal([]byte(v), &p) == nil {
			r.Package = &p
		}
	}
	r.DeployedAt, _ = time.Parse(time.RFC3339Nano, str("deployedAt"))
	if m, ok := item["outputs"].(*types.AttributeValueMemberM); ok && len(m.Value) > 0 {
		r.Outputs = map[string]string{}
		for k, v := range m.Value {
			if s, ok := v.(*types.AttributeValueMemberS); ok {
				r.Outputs[k] = s.Value
			}
		}
	}
	return r
}

// Released names an environment that has releases: the repository, the
// app (of a repository with several; "" for one) and the environment.
type Released struct {
	Repository  string `json:"repository"`
	App         string `json:"app,omitempty"`
	Environment string `json:"environment"`
}

// Key is the environment as List takes it (EnvKey's).
func (e Released) Key() string { return EnvKey(e.App, e.Environment) }

// Environments lists every environment that has a release, by repository,
// app and environment name: what the dashboard shows. It scans the table,
// reading only the keys and names of the releases, which stay small (a
// release a deploy).
func (s *Store) Environments(ctx context.Context) ([]Released, error) {
	in := &dynamodb.ScanInput{
		TableName:                 aws.String(s.table),
		FilterExpression:          aws.String("begins_with(pk, :release)"),
		ProjectionExpression:      aws.String("repository, app, environment"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":release": &types.AttributeValueMemberS{Value: "release#"}},
	}
	seen := map[Released]bool{}
	var out []Released
	for {
		page, err := s.db.Scan(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("list the released environments: %w", err)
		}
		for _, item := range page.Items {
			r := fromItem(item)
			e := Released{Repository: r.Repository, App: r.App, Environment: r.Environment}
			if e.Repository != "" && e.Environment != "" && !seen[e] {
				seen[e] = true
				out = append(out, e)
			}
		}
		if page.LastEvaluatedKey == nil {
			break
		}
		in.ExclusiveStartKey = page.LastEvaluatedKey
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Repository != b.Repository {
			return a.Repository < b.Repository
		}
		if a.App != b.App {
			return a.App < b.App
		}
		return a.Environment < b.Environment
	})
	return out, nil
}

// LookupError is Find's answer when the releases hold no release the
// commit names, or the abbreviation names two: the asker's to correct,
// not a failure.
type LookupError struct{ Reason string }

func (e *LookupError) Error() string { return e.Reason }

// Find returns the newest release of repository's environment env whose
// commit starts with commit (a full hash or an abbreviation of at least 4
// characters). Its error is a *LookupError when there is none, or
// when the abbreviation names two commits (or is too short).
func (s *Store) Find(ctx context.Context, repository, env, commit string) (Release, error) {
	if len(commit) < 4 {
		return Release{}, &LookupError{fmt.Sprintf("commit %q: give at least 4 characters of the hash", commit)}
	}
	all, err := s.List(ctx, repository, env, 0)
	if err != nil {
		return Release{}, err
	}
	var found *Release
	for i, r := range all {
		if !strings.HasPrefix(r.Commit, strings.ToLower(commit)) {
			continue
		}
		if found != nil && found.Commit != r.Commit {
			return Release{}, &LookupError{fmt.Sprintf("%s names two released commits of %s (%s, %s): give more of the hash",
				commit, env, pipeline.ShortSHA(found.Commit), pipeline.ShortSHA(r.Commit))}
		}
		if found == nil {
			found = &all[i]
		}
	}
	if found == nil {
		return Release{}, &LookupError{fmt.Sprintf("%s of %s was never released at %s (stackflow releases %s %s lists its releases)",
			env, repository, commit, repository, env)}
	}
	return *found, nil
}

// RunRecord is what the pipeline keeps of a run that reached an
// environment, so that stackflow retry can resume it with the package it
// deployed: the package travels in the execution's state, which a later
// execution cannot read, and a retry's input must not carry a package of
// its own choosing.
type RunRecord struct {
	// Execution is the run's execution ARN.
	Execution  string `json:"execution"`
	Repository string `json:"repository"`
	Branch     string `json:"branch"`
	Commit     string `json:"commit"`
	// StartedAt is when the run started, as it stands among the runs of
	// its branch (a retry's is the run it retried).
	StartedAt time.Time        `json:"startedAt"`
	Package   pipeline.Package `json:"package"`
}

func runKey(execution string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{
		"pk": &types.AttributeValueMemberS{Value: "run#" + execution},
		"sk": &types.AttributeValueMemberS{Value: "run"},
	}
}

// RecordRun keeps r, replacing what was kept of its execution.
func (s *Store) RecordRun(ctx context.Context, r RunRecord) error {
	data, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("record run %s: %w", r.Execution, err)
	}
	item := runKey(r.Execution)
	item["run"] = &types.AttributeValueMemberS{Value: string(data)}
	if _, err := s.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(s.table), Item: item}); err != nil {
		return fmt.Errorf("record run %s: %w", pipeline.ExecutionNameOf(r.Execution), err)
	}
	return nil
}

// ErrNoRunRecord is Run's error for an execution that never reached an
// environment.
var ErrNoRunRecord = errors.New("the run never reached an environment")

// Run returns what was kept of the execution's run, or ErrNoRunRecord.
func (s *Store) Run(ctx context.Context, execution string) (RunRecord, error) {
	out, err := s.db.Query(ctx, &dynamodb.QueryInput{
		TableName:              aws.String(s.table),
		KeyConditionExpression: aws.String("pk = :pk"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":pk": &types.AttributeValueMemberS{Value: "run#" + execution},
		},
	})
	if err != nil {
		return RunRecord{}, fmt.Errorf("read the record of %s: %w", pipeline.ExecutionNameOf(execution), err)
	}
	for _, item := range out.Items {
		if v, ok := item["run"].(*types.AttributeValueMemberS); ok {
			var r RunRecord
			if err := json.Unmarshal([]byte(v.Value), &r); err != nil {
				return RunRecord{}, fmt.Errorf("read the record of %s: %w", pipeline.ExecutionNameOf(execution), err)
			}
			return r, nil
		}
	}
	return RunRecord{}, ErrNoRunRecord
}
