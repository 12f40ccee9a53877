package cfn

import (
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
)

// s3Location is an object in S3.
type s3Location struct {
	Bucket, Key, Version string
}

func (l s3Location) String() string {
	return "s3://" + l.Bucket + "/" + l.Key
}

var (
	// https://<bucket>.s3.<region>.amazonaws.com/<key>, also s3-<region>
	// and without a region.
	virtualHost = regexp.MustCompile(`^(.+)\.s3(?:[.-][a-z0-9-]+)?\.amazonaws\.com(?:\.cn)?$`)
	// https://s3.<region>.amazonaws.com/<bucket>/<key>
	pathHost = regexp.MustCompile(`^s3(?:[.-][a-z0-9-]+)?\.amazonaws\.com(?:\.cn)?$`)
)

// parseTemplateURL reads the S3 object a TemplateURL names, in any of
// S3's URL forms, or path-style on any other host (the local S3).
func parseTemplateURL(raw string) (s3Location, error) {
	bad := validationError("TemplateURL must be a supported URL.")
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return s3Location{}, bad
	}
	host := strings.ToLower(u.Hostname())
	path := strings.TrimPrefix(u.Path, "/")
	var loc s3Location
	if m := virtualHost.FindStringSubmatch(host); m != nil && !pathHost.MatchString(host) {
		loc = s3Location{Bucket: m[1], Key: path}
	} else {
		bucket, key, ok := strings.Cut(path, "/")
		if !ok {
			return s3Location{}, bad
		}
		loc = s3Location{Bucket: bucket, Key: key}
	}
	loc.Version = u.Query().Get("versionId")
	if loc.Bucket == "" || loc.Key == "" {
		return s3Location{}, bad
	}
	return loc, nil
}

// getObject reads an object of at most limit bytes.
func (e *Engine) getObject(ctx context.Context, loc s3Location, limit int64) ([]byte, error) {
	in := &s3.GetObjectInput{Bucket: aws.String(loc.Bucket), Key: aws.String(loc.Key)}
	if loc.Version != "" {
		in.VersionId = aws.String(loc.Version)
	}
	out, err := e.s3.GetObject(ctx, in)
	if err != nil {
		return nil, fmt.Errorf("read %s: %s", loc, awsMessage("S3", err))
	}
	defer out.Body.Close()
	b, err := io.ReadAll(io.LimitReader(out.Body, limit+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", loc, err)
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("read %s: it is larger than %d bytes", loc, limit)
	}
	return b, nil
}

// awsMessage words an error of a local AWS service as CloudFormation's
// resource handlers do.
func awsMessage(service string, err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		msg := ae.ErrorMessage()
		if msg == "" {
			msg = ae.ErrorCode()
		}
		status := ""
		var re interface{ HTTPStatusCode() int }
		if errors.As(err, &re) {
			status = fmt.Sprintf(", Status Code: %d", re.HTTPStatusCode())
		}
		return fmt.Sprintf("%s (Service: %s%s, Error Code: %s)", msg, service, status, ae.ErrorCode())
	}
	return err.Error()
}

// isCode reports whether err is an AWS error with one of codes.
func isCode(err error, codes ...string) bool {
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		return false
	}
	for _, c := range codes {
		if ae.ErrorCode() == c {
			return true
		}
	}
	return false
}

// Lambda's limit on a function's unzipped code.
const maxUnzipped = 250 << 20

// unzip extracts a function's zip into dir, refusing entries that would
// land outside it and archives over Lambda's size limit.
func unzip(data []byte, dir string) error {
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return fmt.Errorf("the code is not a zip archive: %w", err)
	}
	var total int64
	for _, f := range zr.File {
		name := filepath.FromSlash(f.Name)
		if filepath.IsAbs(name) || !filepath.IsLocal(name) {
			return fmt.Errorf("the code's zip holds %q, outside the function's directory", f.Name)
		}
		target := filepath.Join(dir, name)
		mode := f.Mode()
		switch {
		case mode.IsDir():
			if err := os.MkdirAll(target, 0o755); err != nil {
				return err
			}
			continue
		case mode&os.ModeSymlink != 0:
			return fmt.Errorf("the code's zip holds the link %q: links are not supported locally", f.Name)
		}
		total += int64(f.UncompressedSize64)
		if total > maxUnzipped {
			return fmt.Errorf("the code is larger than Lambda's %d MB unzipped", maxUnzipped>>20)
		}
		if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
			return err
		}
		if err := extract(f, target, mode.Perm()|0o600); err != nil {
			return err
		}
	}
	return nil
}

func extract(f *zip.File, target string, perm os.FileMode) error {
	rc, err := f.Open()
	if err != nil {
		return fmt.Errorf("unzip %s: %w", f.Name, err)
	}
	defer rc.Close()
	out, err := os.OpenFile(target, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, perm)
	if err != nil {
		return fmt.Errorf("unzip %s: %w", f.Name, err)
	}
	if _, err := io.Copy(out, io.LimitReader(rc, maxUnzipped)); err != nil {
		out.Close()
		return fmt.Errorf("unzip %s: %w", f.Name, err)
	}
	return out.Close()
}
