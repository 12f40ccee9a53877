package cfn

import "fmt"

// Types that are only recorded: the local AWS enforces no IAM, keeps no
// logs and runs no CodeDeploy. Each gets a physical ID and attributes
// shaped like AWS's.
func init() {
	register(map[string]*kind{
		"AWS::IAM::Role": recorded([]string{"Arn", "RoleId"}, []string{"RoleName", "Path"}, func(o *op, r *resource) {
			name := toStringOr(r.Props["RoleName"], "")
			if name == "" {
				name = physicalName(o.stackName, r.Logical, 64, false)
			}
			path := toStringOr(r.Props["Path"], "/")
			r.Physical = name
			r.Attrs = map[string]any{
				"Arn":    fmt.Sprintf("arn:aws:iam::%s:role%s%s", o.e.account, path, name),
				"RoleId": "AROA" + randomString(upperAlnum, 17),
			}
		}),
		"AWS::IAM::Policy": recorded([]string{"Id"}, nil, func(o *op, r *resource) {
			r.Physical = physicalName(o.stackName, r.Logical, 64, false)
			r.Attrs = map[string]any{"Id": r.Physical}
		}),
		"AWS::IAM::ManagedPolicy": recorded([]string{"PolicyArn"}, []string{"ManagedPolicyName", "Path"}, func(o *op, r *resource) {
			name := toStringOr(r.Props["ManagedPolicyName"], "")
			if name == "" {
				name = physicalName(o.stackName, r.Logical, 128, false)
			}
			arn := fmt.Sprintf("arn:aws:iam::%s:policy%s%s", o.e.account, toStringOr(r.Props["Path"], "/"), name)
			r.Physical = arn
			r.Attrs = map[string]any{"PolicyArn": arn}
		}),
		"AWS::Logs::LogGroup": recorded([]string{"Arn"}, []string{"LogGroupName"}, func(o *op, r *resource) {
			name := toStringOr(r.Props["LogGroupName"], "")
			if name == "" {
				name = physicalName(o.stackName, r.Logical, 512, false)
			}
			r.Physical = name
			r.Attrs = map[string]any{"Arn": fmt.Sprintf("arn:aws:logs:%s:%s:log-group:%s:*", o.e.region, o.e.account, name)}
		}),
		// What SAM's DeploymentPreference makes: recorded, not run. Locally an
		// alias points at its new version at once (all at once), and no
		// PreTraffic or PostTraffic hook is invoked.
		"AWS::CodeDeploy::Application": recorded([]string{}, []string{"ApplicationName", "ComputePlatform"}, func(o *op, r *resource) {
			name := toStringOr(r.Props["ApplicationName"], "")
			if name == "" {
				name = physicalName(o.stackName, r.Logical, 100, false)
			}
			r.Physical = name
			r.Attrs = map[string]any{}
		}),
		"AWS::CodeDeploy::DeploymentGroup": recorded([]string{}, []string{"ApplicationName", "DeploymentGroupName"}, func(o *op, r *resource) {
			name := toStringOr(r.Props["DeploymentGroupName"], "")
			if name == "" {
				name = physicalName(o.stackName, r.Logical, 100, false)
			}
			r.Physical = name
			r.Attrs = map[string]any{}
		}),
	})
}
