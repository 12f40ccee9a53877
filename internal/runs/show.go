package runs

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"github.com/stackflow/stackflow/internal/pipeline"
)

// Show reads one run: ref is its execution name, its execution ARN, or a
// commit SHA (7 to 40 hex digits; the newest run of the commit, with a
// Note when it has several). The timeline has every state the run entered,
// each environment's result, and links to the console and to the stored
// logs of the checks and the package steps that ran.
func (c *Client) Show(ctx context.Context, ref string) (*Timeline, error) {
	desc, note, err := c.resolve(ctx, ref)
	if err != nil {
		return nil, err
	}
	t, err := c.timeline(ctx, desc)
	if err != nil {
		return nil, err
	}
	t.Note = note
	for _, phase := range []Phase{PhaseChecks, PhasePackage} {
		key, known := c.logKey(t, phase)
		if key == "" || c.pipeline.Bucket == "" {
			continue
		}
		if !known {
			// The step failed: its log was stored unless it failed before.
			if ok, err := c.exists(ctx, key); err == nil && !ok {
				continue
			}
		}
		if t.Links.Logs == nil {
			t.Links.Logs = map[Phase]string{}
		}
		t.Links.Logs[phase] = "s3://" + c.pipeline.Bucket + "/" + key
	}
	return t, nil
}

// logKey is the artifact-bucket key of the stored output of phase of the
// run t: the one its step's output names (known), else, when the step
// ran, the key the step stores its output under. It is empty when the step
// did not run.
func (c *Client) logKey(t *Timeline, phase Phase) (key string, known bool) {
	if key := t.logKeys[phase]; key != "" {
		return key, true
	}
	if !t.ran(phase) {
		return "", false
	}
	repo, err := pipeline.ParseRepository(t.Repository)
	if err != nil {
		return "", false
	}
	return pipeline.LogKey(repo, t.Execution, string(phase)), false
}

// ran reports whether a Task of phase was entered.
func (t *Timeline) ran(phase Phase) bool {
	for _, s := range t.Steps {
		if s.Phase == phase {
			return true
		}
	}
	return false
}

// exists reports whether the artifact bucket holds key.
func (c *Client) exists(ctx context.Context, key string) (bool, error) {
	_, err := c.s3.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(c.pipeline.Bucket), Key: aws.String(key)})
	if err == nil {
		return true, nil
	}
	if isNoSuchKey(err) {
		return false, nil
	}
	return false, fmt.Errorf("look for s3://%s/%s: %w", c.pipeline.Bucket, key, err)
}

// isNoSuchKey reports whether err says that an object does not exist.
func isNoSuchKey(err error) bool {
	var (
		noKey    *s3types.NoSuchKey
		notFound *s3types.NotFound
		api      smithy.APIError
	)
	return errors.As(err, &noKey) || errors.As(err, &notFound) ||
		(errors.As(err, &api) && (api.ErrorCode() == "NoSuchKey" || api.ErrorCode() == "NotFound"))
}
