package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn/types"
)

// Event is what counting transitions needs of one execution history
// event: its type (TaskStateEntered, LambdaFunctionScheduled, ...) and, for
// a state's entered and exited events, the state's name.
type Event struct {
	ID    int64
	Type  string
	State string
}

// EventsOf converts the SDK's history events.
func EventsOf(events []types.HistoryEvent) []Event {
	out := make([]Event, 0, len(events))
	for _, e := range events {
		ev := Event{ID: e.Id, Type: string(e.Type)}
		switch {
		case e.StateEnteredEventDetails != nil:
			ev.State = aws.ToString(e.StateEnteredEventDetails.Name)
		case e.StateExitedEventDetails != nil:
			ev.State = aws.ToString(e.StateExitedEventDetails.Name)
		}
		out = append(out, ev)
	}
	return out
}

// ParseHistory reads an execution history in the JSON form of Step
// Functions' GetExecutionHistory answer, as `aws stepfunctions
// get-execution-history --execution-arn ARN` prints it:
// {"events": [{"id": 1, "type": "ExecutionStarted", ...}, ...]}. So the
// transitions of a run on AWS can be counted as a local one's are.
func ParseHistory(r io.Reader) ([]Event, error) {
	var doc struct {
		Events []struct {
			ID      int64  `json:"id"`
			Type    string `json:"type"`
			Entered *struct {
				Name string `json:"name"`
			} `json:"stateEnteredEventDetails"`
			Exited *struct {
				Name string `json:"name"`
			} `json:"stateExitedEventDetails"`
		} `json:"events"`
	}
	if err := json.NewDecoder(r).Decode(&doc); err != nil {
		return nil, fmt.Errorf("read execution history: %w", err)
	}
	if doc.Events == nil {
		return nil, fmt.Errorf("read execution history: no \"events\" list: want GetExecutionHistory's answer")
	}
	out := make([]Event, 0, len(doc.Events))
	for _, e := range doc.Events {
		ev := Event{ID: e.ID, Type: e.Type}
		switch {
		case e.Entered != nil:
			ev.State = e.Entered.Name
		case e.Exited != nil:
			ev.State = e.Exited.Name
		}
		out = append(out, ev)
	}
	return out, nil
}

// Transitions is what an execution cost in state transitions, counted from
// its history as Step Functions bills a Standard workflow: "each step of a
// workflow is a transition".
//
//   - Every state entered is one transition: Task, Choice, Wait, Pass,
//     Map, Parallel, Succeed and Fail alike, and each state inside an
//     inline Map iteration. (A <Type>StateEntered event.)
//   - Every retry of a Task is one more: the task is scheduled again
//     without the state being entered again. (LambdaFunctionScheduled,
//     TaskScheduled and ActivityScheduled events of a state beyond the
//     one per entry.)
//   - The iterations of an inline Map cost nothing of their own: "When you
//     use the Map state in Inline mode, you aren't charged a state
//     transition for each iteration" (Step Functions developer guide,
//     Transitions). MapIterations counts them for information. A
//     Distributed Map bills each child execution; stackflow uses none.
//
// Polling is the part of Billed that the Wait loops cost, that is, what a
// run would not cost if every look at a change set or a stack found it
// ready at once and no Wait state existed: every Wait state entered, and,
// after a Wait that a Choice sent back (another round of the loop), every
// state entered up to and including the Choice that ends that round.
type Transitions struct {
	// Billed is StatesEntered plus Retries.
	Billed        int `json:"billed"`
	StatesEntered int `json:"statesEntered"`
	Retries       int `json:"retries"`
	// Polling is the part of Billed that the polling loops cost.
	Polling int `json:"polling"`
	// Waits counts the Wait states entered; Rounds the times a Choice
	// sent a loop back to its Wait.
	Waits  int `json:"waits"`
	Rounds int `json:"rounds"`
	// MapIterations counts inline Map iterations (not billed).
	MapIterations int `json:"mapIterations"`
	// States are the states entered, by name, in the order they were
	// first entered.
	States []StateCount `json:"states"`
}

// StateCount is what one state (by name) cost in a run.
type StateCount struct {
	Name string `json:"name"`
	// Type is the state's type as its events name it: Task, Choice, ...
	Type    string `json:"type"`
	Entered int    `json:"entered"`
	Retries int    `json:"retries"`
	// Polling is how many of Entered the polling loops cost.
	Polling int `json:"polling"`
}

// WithoutPolling is Billed less what the polling loops cost.
func (t Transitions) WithoutPolling() int { return t.Billed - t.Polling }

// Count counts the transitions of a history, oldest event first.
func Count(events []Event) Transitions {
	var t Transitions
	index := map[string]int{} // state name -> position in t.States
	scheduled := map[string]int{}
	var (
		task         string // the Task state most recently entered
		lastExitType string // the type of the state most recently exited
		inRound      bool   // between a Wait a Choice sent back and the Choice that ends the round
	)
	state := func(name, typ string) *StateCount {
		i, ok := index[name]
		if !ok {
			i = len(t.States)
			index[name] = i
			t.States = append(t.States, StateCount{Name: name, Type: typ})
		}
		return &t.States[i]
	}
	for _, e := range events {
		switch {
		case strings.HasSuffix(e.Type, "StateEntered"):
			typ := strings.TrimSuffix(e.Type, "StateEntered")
			s := state(e.State, typ)
			s.Entered++
			t.StatesEntered++
			switch {
			case typ == "Wait":
				t.Waits++
				s.Polling++
				if lastExitType == "Choice" {
					t.Rounds++
					inRound = true
				}
			case inRound:
				s.Polling++
			}
			if typ == "Task" {
				task = e.State
			}
		case strings.HasSuffix(e.Type, "StateExited"):
			typ := strings.TrimSuffix(e.Type, "StateExited")
			lastExitType = typ
			if typ == "Choice" {
				inRound = false
			}
		case e.Type == "LambdaFunctionScheduled", e.Type == "TaskScheduled", e.Type == "ActivityScheduled":
			if task != "" {
				scheduled[task]++
			}
		case e.Type == "MapIterationStarted":
			t.MapIterations++
		}
	}
	for i := range t.States {
		s := &t.States[i]
		if s.Type == "Task" {
			s.Retries = max(scheduled[s.Name]-s.Entered, 0)
		}
		t.Retries += s.Retries
		t.Polling += s.Polling
	}
	t.Billed = t.StatesEntered + t.Retries
	return t
}

// Print shows the count: the totals, then every state with what it cost.
func (t Transitions) Print(w io.Writer) {
	fmt.Fprintf(w, "state transitions billed: %d (%d states entered + %d retries); inline Map iterations: %d (not billed)\n",
		t.Billed, t.StatesEntered, t.Retries, t.MapIterations)
	fmt.Fprintf(w, "polling loops: %d (%d Wait states, %d more rounds of a loop)\n", t.Polling, t.Waits, t.Rounds)
	fmt.Fprintf(w, "excluding polling: %d\n", t.WithoutPolling())
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "entered\tpolling\tretries\t\t")
	for _, s := range t.States {
		fmt.Fprintf(tw, "%d\t%d\t%d\t\t%s (%s)\n", s.Entered, s.Polling, s.Retries, s.Name, s.Type)
	}
	tw.Flush()
}
