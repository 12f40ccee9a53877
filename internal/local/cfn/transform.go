package cfn

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/stackflow/stackflow/internal/local/samtransform"
)

// Transformer turns a SAM template (JSON) into plain CloudFormation
// (JSON), given the parameter values CloudFormation passes the transform;
// a template that is not valid SAM is a *samtransform.Error.
// *samtransform.Translator is one.
type Transformer interface {
	Translate(ctx context.Context, template []byte, params map[string]any) ([]byte, error)
}

var _ Transformer = (*samtransform.Translator)(nil)

// process returns t as CloudFormation runs it: for a SAM template, the
// plain CloudFormation that SAM's translator makes of it, given the
// stack's parameters and pseudo parameters; any other template as it is.
func (e *Engine) process(ctx context.Context, t *template, params []paramValue, stackName, stackID string) (*template, error) {
	for _, name := range t.Transforms {
		if name != serverlessTransform {
			return nil, validationError(fmt.Sprintf("Transform %s is not supported by stackflow's local engine (only %s is)", name, serverlessTransform))
		}
	}
	if !t.serverless() {
		var sam []string
		for _, r := range t.Resources {
			if strings.HasPrefix(r.Type, "AWS::Serverless::") && !slices.Contains(sam, r.Type) {
				sam = append(sam, r.Type)
			}
		}
		if len(sam) > 0 {
			return nil, formatError("Unrecognized resource types: [%s]", strings.Join(sam, ", "))
		}
		return t, nil
	}
	body, err := orderedJSON(t.Body)
	if err != nil {
		return nil, err
	}
	values := map[string]any{}
	for k, v := range pseudoParams(e.region, e.account, stackName, stackID) {
		if k != "AWS::NoValue" {
			values[k] = v
		}
	}
	for _, p := range params {
		values[p.Key] = p.ref()
	}
	out, err := e.transformer().Translate(ctx, body, values)
	var se *samtransform.Error
	switch {
	case errors.As(err, &se):
		return nil, validationError("Transform " + serverlessTransform + " failed with: " + se.Message)
	case err != nil:
		return nil, validationError("Transform " + serverlessTransform + " failed: stackflow's local engine could not run SAM's translator: " + err.Error())
	}
	processed, err := parseTemplate(string(out))
	if err != nil {
		return nil, validationError("Transform " + serverlessTransform + " failed: SAM's translator made a template stackflow's local engine cannot read: " + errorMessage(err))
	}
	return processed, nil
}

// requiredCapability returns the capability a processed template needs:
// CAPABILITY_NAMED_IAM for IAM resources with custom names, CAPABILITY_IAM
// for other IAM resources, or "".
func requiredCapability(t *template) string {
	names := map[string]string{
		"AWS::IAM::Role":                "RoleName",
		"AWS::IAM::ManagedPolicy":       "ManagedPolicyName",
		"AWS::IAM::User":                "UserName",
		"AWS::IAM::Group":               "GroupName",
		"AWS::IAM::InstanceProfile":     "InstanceProfileName",
		"AWS::IAM::Policy":              "",
		"AWS::IAM::AccessKey":           "",
		"AWS::IAM::UserToGroupAddition": "",
	}
	need := ""
	for _, r := range t.Resources {
		prop, ok := names[r.Type]
		if !ok {
			continue
		}
		if prop != "" && r.Properties[prop] != nil {
			return "CAPABILITY_NAMED_IAM"
		}
		need = "CAPABILITY_IAM"
	}
	return need
}

// checkCapabilities refuses a template that needs a capability that was
// not acknowledged.
func checkCapabilities(t *template, have []string) error {
	need := requiredCapability(t)
	switch {
	case need == "":
		return nil
	case slices.Contains(have, need):
		return nil
	case need == "CAPABILITY_IAM" && slices.Contains(have, "CAPABILITY_NAMED_IAM"):
		return nil
	}
	return &apiError{Code: "InsufficientCapabilitiesException", Message: "Requires capabilities : [" + need + "]", Status: 400}
}
