package runs

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/feature/ec2/imds"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"

	"github.com/stackflow/stackflow/internal/awsenv"
)

// DefaultStack is the name the pipeline's stack is installed under by
// `sam deploy` (samconfig.toml) and by `stackflow local`.
const DefaultStack = "stackflow"

// LocalRegion is the region assumed for a local AWS (an endpoint on this
// machine) when none is configured; it is `stackflow local`'s.
const LocalRegion = "us-east-1"

// ErrNoCredentials is returned by LoadConfig when no AWS credentials are
// configured and no local endpoint is set.
var ErrNoCredentials = errors.New("no AWS credentials: set AWS_PROFILE (or use --profile), or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, " +
	"or point AWS_ENDPOINT_URL at stackflow local --serve")

// ErrNoRegion is returned by LoadConfig when no region is configured for
// AWS itself.
var ErrNoRegion = errors.New("no AWS region: set AWS_REGION (or use --region) or a region in the AWS profile")

// LoadConfig loads the AWS configuration the way the AWS CLI does: the
// profile (empty means AWS_PROFILE or "default"), the region (empty means
// AWS_REGION, AWS_DEFAULT_REGION or the profile's), credentials from the
// standard chain, and endpoints from AWS_ENDPOINT_URL and
// AWS_ENDPOINT_URL_<SERVICE>. When every configured endpoint is on this
// machine (a local AWS such as `stackflow local --serve`, which accepts
// any credentials) missing credentials are filled with placeholders and a
// missing region with LocalRegion. It checks that credentials can be had,
// so that a missing one is one clear error rather than a failed call.
func LoadConfig(ctx context.Context, profile, region string) (aws.Config, error) {
	local := localEndpoint()
	var opts []func(*config.LoadOptions) error
	if local {
		// A local AWS has no instance role; asking EC2 for one only waits.
		opts = append(opts, config.WithEC2IMDSClientEnableState(imds.ClientDisabled))
	}
	if profile != "" {
		opts = append(opts, config.WithSharedConfigProfile(profile))
	}
	if region != "" {
		opts = append(opts, config.WithRegion(region))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return aws.Config{}, fmt.Errorf("load the AWS configuration: %w", err)
	}
	if cfg.Region == "" {
		if !local {
			return aws.Config{}, ErrNoRegion
		}
		cfg.Region = LocalRegion
	}
	if _, err := cfg.Credentials.Retrieve(ctx); err != nil {
		if !local {
			return aws.Config{}, ErrNoCredentials
		}
		cfg.Credentials = credentials.NewStaticCredentialsProvider("local", "local", "")
	}
	return cfg, nil
}

// endpointVars are the endpoint variables of the services this package
// calls.
var endpointVars = []string{"AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_SFN", "AWS_ENDPOINT_URL_CLOUDFORMATION", "AWS_ENDPOINT_URL_S3"}

// localEndpoint reports whether an endpoint is configured and every one
// configured is on a loopback address.
func localEndpoint() bool {
	found := false
	for _, v := range endpointVars {
		raw := os.Getenv(v)
		if raw == "" {
			continue
		}
		u, err := url.Parse(raw)
		if err != nil || !loopback(u.Hostname()) {
			return false
		}
		found = true
	}
	return found
}

func loopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Pipeline locates an installed pipeline: its state machine and its
// artifact bucket.
type Pipeline struct {
	// StateMachineARN is the pipeline's state machine.
	StateMachineARN string `json:"stateMachineArn"`
	// Bucket is the artifact bucket; it may be empty when only the state
	// machine was given and the stack could not be read, in which case the
	// stored logs cannot be read.
	Bucket string `json:"bucket,omitempty"`
	// ReleasesTable is the table of releases, when known.
	ReleasesTable string `json:"releasesTable,omitempty"`
	// ApprovalURL is the approval function's URL (AuthType AWS_IAM),
	// which stackflow approve and reject call, when known.
	ApprovalURL string `json:"approvalUrl,omitempty"`
	// Stack is the pipeline's stack, when it was read.
	Stack string `json:"stack,omitempty"`
}

