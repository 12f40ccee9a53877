package dashboard

import (
	"encoding/json"
	"fmt"
	"sort"

	"github.com/stackflow/stackflow/internal/runs"
)

// Outcomes of a state on a run's graph, as the Step Functions console
// colours them.
const (
	OutcomeSucceeded  = "succeeded"
	OutcomeFailed     = "failed"
	OutcomeRunning    = "running"
	OutcomeAborted    = "aborted"
	OutcomeNotReached = "not-reached"
)

// Graph is a run's state machine as nodes and edges, each state with its
// outcome in the run; the page lays it out (dagre) and draws it.
type Graph struct {
	Nodes []Node `json:"nodes"`
	Edges []Edge `json:"edges"`
}

// Node is one state, or the group of the states a Map or Parallel state
// runs (Type "Group").
type Node struct {
	// ID is unique in the graph: the state's name, prefixed by its
	// group's ID inside a Map or Parallel.
	ID    string `json:"id"`
	Label string `json:"label"`
	Type  string `json:"type"`
	// Parent is the ID of the group the state is in; "" at the top.
	Parent string `json:"parent,omitempty"`
	// Outcome is succeeded, failed, running, aborted or not-reached.
	Outcome string `json:"outcome"`
	// Visits counts the times the run entered the state (each
	// environment's, each poll's).
	Visits int `json:"visits"`
	// Error is the error of the state's last failure.
	Error string `json:"error,omitempty"`
}

// Edge leads from one state to the next; Kind is "next", "choice",
// "default", "catch" or "iteration" (from a Map or Parallel state into
// the states it runs).
type Edge struct {
	From string `json:"from"`
	To   string `json:"to"`
	Kind string `json:"kind"`
}

// asl is the part of an Amazon States Language definition the graph
// needs.
type asl struct {
	StartAt string              `json:"StartAt"`
	States  map[string]aslState `json:"States"`
}

type aslState struct {
	Type    string `json:"Type"`
	Next    string `json:"Next"`
	Default string `json:"Default"`
	Choices []struct {
		Next string `json:"Next"`
	} `json:"Choices"`
	Catch []struct {
		Next string `json:"Next"`
	} `json:"Catch"`
	Iterator      *asl  `json:"Iterator"`
	ItemProcessor *asl  `json:"ItemProcessor"`
	Branches      []asl `json:"Branches"`
}

// GraphOf draws the definition (Amazon States Language) with each state's
// outcome in the timeline t (nil: a run not started, every state not
// reached).
func GraphOf(definition string, t *runs.Timeline) (*Graph, error) {
	var def asl
	if err := json.Unmarshal([]byte(definition), &def); err != nil {
		return nil, fmt.Errorf("read the state machine's definition: %w", err)
	}
	if len(def.States) == 0 {
		return nil, fmt.Errorf("read the state machine's definition: it has no states")
	}
	seen := map[string][]runs.Step{}
	if t != nil {
		for _, s := range t.Steps {
			seen[s.Name] = append(seen[s.Name], s)
		}
	}
	g := &Graph{}
	g.add(def, "", seen)
	return g, nil
}

// add adds the states of machine, inside the group parent ("" at the top),
// in a stable order: from StartAt, following the transitions.
func (g *Graph) add(machine asl, parent string, seen map[string][]runs.Step) {
	id := func(name string) string {
		if parent == "" {
			return name
		}
		return parent + "/" + name
	}
	for _, name := range order(machine) {
		s := machine.States[name]
		n := Node{ID: id(name), Label: name, Type: s.Type, Parent: parent}
		n.Outcome, n.Visits, n.Error = outcome(seen[name])
		g.Nodes = append(g.Nodes, n)
		edge := func(to, kind string) {
			if to != "" {
				g.Edges = append(g.Edges, Edge{From: n.ID, To: id(to), Kind: kind})
			}
		}
		edge(s.Next, "next")
		for _, c := range s.Choices {
			edge(c.Next, "choice")
		}
		edge(s.Default, "default")
		for _, c := range s.Catch {
			edge(c.Next, "catch")
		}
		inner := s.Branches
		if s.ItemProcessor != nil {
			inner = append(inner, *s.ItemProcessor)
		} else if s.Iterator != nil {
			inner = append(inner, *s.Iterator)
		}
		for i, sub := range inner {
			group := n.ID + "#" + fmt.Sprint(i+1)
			g.Nodes = append(g.Nodes, Node{ID: group, Label: name + groupLabel(s.Type), Type: "Group", Parent: parent, Outcome: n.Outcome})
			g.add(sub, group, seen)
			g.Edges = append(g.Edges, Edge{From: n.ID, To: group + "/" + sub.StartAt, Kind: "iteration"})
		}
	}
}

func groupLabel(typ string) string {
	if typ == "Map" {
		return ": each item"
	}
	return ": a branch"
}

// order is machine's state names from StartAt, breadth first along the
// transitions, then any left unreachable, so that the page draws alike
// each time.
func order(machine asl) []string {
	var out []string
	done := map[string]bool{}
	queue := []string{machine.StartAt}
	for len(queue) > 0 {
		name := queue[0]
		queue = queue[1:]
		s, ok := machine.States[name]
		if !ok || done[name] {
			continue
		}
		done[name] = true
		out = append(out, name)
		queue = append(queue, s.Next)
		for _, c := range s.Choices {
			queue = append(queue, c.Next)
		}
		queue = append(queue, s.Default)
		for _, c := range s.Catch {
			queue = append(queue, c.Next)
		}
	}
	var rest []string
	for name := range machine.States {
		if !done[name] {
			rest = append(rest, name)
		}
	}
	sort.Strings(rest)
	return append(out, rest...)
}

// outcome is a state's outcome over the times the run entered it: running
// when one visit runs, failed when one failed (a Catch may have gone on,
// as the console shows a caught error), aborted when one was, succeeded
// when all did, not reached when none.
func outcome(steps []runs.Step) (string, int, string) {
	if len(steps) == 0 {
		return OutcomeNotReached, 0, ""
	}
	result, errName := OutcomeSucceeded, ""
	for _, s := range steps {
		switch s.Status {
		case runs.StepRunning:
			return OutcomeRunning, len(steps), ""
		case runs.StepFailed, runs.StepTimedOut:
			result, errName = OutcomeFailed, s.Error
		case runs.StepAborted:
			if result != OutcomeFailed {
				result = OutcomeAborted
			}
		}
	}
	return result, len(steps), errName
}
