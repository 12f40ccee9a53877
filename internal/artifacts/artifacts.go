// Package artifacts stores what a run makes in the pipeline's artifact
// bucket: commit archives, logs, function zips and packaged templates.
//
// Store reaches the bucket with the function's own AWS credentials; the
// trusted steps use it, and it presigns the URLs that the others are
// handed. URLStore reaches it through those URLs alone: the checks and the
// package step, which run the commit's code, hold no S3 rights, and read
// and write only the keys of their own run that their pipeline.Grants
// name.
package artifacts

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"github.com/stackflow/stackflow/internal/awsenv"
)

// ErrNotFound is returned when a key holds no object.
var ErrNotFound = errors.New("no such artifact")

type s3API interface {
	PutObject(context.Context, *s3.PutObjectInput, ...func(*s3.Options)) (*s3.PutObjectOutput, error)
	GetObject(context.Context, *s3.GetObjectInput, ...func(*s3.Options)) (*s3.GetObjectOutput, error)
	HeadObject(context.Context, *s3.HeadObjectInput, ...func(*s3.Options)) (*s3.HeadObjectOutput, error)
	CopyObject(context.Context, *s3.CopyObjectInput, ...func(*s3.Options)) (*s3.CopyObjectOutput, error)
	DeleteObject(context.Context, *s3.DeleteObjectInput, ...func(*s3.Options)) (*s3.DeleteObjectOutput, error)
}

var _ s3API = (*s3.Client)(nil)

// Store reads and writes objects of one bucket.
type Store struct {
	s3      s3API
	presign *s3.PresignClient
	bucket  string
	region  string
}

// New returns a store over bucket. region is used to spell S3 URLs.
func New(client *s3.Client, bucket, region string) *Store {
	// A presigned PUT carries no checksum of a body the signer never sees.
	presign := s3.NewPresignClient(client, func(o *s3.PresignOptions) {
		o.ClientOptions = append(o.ClientOptions, func(o *s3.Options) {
			o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
		})
	})
	return &Store{s3: client, presign: presign, bucket: bucket, region: region}
}

// Region is the bucket's region.
func (s *Store) Region() string { return s.region }

// PresignGet returns a URL that reads key's object, good for d, signed
// with the store's credentials: whoever holds it reads that object alone,
// and only while the signer's role may.
func (s *Store) PresignGet(ctx context.Context, key string, d time.Duration) (string, error) {
	r, err := s.presign.PresignGetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(key)},
		s3.WithPresignExpires(d))
	if err != nil {
		return "", fmt.Errorf("presign get s3://%s/%s: %w", s.bucket, key, err)
	}
	return r.URL, nil
}

// PresignPut returns a URL that writes key's object, good for d, as
// PresignGet.
func (s *Store) PresignPut(ctx context.Context, key string, d time.Duration) (string, error) {
	r, err := s.presign.PresignPutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(key)},
		s3.WithPresignExpires(d))
	if err != nil {
		return "", fmt.Errorf("presign put s3://%s/%s: %w", s.bucket, key, err)
	}
	return r.URL, nil
}

// Object is what Head says of an object.
type Object struct {
	Size int64
	// ETag names this version of the object, for Copy's precondition.
	ETag string
}

// Head returns key's size and ETag. A missing key is ErrNotFound.
func (s *Store) Head(ctx context.Context, key string) (Object, error) {
	out, err := s.s3.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(key)})
	if err != nil {
		if isNotFound(err) {
			return Object{}, fmt.Errorf("head s3://%s/%s: %w", s.bucket, key, ErrNotFound)
		}
		return Object{}, fmt.Errorf("head s3://%s/%s: %w", s.bucket, key, err)
	}
	return Object{Size: aws.ToInt64(out.ContentLength), ETag: aws.ToString(out.ETag)}, nil
}

// Copy copies from's object to key inside the bucket, only when from's
// ETag is still etag (the version that was checked): a copy of an object
// replaced in between fails.
func (s *Store) Copy(ctx context.Context, from, key, etag, contentType string) error {
	in := &s3.CopyObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(key),
		CopySource: aws.String(copySource(s.bucket, from))}
	if etag != "" {
		in.CopySourceIfMatch = aws.String(etag)
	}
	if contentType != "" {
		in.ContentType = aws.String(contentType)
		in.MetadataDirective = types.MetadataDirectiveReplace
	}
	if _, err := s.s3.CopyObject(ctx, in); err != nil {
		return fmt.Errorf("copy s3://%s/%s to %s: %w", s.bucket, from, key, err)
	}
	return nil
}

