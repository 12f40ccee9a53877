// Package approvals keeps the deploys that wait for a person's approval in
// the pipeline's DynamoDB table: for each, the environment, the commit, what
// its change set will change, and the Step Functions task token that
// resumes the run. The approval function (Decider, behind a function URL
// whose AuthType is AWS_IAM) finds a run's waiting deploy here and answers
// it as the caller AWS names, when the environment's approvers include
// them; `stackflow approve` and `stackflow reject` call it, and
// `rollback`, `promote` and `retry`, whose runs it starts as that caller.
//
// The task token is a secret: whoever holds it can resume the run. It is
// stored here and handed to Step Functions, and never logged, printed or
// returned in a step's output.
package approvals

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/stackflow/stackflow/internal/pipeline"
)

// Request is a deploy waiting for approval.
type Request struct {
	// Execution is the waiting run's execution ARN.
	Execution   string
	Repository  string
	Environment string
	Stack       string
	Commit      string
	Branch      string
	// Changes are the change set's lines ("Add HelloFunction
	// AWS::Lambda::Function"), what the approver approves.
	Changes []string
	// Summary counts the changes ("1 to add, 2 to modify, 0 to replace,
	// 0 to remove").
	Summary     string
	RequestedAt time.Time
	// ExpiresAt is when the run stops waiting.
	ExpiresAt time.Time
	// Approvers are who may answer it, as the environment names them on
	// the default branch: IAM principal ARNs or patterns. Empty means
	// anyone who may call stackflow approve.
	Approvers []string
	// Token resumes the run. Secret.
	Token string
}

// MayAnswer refuses caller, an IAM principal ARN as STS GetCallerIdentity
// reports it, unless r names no approvers or one of them matches: as an
// ARN pattern (pipeline.MatchARN), or, for a role
// ("arn:aws:iam::123456789012:role/path/release"), any session of it
// ("arn:aws:sts::123456789012:assumed-role/release/ada").
func (r Request) MayAnswer(caller string) error {
	if len(r.Approvers) == 0 {
		return nil
	}
	for _, a := range r.Approvers {
		if pipeline.MatchARN(a, caller) || pipeline.MatchARN(sessionsOf(a), caller) {
			return nil
		}
	}
	return fmt.Errorf("%s may not answer the approval of %s's deploy to %s: its approvers are %s (approvers in stackflow.yml on the default branch)",
		caller, short(r.Commit), r.Environment, strings.Join(r.Approvers, ", "))
}

// sessionsOf is the pattern of the sessions of the role approver names
// ("arn:aws:iam::1:role/path/name" -> "arn:aws:sts::1:assumed-role/name/*"),
// or approver itself when it names no role.
func sessionsOf(approver string) string {
	parts := strings.SplitN(approver, ":", 6)
	if len(parts) != 6 || parts[2] != "iam" || !strings.HasPrefix(parts[5], "role/") {
		return approver
	}
	name := parts[5][strings.LastIndex(parts[5], "/")+1:]
	return strings.Join([]string{parts[0], parts[1], "sts", parts[3], parts[4], "assumed-role/" + name + "/*"}, ":")
}

// String describes the request without its token.
func (r Request) String() string {
	return fmt.Sprintf("%s of %s at %s (%s)", r.Environment, r.Repository, short(r.Commit), r.Summary)
}

func short(sha string) string {
	if len(sha) > 7 {
		return sha[:7]
	}
	return sha
}

type dynamoAPI interface {
	PutItem(context.Context, *dynamodb.PutItemInput, ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	Query(context.Context, *dynamodb.QueryInput, ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
	DeleteItem(context.Context, *dynamodb.DeleteItemInput, ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error)
}

var _ dynamoAPI = (*dynamodb.Client)(nil)

// Store keeps approval requests in one table keyed by pk and sk.
type Store struct {
	db    dynamoAPI
	table string
}

// New returns the store of table.
func New(db *dynamodb.Client, table string) *Store { return &Store{db: db, table: table} }

func partition(execution string) string { return "approval#" + execution }

func str(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }

// Put keeps r, replacing a request of the same run and environment.
func (s *Store) Put(ctx context.Context, r Request) error {
	if r.Execution == "" || r.Environment == "" || r.Token == "" {
		return errors.New("keep approval request: want execution, environment and token")
	}
	list := func(ss []string) types.AttributeValue {
		l := make([]types.AttributeValue, len(ss))
		for i, v := range ss {
			l[i] = str(v)
		}
		return &types.AttributeValueMemberL{Value: l}
	}
	_, err := s.db.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: aws.String(s.table),
		Item: map[string]types.AttributeValue{
			"pk":          str(partition(r.Execution)),
			"sk":          str(r.Environment),
			"execution":   str(r.Execution),
			"repository":  str(r.Repository),
			"environment": str(r.Environment),
			"stack":       str(r.Stack),
			"commit":      str(r.Commit),
			"branch":      str(r.Branch),
			"changes":     list(r.Changes),
			"approvers":   list(r.Approvers),
			"summary":     str(r.Summary),
			"requestedAt": str(r.RequestedAt.UTC().Format(time.RFC3339Nano)),
			"expiresAt":   str(r.ExpiresAt.UTC().Format(time.RFC3339Nano)),
			"token":       str(r.Token),
		},
	})
	if err != nil {
		return fmt.Errorf("keep the approval request of %s: %w", r.Environment, err)
	}
	return nil
}

