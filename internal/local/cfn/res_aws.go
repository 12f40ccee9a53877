package cfn

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"maps"
	"math/big"
	"regexp"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/stackflow/stackflow/internal/local/events"
)

func init() {
	register(map[string]*kind{
		"AWS::DynamoDB::Table": {
			attrs:   []string{"Arn", "StreamArn"},
			replace: []string{"TableName", "KeySchema", "LocalSecondaryIndexes"},
			create:  createTable,
			remove:  removeTable,
		},
		"AWS::S3::Bucket": {
			attrs:   []string{"Arn", "DomainName", "DualStackDomainName", "RegionalDomainName", "WebsiteURL"},
			replace: []string{"BucketName"},
			create:  createBucket,
			ignored: map[string]string{
				"NotificationConfiguration.QueueConfigurations":      "not applied locally: only LambdaConfigurations are",
				"NotificationConfiguration.TopicConfigurations":      "not applied locally: only LambdaConfigurations are",
				"NotificationConfiguration.EventBridgeConfiguration": "not applied locally: only LambdaConfigurations are",
			},
			update: updateBucket,
			remove: removeBucket,
		},
		"AWS::S3::BucketPolicy": {
			attrs:   []string{},
			replace: []string{"Bucket"},
			create:  createBucketPolicy,
			update:  func(ctx context.Context, o *op, _, next *resource) error { return putBucketPolicy(ctx, o, next) },
			remove:  removeBucketPolicy,
		},
		"AWS::SecretsManager::Secret": {
			attrs:   []string{"Id"},
			replace: []string{"Name"},
			create:  createSecret,
			update:  updateSecret,
			remove:  removeSecret,
		},
		"AWS::SSM::Parameter": {
			attrs:   []string{"Type", "Value"},
			replace: []string{"Name"},
			create:  createParameter,
			update:  updateParameter,
			remove:  removeParameter,
		},
	})
}

// ---- AWS::DynamoDB::Table ----

func createTable(ctx context.Context, o *op, r *resource) error {
	p := r.Props
	in := &dynamodb.CreateTableInput{BillingMode: ddbtypes.BillingMode(toStringOr(p["BillingMode"], "PROVISIONED"))}
	for _, a := range list(p["AttributeDefinitions"]) {
		m, _ := a.(map[string]any)
		in.AttributeDefinitions = append(in.AttributeDefinitions, ddbtypes.AttributeDefinition{
			AttributeName: aws.String(toStringOr(m["AttributeName"], "")),
			AttributeType: ddbtypes.ScalarAttributeType(toStringOr(m["AttributeType"], "")),
		})
	}
	in.KeySchema = keySchema(p["KeySchema"])
	if pt, ok := p["ProvisionedThroughput"].(map[string]any); ok {
		in.ProvisionedThroughput = throughput(pt)
	}
	for _, g := range list(p["GlobalSecondaryIndexes"]) {
		m, _ := g.(map[string]any)
		gsi := ddbtypes.GlobalSecondaryIndex{
			IndexName:  aws.String(toStringOr(m["IndexName"], "")),
			KeySchema:  keySchema(m["KeySchema"]),
			Projection: projection(m["Projection"]),
		}
		if pt, ok := m["ProvisionedThroughput"].(map[string]any); ok {
			gsi.ProvisionedThroughput = throughput(pt)
		}
		in.GlobalSecondaryIndexes = append(in.GlobalSecondaryIndexes, gsi)
	}
	for _, l := range list(p["LocalSecondaryIndexes"]) {
		m, _ := l.(map[string]any)
		in.LocalSecondaryIndexes = append(in.LocalSecondaryIndexes, ddbtypes.LocalSecondaryIndex{
			IndexName:  aws.String(toStringOr(m["IndexName"], "")),
			KeySchema:  keySchema(m["KeySchema"]),
			Projection: projection(m["Projection"]),
		})
	}
	if s, ok := p["StreamSpecification"].(map[string]any); ok {
		in.StreamSpecification = &ddbtypes.StreamSpecification{
			StreamEnabled:  aws.Bool(true),
			StreamViewType: ddbtypes.StreamViewType(toStringOr(s["StreamViewType"], "NEW_AND_OLD_IMAGES")),
		}
	}
	if err := o.e.createTable(ctx, o, r, in); err != nil {
		return err
	}
	if ttl, ok := p["TimeToLiveSpecification"].(map[string]any); ok {
		if enabled, _ := toBool(ttl["Enabled"]); enabled {
			if _, err := o.e.dynamodb.UpdateTimeToLive(ctx, &dynamodb.UpdateTimeToLiveInput{
				TableName: aws.String(r.Physical),
				TimeToLiveSpecification: &ddbtypes.TimeToLiveSpecification{
					AttributeName: aws.String(toStringOr(ttl["AttributeName"], "")),
					Enabled:       aws.Bool(true),
				},
			}); err != nil {
				_ = removeTable(ctx, o, r)
				return fmt.Errorf("%s", awsMessage("DynamoDb", err))
			}
		}
	}
	return nil
}