// copySource is bucket/key, each segment URL-encoded, as CopyObject wants
// it.
func copySource(bucket, key string) string {
	segs := strings.Split(bucket+"/"+key, "/")
	for i, seg := range segs {
		segs[i] = url.PathEscape(seg)
	}
	return strings.Join(segs, "/")
}

// Delete removes key's object; a missing one is no error.
func (s *Store) Delete(ctx context.Context, key string) error {
	if _, err := s.s3.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(key)}); err != nil {
		return fmt.Errorf("delete s3://%s/%s: %w", s.bucket, key, err)
	}
	return nil
}

// FromEnv returns the store of the bucket ARTIFACT_BUCKET names, as the
// handlers are configured, with an S3 client for cfg.
func FromEnv(cfg aws.Config) (*Store, error) {
	bucket := os.Getenv("ARTIFACT_BUCKET")
	if bucket == "" {
		return nil, errors.New("ARTIFACT_BUCKET is not set")
	}
	return New(awsenv.S3(cfg), bucket, cfg.Region), nil
}

// Bucket is the store's bucket name.
func (s *Store) Bucket() string { return s.bucket }

// URL is the HTTPS URL of key, in the form CloudFormation's TemplateURL
// accepts.
func (s *Store) URL(key string) string {
	return fmt.Sprintf("https://%s.s3.%s.amazonaws.com/%s", s.bucket, s.region, key)
}

// Put stores body under key.
func (s *Store) Put(ctx context.Context, key string, body []byte, contentType string) error {
	in := &s3.PutObjectInput{
		Bucket:        aws.String(s.bucket),
		Key:           aws.String(key),
		Body:          bytes.NewReader(body),
		ContentLength: aws.Int64(int64(len(body))),
	}
	if contentType != "" {
		in.ContentType = aws.String(contentType)
	}
	if _, err := s.s3.PutObject(ctx, in); err != nil {
		return fmt.Errorf("put s3://%s/%s: %w", s.bucket, key, err)
	}
	return nil
}

// PutFile stores the file at path under key.
func (s *Store) PutFile(ctx context.Context, key, path, contentType string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("put s3://%s/%s: %w", s.bucket, key, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("put s3://%s/%s: %w", s.bucket, key, err)
	}
	in := &s3.PutObjectInput{
		Bucket:        aws.String(s.bucket),
		Key:           aws.String(key),
		Body:          f,
		ContentLength: aws.Int64(fi.Size()),
	}
	if contentType != "" {
		in.ContentType = aws.String(contentType)
	}
	if _, err := s.s3.PutObject(ctx, in); err != nil {
		return fmt.Errorf("put s3://%s/%s: %w", s.bucket, key, err)
	}
	return nil
}

// Open returns a reader of key's object; the caller closes it. A missing
// key is ErrNotFound.
func (s *Store) Open(ctx context.Context, key string) (io.ReadCloser, error) {
	out, err := s.s3.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(key)})
	if err != nil {
		if isNotFound(err) {
			return nil, fmt.Errorf("get s3://%s/%s: %w", s.bucket, key, ErrNotFound)
		}
		return nil, fmt.Errorf("get s3://%s/%s: %w", s.bucket, key, err)
	}
	return out.Body, nil
}

// Get returns key's whole object. A missing key is ErrNotFound.
func (s *Store) Get(ctx context.Context, key string) ([]byte, error) {
	body, err := s.Open(ctx, key)
	if err != nil {
		return nil, err
	}
	defer body.Close()
	b, err := io.ReadAll(body)
	if err != nil {
		return nil, fmt.Errorf("read s3://%s/%s: %w", s.bucket, key, err)
	}
	return b, nil
}

// Exists reports whether key holds an object.
func (s *Store) Exists(ctx context.Context, key string) (bool, error) {
	_, err := s.s3.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(key)})
	if err == nil {
		return true, nil
	}
	if isNotFound(err) {
		return false, nil
	}
	return false, fmt.Errorf("head s3://%s/%s: %w", s.bucket, key, err)
}

func isNotFound(err error) bool {
	var nsk *types.NoSuchKey
	var nf *types.NotFound
	if errors.As(err, &nsk) || errors.As(err, &nf) {
		return true
	}
	var api smithy.APIError
	if errors.As(err, &api) {
		switch api.ErrorCode() {
		case "NoSuchKey", "NotFound", "404":
			return true
		}
	}
	return false
}
