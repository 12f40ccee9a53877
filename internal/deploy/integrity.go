package deploy

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/stackflow/stackflow/internal/artifacts"
	"github.com/stackflow/stackflow/internal/pipeline"
)

// What is deployed is what was packaged. The package step records each
// zip's SHA-256 and size, and the packaged template's SHA-256; the deploy
// step reads each back from the artifact bucket and refuses any that
// changed since, with StackDeployFailed "artifact changed after
// packaging": something that could write to the bucket (a build of another
// commit, say) must not swap the code that reaches an environment. The
// template is checked before its change set is made, since CloudFormation
// reads it then, and the zips both then and again just before the change
// set is executed, since Lambda reads them then.

// ArtifactReader reads the artifact bucket; *artifacts.Store is one. Open
// reports a missing key with an error wrapping artifacts.ErrNotFound.
type ArtifactReader interface {
	Bucket() string
	Open(ctx context.Context, key string) (io.ReadCloser, error)
}

var _ ArtifactReader = (*artifacts.Store)(nil)

// verifyTemplate refuses in's packaged template unless it still has the
// SHA-256 the package step recorded. A package recorded before templates'
// hashes were kept is let through on its zips alone.
func (s *Service) verifyTemplate(ctx context.Context, in pipeline.DeployInput) error {
	pkg := in.Package
	if s.Artifacts == nil || pkg.TemplateSHA256 == "" {
		return nil
	}
	if err := s.sameBucket(in); err != nil {
		return err
	}
	if !strings.HasSuffix(pkg.TemplateURL, "/"+pkg.TemplateKey) {
		return &pipeline.StackDeployFailed{Stack: in.Environment.Stack,
			Reason: fmt.Sprintf("the package's template URL is not its template %s: package the commit again", pkg.TemplateKey)}
	}
	return s.verify(ctx, in, pkg.TemplateKey, "the packaged template", pkg.TemplateSHA256, -1)
}

// verifyZips refuses in's package unless each function's zip still has the
// SHA-256 and size the package step recorded.
func (s *Service) verifyZips(ctx context.Context, in pipeline.DeployInput) error {
	if s.Artifacts == nil {
		return nil
	}
	if err := s.sameBucket(in); err != nil {
		return err
	}
	seen := map[string]bool{}
	for _, f := range in.Package.Functions {
		if seen[f.Key] {
			continue // functions that share a zip
		}
		seen[f.Key] = true
		if f.SHA256 == "" {
			return &pipeline.StackDeployFailed{Stack: in.Environment.Stack,
				Reason: fmt.Sprintf("the package records no SHA-256 for %s's zip: package the commit again", f.Name)}
		}
		if err := s.verify(ctx, in, f.Key, f.Name+"'s zip", f.SHA256, f.Size); err != nil {
			return err
		}
	}
	return nil
}

// sameBucket refuses a package stored outside the pipeline's bucket.
func (s *Service) sameBucket(in pipeline.DeployInput) error {
	if b := in.Package.Bucket; b != "" && b != s.Artifacts.Bucket() {
		return &pipeline.StackDeployFailed{Stack: in.Environment.Stack,
			Reason: fmt.Sprintf("the package is in bucket %s, not the pipeline's artifact bucket %s", b, s.Artifacts.Bucket())}
	}
	return nil
}

// verify reads key and refuses it unless it hashes to sha (and has size
// bytes, when size is not negative). what names it for people.
func (s *Service) verify(ctx context.Context, in pipeline.DeployInput, key, what, sha string, size int64) error {
	where := "s3://" + s.Artifacts.Bucket() + "/" + key
	body, err := s.Artifacts.Open(ctx, key)
	if errors.Is(err, artifacts.ErrNotFound) {
		return &pipeline.StackDeployFailed{Stack: in.Environment.Stack,
			Reason: fmt.Sprintf("artifact missing after packaging: %s (%s) is gone; package the commit again", where, what)}
	}
	if err != nil {
		return fmt.Errorf("check %s: %w", what, err)
	}
	defer body.Close()
	h := sha256.New()
	n, err := io.Copy(h, body)
	if err != nil {
		return fmt.Errorf("check %s: read %s: %w", what, where, err)
	}
	got := hex.EncodeToString(h.Sum(nil))
	if got == sha && (size < 0 || n == size) {
		return nil
	}
	s.logger().ErrorContext(ctx, "artifact changed after packaging", "key", key, "sha256", got, "bytes", n, "packagedSha256", sha, "packagedBytes", size)
	return &pipeline.StackDeployFailed{Stack: in.Environment.Stack,
		Reason: fmt.Sprintf("artifact changed after packaging: %s (%s) has SHA-256 %s and %d bytes, not the %s it was packaged with; "+
			"nothing was deployed: find out what wrote to the artifact bucket, then push again", where, what, short(got), n, short(sha))}
}

func short(sha string) string { return pipeline.ShortSHA(sha) + "…" }
