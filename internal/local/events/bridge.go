package events

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// A bridge is a queue of the service's own that kumo delivers to in
// process (SNS's sqs protocol, S3's QueueConfigurations both work in kumo),
// read by a goroutine that hands each message to a function as the Lambda
// event of its source. kumo's own deliveries to Lambda (SNS's lambda
// protocol, S3's LambdaFunctionConfigurations) go to
// http://localhost:4566 whatever port kumo serves on, so they never reach
// an in-process kumo; the bridges replace them.
type bridge struct {
	queueURL string
	queueARN string
	cleanup  func(ctx context.Context) error // undoes what kumo records for the bridge
}

// bridgeName is a queue name made from parts: prefix and a hash, so a
// source always gets the same queue and no two sources share one.
func bridgeName(prefix string, parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return prefix + hex.EncodeToString(h.Sum(nil))[:16]
}

// bridgeQueue creates (or finds) the bridge queue name and returns its URL
// and ARN.
func (s *Service) bridgeQueue(ctx context.Context, name string) (string, string, error) {
	return s.bridgeQueueOf(ctx, name, false)
}

// bridgeQueueOf is bridgeQueue of a FIFO queue (its name ends in .fifo;
// content-based deduplication) when fifo.
func (s *Service) bridgeQueueOf(ctx context.Context, name string, fifo bool) (string, string, error) {
	in := &sqs.CreateQueueInput{QueueName: aws.String(name)}
	if fifo {
		in.Attributes = map[string]string{"FifoQueue": "true", "ContentBasedDeduplication": "true"}
	}
	out, err := s.sqs.CreateQueue(ctx, in)
	if err != nil {
		return "", "", fmt.Errorf("create the bridge queue %s: %w", name, err)
	}
	attrs, err := s.sqs.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
		QueueUrl:       out.QueueUrl,
		AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn},
	})
	if err != nil {
		return "", "", fmt.Errorf("read the bridge queue %s: %w", name, err)
	}
	return aws.ToString(out.QueueUrl), attrs.Attributes[string(sqstypes.QueueAttributeNameQueueArn)], nil
}

// readBridge receives the bridge queue's messages until ctx ends, hands
// each body to handle and deletes it: from there the delivery is an
// asynchronous invocation, with Lambda's retries.
func (s *Service) readBridge(ctx context.Context, key, url string, handle func(body string)) {
	s.readBridgeMessages(ctx, key, url, func(m sqstypes.Message) { handle(aws.ToString(m.Body)) })
}

// readBridgeMessages is readBridge handing each message whole, with its
// attributes.
func (s *Service) readBridgeMessages(ctx context.Context, key, url string, handle func(m sqstypes.Message)) {
	for ctx.Err() == nil {
		msgs, err := s.receive(ctx, url, 10, longPoll)
		if err != nil {
			if ctx.Err() == nil {
				s.log.Error("receive failed", "source", key, "error", err.Error())
				sleep(ctx, time.Second)
			}
			continue
		}
		for _, m := range msgs {
			handle(m)
			if _, err := s.sqs.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(url), ReceiptHandle: m.ReceiptHandle}); err != nil && ctx.Err() == nil {
				s.log.Error("delete a bridged message", "source", key, "error", err.Error())
			}
		}
	}
}

// dropBridge stops the bridge key's reader and undoes what kumo records
// for it, the queue included.
func (s *Service) dropBridge(ctx context.Context, key string) error {
	s.stop(key)
	s.mu.Lock()
	b, ok := s.bridges[key]
	delete(s.bridges, key)
	s.mu.Unlock()
	if !ok {
		return nil
	}
	if b.cleanup != nil {
		if err := b.cleanup(ctx); err != nil {
			return err
		}
	}
	if _, err := s.sqs.DeleteQueue(ctx, &sqs.DeleteQueueInput{QueueUrl: aws.String(b.queueURL)}); err != nil {
		return fmt.Errorf("delete the bridge queue %s: %w", b.queueARN, err)
	}
	return nil
}
