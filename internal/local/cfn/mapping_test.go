package cfn

import (
	"slices"
	"strings"
	"testing"
)

// TestAMappingsFilterCriteriaReachTheEventSources: FilterCriteria's
// patterns (SAM's SQS and DynamoDB events write them so) go to the event
// sources, which apply them (internal/local/events tests them there).
func TestAMappingsFilterCriteriaReachTheEventSources(t *testing.T) {
	t.Parallel()
	o := &op{e: &Engine{}}
	props := map[string]any{
		"FunctionName":   "fn",
		"EventSourceArn": "arn:aws:sqs:us-east-1:000000000000:jobs",
		"FilterCriteria": map[string]any{"Filters": []any{
			map[string]any{"Pattern": `{"body":{"kind":["order"]}}`},
			map[string]any{"Pattern": `{"body":[{"prefix":"urgent"}]}`},
		}},
	}
	m, err := mappingOf(o, props)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{`{"body":{"kind":["order"]}}`, `{"body":[{"prefix":"urgent"}]}`}; !slices.Equal(m.Filters, want) {
		t.Errorf("got filters %q, want %q", m.Filters, want)
	}
	props["FilterCriteria"] = map[string]any{"Filters": []any{map[string]any{}}}
	if _, err := mappingOf(o, props); err == nil || !strings.Contains(err.Error(), "needs a Pattern") {
		t.Errorf("a filter without a Pattern: got %v, want it refused", err)
	}
}
