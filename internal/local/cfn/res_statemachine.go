package cfn

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"
)

func init() {
	register(map[string]*kind{
		"AWS::StepFunctions::StateMachine": {
			attrs:   []string{"Arn", "Name", "StateMachineRevisionId"},
			replace: []string{"StateMachineName", "StateMachineType"},
			create:  createStateMachine,
			update:  updateStateMachine,
			remove:  removeStateMachine,
		},
	})
}

// stateMachineDefinition returns the definition a state machine's
// properties give: Definition (an object), DefinitionString, or
// DefinitionS3Location in the local S3, with its DefinitionSubstitutions
// made.
func (e *Engine) stateMachineDefinition(ctx context.Context, p map[string]any) (string, error) {
	var def string
	switch {
	case p["Definition"] != nil:
		b, err := json.Marshal(p["Definition"])
		if err != nil {
			return "", reasonf("Definition: %v", err)
		}
		def = string(b)
	case p["DefinitionString"] != nil:
		s, ok := p["DefinitionString"].(string)
		if !ok {
			return "", reasonf("DefinitionString must be a string")
		}
		def = s
	case p["DefinitionS3Location"] != nil:
		m, _ := p["DefinitionS3Location"].(map[string]any)
		loc := s3Location{Bucket: toStringOr(m["Bucket"], ""), Key: toStringOr(m["Key"], ""), Version: toStringOr(m["Version"], "")}
		if loc.Bucket == "" || loc.Key == "" {
			return "", reasonf("DefinitionS3Location must give Bucket and Key")
		}
		b, err := e.getObject(ctx, loc, 1<<20)
		if err != nil {
			return "", err
		}
		def = string(b)
	default:
		return "", reasonf("The state machine needs one of Definition, DefinitionString and DefinitionS3Location")
	}
	subs, err := stringMap(p["DefinitionSubstitutions"])
	if err != nil {
		return "", reasonf("DefinitionSubstitutions: %v", err)
	}
	for _, k := range slices.Sorted(maps.Keys(subs)) {
		def = strings.ReplaceAll(def, "${"+k+"}", subs[k])
	}
	return def, nil
}

func stateMachineType(p map[string]any) sfntypes.StateMachineType {
	return sfntypes.StateMachineType(strings.ToUpper(toStringOr(p["StateMachineType"], "STANDARD")))
}

func createStateMachine(ctx context.Context, o *op, r *resource) error {
	def, err := o.e.stateMachineDefinition(ctx, r.Props)
	if err != nil {
		return err
	}
	name := toStringOr(r.Props["StateMachineName"], "")
	if name == "" {
		name = r.physicalName("", 80, false)[1:]
	}
	out, err := o.e.sfn.CreateStateMachine(ctx, &sfn.CreateStateMachineInput{
		Name:       aws.String(name),
		Definition: aws.String(def),
		RoleArn:    aws.String(toStringOr(r.Props["RoleArn"], "")),
		Type:       stateMachineType(r.Props),
	})
	if err != nil {
		return fmt.Errorf("%s", awsMessage("SFN", err))
	}
	arn := aws.ToString(out.StateMachineArn)
	r.Physical = arn
	r.Attrs = map[string]any{"Arn": arn, "Name": name, "StateMachineRevisionId": arn}
	return nil
}

func updateStateMachine(ctx context.Context, o *op, prev, next *resource) error {
	def, err := o.e.stateMachineDefinition(ctx, next.Props)
	if err != nil {
		return err
	}
	next.Attrs = maps.Clone(prev.Attrs)
	_, err = o.e.sfn.UpdateStateMachine(ctx, &sfn.UpdateStateMachineInput{
		StateMachineArn: aws.String(prev.Physical),
		Definition:      aws.String(def),
		RoleArn:         aws.String(toStringOr(next.Props["RoleArn"], "")),
	})
	if err == nil {
		return nil
	}
	if !isCode(err, "InvalidAction", "UnknownOperationException") {
		return fmt.Errorf("%s", awsMessage("SFN", err))
	}
	// A Step Functions API without UpdateStateMachine (kumo's): make it
	// again under the same name, so the ARN stays.
	if err := removeStateMachine(ctx, o, prev); err != nil {
		return err
	}
	if _, err := o.e.sfn.CreateStateMachine(ctx, &sfn.CreateStateMachineInput{
		Name:       aws.String(toStringOr(prev.Attrs["Name"], "")),
		Definition: aws.String(def),
		RoleArn:    aws.String(toStringOr(next.Props["RoleArn"], "")),
		Type:       stateMachineType(next.Props),
	}); err != nil {
		return fmt.Errorf("%s", awsMessage("SFN", err))
	}
	return nil
}

func removeStateMachine(ctx context.Context, o *op, r *resource) error {
	_, err := o.e.sfn.DeleteStateMachine(ctx, &sfn.DeleteStateMachineInput{StateMachineArn: aws.String(r.Physical)})
	if err != nil && !isCode(err, "StateMachineDoesNotExist") {
		return fmt.Errorf("%s", awsMessage("SFN", err))
	}
	return nil
}
