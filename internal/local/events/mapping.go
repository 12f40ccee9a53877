package events

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awslambda "github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
)

// Mapping is an event source mapping (AWS::Lambda::EventSourceMapping)
// from an SQS queue or a DynamoDB stream to a function.
type Mapping struct {
	// UUID names a mapping kumo already records; empty means PutMapping
	// records a new one and returns its UUID.
	UUID string
	// FunctionName is the function's name or ARN.
	FunctionName string
	// EventSourceArn is the queue's ARN (arn:aws:sqs:...) or the stream's
	// (arn:aws:dynamodb:...:table/<name>/stream/<label>).
	EventSourceArn string
	// BatchSize is the most records a batch holds; 0 means Lambda's default
	// (10 for SQS, 100 for DynamoDB streams).
	BatchSize int
	// MaximumBatchingWindow is how long records are gathered before a
	// batch smaller than BatchSize is delivered; 0 delivers what one poll
	// returns.
	MaximumBatchingWindow time.Duration
	// Enabled false keeps the mapping without polling; nil means true.
	Enabled *bool
	// FunctionResponseTypes holds "ReportBatchItemFailures" when the
	// function reports which records of a batch failed.
	FunctionResponseTypes []string
	// StartingPosition is where a stream is read from: TRIM_HORIZON or
	// LATEST (required for streams, refused for SQS).
	StartingPosition string
	// Filters are FilterCriteria's patterns (Filters[].Pattern, JSON), at
	// most 5: a record that matches none is not delivered, and an SQS
	// message that matches none is deleted, as Lambda's event filtering
	// does (filter.go). None delivers every record.
	Filters []string

	patterns []*Pattern // Filters, parsed by check
}

func (m Mapping) enabled() bool { return m.Enabled == nil || *m.Enabled }

func (m Mapping) reportsItemFailures() bool {
	return slices.Contains(m.FunctionResponseTypes, "ReportBatchItemFailures")
}

func isQueueARN(arn string) bool { return strings.HasPrefix(arn, "arn:aws:sqs:") }
func isStreamARN(arn string) bool {
	return strings.HasPrefix(arn, "arn:aws:dynamodb:") && strings.Contains(arn, "/stream/")
}

// check refuses what Lambda's CreateEventSourceMapping refuses.
func (m *Mapping) check() error {
	if m.FunctionName == "" {
		return errors.New("no FunctionName")
	}
	if m.BatchSize < 0 || m.BatchSize > 10000 {
		return fmt.Errorf("BatchSize %d is out of range: give 1 to 10000", m.BatchSize)
	}
	if m.MaximumBatchingWindow < 0 || m.MaximumBatchingWindow > 300*time.Second {
		return fmt.Errorf("MaximumBatchingWindowInSeconds %s is out of range: give 0 to 300 seconds", m.MaximumBatchingWindow)
	}
	if len(m.Filters) > 5 {
		return fmt.Errorf("FilterCriteria has %d filters: Lambda takes at most 5", len(m.Filters))
	}
	m.patterns = nil
	for _, f := range m.Filters {
		p, err := ParsePattern(f)
		if err != nil {
			return fmt.Errorf("FilterCriteria: invalid filter pattern definition: %w", err)
		}
		m.patterns = append(m.patterns, p)
	}
	for _, t := range m.FunctionResponseTypes {
		if t != "ReportBatchItemFailures" {
			return fmt.Errorf("FunctionResponseTypes %q is not ReportBatchItemFailures", t)
		}
	}
	switch {
	case isQueueARN(m.EventSourceArn):
		if m.StartingPosition != "" {
			return errors.New("StartingPosition is for streams, not SQS queues: leave it out")
		}
		if m.BatchSize == 0 {
			m.BatchSize = 10
		}
		if strings.HasSuffix(m.EventSourceArn, ".fifo") && m.BatchSize > 10 {
			return fmt.Errorf("BatchSize %d is too large for a FIFO queue: give at most 10", m.BatchSize)
		}
		if m.BatchSize > 10 && m.MaximumBatchingWindow < time.Second {
			return fmt.Errorf("BatchSize %d needs MaximumBatchingWindowInSeconds of at least 1, as Lambda requires for batches over 10", m.BatchSize)
		}
	case isStreamARN(m.EventSourceArn):
		if m.StartingPosition != "TRIM_HORIZON" && m.StartingPosition != "LATEST" {
			return fmt.Errorf("StartingPosition %q: a DynamoDB stream needs TRIM_HORIZON or LATEST", m.StartingPosition)
		}
		if m.BatchSize == 0 {
			m.BatchSize = 100
		}
	default:
		return fmt.Errorf("EventSourceArn %q is not an SQS queue or a DynamoDB stream; locally only those are polled", m.EventSourceArn)
	}
	return nil
}

