package events

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// Lambda's event filtering of an event source mapping (FilterCriteria):
// each record, as the function would get it, is matched against the
// mapping's patterns; an SQS message's body is matched as the JSON it
// holds when it is a JSON object or list, else as a string.

// recordFields is a record as the filters see it: its JSON fields, with
// the field named body (an SQS message's) parsed when it holds JSON.
func recordFields(rec any, body string) any {
	data, err := json.Marshal(rec)
	if err != nil {
		return nil
	}
	var fields map[string]any
	if json.Unmarshal(data, &fields) != nil {
		return nil
	}
	if body != "" {
		text, _ := fields[body].(string)
		if t := strings.TrimSpace(text); strings.HasPrefix(t, "{") || strings.HasPrefix(t, "[") {
			var parsed any
			if json.Unmarshal([]byte(t), &parsed) == nil {
				fields[body] = parsed
			}
		}
	}
	return fields
}

func matchesAny(patterns []*Pattern, fields any) bool {
	for _, p := range patterns {
		if p.Match(fields) {
			return true
		}
	}
	return false
}

// filterQueueBatch returns the messages of batch that m's filters match
// (all of them without filters) and deletes the others from the queue, as
// Lambda does with messages no filter matches.
func (s *Service) filterQueueBatch(ctx context.Context, m Mapping, q queue, batch []sqstypes.Message) []sqstypes.Message {
	if len(m.patterns) == 0 {
		return batch
	}
	var keep []sqstypes.Message
	var drop []sqstypes.DeleteMessageBatchRequestEntry
	for i, msg := range batch {
		if rec, ok := recordFields(sqsRecord(msg, q.arn, s.region), "body").(map[string]any); ok && matchesAny(m.patterns, rec) {
			keep = append(keep, msg)
			continue
		}
		drop = append(drop, sqstypes.DeleteMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), ReceiptHandle: msg.ReceiptHandle})
	}
	for start := 0; start < len(drop); start += 10 {
		chunk := drop[start:min(start+10, len(drop))]
		if _, err := s.sqs.DeleteMessageBatch(ctx, &sqs.DeleteMessageBatchInput{QueueUrl: aws.String(q.url), Entries: chunk}); err != nil && ctx.Err() == nil {
			s.log.Error("delete the messages no filter matches", "mapping", m.UUID, "queue", q.arn, "error", err.Error())
		}
	}
	if len(drop) > 0 {
		s.log.Info("filtered out and deleted", "mapping", m.UUID, "function", functionName(m.FunctionName), "queue", q.arn, "messages", len(drop))
	}
	return keep
}
