// Command recorder is a Lambda function for the events package's tests: it
// appends each event it gets, one line of JSON, to RECORD_FILE. An event
// that holds "fail-all" fails with the error type PoisonMessage; with
// REPORT_ITEMS=1, an SQS batch's messages whose body holds "fail-item" are
// reported in batchItemFailures.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"strings"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
)

// PoisonMessage is the error the function fails with.
type PoisonMessage struct{ msg string }

func (p PoisonMessage) Error() string { return p.msg }

func handle(_ context.Context, raw json.RawMessage) (any, error) {
	var line bytes.Buffer
	if err := json.Compact(&line, raw); err != nil {
		line.Write(raw)
	}
	line.WriteByte('\n')
	f, err := os.OpenFile(os.Getenv("RECORD_FILE"), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return nil, err
	}
	_, err = f.Write(line.Bytes())
	f.Close()
	if err != nil {
		return nil, err
	}
	if bytes.Contains(raw, []byte("fail-all")) {
		return nil, PoisonMessage{"the event asked to fail"}
	}
	if os.Getenv("REPORT_ITEMS") == "1" {
		var ev events.SQSEvent
		resp := events.SQSEventResponse{BatchItemFailures: []events.SQSBatchItemFailure{}}
		if json.Unmarshal(raw, &ev) == nil {
			for _, r := range ev.Records {
				if strings.Contains(r.Body, "fail-item") {
					resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: r.MessageId})
				}
			}
		}
		return resp, nil
	}
	return map[string]bool{"ok": true}, nil
}

func main() { lambda.Start(handle) }