func (e *Engine) createTable(ctx context.Context, o *op, r *resource, in *dynamodb.CreateTableInput) error {
	name := toStringOr(r.Props["TableName"], "")
	if name == "" {
		name = r.physicalName(o.stackName, 255, false)
	}
	in.TableName = aws.String(name)
	out, err := e.dynamodb.CreateTable(ctx, in)
	if err != nil {
		return fmt.Errorf("%s", awsMessage("DynamoDb", err))
	}
	r.Physical = name
	r.Attrs = map[string]any{"Arn": aws.ToString(out.TableDescription.TableArn)}
	if s := aws.ToString(out.TableDescription.LatestStreamArn); s != "" {
		r.Attrs["StreamArn"] = s
	}
	return nil
}

func removeTable(ctx context.Context, o *op, r *resource) error {
	_, err := o.e.dynamodb.DeleteTable(ctx, &dynamodb.DeleteTableInput{TableName: aws.String(r.Physical)})
	if err != nil && !isCode(err, "ResourceNotFoundException") {
		return fmt.Errorf("%s", awsMessage("DynamoDb", err))
	}
	return nil
}

func list(v any) []any {
	l, _ := v.([]any)
	return l
}

func keySchema(v any) []ddbtypes.KeySchemaElement {
	var out []ddbtypes.KeySchemaElement
	for _, k := range list(v) {
		m, _ := k.(map[string]any)
		out = append(out, ddbtypes.KeySchemaElement{
			AttributeName: aws.String(toStringOr(m["AttributeName"], "")),
			KeyType:       ddbtypes.KeyType(toStringOr(m["KeyType"], "")),
		})
	}
	return out
}

func projection(v any) *ddbtypes.Projection {
	m, _ := v.(map[string]any)
	p := &ddbtypes.Projection{ProjectionType: ddbtypes.ProjectionType(toStringOr(m["ProjectionType"], "ALL"))}
	for _, a := range list(m["NonKeyAttributes"]) {
		p.NonKeyAttributes = append(p.NonKeyAttributes, toStringOr(a, ""))
	}
	return p
}

func throughput(m map[string]any) *ddbtypes.ProvisionedThroughput {
	r, _ := toInt(m["ReadCapacityUnits"])
	w, _ := toInt(m["WriteCapacityUnits"])
	return &ddbtypes.ProvisionedThroughput{ReadCapacityUnits: aws.Int64(r), WriteCapacityUnits: aws.Int64(w)}
}

// ---- AWS::S3::Bucket, AWS::S3::BucketPolicy ----

func createBucket(ctx context.Context, o *op, r *resource) error {
	name := toStringOr(r.Props["BucketName"], "")
	if name == "" {
		name = r.physicalName(o.stackName, 63, true)
	}
	if !validBucketName(name) {
		return reasonf("The specified bucket is not valid. (Service: S3, Status Code: 400, Error Code: InvalidBucketName)")
	}
	if _, err := o.e.s3.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(name)}); err != nil {
		return fmt.Errorf("%s", awsMessage("S3", err))
	}
	r.Physical = name
	r.Attrs = map[string]any{
		"Arn":                 "arn:aws:s3:::" + name,
		"DomainName":          name + ".s3.amazonaws.com",
		"DualStackDomainName": name + ".s3.dualstack." + o.e.region + ".amazonaws.com",
		"RegionalDomainName":  name + ".s3." + o.e.region + ".amazonaws.com",
		"WebsiteURL":          "http://" + name + ".s3-website-" + o.e.region + ".amazonaws.com",
	}
	if err := bucketVersioning(ctx, o, r); err != nil {
		_ = removeBucket(ctx, o, r)
		return err
	}
	if err := bucketNotifications(ctx, o, r); err != nil {
		_ = removeBucket(ctx, o, r)
		return err
	}
	return nil
}

