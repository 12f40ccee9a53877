package local

// Result is the outcome of one local run, as `stackflow local --json`
// prints it.
type Result struct {
	// Status is the execution's status: SUCCEEDED, FAILED, ABORTED, ...
	Status string `json:"status"`
	// Execution is the execution's ARN in the local Step Functions.
	Execution string `json:"execution"`
	// Error and Cause say why a run that did not succeed ended.
	Error string `json:"error,omitempty"`
	Cause string `json:"cause,omitempty"`
	// Environments are the stacks of the app's plan for the branch.
	Environments []Environment `json:"environments"`
	// Statuses are the commit's build statuses as the local Bitbucket
	// recorded them.
	Statuses []Status `json:"statuses"`
	// Seconds is the run's wall time, from the push to the end.
	Seconds float64 `json:"seconds"`
}

// Environment is one environment's stack after the run.
type Environment struct {
	Name  string `json:"name"`
	Stack string `json:"stack"`
	// Status is the stack's CloudFormation status; empty when the run did
	// not get to create it.
	Status  string            `json:"status"`
	Outputs map[string]string `json:"outputs"`
}

// Status is one commit build status.
type Status struct {
	Key         string `json:"key"`
	State       string `json:"state"`
	Description string `json:"description"`
	URL         string `json:"url,omitempty"`
}

// Succeeded reports whether the execution succeeded.
func (r *Result) Succeeded() bool { return r.Status == "SUCCEEDED" }
