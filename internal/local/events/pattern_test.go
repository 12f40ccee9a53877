package events

import (
	"strings"
	"testing"
)

// TestPatternsMatchAsLambdaAndEventBridgeMatch runs the examples of
// Lambda's event filtering and EventBridge's content filtering
// documentation, each on an event that matches and one that does not.
func TestPatternsMatchAsLambdaAndEventBridgeMatch(t *testing.T) {
	t.Parallel()
	const event = `{"source":"shop","detail-type":"Order","resources":["arn:aws:s3:::a","arn:aws:s3:::b"],
		"detail":{"state":"placed","amount":150,"city":"Seattle","email":"Ann@Example.com","file":"a/b/report.pdf","express":true,"note":null,"items":[{"sku":"x1"},{"sku":"y2"}]}}`
	tests := []struct {
		name, pattern string
		want          bool
	}{
		{"equals", `{"source":["shop"]}`, true},
		{"equals another", `{"source":["bank"]}`, false},
		{"one of several", `{"source":["bank","shop"]}`, true},
		{"nested", `{"detail":{"state":["placed"]}}`, true},
		{"nested absent", `{"detail":{"country":["US"]}}`, false},
		{"a list matches by one element", `{"resources":["arn:aws:s3:::b"]}`, true},
		{"number equals", `{"detail":{"amount":[150]}}`, true},
		{"number is not a string", `{"detail":{"amount":["150"]}}`, false},
		{"boolean", `{"detail":{"express":[true]}}`, true},
		{"null", `{"detail":{"note":[null]}}`, true},
		{"null is not absent", `{"detail":{"country":[null]}}`, false},
		{"prefix", `{"detail":{"city":[{"prefix":"Sea"}]}}`, true},
		{"prefix misses", `{"detail":{"city":[{"prefix":"sea"}]}}`, false},
		{"prefix ignoring case", `{"detail":{"city":[{"prefix":{"equals-ignore-case":"sea"}}]}}`, true},
		{"suffix", `{"detail":{"file":[{"suffix":".pdf"}]}}`, true},
		{"suffix misses", `{"detail":{"file":[{"suffix":".png"}]}}`, false},
		{"equals-ignore-case", `{"detail":{"email":[{"equals-ignore-case":"ann@example.COM"}]}}`, true},
		{"wildcard", `{"detail":{"file":[{"wildcard":"a/*.pdf"}]}}`, true},
		{"wildcard misses", `{"detail":{"file":[{"wildcard":"b/*"}]}}`, false},
		{"anything-but a value", `{"detail":{"state":[{"anything-but":"cancelled"}]}}`, true},
		{"anything-but that value", `{"detail":{"state":[{"anything-but":["placed","cancelled"]}]}}`, false},
		{"anything-but a prefix", `{"detail":{"state":[{"anything-but":{"prefix":"pla"}}]}}`, false},
		{"anything-but a suffix", `{"detail":{"file":[{"anything-but":{"suffix":".png"}}]}}`, true},
		{"anything-but ignoring case", `{"detail":{"state":[{"anything-but":{"equals-ignore-case":["PLACED"]}}]}}`, false},
		{"numeric range", `{"detail":{"amount":[{"numeric":[">",100,"<=",150]}]}}`, true},
		{"numeric out of range", `{"detail":{"amount":[{"numeric":["<",100]}]}}`, false},
		{"numeric on a string", `{"detail":{"city":[{"numeric":[">",0]}]}}`, false},
		{"exists", `{"detail":{"state":[{"exists":true}]}}`, true},
		{"exists misses", `{"detail":{"country":[{"exists":true}]}}`, false},
		{"does not exist", `{"detail":{"country":[{"exists":false}]}}`, true},
		{"exists is for leaves", `{"detail":[{"exists":true}]}`, false},
		{"in a list of objects", `{"detail":{"items":{"sku":[{"prefix":"y"}]}}}`, true},
		{"every field must match", `{"source":["shop"],"detail":{"state":["shipped"]}}`, false},
		{"$or", `{"detail":{"$or":[{"state":["shipped"]},{"amount":[{"numeric":[">=",100]}]}]}}`, true},
		{"$or misses", `{"detail":{"$or":[{"state":["shipped"]},{"city":["Paris"]}]}}`, false},
	}
	for _, tt := range tests {
		p, err := ParsePattern(tt.pattern)
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		if got := p.MatchJSON([]byte(event)); got != tt.want {
			t.Errorf("%s: %s matched %v, want %v", tt.name, tt.pattern, got, tt.want)
		}
	}
}

func TestParsePatternRefusesWhatLambdaRefuses(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ pattern, want string }{
		{`["shop"]`, "not a JSON object"},
		{`{"source":"shop"}`, "must be a list of values or a nested pattern"},
		{`{"source":[{"cidr":"10.0.0.0/8"}]}`, `unknown operator "cidr"`},
		{`{"amount":[{"numeric":[">"]}]}`, "pairs of an operator"},
		{`{"$or":[{"a":["b"]}]}`, "at least two patterns"},
	} {
		_, err := ParsePattern(tt.pattern)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ParsePattern(%s): got %v, want an error with %q", tt.pattern, err, tt.want)
		}
	}
}
