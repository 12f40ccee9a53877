// Package config reads an application's pipeline configuration:
// stackflow.yml at the repository root, and the per-environment deploy
// settings that SAM users already keep in samconfig.toml. It turns them
// into the pipeline.Plan of one run: PlanTrusted for a pushed branch,
// PreviewPlanTrusted for a pull request and its preview stack, where who
// may deploy where comes from the files on the repository's default branch
// (Trusted) and the rest from the commit being delivered; Plan and
// PreviewPlan plan from one set of files alone (stackflow plan).
//
// A configuration that cannot be used is always a *pipeline.ConfigInvalid
// naming the file, the line, what is wrong and how to fix it.
//
// stackflow.yml, version 1:
//
//	version: 1                 # optional; must be 1 when present
//	template: template.yaml    # the app's SAM template
//	checks:                    # shell commands run in order at the repository root
//	  - go vet ./...
//	  - go test ./...
//	environments:              # promoted in this order; each is its own stack
//	  - name: staging
//	    branches: [main]       # path.Match globs, e.g. release/*
//	    stack: hello-staging
//	    region: eu-west-1
//	    parameters: {Stage: staging}
//	    capabilities: [CAPABILITY_IAM, CAPABILITY_AUTO_EXPAND]
//	    tags: {team: web}
//	    smoke_timeout: 60s
//	    approval: required     # each deploy waits for stackflow approve
//	    approvers: [arn:aws:iam::123456789012:role/release]
//	    smoke:
//	      - name: greets
//	        url: ${ApiUrl}hello  # ${X} is output X of this environment's stack
//	        method: GET
//	        status: 200
//	        contains: hello
//	        headers: {Accept: text/plain}
//	        timeout: 10s         # one request
//	      - name: works
//	        function: WorkerFunction  # a logical ID, or ${Output} naming the function
//	        payload: {name: smoke}    # the event, sent as JSON
//	        contains: hello           # no function error, and this in the result
//	        timeout: 30s              # one invocation
//	previews:
//	  pull_requests: true      # a stack <slug>-pr-<id> per open pull request
//	  environment: staging     # whose settings previews take; default the first
//
// An environment may also take tags (tags: ["v*"], a list; written as a
// mapping, tags is read as stack_tags, the stack's tags) and filter pushes
// by the files they changed (paths, paths_ignore: globs with **, see
// MatchPath). A repository of several apps has a root stackflow.yml with
// apps only (see App), each app a folder with a stackflow.yml of the form
// above; Reaches and ReachApps say which environments and apps a push (a
// Change) reaches, and why.
//
// Each key, its default and its rules are documented on the field that
// holds it: Config, Environment and SmokeCheck.
package config