// Pending returns the requests of execution that wait, ordered by
// environment name.
func (s *Store) Pending(ctx context.Context, execution string) ([]Request, error) {
	in := &dynamodb.QueryInput{
		TableName:                 aws.String(s.table),
		KeyConditionExpression:    aws.String("pk = :pk"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": str(partition(execution))},
		ConsistentRead:            aws.Bool(true),
	}
	var out []Request
	for {
		page, err := s.db.Query(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("read the approval requests of %s: %w", execution, err)
		}
		for _, it := range page.Items {
			out = append(out, fromItem(it))
		}
		if page.LastEvaluatedKey == nil {
			return out, nil
		}
		in.ExclusiveStartKey = page.LastEvaluatedKey
	}
}

// Delete forgets the request of execution for environment.
func (s *Store) Delete(ctx context.Context, execution, environment string) error {
	_, err := s.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName: aws.String(s.table),
		Key:       map[string]types.AttributeValue{"pk": str(partition(execution)), "sk": str(environment)},
	})
	if err != nil {
		return fmt.Errorf("forget the approval request of %s: %w", environment, err)
	}
	return nil
}

func fromItem(it map[string]types.AttributeValue) Request {
	s := func(k string) string {
		if v, ok := it[k].(*types.AttributeValueMemberS); ok {
			return v.Value
		}
		return ""
	}
	r := Request{Execution: s("execution"), Repository: s("repository"), Environment: s("environment"), Stack: s("stack"),
		Commit: s("commit"), Branch: s("branch"), Summary: s("summary"), Token: s("token")}
	r.RequestedAt, _ = time.Parse(time.RFC3339Nano, s("requestedAt"))
	r.ExpiresAt, _ = time.Parse(time.RFC3339Nano, s("expiresAt"))
	list := func(k string) []string {
		var out []string
		if l, ok := it[k].(*types.AttributeValueMemberL); ok {
			for _, v := range l.Value {
				if c, ok := v.(*types.AttributeValueMemberS); ok {
					out = append(out, c.Value)
				}
			}
		}
		return out
	}
	r.Changes, r.Approvers = list("changes"), list("approvers")
	return r
}

// Pick chooses the request to answer among pending: the one of env, or
// the only one when env is empty. Its error says what to do otherwise.
func Pick(pending []Request, execution, env string) (Request, error) {
	names := make([]string, len(pending))
	for i, r := range pending {
		if r.Environment == env {
			return r, nil
		}
		names[i] = r.Environment
	}
	switch {
	case len(pending) == 0:
		return Request{}, fmt.Errorf("%s is not waiting for an approval (it may have been answered, timed out or stopped; see stackflow show)", execution)
	case env != "":
		return Request{}, fmt.Errorf("%s waits for an approval of %s, not %s: use --env %s", execution, strings.Join(names, ", "), env, names[0])
	case len(pending) > 1:
		return Request{}, fmt.Errorf("%s waits for approvals of %s: name one with --env", execution, strings.Join(names, ", "))
	}
	return pending[0], nil
}

// Resumer resumes a run waiting on a task token; *sfn.Client is one.
type Resumer interface {
	SendTaskSuccess(ctx context.Context, in *sfn.SendTaskSuccessInput, optFns ...func(*sfn.Options)) (*sfn.SendTaskSuccessOutput, error)
}

var _ Resumer = (*sfn.Client)(nil)

// Approve resumes the run waiting on r, approved by by (the caller's IAM
// identity, which r.MayAnswer let through) at at: the task's output is a
// pipeline.Approval, which stackflow show reads back.
func Approve(ctx context.Context, tasks Resumer, r Request, by string, at time.Time) error {
	out, err := json.Marshal(pipeline.Approval{Environment: r.Environment, By: by, At: at.UTC().Format(time.RFC3339)})
	if err != nil {
		return err
	}
	_, err = tasks.SendTaskSuccess(ctx, &sfn.SendTaskSuccessInput{TaskToken: aws.String(r.Token), Output: aws.String(string(out))})
	return err
}
