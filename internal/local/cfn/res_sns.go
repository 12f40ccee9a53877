package cfn

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	snstypes "github.com/aws/aws-sdk-go-v2/service/sns/types"

	"github.com/stackflow/stackflow/internal/local/events"
)

// AWS::SNS::Topic (with its inline Subscription), AWS::SNS::Subscription
// and AWS::SNS::TopicPolicy, in kumo's SNS. A subscription of a function
// (Protocol lambda) is run by the event sources (package
// internal/local/events), which deliver each message to the function as
// SNS's event; so is one of a queue (Protocol sqs), whose messages kumo
// shapes and the event sources send on when the queue's policy lets SNS;
// other protocols are kumo's to deliver.
func init() {
	register(map[string]*kind{
		"AWS::SNS::Topic": {
			attrs:   []string{"TopicArn", "TopicName"},
			replace: []string{"TopicName", "FifoTopic"},
			create:  createTopic,
			update:  updateTopic,
			remove:  removeTopic,
		},
		"AWS::SNS::Subscription": {
			attrs:   []string{"Arn"},
			replace: []string{"TopicArn", "Protocol", "Endpoint"},
			create:  createSubscription,
			update:  updateSubscription,
			remove:  removeSubscription,
			ignored: map[string]string{
				"DeliveryPolicy": "not applied locally",
				"ReplayPolicy":   "not applied locally",
			},
		},
		"AWS::SNS::TopicPolicy": {
			attrs:  []string{"Id"},
			create: createTopicPolicy,
			update: updateTopicPolicy,
			remove: removeTopicPolicy,
		},
	})
}

// topicSubscriptions is where a topic's resource keeps the ARNs of its
// inline subscriptions (not an attribute templates can read).
const topicSubscriptions = "stackflow:Subscriptions"

// topicAttributes are the SNS attributes a topic's properties set.
var topicAttributes = []string{"DisplayName", "KmsMasterKeyId", "ContentBasedDeduplication", "SignatureVersion", "TracingConfig"}

func createTopic(ctx context.Context, o *op, r *resource) error {
	c := o.e.ev.sns
	fifo, _ := toBool(r.Props["FifoTopic"])
	name := toStringOr(r.Props["TopicName"], "")
	switch {
	case name == "" && fifo:
		name = r.physicalName(o.stackName, 256-len(".fifo"), false) + ".fifo"
	case name == "":
		name = r.physicalName(o.stackName, 256, false)
	case fifo != strings.HasSuffix(name, ".fifo"):
		return reasonf("Fifo Topic names must end with .fifo and Standard Topic cannot end with .fifo: give FifoTopic true with a TopicName that ends in .fifo, or neither")
	}
	attrs := map[string]string{}
	for _, k := range topicAttributes {
		if s, ok := scalarString(r.Props[k]); ok {
			attrs[k] = s
		}
	}
	if fifo {
		attrs["FifoTopic"] = "true"
	}
	tags, err := tagsProp(r.Props["Tags"])
	if err != nil {
		return err
	}
	in := &sns.CreateTopicInput{Name: aws.String(name), Attributes: attrs}
	for k, v := range tags {
		in.Tags = append(in.Tags, snstypes.Tag{Key: aws.String(k), Value: aws.String(v)})
	}
	if toStringOr(r.Props["TopicName"], "") != "" {
		arn := fmt.Sprintf("arn:aws:sns:%s:%s:%s", o.e.region, o.e.account, name)
		if _, err := c.GetTopicAttributes(ctx, &sns.GetTopicAttributesInput{TopicArn: aws.String(arn)}); err == nil {
			return alreadyExists("AWS::SNS::Topic", arn)
		}
	}
	out, err := c.CreateTopic(ctx, in)
	if err != nil {
		return fmt.Errorf("%s", awsMessage("SNS", err))
	}
	arn := aws.ToString(out.TopicArn)
	r.Physical = arn
	r.Attrs = map[string]any{"TopicArn": arn, "TopicName": name}
	subs, err := subscribeInline(ctx, o, arn, r.Props["Subscription"], nil)
	if err != nil {
		_, _ = c.DeleteTopic(ctx, &sns.DeleteTopicInput{TopicArn: aws.String(arn)})
		return err
	}
	r.Attrs[topicSubscriptions] = subs
	return nil
}

// inlineSub is one of a topic's inline subscriptions.
type inlineSub struct{ protocol, endpoint string }

func inlineSubs(v any) ([]inlineSub, error) {
	var out []inlineSub
	for _, s := range list(v) {
		m, _ := s.(map[string]any)
		p, e := toStringOr(m["Protocol"], ""), toStringOr(m["Endpoint"], "")
		if p == "" || e == "" {
			return nil, reasonf("Subscription must be a list of {Endpoint, Protocol}")
		}
		out = append(out, inlineSub{p, e})
	}
	return out, nil
}

