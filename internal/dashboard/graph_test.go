package dashboard

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stackflow/stackflow/internal/runs"
)

// TestGraphOfThePipeline draws the pipeline's own state machine for a run
// whose checks failed: the checks red, the states before them green, the
// promotion grey, and the Map's states inside its group.
func TestGraphOfThePipeline(t *testing.T) {
	t.Parallel()
	def, err := os.ReadFile(filepath.Join("..", "..", "statemachine", "pipeline.asl.json"))
	if err != nil {
		t.Fatal(err)
	}
	timeline := &runs.Timeline{Steps: []runs.Step{
		{Name: "Report the run started", Status: runs.StepSucceeded},
		{Name: "What does this run do?", Status: runs.StepSucceeded},
		{Name: "Fetch the source and read the plan", Status: runs.StepSucceeded},
		{Name: "Hand the checks their URLs", Status: runs.StepSucceeded},
		{Name: "Run the checks", Status: runs.StepFailed, Error: "ChecksFailed"},
		{Name: "Report the failure", Status: runs.StepRunning},
	}}
	g, err := GraphOf(string(def), timeline)
	if err != nil {
		t.Fatal(err)
	}
	nodes := map[string]Node{}
	for _, n := range g.Nodes {
		if _, dup := nodes[n.ID]; dup {
			t.Errorf("node %q twice", n.ID)
		}
		nodes[n.ID] = n
	}
	for _, tt := range []struct{ id, outcome string }{
		{"Report the run started", OutcomeSucceeded},
		{"Run the checks", OutcomeFailed},
		{"Report the failure", OutcomeRunning},
		{"Package the app once", OutcomeNotReached},
		{"Promote through the environments#1/Create the change set", OutcomeNotReached},
	} {
		n, ok := nodes[tt.id]
		if !ok {
			t.Errorf("no node %q", tt.id)
			continue
		}
		if n.Outcome != tt.outcome {
			t.Errorf("%s: got %s, want %s", tt.id, n.Outcome, tt.outcome)
		}
	}
	if got := nodes["Run the checks"].Error; got != "ChecksFailed" {
		t.Errorf("error of the checks: got %q, want ChecksFailed", got)
	}
	if got := nodes["Promote through the environments#1/Create the change set"].Parent; got != "Promote through the environments#1" {
		t.Errorf("parent: got %q, want the Map's group", got)
	}
	if g.Nodes[0].ID != "Report the run started" {
		t.Errorf("first node: got %q, want the StartAt state", g.Nodes[0].ID)
	}
	for _, e := range g.Edges {
		if _, ok := nodes[e.From]; !ok {
			t.Errorf("edge from unknown %q", e.From)
		}
		if _, ok := nodes[e.To]; !ok {
			t.Errorf("edge to unknown %q", e.To)
		}
	}
}

func TestGraphOfRefusesWhatIsNoDefinition(t *testing.T) {
	t.Parallel()
	for _, def := range []string{"", "{}", "not json"} {
		if _, err := GraphOf(def, nil); err == nil {
			t.Errorf("GraphOf(%q): got no error, want one", def)
		}
	}
}

func TestOutcomeOfSeveralVisits(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		statuses []string
		want     string
	}{
		{"none", nil, OutcomeNotReached},
		{"all succeeded", []string{runs.StepSucceeded, runs.StepSucceeded}, OutcomeSucceeded},
		{"staging succeeded, prod failed", []string{runs.StepSucceeded, runs.StepFailed}, OutcomeFailed},
		{"one still runs", []string{runs.StepFailed, runs.StepRunning}, OutcomeRunning},
		{"stopped", []string{runs.StepSucceeded, runs.StepAborted}, OutcomeAborted},
		{"timed out", []string{runs.StepTimedOut}, OutcomeFailed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var steps []runs.Step
			for _, s := range tt.statuses {
				steps = append(steps, runs.Step{Status: s})
			}
			if got, _, _ := outcome(steps); got != tt.want {
				t.Errorf("got %s, want %s", got, tt.want)
			}
		})
	}
}
