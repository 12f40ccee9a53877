package events

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	lambdaevents "github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// Subscription is an SNS subscription of a function to a topic
// (AWS::SNS::Subscription with Protocol lambda).
type Subscription struct {
	// TopicArn is the topic's ARN.
	TopicArn string
	// Endpoint is the function's ARN.
	Endpoint string
	// FilterPolicy is the subscription's filter policy (JSON) on message
	// attributes; empty delivers every message. kumo applies it (exact
	// strings, prefix, anything-but and exists; not numeric matches).
	FilterPolicy string
	// FilterPolicyScope is MessageAttributes (the default); MessageBody is
	// refused: kumo filters on attributes only.
	FilterPolicyScope string
}

// Subscribe subscribes sub's function to its topic and returns the
// subscription's ARN. In kumo the subscription is an sqs-protocol one to
// a bridge queue of the service's own, whose messages reach the function
// as the SNS event Lambda gets from SNS, asynchronously.
func (s *Service) Subscribe(ctx context.Context, sub Subscription) (string, error) {
	if sub.FilterPolicyScope != "" && sub.FilterPolicyScope != "MessageAttributes" {
		return "", fmt.Errorf("subscribe %s to %s: FilterPolicyScope %s is not rehearsed locally (kumo filters on message attributes only): use MessageAttributes", functionName(sub.Endpoint), sub.TopicArn, sub.FilterPolicyScope)
	}
	url, queueARN, err := s.bridgeQueue(ctx, bridgeName("stackflow-sns-", sub.TopicArn, sub.Endpoint))
	if err != nil {
		return "", fmt.Errorf("subscribe %s to %s: %w", functionName(sub.Endpoint), sub.TopicArn, err)
	}
	attrs := map[string]string{}
	if sub.FilterPolicy != "" {
		if !json.Valid([]byte(sub.FilterPolicy)) {
			return "", fmt.Errorf("subscribe %s to %s: the FilterPolicy is not JSON", functionName(sub.Endpoint), sub.TopicArn)
		}
		attrs["FilterPolicy"] = sub.FilterPolicy
	}
	out, err := s.sns.Subscribe(ctx, &sns.SubscribeInput{
		TopicArn:              aws.String(sub.TopicArn),
		Protocol:              aws.String("sqs"),
		Endpoint:              aws.String(queueARN),
		Attributes:            attrs,
		ReturnSubscriptionArn: true,
	})
	if err != nil {
		return "", fmt.Errorf("subscribe %s to %s: %w", functionName(sub.Endpoint), sub.TopicArn, err)
	}
	arn := aws.ToString(out.SubscriptionArn)
	key := "sns:" + arn
	s.mu.Lock()
	s.bridges[key] = bridge{queueURL: url, queueARN: queueARN, cleanup: func(ctx context.Context) error {
		if _, err := s.sns.Unsubscribe(ctx, &sns.UnsubscribeInput{SubscriptionArn: aws.String(arn)}); err != nil {
			return fmt.Errorf("unsubscribe %s: %w", arn, err)
		}
		return nil
	}}
	s.mu.Unlock()
	err = s.start(key, func(ctx context.Context) {
		s.readBridge(ctx, key, url, func(body string) { s.deliverSNS(sub, arn, body) })
	})
	if err != nil {
		return "", err
	}
	s.log.Info("subscribed", "subscription", arn, "topic", sub.TopicArn, "function", functionName(sub.Endpoint))
	return arn, nil
}

// Unsubscribe ends a subscription Subscribe made.
func (s *Service) Unsubscribe(ctx context.Context, subscriptionArn string) error {
	if err := s.dropBridge(ctx, "sns:"+subscriptionArn); err != nil {
		return err
	}
	s.log.Info("unsubscribed", "subscription", subscriptionArn)
	return nil
}

// snsEnvelope is the JSON SNS delivers to an sqs-protocol subscription.
type snsEnvelope struct {
	Type              string
	MessageID         string `json:"MessageId"`
	TopicArn          string
	Subject           string
	Message           string
	Timestamp         time.Time
	SignatureVersion  string
	Signature         string
	SigningCertURL    string
	UnsubscribeURL    string
	MessageAttributes map[string]struct{ Type, Value string }
}

func (s *Service) deliverSNS(sub Subscription, subscriptionArn, body string) {
	var env snsEnvelope
	if err := json.Unmarshal([]byte(body), &env); err != nil {
		s.log.Error("a bridged SNS message is not an SNS notification", "subscription", subscriptionArn, "error", err.Error())
		return
	}
	attrs := make(map[string]any, len(env.MessageAttributes))
	for k, v := range env.MessageAttributes {
		attrs[k] = map[string]string{"Type": v.Type, "Value": v.Value}
	}
	ev := lambdaevents.SNSEvent{Records: []lambdaevents.SNSEventRecord{{
		EventVersion:         "1.0",
		EventSubscriptionArn: subscriptionArn,
		EventSource:          "aws:sns",
		SNS: lambdaevents.SNSEntity{
			Signature:         env.Signature,
			MessageID:         env.MessageID,
			Type:              env.Type,
			TopicArn:          env.TopicArn,
			MessageAttributes: attrs,
			SignatureVersion:  env.SignatureVersion,
			Timestamp:         env.Timestamp,
			SigningCertURL:    env.SigningCertURL,
			Message:           env.Message,
			UnsubscribeURL:    env.UnsubscribeURL,
			Subject:           env.Subject,
		},
	}}}
	payload, err := json.Marshal(ev)
	if err != nil {
		s.log.Error("encode the SNS event", "subscription", subscriptionArn, "error", err.Error())
		return
	}
	source := []any{"topic", sub.TopicArn, "messageId", env.MessageID}
	if s.authorized(Delivery{Service: "sns.amazonaws.com", Action: "lambda:InvokeFunction", Target: sub.Endpoint, SourceARN: sub.TopicArn}, source) {
		s.invokeAsync(sub.Endpoint, payload, source...)
	}
}

