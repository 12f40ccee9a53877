// Package locks keeps, in the pipeline's DynamoDB table, what makes
// promotion safe when runs overlap: each environment stack's lock, so that
// one deployment at a time touches a stack, and the newest run of each
// branch to reach each environment, so that an older commit never goes
// over a newer one.
//
// A lock is a lease: its holder renews it with every step of its deploy,
// and a holder that died (a stopped execution, a crashed handler) frees the
// stack when its lease lapses. Every write is a conditional write, so two
// runs racing for one stack cannot both win.
package locks

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Claim is a run asking for an environment's stack.
type Claim struct {
	// Account, Region and Stack name the stack; one lock guards each.
	// Account is empty for the pipeline's own account.
	Account string
	Region  string
	Stack   string
	// Repository, Branch and Environment say whose run it is.
	Repository  string
	Branch      string
	Environment string
	// Execution and Commit identify the run.
	Execution string
	Commit    string
	// StartedAt orders the runs of a branch: the later start is newer.
	StartedAt time.Time
	// Rollback is true for a stackflow rollback run.
	Rollback bool
}

// Holder is the run that holds a lock, or the newest run of a branch.
type Holder struct {
	Repository string
	Branch     string
	Execution  string
	Commit     string
	StartedAt  time.Time
	// ExpiresAt is when the lease lapses unless renewed.
	ExpiresAt time.Time
	// Awaiting is true while the holder waits for an approval: a newer run
	// of its branch may take the lock from it.
	Awaiting bool
	// Rollback is true when the run is a stackflow rollback.
	Rollback bool
}

// ErrNotHeld is returned by Renew when the claim no longer holds the lock.
var ErrNotHeld = errors.New("the lock is not held by this run")

// SupersededError is returned by Register when a newer run of the branch
// has already reached the environment.
type SupersededError struct {
	// Newer is that run.
	Newer Holder
}

func (e *SupersededError) Error() string {
	return fmt.Sprintf("a newer run (commit %s) of %s has reached this environment", e.Newer.Commit, e.Newer.Branch)
}

type dynamoAPI interface {
	PutItem(context.Context, *dynamodb.PutItemInput, ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	GetItem(context.Context, *dynamodb.GetItemInput, ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	DeleteItem(context.Context, *dynamodb.DeleteItemInput, ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error)
}

var _ dynamoAPI = (*dynamodb.Client)(nil)

// Store keeps locks in one table whose key is pk and sk (strings).
type Store struct {
	db    dynamoAPI
	table string
	now   func() time.Time
}

// New returns the store of table.
func New(db *dynamodb.Client, table string) *Store {
	return &Store{db: db, table: table, now: time.Now}
}

// AccountOf is the account of an environment's deploy role roleARN
// ("arn:aws:iam::123456789012:role/x"), as a Claim names it: "" for the
// pipeline's own account (no role).
func AccountOf(roleARN string) string {
	parts := strings.Split(roleARN, ":")
	if len(parts) > 4 {
		return parts[4]
	}
	return ""
}

// where names c's stack: account, region and name.
func where(c Claim) string { return c.Account + "#" + c.Region + "#" + c.Stack }

func lockKey(c Claim) map[string]types.AttributeValue {
	return key("lock#"+where(c), "lock")
}

func newestKey(c Claim) map[string]types.AttributeValue {
	return key("newest#"+where(c), c.Repository+"#"+c.Branch)
}

func key(pk, sk string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{"pk": str(pk), "sk": str(sk)}
}

func str(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }

func num(v int64) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(v, 10)}
}

// item is the record of c, as holder of a lock or newest run, with the
// lease lapsing at expires (zero: none).
func item(k map[string]types.AttributeValue, c Claim, expires time.Time, awaiting bool) map[string]types.AttributeValue {
	it := map[string]types.AttributeValue{
		"repository":  str(c.Repository),
		"branch":      str(c.Branch),
		"environment": str(c.Environment),
		"execution":   str(c.Execution),
		"commit":      str(c.Commit),
		"startedAt":   num(c.StartedAt.UnixNano()),
		"awaiting":    &types.AttributeValueMemberBOOL{Value: awaiting},
		"rollback":    &types.AttributeValueMemberBOOL{Value: c.Rollback},
	}
	if !expires.IsZero() {
		it["expiresAt"] = num(expires.UnixMilli())
	}
	for k, v := range k {
		it[k] = v
	}
	return it
}

func holderOf(it map[string]types.AttributeValue) Holder {
	s := func(k string) string {
		if v, ok := it[k].(*types.AttributeValueMemberS); ok {
			return v.Value
		}
		return ""
	}
	n := func(k string) int64 {
		if v, ok := it[k].(*types.AttributeValueMemberN); ok {
			x, _ := strconv.ParseInt(v.Value, 10, 64)
			return x
		}
		return 0
	}
	h := Holder{Repository: s("repository"), Branch: s("branch"), Execution: s("execution"), Commit: s("commit"),
		StartedAt: time.Unix(0, n("startedAt")).UTC()}
	if ms := n("expiresAt"); ms != 0 {
		h.ExpiresAt = time.UnixMilli(ms).UTC()
	}
	if v, ok := it["awaiting"].(*types.AttributeValueMemberBOOL); ok {
		h.Awaiting = v.Value
	}
	if v, ok := it["rollback"].(*types.AttributeValueMemberBOOL); ok {
		h.Rollback = v.Value
	}
	return h
}

