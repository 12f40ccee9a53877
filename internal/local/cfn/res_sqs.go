package cfn

import (
	"context"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// AWS::SQS::Queue and AWS::SQS::QueuePolicy, in kumo's SQS. A queue's Ref
// is its URL at the local SQS's address (the engine's AWS endpoint, then
// /<account>/<name>),
// not the https://sqs.<region>.amazonaws.com/<account>/<name> that
// CloudFormation gives: the AWS SDK for JavaScript sends its SQS requests
// to the host of the QueueUrl they name, whatever endpoint it is given, so
// AWS's URL would send a local function's messages to AWS.
func init() {
	register(map[string]*kind{
		"AWS::SQS::Queue": {
			attrs:   []string{"Arn", "QueueName", "QueueUrl"},
			replace: []string{"QueueName", "FifoQueue"},
			create:  createQueue,
			update:  updateQueue,
			remove:  removeQueue,
		},
		"AWS::SQS::QueuePolicy": {
			attrs:  []string{"Id"},
			create: createQueuePolicy,
			update: updateQueuePolicy,
			remove: removeQueuePolicy,
		},
	})
}

// queueAttributes are the SQS attributes a queue's properties set, by
// property name; the ones not given are SQS's defaults, which an update
// that drops a property puts back.
var queueAttributes = map[string]string{
	"VisibilityTimeout":             "30",
	"MessageRetentionPeriod":        "345600",
	"DelaySeconds":                  "0",
	"MaximumMessageSize":            "262144",
	"ReceiveMessageWaitTimeSeconds": "0",
	"RedrivePolicy":                 "",
	"RedriveAllowPolicy":            "",
	"ContentBasedDeduplication":     "",
	"DeduplicationScope":            "",
	"FifoThroughputLimit":           "",
	"KmsMasterKeyId":                "",
	"KmsDataKeyReusePeriodSeconds":  "",
	"SqsManagedSseEnabled":          "",
}

// queueAttrs reads a queue's properties into SQS attributes; with
// defaults, the ones not given are SQS's defaults (for an update).
func queueAttrs(p map[string]any, defaults bool) (map[string]string, error) {
	out := map[string]string{}
	for name, def := range queueAttributes {
		v, ok := p[name]
		if !ok {
			if defaults && def != "" {
				out[name] = def
			}
			continue
		}
		switch name {
		case "RedrivePolicy", "RedriveAllowPolicy":
			s, err := jsonProp(name, v)
			if err != nil {
				return nil, err
			}
			out[name] = s
		default:
			s, ok := scalarString(v)
			if !ok {
				return nil, reasonf("%s must be a string or a number", name)
			}
			out[name] = s
		}
	}
	if fifo, _ := toBool(p["FifoQueue"]); fifo {
		out["FifoQueue"] = "true"
	}
	return out, nil
}

func createQueue(ctx context.Context, o *op, r *resource) error {
	c := o.e.ev.sqs
	fifo, _ := toBool(r.Props["FifoQueue"])
	name := toStringOr(r.Props["QueueName"], "")
	switch {
	case name == "" && fifo:
		name = r.physicalName(o.stackName, 80-len(".fifo"), false) + ".fifo"
	case name == "":
		name = r.physicalName(o.stackName, 80, false)
	case fifo != strings.HasSuffix(name, ".fifo"):
		return reasonf("The name of a FIFO queue can only include alphanumeric characters, hyphens, or underscores, must end with .fifo suffix and be 1 to 80 in length: give FifoQueue true with a QueueName that ends in .fifo, or neither")
	default:
		if _, err := c.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String(name)}); err == nil {
			return alreadyExists("AWS::SQS::Queue", name)
		}
	}
	attrs, err := queueAttrs(r.Props, false)
	if err != nil {
		return err
	}
	tags, err := tagsProp(r.Props["Tags"])
	if err != nil {
		return err
	}
	out, err := c.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(name), Attributes: attrs, Tags: tags})
	if err != nil {
		return fmt.Errorf("%s", awsMessage("SQS", err))
	}
	a, err := c.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: out.QueueUrl, AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn}})
	if err != nil {
		_, _ = c.DeleteQueue(ctx, &sqs.DeleteQueueInput{QueueUrl: out.QueueUrl})
		return fmt.Errorf("%s", awsMessage("SQS", err))
	}
	// The local SQS's address with the queue's path (kumo writes
	// localhost:4566, where it does not listen in process).
	u, err := url.Parse(aws.ToString(out.QueueUrl))
	if err != nil {
		_, _ = c.DeleteQueue(ctx, &sqs.DeleteQueueInput{QueueUrl: out.QueueUrl})
		return fmt.Errorf("the local SQS gave the queue URL %q: %w", aws.ToString(out.QueueUrl), err)
	}
	r.Physical = strings.TrimRight(aws.ToString(o.e.opts.AWS.BaseEndpoint), "/") + u.Path
	r.Attrs = map[string]any{"Arn": a.Attributes["QueueArn"], "QueueName": name, "QueueUrl": r.Physical}
	return nil
}

