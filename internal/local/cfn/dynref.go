package cfn

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
)

// Dynamic references ({{resolve:ssm:...}}, {{resolve:ssm-secure:...}},
// {{resolve:secretsmanager:...}}) are resolved as CloudFormation resolves
// them: in a resource's properties, after the intrinsic functions, when
// the resource is created or updated, from the local SSM Parameter Store
// and Secrets Manager. The stack keeps the properties as written, so
// change sets compare the references, not their values, and events,
// DescribeStacks, GetTemplate and change sets never show a value. Every
// resource type gets this through register (withDynamicReferences), so
// the engine's own code does not see references at all.
//
// Where CloudFormation checks a template at once, so does the engine
// (checkDynamicReferences, from makePlan): a reference in an incorrect
// format, an ssm-secure reference in a property that does not take one,
// and a versionless ssm reference in a parameter's Default. In Outputs,
// ssm references are resolved and ssm-secure and secretsmanager ones are
// left as written, as CloudFormation leaves them.

// dynamicRef matches a dynamic reference: its service and its key.
var dynamicRef = regexp.MustCompile(`\{\{resolve:(ssm|ssm-secure|secretsmanager):([^{}]*)\}\}`)

// ssmName is what an SSM parameter's name may hold.
var ssmName = regexp.MustCompile(`^[A-Za-z0-9_.\-/]+$`)

// secureProperties are the properties that take an ssm-secure reference,
// as CloudFormation documents them: type -> paths under Properties.
var secureProperties = map[string][]string{
	"AWS::DirectoryService::MicrosoftAD":   {"Password"},
	"AWS::DirectoryService::SimpleAD":      {"Password"},
	"AWS::ElastiCache::ReplicationGroup":   {"AuthToken"},
	"AWS::IAM::User":                       {"LoginProfile/Password"},
	"AWS::KinesisFirehose::DeliveryStream": {"RedshiftDestinationConfiguration/Password"},
	"AWS::OpsWorks::App":                   {"AppSource/Password"},
	"AWS::OpsWorks::Stack":                 {"CustomCookbooksSource/Password", "RdsDbInstances"},
	"AWS::RDS::DBCluster":                  {"MasterUserPassword"},
	"AWS::RDS::DBInstance":                 {"MasterUserPassword"},
	"AWS::Redshift::Cluster":               {"MasterUserPassword"},
	"AWS::DocDB::DBCluster":                {"MasterUserPassword"},
	"AWS::Neptune::DBCluster":              {"MasterUserPassword"},
}

// ref is one dynamic reference, parsed.
type ref struct {
	text    string // as written: {{resolve:...}}
	service string // ssm, ssm-secure or secretsmanager
	// SSM: the parameter's name and version (0: the latest).
	name    string
	version int64
	// Secrets Manager: the secret, and the JSON key, version stage and
	// version ID (each optional).
	secret, key, stage, versionID string
}

// secure reports whether r's value is a secret: never shown, never
// resolved in Outputs.
func (r ref) secure() bool { return r.service != "ssm" }

// parseRef parses a dynamic reference (dynamicRef's match m), or says, as
// CloudFormation says, that its format is wrong.
func parseRef(m []string) (ref, error) {
	r := ref{text: m[0], service: m[1]}
	key := m[2]
	if r.service == "secretsmanager" {
		return parseSecretRef(r, key)
	}
	name, version := key, ""
	if strings.HasPrefix(key, "arn:") {
		// arn:aws:ssm:region:account:parameter/name[:version]
		if i := strings.Index(key, ":parameter/"); i >= 0 {
			if j := strings.LastIndexByte(key, ':'); j > i {
				name, version = key[:j], key[j+1:]
			}
		}
	} else if i := strings.LastIndexByte(key, ':'); i >= 0 {
		name, version = key[:i], key[i+1:]
	}
	bad := validationError(fmt.Sprintf("Incorrect format is used in the following SSM reference: [%s]", r.text))
	plainName := name
	if strings.HasPrefix(name, "arn:") {
		plainName = name[strings.Index(name, ":parameter/")+len(":parameter"):]
	}
	if plainName == "" || !ssmName.MatchString(plainName) {
		return r, bad
	}
	r.name = name
	if version != "" {
		v, err := strconv.ParseInt(version, 10, 64)
		if err != nil || v < 1 {
			return r, bad // a label, or not a version at all
		}
		r.version = v
	}
	return r, nil
}