// QueueSubscription is an SNS subscription of a queue to a topic
// (AWS::SNS::Subscription with Protocol sqs).
type QueueSubscription struct {
	// TopicArn is the topic's ARN.
	TopicArn string
	// QueueArn is the queue's ARN (the subscription's Endpoint).
	QueueArn string
	// Attributes are the subscription's SNS attributes (FilterPolicy,
	// FilterPolicyScope, RawMessageDelivery, ...), which kumo applies.
	Attributes map[string]string
}

// SubscribeQueue subscribes sub's queue to its topic and returns the
// subscription's ARN. In kumo the subscription is one of a bridge queue
// of the service's own, with sub's attributes, so kumo shapes each
// message as SNS does (its JSON notification, or the raw message); the
// service sends each on to the queue only when Options.Authorize lets
// sns.amazonaws.com sqs:SendMessage to it from the topic (the queue's
// policy, as SNS's delivery is decided on AWS), and drops it with a
// warning otherwise.
func (s *Service) SubscribeQueue(ctx context.Context, sub QueueSubscription) (string, error) {
	fifo := strings.HasSuffix(sub.QueueArn, ".fifo")
	bname := bridgeName("stackflow-sns-sqs-", sub.TopicArn, sub.QueueArn)
	if fifo {
		bname += ".fifo"
	}
	url, bridgeARN, err := s.bridgeQueueOf(ctx, bname, fifo)
	if err != nil {
		return "", fmt.Errorf("subscribe %s to %s: %w", sub.QueueArn, sub.TopicArn, err)
	}
	out, err := s.sns.Subscribe(ctx, &sns.SubscribeInput{
		TopicArn:              aws.String(sub.TopicArn),
		Protocol:              aws.String("sqs"),
		Endpoint:              aws.String(bridgeARN),
		Attributes:            sub.Attributes,
		ReturnSubscriptionArn: true,
	})
	if err != nil {
		_, _ = s.sqs.DeleteQueue(ctx, &sqs.DeleteQueueInput{QueueUrl: aws.String(url)})
		return "", fmt.Errorf("subscribe %s to %s: %w", sub.QueueArn, sub.TopicArn, err)
	}
	arn := aws.ToString(out.SubscriptionArn)
	key := "sns:" + arn
	s.mu.Lock()
	s.bridges[key] = bridge{queueURL: url, queueARN: bridgeARN, cleanup: func(ctx context.Context) error {
		if _, err := s.sns.Unsubscribe(ctx, &sns.UnsubscribeInput{SubscriptionArn: aws.String(arn)}); err != nil {
			return fmt.Errorf("unsubscribe %s: %w", arn, err)
		}
		return nil
	}}
	s.mu.Unlock()
	err = s.start(key, func(ctx context.Context) {
		s.readBridgeMessages(ctx, key, url, func(m sqstypes.Message) { s.deliverToQueue(ctx, sub, m) })
	})
	if err != nil {
		return "", err
	}
	s.log.Info("subscribed", "subscription", arn, "topic", sub.TopicArn, "queue", sub.QueueArn)
	return arn, nil
}

// deliverToQueue sends a message SNS delivered to a queue subscription's
// bridge on to the queue, if the queue's policy lets SNS send it.
func (s *Service) deliverToQueue(ctx context.Context, sub QueueSubscription, m sqstypes.Message) {
	source := []any{"topic", sub.TopicArn, "queue", sub.QueueArn}
	if s.authorize != nil {
		d := Delivery{Service: "sns.amazonaws.com", Action: "sqs:SendMessage", Target: sub.QueueArn, SourceARN: sub.TopicArn}
		if err := s.authorize(d); err != nil {
			s.log.Warn("delivery dropped: not authorized", append([]any{"target", sub.QueueArn, "action", d.Action, "denial", err.Error(),
				"missing", fmt.Sprintf("a statement of the queue's policy (AWS::SQS::QueuePolicy) that allows sqs:SendMessage on %s to the service principal sns.amazonaws.com with the condition ArnEquals aws:SourceArn %s", sub.QueueArn, sub.TopicArn)}, source...)...)
			return
		}
	}
	q, err := s.sqs.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String(arnName(sub.QueueArn))})
	if err == nil {
		in := &sqs.SendMessageInput{QueueUrl: q.QueueUrl, MessageBody: m.Body, MessageAttributes: m.MessageAttributes}
		if strings.HasSuffix(sub.QueueArn, ".fifo") {
			in.MessageGroupId = aws.String(cmp.Or(m.Attributes[string(sqstypes.MessageSystemAttributeNameMessageGroupId)], "default"))
			if id := m.Attributes[string(sqstypes.MessageSystemAttributeNameMessageDeduplicationId)]; id != "" {
				in.MessageDeduplicationId = aws.String(id)
			}
		}
		_, err = s.sqs.SendMessage(ctx, in)
	}
	s.logDelivery(sub.QueueArn, err, source)
}
