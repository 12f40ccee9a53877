package events

import (
	"context"
	"encoding/json"
	"time"

	lambdaevents "github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	streamtypes "github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"
)

// streamPoll is how often an idle shard is read again; Lambda reads each
// shard about four times a second.
const streamPoll = 250 * time.Millisecond

// pollStream is a DynamoDB stream mapping's poller: it reads each shard the
// stream had when the mapping started through the DynamoDB Streams API
// (GetShardIterator, GetRecords) and invokes the function with each batch,
// in order, retrying a failed batch until it succeeds.
func (s *Service) pollStream(ctx context.Context, m Mapping) {
	var shards []streamtypes.Shard
	for ctx.Err() == nil {
		out, err := s.streams.DescribeStream(ctx, &dynamodbstreams.DescribeStreamInput{StreamArn: aws.String(m.EventSourceArn)})
		if err == nil {
			shards = out.StreamDescription.Shards
			break
		}
		s.log.Error("describe stream failed", "mapping", m.UUID, "stream", m.EventSourceArn, "error", err.Error())
		sleep(ctx, time.Second)
	}
	iterators := map[string]*string{}
	for _, sh := range shards {
		for ctx.Err() == nil {
			it, err := s.streams.GetShardIterator(ctx, &dynamodbstreams.GetShardIteratorInput{
				StreamArn:         aws.String(m.EventSourceArn),
				ShardId:           sh.ShardId,
				ShardIteratorType: streamtypes.ShardIteratorType(m.StartingPosition),
			})
			if err == nil {
				iterators[aws.ToString(sh.ShardId)] = it.ShardIterator
				break
			}
			s.log.Error("get shard iterator failed", "mapping", m.UUID, "stream", m.EventSourceArn, "error", err.Error())
			sleep(ctx, time.Second)
		}
	}
	for ctx.Err() == nil {
		busy := false
		for shard, it := range iterators {
			if it == nil {
				continue
			}
			out, err := s.streams.GetRecords(ctx, &dynamodbstreams.GetRecordsInput{ShardIterator: it, Limit: aws.Int32(int32(min(m.BatchSize, 1000)))})
			if err != nil {
				if ctx.Err() == nil {
					s.log.Error("get records failed", "mapping", m.UUID, "stream", m.EventSourceArn, "error", err.Error())
				}
				continue
			}
			if len(out.Records) > 0 {
				busy = true
				for !s.deliverStreamBatch(ctx, m, out.Records) {
					if !sleep(ctx, time.Second) {
						return
					}
				}
			}
			iterators[shard] = out.NextShardIterator
		}
		if !busy && !sleep(ctx, streamPoll) {
			return
		}
	}
}

func (s *Service) deliverStreamBatch(ctx context.Context, m Mapping, records []streamtypes.Record) bool {
	ev := lambdaevents.DynamoDBEvent{Records: make([]lambdaevents.DynamoDBEventRecord, 0, len(records))}
	for _, r := range records {
		rec := streamRecord(r, m.EventSourceArn, s.region)
		if len(m.patterns) > 0 && !matchesAny(m.patterns, recordFields(rec, "")) {
			continue // Lambda skips records no filter matches
		}
		ev.Records = append(ev.Records, rec)
	}
	if len(ev.Records) == 0 {
		s.log.Info("filtered out", "mapping", m.UUID, "function", functionName(m.FunctionName), "stream", m.EventSourceArn, "records", len(records))
		return true
	}
	payload, err := json.Marshal(ev)
	if err != nil {
		s.log.Error("encode the DynamoDB event", "mapping", m.UUID, "error", err.Error())
		return true // it cannot succeed: skip it rather than block the shard
	}
	if _, err := s.invoke(ctx, m.FunctionName, payload); err != nil {
		if ctx.Err() == nil {
			s.log.Error("batch failed, retrying it", "mapping", m.UUID, "function", functionName(m.FunctionName), "stream", m.EventSourceArn, "records", len(records), "error", err.Error())
		}
		return false
	}
	s.log.Info("delivered", "mapping", m.UUID, "function", functionName(m.FunctionName), "stream", m.EventSourceArn, "records", len(records))
	return true
}

// streamRecord is r as Lambda hands it to a function.
func streamRecord(r streamtypes.Record, streamARN, region string) lambdaevents.DynamoDBEventRecord {
	rec := lambdaevents.DynamoDBEventRecord{
		AWSRegion:      region,
		EventID:        aws.ToString(r.EventID),
		EventName:      string(r.EventName),
		EventSource:    "aws:dynamodb",
		EventVersion:   "1.1",
		EventSourceArn: streamARN,
	}
	if c := r.Dynamodb; c != nil {
		rec.Change = lambdaevents.DynamoDBStreamRecord{
			Keys:           attributes(c.Keys),
			NewImage:       attributes(c.NewImage),
			OldImage:       attributes(c.OldImage),
			SequenceNumber: aws.ToString(c.SequenceNumber),
			SizeBytes:      aws.ToInt64(c.SizeBytes),
			StreamViewType: string(c.StreamViewType),
		}
		if c.ApproximateCreationDateTime != nil {
			rec.Change.ApproximateCreationDateTime = lambdaevents.SecondsEpochTime{Time: *c.ApproximateCreationDateTime}
		}
	}
	return rec
}

func attributes(in map[string]streamtypes.AttributeValue) map[string]lambdaevents.DynamoDBAttributeValue {
	if in == nil {
		return nil
	}
	out := make(map[string]lambdaevents.DynamoDBAttributeValue, len(in))
	for k, v := range in {
		out[k] = attribute(v)
	}
	return out
}

func attribute(v streamtypes.AttributeValue) lambdaevents.DynamoDBAttributeValue {
	switch v := v.(type) {
	case *streamtypes.AttributeValueMemberS:
		return lambdaevents.NewStringAttribute(v.Value)
	case *streamtypes.AttributeValueMemberN:
		return lambdaevents.NewNumberAttribute(v.Value)
	case *streamtypes.AttributeValueMemberB:
		return lambdaevents.NewBinaryAttribute(v.Value)
	case *streamtypes.AttributeValueMemberBOOL:
		return lambdaevents.NewBooleanAttribute(v.Value)
	case *streamtypes.AttributeValueMemberNULL:
		return lambdaevents.NewNullAttribute()
	case *streamtypes.AttributeValueMemberSS:
		return lambdaevents.NewStringSetAttribute(v.Value)
	case *streamtypes.AttributeValueMemberNS:
		return lambdaevents.NewNumberSetAttribute(v.Value)
	case *streamtypes.AttributeValueMemberBS:
		return lambdaevents.NewBinarySetAttribute(v.Value)
	case *streamtypes.AttributeValueMemberL:
		l := make([]lambdaevents.DynamoDBAttributeValue, 0, len(v.Value))
		for _, e := range v.Value {
			l = append(l, attribute(e))
		}
		return lambdaevents.NewListAttribute(l)
	case *streamtypes.AttributeValueMemberM:
		return lambdaevents.NewMapAttribute(attributes(v.Value))
	}
	return lambdaevents.NewNullAttribute()
}
