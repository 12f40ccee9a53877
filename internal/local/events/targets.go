package events

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
)

// deliver hands payload to a rule's or a schedule's target: a function
// (an asynchronous invocation), a queue (SendMessage) or a topic
// (Publish), if Options.Authorize lets from's service do it. Other
// targets are logged as not rehearsed.
func (s *Service) deliver(ctx context.Context, from Delivery, target string, payload []byte, source ...any) {
	from.Target = target
	switch {
	case strings.HasPrefix(target, "arn:aws:lambda:"):
		from.Action = "lambda:InvokeFunction"
		if s.authorized(from, source) {
			s.invokeAsync(target, payload, source...)
		}
	case strings.HasPrefix(target, "arn:aws:sqs:"):
		from.Action = "sqs:SendMessage"
		if !s.authorized(from, source) {
			return
		}
		q, err := s.sqs.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String(arnName(target))})
		if err == nil {
			_, err = s.sqs.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: q.QueueUrl, MessageBody: aws.String(string(payload))})
		}
		s.logDelivery(target, err, source)
	case strings.HasPrefix(target, "arn:aws:sns:"):
		from.Action = "sns:Publish"
		if !s.authorized(from, source) {
			return
		}
		_, err := s.sns.Publish(ctx, &sns.PublishInput{TopicArn: aws.String(target), Message: aws.String(string(payload))})
		s.logDelivery(target, err, source)
	default:
		s.log.Warn("target not rehearsed locally: only Lambda functions, SQS queues and SNS topics are", append([]any{"target", target}, source...)...)
	}
}

func (s *Service) logDelivery(target string, err error, source []any) {
	if err != nil {
		s.log.Error("delivery failed", append([]any{"target", target, "error", err.Error()}, source...)...)
		return
	}
	s.log.Info("delivered", append([]any{"target", target}, source...)...)
}

// jsonPath reads a JSONPath of EventBridge's kind ($, $.a.b, $.a[0].b)
// from doc; false when nothing is there.
func jsonPath(doc any, path string) (any, bool) {
	if path == "$" {
		return doc, true
	}
	if !strings.HasPrefix(path, "$.") {
		return nil, false
	}
	cur := doc
	for _, part := range strings.Split(path[2:], ".") {
		name, index, hasIndex := strings.Cut(part, "[")
		if name != "" {
			m, ok := cur.(map[string]any)
			if !ok {
				return nil, false
			}
			if cur, ok = m[name]; !ok {
				return nil, false
			}
		}
		for hasIndex {
			var i int
			var rest string
			if _, err := fmt.Sscanf(index, "%d]", &i); err != nil {
				return nil, false
			}
			l, ok := cur.([]any)
			if !ok || i < 0 || i >= len(l) {
				return nil, false
			}
			cur = l[i]
			_, rest, _ = strings.Cut(index, "]")
			_, index, hasIndex = strings.Cut(rest, "[")
		}
	}
	return cur, true
}

// InputTransformer is a target's InputTransformer: values picked from the
// event by JSONPath, put into a template at <name>.
type InputTransformer struct {
	InputPathsMap map[string]string
	InputTemplate string
}

// targetInput is what a rule's target receives for event: Input as given,
// the part InputPath selects, InputTransformer's output, or the event.
func targetInput(t Target, event []byte, ruleArn, ruleName string) ([]byte, error) {
	switch {
	case t.Input != "":
		return []byte(t.Input), nil
	case t.InputPath != "":
		var doc any
		if err := json.Unmarshal(event, &doc); err != nil {
			return nil, err
		}
		v, ok := jsonPath(doc, t.InputPath)
		if !ok {
			return []byte("null"), nil
		}
		return json.Marshal(v)
	case t.InputTransformer != nil:
		return transform(*t.InputTransformer, event, ruleArn, ruleName)
	}
	return event, nil
}

// transform fills an InputTransformer's template as EventBridge does: a
// placeholder inside a JSON string takes the value's text, one outside
// takes its JSON; the reserved <aws.events.rule-arn>,
// <aws.events.rule-name>, <aws.events.event> and <aws.events.event.json>
// are the rule's and the event's.
func transform(tr InputTransformer, event []byte, ruleArn, ruleName string) ([]byte, error) {
	var doc any
	if err := json.Unmarshal(event, &doc); err != nil {
		return nil, err
	}
	values := map[string]any{"aws.events.rule-arn": ruleArn, "aws.events.rule-name": ruleName}
	for name, path := range tr.InputPathsMap {
		v, ok := jsonPath(doc, path)
		if !ok {
			v = nil
		}
		values[name] = v
	}
	tpl := tr.InputTemplate
	var out bytes.Buffer
	inString := false
	for i := 0; i < len(tpl); i++ {
		c := tpl[i]
		switch {
		case c == '\\' && inString && i+1 < len(tpl):
			out.WriteByte(c)
			out.WriteByte(tpl[i+1])
			i++
			continue
		case c == '"':
			inString = !inString
		case c == '<':
			end := strings.IndexByte(tpl[i:], '>')
			if end > 0 {
				name := tpl[i+1 : i+end]
				var v any
				var ok bool
				switch name {
				case "aws.events.event", "aws.events.event.json":
					v, ok = json.RawMessage(event), true
				default:
					v, ok = values[name]
				}
				if ok {
					b, err := json.Marshal(v)
					if err != nil {
						return nil, err
					}
					if inString {
						if str, isString := v.(string); isString {
							b, _ = json.Marshal(str)
							b = b[1 : len(b)-1]
						}
					}
					out.Write(b)
					i += end
					continue
				}
			}
		}
		out.WriteByte(c)
	}
	return out.Bytes(), nil
}