// subscribeInline makes the topic's inline subscriptions that are not in
// have (protocol and endpoint -> subscription ARN), and unsubscribes the
// ones of have the list no longer has. It returns the subscriptions the
// topic has now.
func subscribeInline(ctx context.Context, o *op, topic string, v any, have map[string]any) (map[string]any, error) {
	want, err := inlineSubs(v)
	if err != nil {
		return nil, err
	}
	now := map[string]any{}
	for _, s := range want {
		key := s.protocol + " " + s.endpoint
		if arn, ok := have[key]; ok {
			now[key] = arn
			continue
		}
		arn, err := subscribe(ctx, o, topic, s.protocol, s.endpoint, nil)
		if err != nil {
			for _, a := range now {
				_ = unsubscribe(ctx, o, a.(string))
			}
			return nil, err
		}
		now[key] = arn
	}
	for key, arn := range have {
		if _, ok := now[key]; !ok {
			if err := unsubscribe(ctx, o, arn.(string)); err != nil {
				return nil, err
			}
		}
	}
	return now, nil
}

func updateTopic(ctx context.Context, o *op, prev, next *resource) error {
	c := o.e.ev.sns
	for _, k := range topicAttributes {
		old, _ := scalarString(prev.Props[k])
		s, _ := scalarString(next.Props[k])
		if s == old {
			continue
		}
		if _, err := c.SetTopicAttributes(ctx, &sns.SetTopicAttributesInput{TopicArn: aws.String(prev.Physical), AttributeName: aws.String(k), AttributeValue: aws.String(s)}); err != nil {
			return fmt.Errorf("%s", awsMessage("SNS", err))
		}
	}
	have, _ := prev.Attrs[topicSubscriptions].(map[string]any)
	subs, err := subscribeInline(ctx, o, prev.Physical, next.Props["Subscription"], have)
	if err != nil {
		return err
	}
	next.Attrs = maps.Clone(prev.Attrs)
	next.Attrs[topicSubscriptions] = subs
	return nil
}

func removeTopic(ctx context.Context, o *op, r *resource) error {
	subs, _ := r.Attrs[topicSubscriptions].(map[string]any)
	for _, arn := range subs {
		if err := unsubscribe(ctx, o, arn.(string)); err != nil {
			return err
		}
	}
	_, err := o.e.ev.sns.DeleteTopic(ctx, &sns.DeleteTopicInput{TopicArn: aws.String(r.Physical)})
	if err != nil && !isCode(err, "NotFound") {
		return fmt.Errorf("%s", awsMessage("SNS", err))
	}
	return nil
}

// ---- AWS::SNS::Subscription ----

// subscribe subscribes endpoint to topic: a function or a queue through
// the event sources (a queue gets only what its policy lets SNS send),
// anything else in kumo's SNS with attrs.
func subscribe(ctx context.Context, o *op, topic, protocol, endpoint string, attrs map[string]string) (string, error) {
	if protocol == "lambda" {
		if attrs["FilterPolicyScope"] == "MessageBody" {
			return "", reasonf("FilterPolicyScope MessageBody is not rehearsed by stackflow's local engine (the local SNS filters on message attributes only): use MessageAttributes")
		}
		arn, err := o.e.ev.svc.Subscribe(ctx, events.Subscription{
			TopicArn:          topic,
			Endpoint:          o.e.invokeARN(endpoint),
			FilterPolicy:      attrs["FilterPolicy"],
			FilterPolicyScope: attrs["FilterPolicyScope"],
		})
		if err != nil {
			return "", reason(err.Error())
		}
		return arn, nil
	}
	if protocol == "sqs" {
		arn, err := o.e.ev.svc.SubscribeQueue(ctx, events.QueueSubscription{TopicArn: topic, QueueArn: endpoint, Attributes: attrs})
		if err != nil {
			return "", reason(err.Error())
		}
		return arn, nil
	}
	out, err := o.e.ev.sns.Subscribe(ctx, &sns.SubscribeInput{
		TopicArn: aws.String(topic), Protocol: aws.String(protocol), Endpoint: aws.String(endpoint),
		Attributes: attrs, ReturnSubscriptionArn: true,
	})
	if err != nil {
		return "", fmt.Errorf("%s", awsMessage("SNS", err))
	}
	return aws.ToString(out.SubscriptionArn), nil
}

// unsubscribe ends a subscription subscribe made.
func unsubscribe(ctx context.Context, o *op, arn string) error {
	if err := o.e.ev.svc.Unsubscribe(ctx, arn); err != nil {
		return err
	}
	_, err := o.e.ev.sns.Unsubscribe(ctx, &sns.UnsubscribeInput{SubscriptionArn: aws.String(arn)})
	if err != nil && !isCode(err, "NotFound") {
		return fmt.Errorf("%s", awsMessage("SNS", err))
	}
	return nil
}

// subscriptionAttrs reads the SNS attributes of a subscription's
// properties: FilterPolicy, FilterPolicyScope, RawMessageDelivery,
// RedrivePolicy, DeliveryPolicy.
func subscriptionAttrs(p map[string]any) (map[string]string, error) {
	out := map[string]string{}
	for _, k := range []string{"FilterPolicy", "RedrivePolicy", "DeliveryPolicy"} {
		s, err := jsonProp(k, p[k])
		if err != nil {
			return nil, err
		}
		if s != "" {
			out[k] = s
		}
	}
	for _, k := range []string{"FilterPolicyScope", "RawMessageDelivery"} {
		if s, ok := scalarString(p[k]); ok {
			out[k] = s
		}
	}
	return out, nil
}