// validBucketName checks S3's rules for bucket names, which the local S3
// does not.
func validBucketName(name string) bool {
	if len(name) < 3 || len(name) > 63 || strings.Contains(name, "..") ||
		strings.HasPrefix(name, "xn--") || strings.HasSuffix(name, "-s3alias") || ipAddress.MatchString(name) {
		return false
	}
	return bucketName.MatchString(name)
}

var (
	bucketName = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]*[a-z0-9]$`)
	ipAddress  = regexp.MustCompile(`^\d+\.\d+\.\d+\.\d+$`)
)

func updateBucket(ctx context.Context, o *op, prev, next *resource) error {
	next.Attrs = maps.Clone(prev.Attrs)
	if err := bucketVersioning(ctx, o, next); err != nil {
		return err
	}
	if prop(prev.Props, "NotificationConfiguration.LambdaConfigurations") == nil && prop(next.Props, "NotificationConfiguration.LambdaConfigurations") == nil {
		return nil
	}
	return bucketNotifications(ctx, o, next)
}

// bucketVersioning applies VersioningConfiguration; the bucket's other
// settings (encryption, lifecycle, public access, ...) are accepted and
// not applied.
func bucketVersioning(ctx context.Context, o *op, r *resource) error {
	status := toStringOr(prop(r.Props, "VersioningConfiguration.Status"), "")
	if status == "" {
		return nil
	}
	_, err := o.e.s3.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{
		Bucket:                  aws.String(r.Physical),
		VersioningConfiguration: &s3types.VersioningConfiguration{Status: s3types.BucketVersioningStatus(status)},
	})
	if err != nil {
		return fmt.Errorf("%s", awsMessage("S3", err))
	}
	return nil
}

func removeBucket(ctx context.Context, o *op, r *resource) error {
	if prop(r.Props, "NotificationConfiguration.LambdaConfigurations") != nil {
		_ = o.e.ev.svc.PutBucketNotification(ctx, r.Physical, nil) // stops their delivery
	}
	_, err := o.e.s3.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String(r.Physical)})
	if err != nil && !isCode(err, "NoSuchBucket") {
		return fmt.Errorf("%s", awsMessage("S3", err))
	}
	return nil
}

func createBucketPolicy(ctx context.Context, o *op, r *resource) error {
	r.Physical = toStringOr(r.Props["Bucket"], "")
	if err := putBucketPolicy(ctx, o, r); err != nil {
		return err
	}
	r.Attrs = map[string]any{}
	return nil
}

func putBucketPolicy(ctx context.Context, o *op, r *resource) error {
	bucket := toStringOr(r.Props["Bucket"], "")
	if bucket == "" {
		return fmt.Errorf("the bucket policy needs a Bucket")
	}
	doc, err := json.Marshal(r.Props["PolicyDocument"])
	if err != nil || r.Props["PolicyDocument"] == nil {
		return fmt.Errorf("the bucket policy needs a PolicyDocument")
	}
	if _, err := o.e.s3.PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: aws.String(bucket), Policy: aws.String(string(doc))}); err != nil {
		return fmt.Errorf("%s", awsMessage("S3", err))
	}
	return nil
}

func removeBucketPolicy(ctx context.Context, o *op, r *resource) error {
	_, err := o.e.s3.DeleteBucketPolicy(ctx, &s3.DeleteBucketPolicyInput{Bucket: aws.String(r.Physical)})
	if err != nil && !isCode(err, "NoSuchBucket") {
		return fmt.Errorf("%s", awsMessage("S3", err))
	}
	return nil
}

// ---- AWS::SecretsManager::Secret ----

// secretValue returns the secret's value: SecretString, or one made as
// GenerateSecretString says.
func secretValue(p map[string]any) (string, error) {
	if s, ok := p["SecretString"]; ok {
		v, ok := scalarString(s)
		if !ok {
			return "", reasonf("SecretString must be a string")
		}
		return v, nil
	}
	g, ok := p["GenerateSecretString"].(map[string]any)
	if !ok {
		// CloudFormation generates a value when neither is given.
		g = map[string]any{}
	}
	pw, err := password(g)
	if err != nil {
		return "", err
	}
	tmpl := toStringOr(g["SecretStringTemplate"], "")
	key := toStringOr(g["GenerateStringKey"], "")
	if tmpl == "" && key == "" {
		return pw, nil
	}
	if tmpl == "" || key == "" {
		return "", reasonf("GenerateSecretString needs both SecretStringTemplate and GenerateStringKey, or neither")
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(tmpl), &m); err != nil {
		return "", reasonf("SecretStringTemplate must be a JSON object")
	}
	m[key] = pw
	b, _ := json.Marshal(m)
	return string(b), nil
}

// password makes a random password as Secrets Manager's
// GetRandomPassword does.
func password(g map[string]any) (string, error) {
	length := int64(32)
	if v, ok := g["PasswordLength"]; ok {
		n, ok := toInt(v)
		if !ok || n < 1 || n > 4096 {
			return "", reasonf("PasswordLength must be from 1 to 4096")
		}
		length = n
	}
	flag := func(k string) bool { b, _ := toBool(g[k]); return b }
	exclude := toStringOr(g["ExcludeCharacters"], "")
	var sets []string
	for _, s := range []struct {
		chars string
		skip  bool
	}{
		{"abcdefghijklmnopqrstuvwxyz", flag("ExcludeLowercase")},
		{"ABCDEFGHIJKLMNOPQRSTUVWXYZ", flag("ExcludeUppercase")},
		{"0123456789", flag("ExcludeNumbers")},
		{"!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~", flag("ExcludePunctuation")},
		{" ", !flag("IncludeSpace")},
	} {
		if s.skip {
			continue
		}
		set := strings.Map(func(r rune) rune {
			if strings.ContainsRune(exclude, r) {
				return -1
			}
			return r
		}, s.chars)
		if set != "" {
			sets = append(sets, set)
		}
	}
	if len(sets) == 0 {
		return "", reasonf("GenerateSecretString excludes every character")
	}
	all := strings.Join(sets, "")
	each := true
	if v, ok := g["RequireEachIncludedType"]; ok {
		each, _ = toBool(v)
	}
	out := make([]byte, length)
	for i := range out {
		out[i] = all[randInt(len(all))]
	}
	if each && int(length) >= len(sets) {
		// One of each type, at distinct random places.
		places := make([]int, length)
		for i := range places {
			places[i] = i
		}
		for i, set := range sets {
			j := i + randInt(len(places)-i)
			places[i], places[j] = places[j], places[i]
			out[places[i]] = set[randInt(len(set))]
		}
	}
	return string(out), nil
}

func randInt(n int) int {
	v, _ := rand.Int(rand.Reader, big.NewInt(int64(n)))
	return int(v.Int64())
}

func createSecret(ctx context.Context, o *op, r *resource) error {
	value, err := secretValue(r.Props)
	if err != nil {
		return err
	}
	name := toStringOr(r.Props["Name"], "")
	if name == "" {
		name = r.physicalName("", 256, false)[1:]
	}
	out, err := o.e.secrets.CreateSecret(ctx, &secretsmanager.CreateSecretInput{
		Name:         aws.String(name),
		Description:  optional(toStringOr(r.Props["Description"], "")),
		SecretString: aws.String(value),
	})
	if err != nil {
		return fmt.Errorf("%s", awsMessage("SecretsManager", err))
	}
	arn := aws.ToString(out.ARN)
	r.Physical = arn
	r.Attrs = map[string]any{"Id": arn}
	return nil
}

func updateSecret(ctx context.Context, o *op, prev, next *resource) error {
	next.Attrs = maps.Clone(prev.Attrs)
	if d := toStringOr(next.Props["Description"], ""); d != toStringOr(prev.Props["Description"], "") {
		if _, err := o.e.secrets.UpdateSecret(ctx, &secretsmanager.UpdateSecretInput{SecretId: aws.String(prev.Physical), Description: aws.String(d)}); err != nil {
			return fmt.Errorf("%s", awsMessage("SecretsManager", err))
		}
	}
	if canonical(next.Props["SecretString"]) == canonical(prev.Props["SecretString"]) &&
		canonical(next.Props["GenerateSecretString"]) == canonical(prev.Props["GenerateSecretString"]) {
		return nil
	}
	value, err := secretValue(next.Props)
	if err != nil {
		return err
	}
	if _, err := o.e.secrets.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String(prev.Physical), SecretString: aws.String(value)}); err != nil {
		return fmt.Errorf("%s", awsMessage("SecretsManager", err))
	}
	return nil
}

func removeSecret(ctx context.Context, o *op, r *resource) error {
	_, err := o.e.secrets.DeleteSecret(ctx, &secretsmanager.DeleteSecretInput{SecretId: aws.String(r.Physical), ForceDeleteWithoutRecovery: aws.Bool(true)})
	if err != nil && !isCode(err, "ResourceNotFoundException") {
		return fmt.Errorf("%s", awsMessage("SecretsManager", err))
	}
	return nil
}

// ---- AWS::SSM::Parameter ----

func parameterProps(p map[string]any) (typ, value string, err error) {
	typ = toStringOr(p["Type"], "")
	if typ != "String" && typ != "StringList" {
		return "", "", reasonf("Type must be String or StringList")
	}
	value, ok := scalarString(p["Value"])
	if !ok {
		return "", "", reasonf("Value must be a string")
	}
	return typ, value, nil
}

func createParameter(ctx context.Context, o *op, r *resource) error {
	typ, value, err := parameterProps(r.Props)
	if err != nil {
		return err
	}
	name := toStringOr(r.Props["Name"], "")
	if name == "" {
		name = "CFN-" + r.physicalName("", 2048, false)[1:]
	}
	if err := o.e.ssm.PutParameter(ctx, name, typ, value, toStringOr(r.Props["Description"], ""), false); err != nil {
		return err
	}
	r.Physical = name
	r.Attrs = map[string]any{"Type": typ, "Value": value}
	return nil
}

func updateParameter(ctx context.Context, o *op, prev, next *resource) error {
	typ, value, err := parameterProps(next.Props)
	if err != nil {
		return err
	}
	if err := o.e.ssm.PutParameter(ctx, prev.Physical, typ, value, toStringOr(next.Props["Description"], ""), true); err != nil {
		return err
	}
	next.Attrs = map[string]any{"Type": typ, "Value": value}
	return nil
}

func removeParameter(ctx context.Context, o *op, r *resource) error {
	return o.e.ssm.DeleteParameter(ctx, r.Physical)
}

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return aws.String(s)
}

// bucketNotifications applies NotificationConfiguration's
// LambdaConfigurations through the event sources (package
// internal/local/events), which deliver each object event to its function
// as S3's event; an empty list stops them. Queue, topic and EventBridge
// notifications are accepted and not applied.
func bucketNotifications(ctx context.Context, o *op, r *resource) error {
	var notes []events.LambdaNotification
	for _, c := range list(prop(r.Props, "NotificationConfiguration.LambdaConfigurations")) {
		m, _ := c.(map[string]any)
		n := events.LambdaNotification{Function: o.e.invokeARN(toStringOr(m["Function"], ""))}
		if ev := toStringOr(m["Event"], ""); ev != "" {
			n.Events = []string{ev}
		}
		if n.Function == "" || len(n.Events) == 0 {
			return reasonf("NotificationConfiguration.LambdaConfigurations: each needs an Event and a Function")
		}
		for _, rule := range list(prop(map[string]any{"f": m["Filter"]}, "f.S3Key.Rules")) {
			fr, _ := rule.(map[string]any)
			switch v := toStringOr(fr["Value"], ""); strings.ToLower(toStringOr(fr["Name"], "")) {
			case "prefix":
				n.Prefix = v
			case "suffix":
				n.Suffix = v
			default:
				return reasonf("NotificationConfiguration: a filter rule's Name must be prefix or suffix")
			}
		}
		notes = append(notes, n)
	}
	if err := o.e.ev.svc.PutBucketNotification(ctx, r.Physical, notes); err != nil {
		return reason(err.Error())
	}
	return nil
}