func updateQueue(ctx context.Context, o *op, prev, next *resource) error {
	attrs, err := queueAttrs(next.Props, true)
	if err != nil {
		return err
	}
	delete(attrs, "FifoQueue") // it cannot change: a change replaces the queue
	if _, err := o.e.ev.sqs.SetQueueAttributes(ctx, &sqs.SetQueueAttributesInput{QueueUrl: aws.String(prev.Physical), Attributes: attrs}); err != nil {
		return fmt.Errorf("%s", awsMessage("SQS", err))
	}
	next.Attrs = maps.Clone(prev.Attrs)
	return nil
}

func removeQueue(ctx context.Context, o *op, r *resource) error {
	_, err := o.e.ev.sqs.DeleteQueue(ctx, &sqs.DeleteQueueInput{QueueUrl: aws.String(r.Physical)})
	if err != nil && !isCode(err, "AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist") {
		return fmt.Errorf("%s", awsMessage("SQS", err))
	}
	return nil
}

// tagsProp reads Tags, a list of {Key, Value}, into a map.
func tagsProp(v any) (map[string]string, error) {
	if v == nil {
		return nil, nil
	}
	out := map[string]string{}
	for _, t := range list(v) {
		m, ok := t.(map[string]any)
		k, kok := scalarString(m["Key"])
		val, vok := scalarString(m["Value"])
		if !ok || !kok || !vok {
			return nil, reasonf("Tags must be a list of {Key, Value}")
		}
		out[k] = val
	}
	return out, nil
}

// ---- AWS::SQS::QueuePolicy ----

// queuePolicy reads a queue policy's Queues (URLs) and PolicyDocument.
func queuePolicy(p map[string]any) ([]string, string, error) {
	var queues []string
	for _, q := range list(p["Queues"]) {
		s, ok := q.(string)
		if !ok || s == "" {
			return nil, "", reasonf("Queues must be a list of queue URLs")
		}
		queues = append(queues, s)
	}
	if len(queues) == 0 {
		return nil, "", reasonf("Queues is required: the URLs of the queues (Ref of an AWS::SQS::Queue)")
	}
	doc, err := jsonProp("PolicyDocument", p["PolicyDocument"])
	if err != nil {
		return nil, "", err
	}
	if doc == "" {
		return nil, "", reasonf("PolicyDocument is required")
	}
	return queues, doc, nil
}

func setQueuePolicies(ctx context.Context, o *op, queues []string, doc string) error {
	for _, q := range queues {
		if _, err := o.e.ev.sqs.SetQueueAttributes(ctx, &sqs.SetQueueAttributesInput{QueueUrl: aws.String(q), Attributes: map[string]string{"Policy": doc}}); err != nil {
			return fmt.Errorf("%s", awsMessage("SQS", err))
		}
	}
	return nil
}

func createQueuePolicy(ctx context.Context, o *op, r *resource) error {
	queues, doc, err := queuePolicy(r.Props)
	if err != nil {
		return err
	}
	if err := setQueuePolicies(ctx, o, queues, doc); err != nil {
		return err
	}
	r.Physical = r.physicalName(o.stackName, 128, false)
	r.Attrs = map[string]any{"Id": r.Physical}
	return nil
}

func updateQueuePolicy(ctx context.Context, o *op, prev, next *resource) error {
	queues, doc, err := queuePolicy(next.Props)
	if err != nil {
		return err
	}
	old, _, _ := queuePolicy(prev.Props)
	var gone []string
	for _, q := range old {
		if !slices.Contains(queues, q) {
			gone = append(gone, q)
		}
	}
	if err := setQueuePolicies(ctx, o, gone, ""); err != nil {
		return err
	}
	next.Attrs = maps.Clone(prev.Attrs)
	return setQueuePolicies(ctx, o, queues, doc)
}

func removeQueuePolicy(ctx context.Context, o *op, r *resource) error {
	queues, _, _ := queuePolicy(r.Props)
	for _, q := range queues {
		_, err := o.e.ev.sqs.SetQueueAttributes(ctx, &sqs.SetQueueAttributesInput{QueueUrl: aws.String(q), Attributes: map[string]string{"Policy": ""}})
		if err != nil && !isCode(err, "AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist") {
			return fmt.Errorf("%s", awsMessage("SQS", err))
		}
	}
	return nil
}