// PutMapping records m in kumo's Lambda (CreateEventSourceMapping, or
// UpdateEventSourceMapping when m.UUID is set) and polls its source while
// it is enabled, replacing the mapping's poller that ran before. It
// returns the mapping's UUID.
func (s *Service) PutMapping(ctx context.Context, m Mapping) (string, error) {
	if err := m.check(); err != nil {
		return "", fmt.Errorf("event source mapping of %s: %w", functionName(m.FunctionName), err)
	}
	var poll func(ctx context.Context)
	var key string
	if isQueueARN(m.EventSourceArn) {
		q, err := s.queueSource(ctx, m)
		if err != nil {
			return "", err
		}
		poll = func(ctx context.Context) { s.pollQueue(ctx, m, q) }
		key = "sqs:"
	} else {
		poll = func(ctx context.Context) { s.pollStream(ctx, m) }
		key = "streams:"
	}
	uuid, err := s.recordMapping(ctx, m)
	if err != nil {
		return "", err
	}
	m.UUID = uuid
	key += uuid
	if !m.enabled() {
		s.stop(key)
		s.log.Info("mapping disabled", "mapping", uuid, "function", functionName(m.FunctionName), "source", m.EventSourceArn)
		return uuid, nil
	}
	if err := s.start(key, poll); err != nil {
		return "", err
	}
	s.log.Info("mapping polling", "mapping", uuid, "function", functionName(m.FunctionName), "source", m.EventSourceArn, "batchSize", m.BatchSize)
	return uuid, nil
}

func (s *Service) recordMapping(ctx context.Context, m Mapping) (string, error) {
	types := make([]lambdatypes.FunctionResponseType, 0, len(m.FunctionResponseTypes))
	for _, t := range m.FunctionResponseTypes {
		types = append(types, lambdatypes.FunctionResponseType(t))
	}
	window := aws.Int32(int32(m.MaximumBatchingWindow / time.Second))
	if m.UUID == "" {
		in := &awslambda.CreateEventSourceMappingInput{
			FunctionName:                   aws.String(m.FunctionName),
			EventSourceArn:                 aws.String(m.EventSourceArn),
			BatchSize:                      aws.Int32(int32(m.BatchSize)),
			MaximumBatchingWindowInSeconds: window,
			Enabled:                        aws.Bool(m.enabled()),
			FunctionResponseTypes:          types,
		}
		if m.StartingPosition != "" {
			in.StartingPosition = lambdatypes.EventSourcePosition(m.StartingPosition)
		}
		out, err := s.lambda.CreateEventSourceMapping(ctx, in)
		if err != nil {
			return "", fmt.Errorf("record the event source mapping of %s in Lambda: %w", functionName(m.FunctionName), err)
		}
		return aws.ToString(out.UUID), nil
	}
	_, err := s.lambda.UpdateEventSourceMapping(ctx, &awslambda.UpdateEventSourceMappingInput{
		UUID:                           aws.String(m.UUID),
		FunctionName:                   aws.String(m.FunctionName),
		BatchSize:                      aws.Int32(int32(m.BatchSize)),
		MaximumBatchingWindowInSeconds: window,
		Enabled:                        aws.Bool(m.enabled()),
		FunctionResponseTypes:          types,
	})
	if err != nil {
		return "", fmt.Errorf("update the event source mapping %s in Lambda: %w", m.UUID, err)
	}
	return m.UUID, nil
}

// DeleteMapping stops polling for the mapping and deletes it from kumo.
func (s *Service) DeleteMapping(ctx context.Context, uuid string) error {
	s.stop("sqs:" + uuid)
	s.stop("streams:" + uuid)
	if _, err := s.lambda.DeleteEventSourceMapping(ctx, &awslambda.DeleteEventSourceMappingInput{UUID: aws.String(uuid)}); err != nil {
		var nf *lambdatypes.ResourceNotFoundException
		if !errors.As(err, &nf) {
			return fmt.Errorf("delete the event source mapping %s: %w", uuid, err)
		}
	}
	s.log.Info("mapping deleted", "mapping", uuid)
	return nil
}
