package events

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"

	lambdaevents "github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// LambdaNotification is one of a bucket's LambdaConfigurations: which
// object events invoke which function.
type LambdaNotification struct {
	// Id names the configuration (the event's s3.configurationId); empty
	// means one made from the function and the events.
	Id string
	// Function is the function's ARN.
	Function string
	// Events are event types such as s3:ObjectCreated:* or
	// s3:ObjectCreated:Put.
	Events []string
	// Prefix and Suffix are the S3Key filter rules; empty matches any key.
	Prefix, Suffix string
}

// PutBucketNotification sets the bucket's Lambda notifications, keeping its
// queue and topic ones. In kumo each becomes a QueueConfiguration to a
// bridge queue of the service's own (kumo filters the events and keys and
// writes the S3 event), whose messages reach the function as the S3 event
// Lambda gets from S3, asynchronously. An empty list removes them.
func (s *Service) PutBucketNotification(ctx context.Context, bucket string, notes []LambdaNotification) error {
	key := "s3:" + bucket
	cur, err := s.s3.GetBucketNotificationConfiguration(ctx, &s3.GetBucketNotificationConfigurationInput{Bucket: aws.String(bucket)})
	if err != nil {
		return fmt.Errorf("read the notifications of bucket %s: %w", bucket, err)
	}
	name := bridgeName("stackflow-s3-", bucket)
	cfg := &s3types.NotificationConfiguration{TopicConfigurations: cur.TopicConfigurations, LambdaFunctionConfigurations: nil}
	for _, q := range cur.QueueConfigurations {
		if !strings.HasSuffix(aws.ToString(q.QueueArn), ":"+name) {
			cfg.QueueConfigurations = append(cfg.QueueConfigurations, q)
		}
	}
	if len(notes) == 0 {
		if _, err := s.s3.PutBucketNotificationConfiguration(ctx, &s3.PutBucketNotificationConfigurationInput{Bucket: aws.String(bucket), NotificationConfiguration: cfg}); err != nil {
			return fmt.Errorf("set the notifications of bucket %s: %w", bucket, err)
		}
		return s.dropBridge(ctx, key)
	}
	url, queueARN, err := s.bridgeQueue(ctx, name)
	if err != nil {
		return fmt.Errorf("notifications of bucket %s: %w", bucket, err)
	}
	route := map[string]string{} // configuration id -> function
	for _, n := range notes {
		id := n.Id
		if id == "" {
			id = bridgeName("", n.Function, strings.Join(n.Events, ","), n.Prefix, n.Suffix)
		}
		route[id] = n.Function
		qc := s3types.QueueConfiguration{Id: aws.String(id), QueueArn: aws.String(queueARN)}
		for _, e := range n.Events {
			qc.Events = append(qc.Events, s3types.Event(e))
		}
		var rules []s3types.FilterRule
		if n.Prefix != "" {
			rules = append(rules, s3types.FilterRule{Name: s3types.FilterRuleNamePrefix, Value: aws.String(n.Prefix)})
		}
		if n.Suffix != "" {
			rules = append(rules, s3types.FilterRule{Name: s3types.FilterRuleNameSuffix, Value: aws.String(n.Suffix)})
		}
		if len(rules) > 0 {
			qc.Filter = &s3types.NotificationConfigurationFilter{Key: &s3types.S3KeyFilter{FilterRules: rules}}
		}
		cfg.QueueConfigurations = append(cfg.QueueConfigurations, qc)
	}
	if _, err := s.s3.PutBucketNotificationConfiguration(ctx, &s3.PutBucketNotificationConfigurationInput{Bucket: aws.String(bucket), NotificationConfiguration: cfg}); err != nil {
		return fmt.Errorf("set the notifications of bucket %s: %w", bucket, err)
	}
	s.mu.Lock()
	s.bridges[key] = bridge{queueURL: url, queueARN: queueARN}
	s.mu.Unlock()
	err = s.start(key, func(ctx context.Context) {
		s.readBridge(ctx, key, url, func(body string) { s.deliverS3(bucket, route, body) })
	})
	if err != nil {
		return err
	}
	s.log.Info("bucket notifications set", "bucket", bucket, "configurations", len(notes))
	return nil
}

func (s *Service) deliverS3(bucket string, route map[string]string, body string) {
	var ev lambdaevents.S3Event
	if err := json.Unmarshal([]byte(body), &ev); err != nil || len(ev.Records) == 0 {
		s.log.Error("a bridged S3 message is not an S3 event", "bucket", bucket)
		return
	}
	fn, ok := route[ev.Records[0].S3.ConfigurationID]
	if !ok {
		s.log.Error("an S3 event for a configuration that is gone", "bucket", bucket, "configuration", ev.Records[0].S3.ConfigurationID)
		return
	}
	for i := range ev.Records {
		r := &ev.Records[i]
		r.AWSRegion = s.region
		// S3 writes event names without the s3: of the configuration's event
		// types, and keys URL-encoded with their slashes kept; kumo does not.
		r.EventName = strings.TrimPrefix(r.EventName, "s3:")
		if key, err := url.QueryUnescape(r.S3.Object.Key); err == nil {
			r.S3.Object.Key = strings.ReplaceAll(url.QueryEscape(key), "%2F", "/")
		}
	}
	payload, err := json.Marshal(ev)
	if err != nil {
		s.log.Error("encode the S3 event", "bucket", bucket, "error", err.Error())
		return
	}
	source := []any{"bucket", bucket, "key", ev.Records[0].S3.Object.Key, "event", ev.Records[0].EventName}
	if s.authorized(Delivery{Service: "s3.amazonaws.com", Action: "lambda:InvokeFunction", Target: fn, SourceARN: "arn:aws:s3:::" + bucket}, source) {
		s.invokeAsync(fn, payload, source...)
	}
}
