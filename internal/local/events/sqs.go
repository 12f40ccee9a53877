package events

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	lambdaevents "github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	awslambda "github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// queue is an SQS queue a mapping polls.
type queue struct {
	arn        string
	url        string
	visibility time.Duration
}

// queueSource finds the mapping's queue and checks, as Lambda does, that
// its visibility timeout is no shorter than the function's timeout.
func (s *Service) queueSource(ctx context.Context, m Mapping) (queue, error) {
	q, err := s.queueByARN(ctx, m.EventSourceArn)
	if err != nil {
		return queue{}, fmt.Errorf("event source mapping of %s: %w", functionName(m.FunctionName), err)
	}
	fn, err := s.lambda.GetFunctionConfiguration(ctx, &awslambda.GetFunctionConfigurationInput{FunctionName: aws.String(m.FunctionName)})
	if err != nil {
		return queue{}, fmt.Errorf("event source mapping of %s: read the function's configuration: %w", functionName(m.FunctionName), err)
	}
	if timeout := time.Duration(aws.ToInt32(fn.Timeout)) * time.Second; q.visibility < timeout {
		return queue{}, fmt.Errorf("event source mapping of %s: queue visibility timeout %s is less than the function's timeout %s: raise the queue's VisibilityTimeout (AWS advises six times the function's timeout)", functionName(m.FunctionName), q.visibility, timeout)
	}
	return q, nil
}

func (s *Service) queueByARN(ctx context.Context, arn string) (queue, error) {
	url, err := s.sqs.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String(arnName(arn))})
	if err != nil {
		return queue{}, fmt.Errorf("find queue %s: %w", arn, err)
	}
	attrs, err := s.sqs.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
		QueueUrl:       url.QueueUrl,
		AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameVisibilityTimeout},
	})
	if err != nil {
		return queue{}, fmt.Errorf("read queue %s: %w", arn, err)
	}
	secs, _ := strconv.Atoi(attrs.Attributes[string(sqstypes.QueueAttributeNameVisibilityTimeout)])
	return queue{arn: arn, url: aws.ToString(url.QueueUrl), visibility: time.Duration(secs) * time.Second}, nil
}

// longPoll is how long a receive waits for messages: SQS's longest, as
// Lambda's pollers wait. kumo's long poll ends early when a message is
// sent, but not when one comes back from a visibility timeout, so after a
// failure the poller uses short waits until the failed messages are due.
const (
	longPoll  = 20
	shortPoll = 1
)

// pollQueue is a mapping's poller: it receives batches, invokes the
// function with each and deletes what the function handled.
func (s *Service) pollQueue(ctx context.Context, m Mapping, q queue) {
	var failedDue time.Time // real time: kumo's visibility timeouts are
	for ctx.Err() == nil {
		wait := int32(longPoll)
		if time.Now().Before(failedDue) {
			wait = shortPoll
		}
		batch, err := s.receive(ctx, q.url, min(m.BatchSize, 10), wait)
		if err != nil {
			if ctx.Err() == nil {
				s.log.Error("receive failed", "mapping", m.UUID, "queue", q.arn, "error", err.Error())
				sleep(ctx, time.Second)
			}
			continue
		}
		if len(batch) == 0 {
			continue
		}
		if len(batch) < m.BatchSize && m.MaximumBatchingWindow > 0 {
			batch = s.gather(ctx, m, q, batch)
			if ctx.Err() != nil {
				return // what was received comes back after its visibility timeout
			}
		}
		if !s.deliverQueueBatch(ctx, m, q, batch) {
			failedDue = time.Now().Add(q.visibility + time.Second)
		}
	}
}

// gather receives more messages until the batch is full or the mapping's
// batching window, on the service's clock, has passed.
func (s *Service) gather(ctx context.Context, m Mapping, q queue, batch []sqstypes.Message) []sqstypes.Message {
	window, stop := s.clock.At(s.clock.Now().Add(m.MaximumBatchingWindow))
	defer stop()
	for len(batch) < m.BatchSize {
		select {
		case <-window:
			return batch
		case <-ctx.Done():
			return batch
		default:
		}
		more, err := s.receive(ctx, q.url, min(m.BatchSize-len(batch), 10), shortPoll)
		if err != nil && ctx.Err() == nil {
			s.log.Error("receive failed", "mapping", m.UUID, "queue", q.arn, "error", err.Error())
			sleep(ctx, time.Second)
		}
		batch = append(batch, more...)
	}
	return batch
}

func (s *Service) receive(ctx context.Context, url string, n int, wait int32) ([]sqstypes.Message, error) {
	out, err := s.sqs.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
		QueueUrl:                    aws.String(url),
		MaxNumberOfMessages:         int32(n),
		WaitTimeSeconds:             wait,
		MessageSystemAttributeNames: []sqstypes.MessageSystemAttributeName{sqstypes.MessageSystemAttributeNameAll},
		MessageAttributeNames:       []string{"All"},
	})
	if err != nil {
		return nil, err
	}
	return out.Messages, nil
}

