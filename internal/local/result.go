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
	// Environments are the stacks of the app's plan for the branch; for a
	// repository of several apps, those of each app's run, in its order.
	Environments []Environment `json:"environments"`
	// Apps are, for a push to a repository of several apps, what became
	// of each app: the run of each one delivered, followed to its end, and
	// why each other was skipped. Status, Error and Cause above are then
	// the first app's run that did not succeed, if any.
	Apps []AppResult `json:"apps,omitempty"`
	// Statuses are the commit's build statuses as the local Bitbucket
	// recorded them.
	Statuses []Status `json:"statuses"`
	// Seconds is the run's wall time, from the push to the end.
	Seconds float64 `json:"seconds"`
}

// AppResult is what a push did with one app of its repository.
type AppResult struct {
	Name string `json:"name"`
	// Delivered is true when the push started a run of the app; Reason
	// says why, or why not ("skipped: no change under services/web/**").
	Delivered bool   `json:"delivered"`
	Reason    string `json:"reason,omitempty"`
	// Status, Execution, Error and Cause are its run's, as Result's.
	Status    string `json:"status,omitempty"`
	Execution string `json:"execution,omitempty"`
	Error     string `json:"error,omitempty"`
	Cause     string `json:"cause,omitempty"`
}

// Environment is one environment's stack after the run.
type Environment struct {
	// App is the app whose environment it is, in a repository of several.
	App   string `json:"app,omitempty"`
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