func createSubscription(ctx context.Context, o *op, r *resource) error {
	topic, protocol, endpoint := toStringOr(r.Props["TopicArn"], ""), toStringOr(r.Props["Protocol"], ""), toStringOr(r.Props["Endpoint"], "")
	if topic == "" || protocol == "" {
		return reasonf("TopicArn and Protocol are required")
	}
	attrs, err := subscriptionAttrs(r.Props)
	if err != nil {
		return err
	}
	arn, err := subscribe(ctx, o, topic, protocol, endpoint, attrs)
	if err != nil {
		return err
	}
	r.Physical = arn
	r.Attrs = map[string]any{"Arn": arn}
	return nil
}

// updateSubscription changes the subscription's attributes in kumo's SNS
// (where the event sources' subscriptions of functions are recorded too,
// with the filter policy kumo applies).
func updateSubscription(ctx context.Context, o *op, prev, next *resource) error {
	attrs, err := subscriptionAttrs(next.Props)
	if err != nil {
		return err
	}
	old, _ := subscriptionAttrs(prev.Props)
	if toStringOr(next.Props["Protocol"], "") == "lambda" {
		if attrs["FilterPolicyScope"] == "MessageBody" {
			return reasonf("FilterPolicyScope MessageBody is not rehearsed by stackflow's local engine (the local SNS filters on message attributes only): use MessageAttributes")
		}
		delete(attrs, "RawMessageDelivery") // the bridge reads SNS's envelope
		delete(old, "RawMessageDelivery")
	}
	for _, k := range []string{"FilterPolicy", "RedrivePolicy", "DeliveryPolicy", "FilterPolicyScope", "RawMessageDelivery"} {
		if attrs[k] == old[k] {
			continue
		}
		if _, err := o.e.ev.sns.SetSubscriptionAttributes(ctx, &sns.SetSubscriptionAttributesInput{
			SubscriptionArn: aws.String(prev.Physical), AttributeName: aws.String(k), AttributeValue: aws.String(attrs[k]),
		}); err != nil {
			return fmt.Errorf("%s", awsMessage("SNS", err))
		}
	}
	next.Attrs = maps.Clone(prev.Attrs)
	return nil
}

func removeSubscription(ctx context.Context, o *op, r *resource) error {
	return unsubscribe(ctx, o, r.Physical)
}

// ---- AWS::SNS::TopicPolicy ----

func topicPolicy(p map[string]any) ([]string, string, error) {
	var topics []string
	for _, t := range list(p["Topics"]) {
		s, ok := t.(string)
		if !ok || s == "" {
			return nil, "", reasonf("Topics must be a list of topic ARNs")
		}
		topics = append(topics, s)
	}
	if len(topics) == 0 {
		return nil, "", reasonf("Topics is required: the ARNs of the topics (Ref of an AWS::SNS::Topic)")
	}
	doc, err := jsonProp("PolicyDocument", p["PolicyDocument"])
	if err != nil {
		return nil, "", err
	}
	if doc == "" {
		return nil, "", reasonf("PolicyDocument is required")
	}
	return topics, doc, nil
}

func setTopicPolicies(ctx context.Context, o *op, topics []string, doc string) error {
	for _, t := range topics {
		_, err := o.e.ev.sns.SetTopicAttributes(ctx, &sns.SetTopicAttributesInput{TopicArn: aws.String(t), AttributeName: aws.String("Policy"), AttributeValue: aws.String(doc)})
		if err != nil && !(doc == "" && isCode(err, "NotFound")) {
			return fmt.Errorf("%s", awsMessage("SNS", err))
		}
	}
	return nil
}

func createTopicPolicy(ctx context.Context, o *op, r *resource) error {
	topics, doc, err := topicPolicy(r.Props)
	if err != nil {
		return err
	}
	if err := setTopicPolicies(ctx, o, topics, doc); err != nil {
		return err
	}
	r.Physical = r.physicalName(o.stackName, 128, false)
	r.Attrs = map[string]any{"Id": r.Physical}
	return nil
}

func updateTopicPolicy(ctx context.Context, o *op, prev, next *resource) error {
	topics, doc, err := topicPolicy(next.Props)
	if err != nil {
		return err
	}
	old, _, _ := topicPolicy(prev.Props)
	var gone []string
	for _, t := range old {
		if !slices.Contains(topics, t) {
			gone = append(gone, t)
		}
	}
	if err := setTopicPolicies(ctx, o, gone, ""); err != nil {
		return err
	}
	next.Attrs = maps.Clone(prev.Attrs)
	return setTopicPolicies(ctx, o, topics, doc)
}

func removeTopicPolicy(ctx context.Context, o *op, r *resource) error {
	topics, _, _ := topicPolicy(r.Props)
	return setTopicPolicies(ctx, o, topics, "")
}