func conditionFailed(err error) bool {
	var cf *types.ConditionalCheckFailedException
	return errors.As(err, &cf)
}

// Register records c as the newest run of its branch to reach its
// environment. It returns a *SupersededError when a run of the branch that
// started later already did, and nil when c is (still) the newest. A run
// of the same commit that claims the same start (a retry, which stands
// where the run it resumes stood) takes that run's place.
func (s *Store) Register(ctx context.Context, c Claim) error {
	_, err := s.db.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:                aws.String(s.table),
		Item:                     item(newestKey(c), c, time.Time{}, false),
		ConditionExpression:      aws.String("attribute_not_exists(pk) OR startedAt < :started OR execution = :me OR (startedAt = :started AND #commit = :commit)"),
		ExpressionAttributeNames: map[string]string{"#commit": "commit"},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":started": num(c.StartedAt.UnixNano()),
			":me":      str(c.Execution),
			":commit":  str(c.Commit),
		},
	})
	if err == nil {
		return nil
	}
	if !conditionFailed(err) {
		return fmt.Errorf("register %s as the newest run of %s at %s: %w", c.Execution, c.Branch, c.Stack, err)
	}
	out, gerr := s.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(s.table), Key: newestKey(c), ConsistentRead: aws.Bool(true)})
	if gerr != nil {
		return fmt.Errorf("read the newest run of %s at %s: %w", c.Branch, c.Stack, gerr)
	}
	return &SupersededError{Newer: holderOf(out.Item)}
}

// Acquire takes c's stack's lock for lease, or renews it when c holds it
// already. It reports whether c holds the lock now, and otherwise who does.
func (s *Store) Acquire(ctx context.Context, c Claim, lease time.Duration) (bool, Holder, error) {
	now := s.now()
	_, err := s.db.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:           aws.String(s.table),
		Item:                item(lockKey(c), c, now.Add(lease), false),
		ConditionExpression: aws.String("attribute_not_exists(pk) OR expiresAt < :now OR execution = :me"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":now": num(now.UnixMilli()),
			":me":  str(c.Execution),
		},
	})
	if err == nil {
		return true, Holder{}, nil
	}
	if !conditionFailed(err) {
		return false, Holder{}, fmt.Errorf("take the lock of %s: %w", c.Stack, err)
	}
	h, err := s.Holder(ctx, c)
	return false, h, err
}

// Holder returns the run holding c's stack's lock; the zero Holder when
// nobody does.
func (s *Store) Holder(ctx context.Context, c Claim) (Holder, error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(s.table), Key: lockKey(c), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return Holder{}, fmt.Errorf("read the lock of %s: %w", c.Stack, err)
	}
	if out.Item == nil {
		return Holder{}, nil
	}
	return holderOf(out.Item), nil
}

// Renew extends the lease of c's lock by lease from now and marks whether
// c waits for an approval. It returns ErrNotHeld when c no longer holds it.
func (s *Store) Renew(ctx context.Context, c Claim, lease time.Duration, awaiting bool) error {
	now := s.now()
	_, err := s.db.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:                 aws.String(s.table),
		Item:                      item(lockKey(c), c, now.Add(lease), awaiting),
		ConditionExpression:       aws.String("execution = :me"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":me": str(c.Execution)},
	})
	switch {
	case err == nil:
		return nil
	case conditionFailed(err):
		return ErrNotHeld
	default:
		return fmt.Errorf("renew the lock of %s: %w", c.Stack, err)
	}
}

// TakeOver takes the lock for c from from, an older run that waits for an
// approval, if from still holds it and still waits. It reports whether it
// did.
func (s *Store) TakeOver(ctx context.Context, c Claim, from Holder, lease time.Duration) (bool, error) {
	_, err := s.db.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:           aws.String(s.table),
		Item:                item(lockKey(c), c, s.now().Add(lease), false),
		ConditionExpression: aws.String("execution = :from AND awaiting = :yes"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":from": str(from.Execution),
			":yes":  &types.AttributeValueMemberBOOL{Value: true},
		},
	})
	switch {
	case err == nil:
		return true, nil
	case conditionFailed(err):
		return false, nil
	default:
		return false, fmt.Errorf("take the lock of %s over: %w", c.Stack, err)
	}
}

// Release frees c's stack's lock if c holds it; otherwise it does nothing.
func (s *Store) Release(ctx context.Context, c Claim) error {
	_, err := s.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName:                 aws.String(s.table),
		Key:                       lockKey(c),
		ConditionExpression:       aws.String("execution = :me"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":me": str(c.Execution)},
	})
	if err != nil && !conditionFailed(err) {
		return fmt.Errorf("release the lock of %s: %w", c.Stack, err)
	}
	return nil
}