// parseSecretRef reads secret-id:SecretString:json-key:version-stage:version-id,
// of which all but secret-id may be left out (or empty); a secret-id may be
// an ARN, colons and all.
func parseSecretRef(r ref, key string) (ref, error) {
	parts := strings.Split(key, ":")
	n := 1
	if parts[0] == "arn" && len(parts) >= 7 {
		n = 7 // arn:aws:secretsmanager:region:account:secret:name-AbCdEf
	}
	r.secret = strings.Join(parts[:n], ":")
	rest := append(parts[n:], "", "", "", "")
	if r.secret == "" || len(parts[n:]) > 4 || (rest[0] != "" && rest[0] != "SecretString") {
		return r, validationError(fmt.Sprintf("Incorrect format is used in the following Secrets Manager reference: [%s]: "+
			"write {{resolve:secretsmanager:secret-id:SecretString:json-key:version-stage:version-id}}", r.text))
	}
	r.key, r.stage, r.versionID = rest[1], rest[2], rest[3]
	return r, nil
}

// checkDynamicReferences checks the dynamic references written in t's
// resources and parameters, as CloudFormation checks them when it is given
// a template: their format, ssm-secure references only where a property
// takes one, and only versioned ssm references in parameters' defaults.
func checkDynamicReferences(t *template) error {
	for _, p := range t.Parameters {
		if !p.HasDefault {
			continue
		}
		for _, m := range dynamicRef.FindAllStringSubmatch(p.Default, -1) {
			r, err := parseRef(m)
			if err != nil {
				return err
			}
			if r.service == "ssm" && r.version == 0 {
				return validationError(fmt.Sprintf("Template error: parameter %s should not contain ssm versionless resolver", p.Name))
			}
		}
	}
	var unsupported []string
	for _, res := range t.Resources {
		err := walkStrings(res.Properties, res.Type+"/Properties", false, func(s, path string) error {
			for _, m := range dynamicRef.FindAllStringSubmatch(s, -1) {
				r, err := parseRef(m)
				if err != nil {
					return err
				}
				if r.service == "ssm-secure" && !takesSecure(res.Type, path) {
					unsupported = append(unsupported, path)
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	if len(unsupported) > 0 {
		return secureNotSupported(unsupported)
	}
	return nil
}

func secureNotSupported(paths []string) error {
	return validationError(fmt.Sprintf("SSM Secure reference is not supported in: [%s]", strings.Join(paths, ",")))
}

// takesSecure reports whether the property at path (TYPE/Properties/...)
// of a resource of type typ takes an ssm-secure reference.
func takesSecure(typ, path string) bool {
	_, rest, _ := strings.Cut(path, "/Properties/")
	for _, p := range secureProperties[typ] {
		if rest == p || strings.HasPrefix(rest, p+"/") {
			return true
		}
	}
	return false
}

// walkStrings calls f with every string in v (intrinsic functions' literal
// parts too) and its path: the keys down to it, joined by "/", as
// CloudFormation names a property in its messages (it stops at a list).
// With values, f's errors stop the walk.
func walkStrings(v any, path string, inList bool, f func(s, path string) error) error {
	switch x := v.(type) {
	case string:
		return f(x, path)
	case map[string]any:
		for _, k := range sortedKeys(x) {
			p := path
			if !inList && !strings.HasPrefix(k, "Fn::") && k != "Ref" {
				p += "/" + k
			}
			if err := walkStrings(x[k], p, inList, f); err != nil {
				return err
			}
		}
	case []any:
		for _, e := range x {
			if err := walkStrings(e, path, true, f); err != nil {
				return err
			}
		}
	}
	return nil
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// withDynamicReferences wraps k so that its create and update see the
// properties of the resource with their dynamic references resolved; the
// resource keeps them as written. A failure whose message would show a
// secret value shows **** instead.
func withDynamicReferences(typ string, k *kind) *kind {
	w := *k
	if k.create != nil {
		w.create = func(ctx context.Context, o *op, r *resource) error {
			resolved, secrets, err := o.e.resolveProps(ctx, typ, r.Props)
			if err != nil || resolved == nil {
				if err != nil {
					return err
				}
				return k.create(ctx, o, r)
			}
			written := r.Props
			r.Props = resolved
			err = k.create(ctx, o, r)
			r.Props = written
			return hideSecrets(err, secrets)
		}
	}
	if k.update != nil {
		w.update = func(ctx context.Context, o *op, prev, next *resource) error {
			resolved, secrets, err := o.e.resolveProps(ctx, typ, next.Props)
			if err != nil || resolved == nil {
				if err != nil {
					return err
				}
				return k.update(ctx, o, prev, next)
			}
			written := next.Props
			next.Props = resolved
			err = k.update(ctx, o, prev, next)
			next.Props = written
			return hideSecrets(err, secrets)
		}
	}
	return &w
}

// hideSecrets is err with every secret in its message shown as ****.
func hideSecrets(err error, secrets []string) error {
	if err == nil {
		return nil
	}
	msg := errorMessage(err)
	hidden := msg
	for _, s := range secrets {
		if s != "" {
			hidden = strings.ReplaceAll(hidden, s, "****")
		}
	}
	if hidden == msg {
		return err
	}
	return reason(hidden)
}

// resolveProps returns a copy of props (of a resource of type typ) with
// its dynamic references resolved, and the secret values among them; nil
// when props hold none.
func (e *Engine) resolveProps(ctx context.Context, typ string, props map[string]any) (map[string]any, []string, error) {
	found := false
	var unsupported []string
	err := walkStrings(props, typ+"/Properties", false, func(s, path string) error {
		for _, m := range dynamicRef.FindAllStringSubmatch(s, -1) {
			found = true
			r, err := parseRef(m)
			if err != nil {
				return err
			}
			if r.service == "ssm-secure" && !takesSecure(typ, path) {
				unsupported = append(unsupported, path)
			}
		}
		return nil
	})
	switch {
	case err != nil:
		return nil, nil, err
	case len(unsupported) > 0:
		return nil, nil, secureNotSupported(unsupported)
	case !found:
		return nil, nil, nil
	}
	values := map[string]string{}
	var secrets []string
	var failed error
	resolved := mapStrings(deepCopy(props), func(s string) string {
		return dynamicRef.ReplaceAllStringFunc(s, func(text string) string {
			if v, ok := values[text]; ok {
				return v
			}
			r, err := parseRef(dynamicRef.FindStringSubmatch(text))
			var v string
			if err == nil {
				v, err = e.resolveRef(ctx, r)
			}
			if err != nil {
				if failed == nil {
					failed = err
				}
				return text
			}
			values[text] = v
			if r.secure() {
				secrets = append(secrets, v)
			}
			return v
		})
	})
	if failed != nil {
		return nil, nil, failed
	}
	m, _ := resolved.(map[string]any)
	return m, secrets, nil
}

// resolveOutput resolves the ssm references of an output's value, as
// CloudFormation does; ssm-secure and secretsmanager references stay as
// written.
func (e *Engine) resolveOutput(ctx context.Context, s string) (string, error) {
	var failed error
	out := dynamicRef.ReplaceAllStringFunc(s, func(text string) string {
		r, err := parseRef(dynamicRef.FindStringSubmatch(text))
		if err == nil && r.secure() {
			return text
		}
		var v string
		if err == nil {
			v, err = e.resolveRef(ctx, r)
		}
		if err != nil {
			if failed == nil {
				failed = err
			}
			return text
		}
		return v
	})
	return out, failed
}

// resolveRef reads the value r refers to, failing as CloudFormation fails
// when it cannot.
func (e *Engine) resolveRef(ctx context.Context, r ref) (string, error) {
	if r.service == "secretsmanager" {
		return e.resolveSecret(ctx, r)
	}
	asWritten := r.name
	if r.version > 0 {
		asWritten += ":" + strconv.FormatInt(r.version, 10)
	}
	notFound := reasonf("Unable to fetch parameters [%s] from parameter store for this account.", asWritten)
	p, err := e.ssm.parameter(ctx, r.name)
	var se *ssmError
	if errors.As(err, &se) && (se.Code == "ParameterNotFound" || se.Code == "ValidationException") {
		return "", notFound
	}
	if err != nil {
		return "", reasonf("Unable to fetch parameters [%s] from parameter store: %v", asWritten, err)
	}
	// The local Parameter Store keeps only a parameter's latest version.
	if r.version > 0 && r.version != p.Version {
		return "", notFound
	}
	switch {
	case r.service == "ssm" && p.Type == "SecureString":
		return "", validationError(fmt.Sprintf("Non-secure ssm prefix was used for secure parameter %s", r.name))
	case r.service == "ssm-secure" && p.Type != "SecureString":
		return "", validationError(fmt.Sprintf("Secure ssm prefix was used for non-secure parameter %s", r.name))
	}
	return p.Value, nil
}

// resolveSecret reads the secret r refers to.
func (e *Engine) resolveSecret(ctx context.Context, r ref) (string, error) {
	in := &secretsmanager.GetSecretValueInput{SecretId: aws.String(r.secret)}
	if r.stage != "" {
		in.VersionStage = aws.String(r.stage)
	}
	if r.versionID != "" {
		in.VersionId = aws.String(r.versionID)
	}
	out, err := e.secrets.GetSecretValue(ctx, in)
	var nf *smtypes.ResourceNotFoundException
	switch {
	case errors.As(err, &nf) && (r.stage != "" || r.versionID != "") && strings.Contains(nf.ErrorMessage(), "version"):
		return "", reason("Secrets Manager can't find the specified secret version. (Service: AWSSecretsManager; Status Code: 400; Error Code: ResourceNotFoundException)")
	case errors.As(err, &nf):
		return "", reason("Secrets Manager can't find the specified secret. (Service: AWSSecretsManager; Status Code: 400; Error Code: ResourceNotFoundException)")
	case err != nil:
		return "", reasonf("Secrets Manager: %v", err)
	}
	value := aws.ToString(out.SecretString)
	if r.key == "" {
		return value, nil
	}
	var fields map[string]any
	if err := json.Unmarshal([]byte(value), &fields); err != nil {
		return "", reason("Could not parse SecretString JSON")
	}
	v, ok := fields[r.key]
	if !ok {
		return "", reason("Could not find a value associated with JSONKey in SecretString")
	}
	if s, ok := v.(string); ok {
		return s, nil
	}
	b, _ := json.Marshal(v)
	return string(b), nil
}

// ssmParameter is a parameter as GetParameter describes it.
type ssmParameter struct {
	Type    string `json:"Type"`
	Value   string `json:"Value"`
	Version int64  `json:"Version"`
}

// parameter reads a parameter (decrypted) with its type and version.
func (c *ssmClient) parameter(ctx context.Context, name string) (ssmParameter, error) {
	var out struct {
		Parameter ssmParameter `json:"Parameter"`
	}
	err := c.call(ctx, "GetParameter", map[string]any{"Name": name, "WithDecryption": true}, &out)
	return out.Parameter, err
}

// PutParameter creates or overwrites the String parameter name of the
// local SSM Parameter Store, which dynamic references and parameters of
// SSM types read: a way to give an environment its configuration before a
// stack needs it.
func (e *Engine) PutParameter(ctx context.Context, name, value string) error {
	return e.ssm.PutParameter(ctx, name, "String", value, "", true)
}
