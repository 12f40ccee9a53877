package cfn

import "fmt"

// Types that are only recorded: the local AWS keeps IAM's roles and
// policies (the local IAM reads them: iam.go), no logs and no metrics, and
// CodeDeploy runs only as an alias's deployment (codedeploy.go). Each gets
// a physical ID and attributes shaped like AWS's.
func init() {
	register(map[string]*kind{
		"AWS::IAM::Role": recorded([]string{"Arn", "RoleId"}, []string{"RoleName", "Path"}, func(o *op, r *resource) {
			name := toStringOr(r.Props["RoleName"], "")
			if name == "" {
				name = r.physicalName(o.stackName, 64, false)
			}
			path := toStringOr(r.Props["Path"], "/")
			r.Physical = name
			r.Attrs = map[string]any{
				"Arn":    fmt.Sprintf("arn:aws:iam::%s:role%s%s", o.e.account, path, name),
				"RoleId": "AROA" + randomString(upperAlnum, 17),
			}
		}),
		"AWS::IAM::Policy": recorded([]string{"Id"}, nil, func(o *op, r *resource) {
			r.Physical = r.physicalName(o.stackName, 64, false)
			r.Attrs = map[string]any{"Id": r.Physical}
		}),
		"AWS::IAM::ManagedPolicy": recorded([]string{"PolicyArn"}, []string{"ManagedPolicyName", "Path"}, func(o *op, r *resource) {
			name := toStringOr(r.Props["ManagedPolicyName"], "")
			if name == "" {
				name = r.physicalName(o.stackName, 128, false)
			}
			arn := fmt.Sprintf("arn:aws:iam::%s:policy%s%s", o.e.account, toStringOr(r.Props["Path"], "/"), name)
			r.Physical = arn
			r.Attrs = map[string]any{"PolicyArn": arn}
		}),
		"AWS::Logs::LogGroup": recorded([]string{"Arn"}, []string{"LogGroupName"}, func(o *op, r *resource) {
			name := toStringOr(r.Props["LogGroupName"], "")
			if name == "" {
				name = r.physicalName(o.stackName, 512, false)
			}
			r.Physical = name
			r.Attrs = map[string]any{"Arn": fmt.Sprintf("arn:aws:logs:%s:%s:log-group:%s:*", o.e.region, o.e.account, name)}
		}),
		// What SAM's DeploymentPreference makes. The application and the
		// deployment group are records; an alias whose UpdatePolicy names
		// them is deployed through them (codedeploy.go): all at once, its
		// hooks run, its alarms recorded and not watched.
		"AWS::CodeDeploy::Application": noted(recorded([]string{}, []string{"ApplicationName", "ComputePlatform"}, func(o *op, r *resource) {
			name := toStringOr(r.Props["ApplicationName"], "")
			if name == "" {
				name = r.physicalName(o.stackName, 100, false)
			}
			r.Physical = name
			r.Attrs = map[string]any{}
		}), codeDeployNote),
		"AWS::CodeDeploy::DeploymentGroup": noted(recorded([]string{}, []string{"ApplicationName", "DeploymentGroupName"}, func(o *op, r *resource) {
			name := toStringOr(r.Props["DeploymentGroupName"], "")
			if name == "" {
				name = r.physicalName(o.stackName, 100, false)
			}
			r.Physical = name
			r.Attrs = map[string]any{}
		}), codeDeployNote),
		// DeploymentPreference's Alarms, and apps' own: nothing local keeps
		// metrics, so no alarm fires.
		"AWS::CloudWatch::Alarm": noted(recorded([]string{"Arn"}, []string{"AlarmName"}, func(o *op, r *resource) {
			name := toStringOr(r.Props["AlarmName"], "")
			if name == "" {
				name = r.physicalName(o.stackName, 255, false)
			}
			r.Physical = name
			r.Attrs = map[string]any{"Arn": fmt.Sprintf("arn:aws:cloudwatch:%s:%s:alarm:%s", o.e.region, o.e.account, name)}
		}), "the alarm is not watched: nothing local keeps metrics, so it never fires, and a deployment it guards is not stopped by it"),
	})
}

// codeDeployNote is what `stackflow plan` says of CodeDeploy's types.
const codeDeployNote = "an alias deployed through it (SAM's DeploymentPreference) moves all at once, not by its DeploymentConfigName's canary or linear steps; its PreTraffic and PostTraffic hooks run, its alarms are not watched"

// noted is k with the note `stackflow plan` shows for its type.
func noted(k *kind, note string) *kind {
	k.note = note
	return k
}
