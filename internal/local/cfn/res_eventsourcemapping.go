package cfn

import (
	"context"
	"fmt"
	"maps"
	"time"

	"github.com/stackflow/stackflow/internal/local/events"
)

// AWS::Lambda::EventSourceMapping from an SQS queue or a DynamoDB stream,
// recorded in kumo's Lambda and polled by the event sources (package
// internal/local/events), as Lambda's pollers poll: batches, batching
// windows, ReportBatchItemFailures, failed messages back to the queue and
// on to its dead-letter queue.
func init() {
	register(map[string]*kind{
		"AWS::Lambda::EventSourceMapping": {
			attrs:   []string{"Id", "EventSourceMappingArn"},
			replace: []string{"EventSourceArn", "StartingPosition", "StartingPositionTimestamp", "SelfManagedEventSource", "AmazonManagedKafkaEventSourceConfig", "SelfManagedKafkaEventSourceConfig"},
			create:  createMapping,
			update:  updateMapping,
			remove:  removeMapping,
			ignored: map[string]string{
				"MaximumRetryAttempts":       "not applied locally: a failed stream batch is retried until it succeeds",
				"MaximumRecordAgeInSeconds":  "not applied locally: a failed stream batch is retried until it succeeds",
				"BisectBatchOnFunctionError": "not applied locally: a failed batch is retried whole",
				"DestinationConfig":          "not applied locally: failed records go to no destination (an SQS queue's redrive policy still applies)",
				"ParallelizationFactor":      "not applied locally: each mapping delivers one batch at a time",
				"ScalingConfig":              "not applied locally: each mapping delivers one batch at a time",
				"TumblingWindowInSeconds":    "not applied locally",
				"StartingPositionTimestamp":  "not applied locally: AT_TIMESTAMP is not rehearsed",
			},
		},
	})
}

// mappingOf reads a mapping's properties. FilterCriteria's patterns are
// applied (events.Mapping.Filters); the properties of retries,
// destinations and scaling are accepted and not applied.
func mappingOf(o *op, p map[string]any) (events.Mapping, error) {
	m := events.Mapping{
		FunctionName:     o.e.invokeARN(toStringOr(p["FunctionName"], "")),
		EventSourceArn:   toStringOr(p["EventSourceArn"], ""),
		StartingPosition: toStringOr(p["StartingPosition"], ""),
	}
	if m.FunctionName == "" || m.EventSourceArn == "" {
		return m, reasonf("FunctionName and EventSourceArn are required: locally an SQS queue's or a DynamoDB stream's ARN")
	}
	if v, ok := p["BatchSize"]; ok {
		n, ok := toInt(v)
		if !ok {
			return m, reasonf("BatchSize must be a number")
		}
		m.BatchSize = int(n)
	}
	if v, ok := p["MaximumBatchingWindowInSeconds"]; ok {
		n, ok := toInt(v)
		if !ok {
			return m, reasonf("MaximumBatchingWindowInSeconds must be a number")
		}
		m.MaximumBatchingWindow = time.Duration(n) * time.Second
	}
	if v, ok := p["Enabled"]; ok {
		b, ok := toBool(v)
		if !ok {
			return m, reasonf("Enabled must be true or false")
		}
		m.Enabled = &b
	}
	if fc, ok := p["FilterCriteria"].(map[string]any); ok {
		for _, f := range list(fc["Filters"]) {
			fm, _ := f.(map[string]any)
			pat := toStringOr(fm["Pattern"], "")
			if pat == "" {
				return m, reasonf("FilterCriteria.Filters: each filter needs a Pattern (a JSON string)")
			}
			m.Filters = append(m.Filters, pat)
		}
	}
	for _, t := range list(p["FunctionResponseTypes"]) {
		m.FunctionResponseTypes = append(m.FunctionResponseTypes, toStringOr(t, ""))
	}
	return m, nil
}

func createMapping(ctx context.Context, o *op, r *resource) error {
	m, err := mappingOf(o, r.Props)
	if err != nil {
		return err
	}
	uuid, err := o.e.ev.svc.PutMapping(ctx, m)
	if err != nil {
		return reason(err.Error())
	}
	r.Physical = uuid
	r.Attrs = map[string]any{"Id": uuid, "EventSourceMappingArn": fmt.Sprintf("arn:aws:lambda:%s:%s:event-source-mapping:%s", o.e.region, o.e.account, uuid)}
	return nil
}

func updateMapping(ctx context.Context, o *op, prev, next *resource) error {
	m, err := mappingOf(o, next.Props)
	if err != nil {
		return err
	}
	m.UUID = prev.Physical
	if _, err := o.e.ev.svc.PutMapping(ctx, m); err != nil {
		return reason(err.Error())
	}
	next.Attrs = maps.Clone(prev.Attrs)
	return nil
}

func removeMapping(ctx context.Context, o *op, r *resource) error {
	return o.e.ev.svc.DeleteMapping(ctx, r.Physical)
}
