package staging

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/stackflow/stackflow/internal/artifacts"
	"github.com/stackflow/stackflow/internal/indexes"
	"github.com/stackflow/stackflow/internal/pipeline"
	"github.com/stackflow/stackflow/internal/runlog"
)

// Store is the artifact bucket as the trusted grant and publish steps use
// it, with their own credentials; *artifacts.Store is one.
type Store interface {
	Bucket() string
	Region() string
	URL(key string) string
	PresignGet(ctx context.Context, key string, d time.Duration) (string, error)
	PresignPut(ctx context.Context, key string, d time.Duration) (string, error)
	Open(ctx context.Context, key string) (io.ReadCloser, error)
	Get(ctx context.Context, key string) ([]byte, error)
	Put(ctx context.Context, key string, body []byte, contentType string) error
	PutFile(ctx context.Context, key, path, contentType string) error
	Head(ctx context.Context, key string) (artifacts.Object, error)
	Copy(ctx context.Context, from, key, etag, contentType string) error
	Delete(ctx context.Context, key string) error
}

var _ Store = (*artifacts.Store)(nil)

// SecretGetter reads a Secrets Manager secret; *secrets.Cache is one.
type SecretGetter interface {
	Get(ctx context.Context, arn string) (string, error)
}

// Granter is the grant step: it makes a step's presigned URLs.
type Granter struct {
	Store Store
	// Secrets and IndexSecretARN, when set, are the package indexes'
	// credentials (see package indexes): a copy is staged for the step,
	// which reads it through its own GET URL, since its role may not read
	// Secrets Manager.
	Secrets        SecretGetter
	IndexSecretARN string
	// Now defaults to time.Now; the grants' expiry is Now() + Lifetime.
	Now    func() time.Time
	Logger *slog.Logger
}

// Handle makes the grants of in.Step for in's run. The error, if any, is
// in the form the state machine matches.
func (g *Granter) Handle(ctx context.Context, in pipeline.GrantInput) (pipeline.Grants, error) {
	out, err := g.grant(ctx, in)
	return out, pipeline.ForStateMachine(err)
}

func (g *Granter) grant(ctx context.Context, in pipeline.GrantInput) (pipeline.Grants, error) {
	l, err := LayoutOf(in.Step, in.Run, in.Execution, in.Source.Plan)
	if err != nil {
		return pipeline.Grants{}, err
	}
	if k := in.Source.ArchiveKey; k != "" && k != l.Reads[0] {
		return pipeline.Grants{}, fmt.Errorf("grant %s: the source is at %s, not at the run's own %s", in.Step, k, l.Reads[0])
	}
	now := time.Now
	if g.Now != nil {
		now = g.Now
	}
	out := pipeline.Grants{Step: in.Step, Bucket: g.Store.Bucket(), Region: g.Store.Region(),
		Expires: now().Add(Lifetime).UTC().Format(time.RFC3339),
		Get:     map[string]string{}, Put: map[string]string{}}
	for _, key := range l.Reads {
		if out.Get[key], err = g.Store.PresignGet(ctx, key, Lifetime); err != nil {
			return pipeline.Grants{}, fmt.Errorf("grant %s: %w", in.Step, err)
		}
	}
	for _, w := range l.Writes {
		if out.Put[w.Key], err = g.Store.PresignPut(ctx, w.To, Lifetime); err != nil {
			return pipeline.Grants{}, fmt.Errorf("grant %s: %w", in.Step, err)
		}
	}
	if l.Bundle != "" {
		if out.Bundle, err = g.Store.PresignPut(ctx, l.Bundle, Lifetime); err != nil {
			return pipeline.Grants{}, fmt.Errorf("grant %s: %w", in.Step, err)
		}
		out.BundlePrefixes = l.BundlePrefixes
	}
	if err := g.credentials(ctx, l, &out); err != nil {
		return pipeline.Grants{}, fmt.Errorf("grant %s: %w", in.Step, err)
	}
	log := g.Logger
	if log == nil {
		log = slog.Default()
	}
	runlog.Logger(runlog.WithRun(ctx, in.Run, in.Execution), log).Info("granted", "step", in.Step,
		"reads", len(out.Get), "writes", len(out.Put), "bundle", out.Bundle != "", "credentials", out.Credentials != "",
		"expires", out.Expires)
	return out, nil
}

// credentials stages a copy of the package indexes' credentials, when
// there are any, and grants the step a URL to read it.
func (g *Granter) credentials(ctx context.Context, l Layout, out *pipeline.Grants) error {
	if g.IndexSecretARN == "" || g.Secrets == nil {
		return nil
	}
	value, err := g.Secrets.Get(ctx, g.IndexSecretARN)
	if err != nil {
		return fmt.Errorf("package index credentials: %w", err)
	}
	creds, err := indexes.ParseCredentials(value)
	if err != nil {
		return err
	}
	if len(creds) == 0 {
		return nil
	}
	if err := g.Store.Put(ctx, l.Credentials, []byte(value), "application/json"); err != nil {
		return errors.New("package index credentials: cannot stage them for the step")
	}
	link, err := g.Store.PresignGet(ctx, l.Credentials, Lifetime)
	if err != nil {
		return err
	}
	out.Get[l.Credentials], out.Credentials = link, l.Credentials
	return nil
}