// deliverQueueBatch invokes the function with batch and deletes the
// messages it handled: all of them on success, all but the reported ones
// with ReportBatchItemFailures, none when it failed (they come back after
// the visibility timeout and, past the queue's maxReceiveCount, kumo moves
// them to its dead-letter queue). It reports whether every message was
// handled.
func (s *Service) deliverQueueBatch(ctx context.Context, m Mapping, q queue, batch []sqstypes.Message) bool {
	if batch = s.filterQueueBatch(ctx, m, q, batch); len(batch) == 0 {
		return true
	}
	ev := lambdaevents.SQSEvent{Records: make([]lambdaevents.SQSMessage, 0, len(batch))}
	for _, msg := range batch {
		ev.Records = append(ev.Records, sqsRecord(msg, q.arn, s.region))
	}
	payload, err := json.Marshal(ev)
	if err != nil {
		s.log.Error("encode the SQS event", "mapping", m.UUID, "error", err.Error())
		return false
	}
	resp, err := s.invoke(ctx, m.FunctionName, payload)
	if err != nil {
		if ctx.Err() == nil {
			s.log.Error("batch failed, its messages return after the visibility timeout", "mapping", m.UUID, "function", functionName(m.FunctionName), "queue", q.arn, "messages", len(batch), "error", err.Error())
		}
		return false
	}
	keep := map[string]bool{}
	if m.reportsItemFailures() {
		var failed lambdaevents.SQSEventResponse
		ids := map[string]bool{}
		for _, r := range ev.Records {
			ids[r.MessageId] = true
		}
		whole := false
		if len(resp) > 0 && string(resp) != "null" {
			if err := json.Unmarshal(resp, &failed); err != nil {
				whole = true
			}
		}
		for _, f := range failed.BatchItemFailures {
			if !ids[f.ItemIdentifier] {
				whole = true // Lambda fails the whole batch on an unknown or empty identifier
			}
			keep[f.ItemIdentifier] = true
		}
		if whole {
			s.log.Error("batch failed: the function's batchItemFailures named no message of the batch", "mapping", m.UUID, "function", functionName(m.FunctionName), "queue", q.arn, "messages", len(batch))
			return false
		}
	}
	var done []sqstypes.DeleteMessageBatchRequestEntry
	for i, msg := range batch {
		if keep[aws.ToString(msg.MessageId)] {
			continue
		}
		done = append(done, sqstypes.DeleteMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), ReceiptHandle: msg.ReceiptHandle})
	}
	for start := 0; start < len(done); start += 10 {
		chunk := done[start:min(start+10, len(done))]
		out, err := s.sqs.DeleteMessageBatch(ctx, &sqs.DeleteMessageBatchInput{QueueUrl: aws.String(q.url), Entries: chunk})
		if err == nil && len(out.Failed) > 0 {
			err = fmt.Errorf("%d of %d not deleted: %s", len(out.Failed), len(chunk), aws.ToString(out.Failed[0].Message))
		}
		if err != nil && ctx.Err() == nil {
			s.log.Error("delete handled messages", "mapping", m.UUID, "queue", q.arn, "error", err.Error())
		}
	}
	if len(keep) > 0 {
		s.log.Warn("batch partly failed, the failed messages return after the visibility timeout", "mapping", m.UUID, "function", functionName(m.FunctionName), "queue", q.arn, "messages", len(batch), "failed", len(keep))
		return false
	}
	s.log.Info("delivered", "mapping", m.UUID, "function", functionName(m.FunctionName), "queue", q.arn, "messages", len(batch))
	return true
}

// sqsRecord is msg as Lambda hands it to a function.
func sqsRecord(msg sqstypes.Message, queueARN, region string) lambdaevents.SQSMessage {
	attrs := make(map[string]lambdaevents.SQSMessageAttribute, len(msg.MessageAttributes))
	for k, v := range msg.MessageAttributes {
		attrs[k] = lambdaevents.SQSMessageAttribute{
			StringValue:      v.StringValue,
			BinaryValue:      v.BinaryValue,
			StringListValues: v.StringListValues,
			BinaryListValues: v.BinaryListValues,
			DataType:         aws.ToString(v.DataType),
		}
	}
	return lambdaevents.SQSMessage{
		MessageId:              aws.ToString(msg.MessageId),
		ReceiptHandle:          aws.ToString(msg.ReceiptHandle),
		Body:                   aws.ToString(msg.Body),
		Md5OfBody:              aws.ToString(msg.MD5OfBody),
		Md5OfMessageAttributes: aws.ToString(msg.MD5OfMessageAttributes),
		Attributes:             msg.Attributes,
		MessageAttributes:      attrs,
		EventSourceARN:         queueARN,
		EventSource:            "aws:sqs",
		AWSRegion:              region,
	}
}