// StackNotFoundError is a pipeline stack that does not exist.
type StackNotFoundError struct {
	Stack  string
	Region string
}

// Error names the stack and the region and says how to name another.
func (e *StackNotFoundError) Error() string {
	return fmt.Sprintf("no stack %q in %s: install the pipeline (sam deploy), name its stack with --stack, "+
		"or give --state-machine and --bucket", e.Stack, e.Region)
}

// cfnAPI is what FindPipeline needs of CloudFormation.
type cfnAPI interface {
	DescribeStacks(context.Context, *cloudformation.DescribeStacksInput, ...func(*cloudformation.Options)) (*cloudformation.DescribeStacksOutput, error)
}

var _ cfnAPI = (*cloudformation.Client)(nil)

// FindPipeline completes p: when its state machine or its bucket is
// missing, it reads them from the outputs StateMachineArn and
// ArtifactBucketName of the stack named stack (empty means DefaultStack).
// A missing bucket alone is not an error when the state machine was
// given: only the stored logs need it.
func FindPipeline(ctx context.Context, cfg aws.Config, stack string, p Pipeline) (Pipeline, error) {
	return findPipeline(ctx, cloudformation.NewFromConfig(cfg), cfg.Region, stack, p)
}

func findPipeline(ctx context.Context, c cfnAPI, region, stack string, p Pipeline) (Pipeline, error) {
	if p.StateMachineARN != "" && p.Bucket != "" && p.ReleasesTable != "" && p.ApprovalURL != "" {
		return p, nil
	}
	if stack == "" {
		stack = DefaultStack
	}
	out, err := c.DescribeStacks(ctx, &cloudformation.DescribeStacksInput{StackName: aws.String(stack)})
	if err != nil {
		var api smithy.APIError
		notFound := errors.As(err, &api) && api.ErrorCode() == "ValidationError" && strings.Contains(api.ErrorMessage(), "does not exist")
		switch {
		case p.StateMachineARN != "":
			return p, nil // the bucket stays unknown
		case notFound:
			return p, &StackNotFoundError{Stack: stack, Region: region}
		default:
			return p, fmt.Errorf("read the pipeline stack %s: %w", stack, err)
		}
	}
	if len(out.Stacks) == 0 {
		return p, &StackNotFoundError{Stack: stack, Region: region}
	}
	p.Stack = stack
	for _, o := range out.Stacks[0].Outputs {
		switch aws.ToString(o.OutputKey) {
		case "StateMachineArn":
			if p.StateMachineARN == "" {
				p.StateMachineARN = aws.ToString(o.OutputValue)
			}
		case "ArtifactBucketName":
			if p.Bucket == "" {
				p.Bucket = aws.ToString(o.OutputValue)
			}
		case "ReleasesTableName":
			if p.ReleasesTable == "" {
				p.ReleasesTable = aws.ToString(o.OutputValue)
			}
		case "ApprovalUrl":
			if p.ApprovalURL == "" {
				p.ApprovalURL = aws.ToString(o.OutputValue)
			}
		}
	}
	if p.StateMachineARN == "" {
		return p, fmt.Errorf("stack %s has no output StateMachineArn: is it a stackflow pipeline? Give --state-machine", stack)
	}
	return p, nil
}

// sfnAPI is what a Client needs of Step Functions.
type sfnAPI interface {
	ListExecutions(context.Context, *sfn.ListExecutionsInput, ...func(*sfn.Options)) (*sfn.ListExecutionsOutput, error)
	DescribeExecution(context.Context, *sfn.DescribeExecutionInput, ...func(*sfn.Options)) (*sfn.DescribeExecutionOutput, error)
	GetExecutionHistory(context.Context, *sfn.GetExecutionHistoryInput, ...func(*sfn.Options)) (*sfn.GetExecutionHistoryOutput, error)
}

// operateAPI is what a Client needs of Step Functions to act on runs.
type operateAPI interface {
	StartExecution(context.Context, *sfn.StartExecutionInput, ...func(*sfn.Options)) (*sfn.StartExecutionOutput, error)
}

var _ sfnAPI = (*sfn.Client)(nil)

