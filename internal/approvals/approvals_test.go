package approvals

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/stackflow/stackflow/internal/testaws"
)

func TestPutPendingDelete(t *testing.T) {
	t.Parallel()
	cfg := testaws.Start(t)
	s := New(dynamodb.NewFromConfig(cfg), testaws.Table(t, cfg, "approvals"))
	ctx := context.Background()
	at := time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)
	r := Request{Execution: "arn:exec:1", Repository: "acme/hello", Environment: "prod", Stack: "hello-prod",
		Commit: "0123456789abcdef", Branch: "main", Changes: []string{"Modify HelloFunction AWS::Lambda::Function"},
		Summary: "0 to add, 1 to modify, 0 to replace, 0 to remove", RequestedAt: at, ExpiresAt: at.Add(time.Hour),
		Approvers: []string{"arn:aws:iam::123456789012:role/release"}, Token: "secret-token"}
	if err := s.Put(ctx, r); err != nil {
		t.Fatal(err)
	}
	if err := s.Put(ctx, Request{Execution: "arn:exec:2", Environment: "prod", Token: "other"}); err != nil {
		t.Fatal(err)
	}
	got, err := s.Pending(ctx, "arn:exec:1")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Token != "secret-token" || got[0].Changes[0] != r.Changes[0] || !got[0].ExpiresAt.Equal(r.ExpiresAt) || got[0].Stack != "hello-prod" ||
		len(got[0].Approvers) != 1 || got[0].Approvers[0] != r.Approvers[0] {
		t.Fatalf("got %+v, want the one request of exec 1 with every field", got)
	}
	if strings.Contains(got[0].String(), "secret-token") {
		t.Errorf("String() shows the token: %s", got[0])
	}
	if err := s.Delete(ctx, "arn:exec:1", "prod"); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Pending(ctx, "arn:exec:1"); len(got) != 0 {
		t.Errorf("got %+v after Delete, want none", got)
	}
	if err := s.Put(ctx, Request{Execution: "arn:exec:3", Environment: "prod"}); err == nil {
		t.Error("kept a request without a token")
	}
}

func TestPick(t *testing.T) {
	t.Parallel()
	one := []Request{{Environment: "prod"}}
	two := []Request{{Environment: "prod"}, {Environment: "eu"}}
	tests := []struct {
		name    string
		pending []Request
		env     string
		want    string
		wantErr string
	}{
		{name: "the only one", pending: one, want: "prod"},
		{name: "named", pending: two, env: "eu", want: "eu"},
		{name: "none", pending: nil, wantErr: "is not waiting for an approval"},
		{name: "two unnamed", pending: two, wantErr: "name one with --env"},
		{name: "wrong name", pending: one, env: "staging", wantErr: "use --env prod"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := Pick(tt.pending, "run-1", tt.env)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got %v, want an error containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || got.Environment != tt.want {
				t.Errorf("got %q, %v; want %q", got.Environment, err, tt.want)
			}
		})
	}
}

func TestMayAnswer(t *testing.T) {
	t.Parallel()
	approvers := []string{
		"arn:aws:iam::123456789012:role/teams/release",
		"arn:aws:iam::123456789012:user/ada",
		"arn:aws:sts::210987654321:assumed-role/oncall/*",
	}
	tests := []struct {
		name      string
		approvers []string
		caller    string
		want      bool
	}{
		{name: "no approvers: anyone", caller: "arn:aws:iam::999999999999:user/mallory", want: true},
		{name: "a session of an approving role (its path is not in the session)", approvers: approvers,
			caller: "arn:aws:sts::123456789012:assumed-role/release/ada", want: true},
		{name: "the role itself", approvers: approvers, caller: "arn:aws:iam::123456789012:role/teams/release", want: true},
		{name: "an approving user", approvers: approvers, caller: "arn:aws:iam::123456789012:user/ada", want: true},
		{name: "a pattern of sessions", approvers: approvers, caller: "arn:aws:sts::210987654321:assumed-role/oncall/grace", want: true},
		{name: "a session of another role", approvers: approvers, caller: "arn:aws:sts::123456789012:assumed-role/developer/ada"},
		{name: "the same role name in another account", approvers: approvers, caller: "arn:aws:sts::999999999999:assumed-role/release/ada"},
		{name: "another user", approvers: approvers, caller: "arn:aws:iam::123456789012:user/mallory"},
		{name: "a user named like the role", approvers: approvers, caller: "arn:aws:iam::123456789012:user/release"},
		{name: "the account's root", approvers: approvers, caller: "arn:aws:iam::123456789012:root"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := Request{Environment: "prod", Commit: "0123456789abcdef", Approvers: tt.approvers}
			err := r.MayAnswer(tt.caller)
			if got := err == nil; got != tt.want {
				t.Fatalf("got %v, want allowed %v", err, tt.want)
			}
			if err != nil && !strings.Contains(err.Error(), tt.caller+" may not answer the approval of 0123456's deploy to prod: its approvers are arn:aws:iam::123456789012:role/teams/release, ") {
				t.Errorf("got %q, want it to say who, what and who may", err)
			}
		})
	}
}