// s3API is what a Client needs of S3.
type s3API interface {
	GetObject(context.Context, *s3.GetObjectInput, ...func(*s3.Options)) (*s3.GetObjectOutput, error)
	HeadObject(context.Context, *s3.HeadObjectInput, ...func(*s3.Options)) (*s3.HeadObjectOutput, error)
}

var _ s3API = (*s3.Client)(nil)

// identityAPI tells who calls: *sts.Client is one.
type identityAPI interface {
	GetCallerIdentity(ctx context.Context, in *sts.GetCallerIdentityInput, optFns ...func(*sts.Options)) (*sts.GetCallerIdentityOutput, error)
}

var _ identityAPI = (*sts.Client)(nil)

// Client reads the runs of one pipeline.
type Client struct {
	pipeline Pipeline
	sfn      sfnAPI
	s3       s3API
	ops      operateAPI
	db       *dynamodb.Client
	id       identityAPI
	// creds and region sign the calls of the approval function's URL;
	// http makes them (nil: a client with a minute's timeout).
	creds  aws.CredentialsProvider
	region string
	http   *http.Client
}

// New returns a Client of the pipeline p, reached with cfg.
func New(cfg aws.Config, p Pipeline) *Client {
	// A local S3 sends no checksums; not checking them is no news.
	s3opts := awsenv.S3(cfg).Options()
	s3opts.DisableLogOutputChecksumValidationSkipped = true
	sc := sfn.NewFromConfig(cfg)
	return &Client{pipeline: p, sfn: sc, ops: sc, s3: s3.New(s3opts), db: dynamodb.NewFromConfig(cfg), id: sts.NewFromConfig(cfg),
		creds: cfg.Credentials, region: cfg.Region}
}

// SignWith makes c sign its calls of the approval function's URL with
// cfg's credentials and region, and returns c.
func (c *Client) SignWith(cfg aws.Config) *Client {
	c.creds, c.region = cfg.Credentials, cfg.Region
	return c
}

// NewFromClients returns a Client of the pipeline p that reaches Step
// Functions, S3, DynamoDB and STS with the clients given, for a caller
// whose services are at different endpoints (stackflow local).
func NewFromClients(p Pipeline, sc *sfn.Client, s3c *s3.Client, db *dynamodb.Client, st *sts.Client) *Client {
	return &Client{pipeline: p, sfn: sc, ops: sc, s3: s3c, db: db, id: st}
}

// Caller is the IAM identity the client calls AWS as, as STS
// GetCallerIdentity reports it ("arn:aws:sts::123456789012:assumed-role/
// release/ada"): who approvals and rejections are recorded as.
func (c *Client) Caller(ctx context.Context) (string, error) {
	out, err := c.id.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		return "", fmt.Errorf("find out who you are (sts get-caller-identity): %w", err)
	}
	return aws.ToString(out.Arn), nil
}

// Connect loads the AWS configuration (LoadConfig), finds the pipeline
// (FindPipeline) and returns its Client.
func Connect(ctx context.Context, opts Options) (*Client, error) {
	cfg, err := LoadConfig(ctx, opts.Profile, opts.Region)
	if err != nil {
		return nil, err
	}
	p, err := FindPipeline(ctx, cfg, opts.Stack, Pipeline{StateMachineARN: opts.StateMachineARN, Bucket: opts.Bucket, ReleasesTable: opts.ReleasesTable, ApprovalURL: opts.ApprovalURL})
	if err != nil {
		return nil, err
	}
	return New(cfg, p), nil
}

// Options say how Connect reaches AWS and finds the pipeline.
type Options struct {
	// Profile and Region override the AWS CLI's configuration.
	Profile string
	Region  string
	// Stack is the pipeline's stack; empty means DefaultStack.
	Stack string
	// StateMachineARN and Bucket, when set, are used instead of the
	// stack's outputs.
	StateMachineARN string
	Bucket          string
	// ReleasesTable, when set, is used instead of the stack's output.
	ReleasesTable string
	// ApprovalURL, when set, is used instead of the stack's output
	// ApprovalUrl.
	ApprovalURL string
}

// Pipeline is the pipeline c reads.
func (c *Client) Pipeline() Pipeline { return c.pipeline }
