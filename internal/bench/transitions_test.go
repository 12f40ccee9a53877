package bench

import (
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn/types"
)

// enter and exit are a state's entered and exited events.
func enter(typ, name string) Event { return Event{Type: typ + "StateEntered", State: name} }
func exit(typ, name string) Event  { return Event{Type: typ + "StateExited", State: name} }

// task is a Task state whose function is scheduled attempts times.
func task(name string, attempts int) []Event {
	evs := []Event{enter("Task", name)}
	for i := range attempts {
		evs = append(evs, Event{Type: "LambdaFunctionScheduled"}, Event{Type: "LambdaFunctionStarted"})
		if i < attempts-1 {
			evs = append(evs, Event{Type: "LambdaFunctionFailed"})
		}
	}
	return append(evs, Event{Type: "LambdaFunctionSucceeded"}, exit("Task", name))
}

// state is a state without a task.
func state(typ, name string) []Event { return []Event{enter(typ, name), exit(typ, name)} }

func history(parts ...[]Event) []Event {
	var evs []Event
	for _, p := range parts {
		evs = append(evs, p...)
	}
	return evs
}

func TestCount(t *testing.T) {
	t.Parallel()
	// One polling loop: Create -> Wait -> Check -> Ready? (-> Wait again).
	loop := func(rounds int) []Event {
		evs := history(task("Create", 1))
		for range rounds {
			evs = append(evs, history(state("Wait", "Wait"), task("Check", 1), state("Choice", "Ready?"))...)
		}
		return evs
	}
	tests := []struct {
		name   string
		events []Event
		want   Transitions
	}{
		{
			name:   "states in a row",
			events: history(task("A", 1), state("Choice", "B"), state("Succeed", "Done")),
			want: Transitions{Billed: 3, StatesEntered: 3, States: []StateCount{
				{Name: "A", Type: "Task", Entered: 1}, {Name: "B", Type: "Choice", Entered: 1}, {Name: "Done", Type: "Succeed", Entered: 1},
			}},
		},
		{
			name:   "a retried task bills each retry",
			events: history(task("A", 3), task("B", 1)),
			want: Transitions{Billed: 4, StatesEntered: 2, Retries: 2, States: []StateCount{
				{Name: "A", Type: "Task", Entered: 1, Retries: 2}, {Name: "B", Type: "Task", Entered: 1},
			}},
		},
		{
			name:   "a loop that finds it ready at the first look: only the Wait is polling",
			events: loop(1),
			want: Transitions{Billed: 4, StatesEntered: 4, Polling: 1, Waits: 1, States: []StateCount{
				{Name: "Create", Type: "Task", Entered: 1}, {Name: "Wait", Type: "Wait", Entered: 1, Polling: 1},
				{Name: "Check", Type: "Task", Entered: 1}, {Name: "Ready?", Type: "Choice", Entered: 1},
			}},
		},
		{
			name:   "every further round of a loop is polling",
			events: history(loop(3), task("After", 1)),
			want: Transitions{Billed: 11, StatesEntered: 11, Polling: 7, Waits: 3, Rounds: 2, States: []StateCount{
				{Name: "Create", Type: "Task", Entered: 1}, {Name: "Wait", Type: "Wait", Entered: 3, Polling: 3},
				{Name: "Check", Type: "Task", Entered: 3, Polling: 2}, {Name: "Ready?", Type: "Choice", Entered: 3, Polling: 2},
				{Name: "After", Type: "Task", Entered: 1},
			}},
		},
		{
			name: "inline Map iterations are not billed; their states are",
			events: history(
				[]Event{enter("Map", "Each"), {Type: "MapStateStarted"}},
				[]Event{{Type: "MapIterationStarted"}}, task("Deploy", 1), []Event{{Type: "MapIterationSucceeded"}},
				[]Event{{Type: "MapIterationStarted"}}, task("Deploy", 2), []Event{{Type: "MapIterationSucceeded"}},
				[]Event{{Type: "MapStateSucceeded"}, exit("Map", "Each")},
			),
			want: Transitions{Billed: 4, StatesEntered: 3, Retries: 1, MapIterations: 2, States: []StateCount{
				{Name: "Each", Type: "Map", Entered: 1}, {Name: "Deploy", Type: "Task", Entered: 2, Retries: 1},
			}},
		},
		{
			name:   "no history",
			events: nil,
			want:   Transitions{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := Count(tt.events)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v\nwant %+v", got, tt.want)
			}
			if got.WithoutPolling() != tt.want.Billed-tt.want.Polling {
				t.Errorf("got WithoutPolling %d, want %d", got.WithoutPolling(), tt.want.Billed-tt.want.Polling)
			}
		})
	}
}

// The history of a two-environment run of examples/hello through stackflow
// local, saved with `stackflow-bench -save-history` in the form
// GetExecutionHistory answers.
func TestCountARecordedTwoEnvironmentRun(t *testing.T) {
	t.Parallel()
	f, err := os.Open("testdata/hello-two-environments.json")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	events, err := ParseHistory(f)
	if err != nil {
		t.Fatal(err)
	}
	got := Count(events)
	// 6 states before the promotion, 10 per environment, 2 after.
	if got.Billed != 28 || got.StatesEntered != 28 || got.Retries != 0 || got.MapIterations != 2 {
		t.Errorf("got billed %d (entered %d, retries %d, iterations %d), want 28 (28, 0, 2)", got.Billed, got.StatesEntered, got.Retries, got.MapIterations)
	}
	if got.Polling != 4 || got.Waits != 4 || got.Rounds != 0 || got.WithoutPolling() != 24 {
		t.Errorf("got polling %d (waits %d, rounds %d), without %d; want 4 (4, 0), 24", got.Polling, got.Waits, got.Rounds, got.WithoutPolling())
	}
	want := map[string]int{
		"Report the run started": 1, "Fetch the source and read the plan": 1, "Run the checks": 1, "Deploy this branch?": 1,
		"Package the app once": 1, "Promote through the environments": 1,
		"Create the change set": 2, "Wait for the change set": 2, "Check the change set": 2, "Is the change set ready?": 2,
		"Execute the change set": 2, "Wait for the stack": 2, "Check the stack": 2, "Is the stack deployed?": 2,
		"Smoke test the environment": 2, "Environment delivered": 2, "Report success": 1, "Delivered": 1,
	}
	entered := map[string]int{}
	for _, s := range got.States {
		entered[s.Name] = s.Entered
	}
	if !reflect.DeepEqual(entered, want) {
		t.Errorf("got states entered %v\nwant %v", entered, want)
	}
	var out strings.Builder
	got.Print(&out)
	for _, line := range []string{"state transitions billed: 28", "excluding polling: 24", "Wait for the stack (Wait)"} {
		if !strings.Contains(out.String(), line) {
			t.Errorf("printed %q: want it to contain %q", out.String(), line)
		}
	}
}

func TestParseHistoryRefusesWhatIsNotAHistory(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, doc, wantErr string
	}{
		{name: "not JSON", doc: "events", wantErr: "read execution history"},
		{name: "no events", doc: `{"executions": []}`, wantErr: `no "events" list`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if _, err := ParseHistory(strings.NewReader(tt.doc)); err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("got %v, want an error containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestEventsOfTheSDKCountAsTheirJSON(t *testing.T) {
	t.Parallel()
	entered := func(typ types.HistoryEventType, name string) types.HistoryEvent {
		return types.HistoryEvent{Type: typ, StateEnteredEventDetails: &types.StateEnteredEventDetails{Name: aws.String(name)}}
	}
	exited := func(typ types.HistoryEventType, name string) types.HistoryEvent {
		return types.HistoryEvent{Type: typ, StateExitedEventDetails: &types.StateExitedEventDetails{Name: aws.String(name)}}
	}
	sdk := []types.HistoryEvent{
		{Id: 1, Type: types.HistoryEventTypeExecutionStarted},
		entered(types.HistoryEventTypeTaskStateEntered, "Check"),
		{Type: types.HistoryEventTypeLambdaFunctionScheduled},
		{Type: types.HistoryEventTypeLambdaFunctionFailed},
		{Type: types.HistoryEventTypeLambdaFunctionScheduled},
		{Type: types.HistoryEventTypeLambdaFunctionSucceeded},
		exited(types.HistoryEventTypeTaskStateExited, "Check"),
		entered(types.HistoryEventTypeChoiceStateEntered, "Ready?"),
		exited(types.HistoryEventTypeChoiceStateExited, "Ready?"),
		entered(types.HistoryEventTypeWaitStateEntered, "Wait"),
		exited(types.HistoryEventTypeWaitStateExited, "Wait"),
	}
	const doc = `{"events": [
		{"id": 1, "type": "ExecutionStarted"},
		{"id": 2, "type": "TaskStateEntered", "stateEnteredEventDetails": {"name": "Check"}},
		{"id": 3, "type": "LambdaFunctionScheduled"},
		{"id": 4, "type": "LambdaFunctionFailed"},
		{"id": 5, "type": "LambdaFunctionScheduled"},
		{"id": 6, "type": "LambdaFunctionSucceeded"},
		{"id": 7, "type": "TaskStateExited", "stateExitedEventDetails": {"name": "Check"}},
		{"id": 8, "type": "ChoiceStateEntered", "stateEnteredEventDetails": {"name": "Ready?"}},
		{"id": 9, "type": "ChoiceStateExited", "stateExitedEventDetails": {"name": "Ready?"}},
		{"id": 10, "type": "WaitStateEntered", "stateEnteredEventDetails": {"name": "Wait"}},
		{"id": 11, "type": "WaitStateExited", "stateExitedEventDetails": {"name": "Wait"}}
	]}`
	fromJSON, err := ParseHistory(strings.NewReader(doc))
	if err != nil {
		t.Fatal(err)
	}
	got, want := Count(EventsOf(sdk)), Count(fromJSON)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("from the SDK: got %+v\nfrom JSON: %+v", got, want)
	}
	// A Wait a Choice led to is another round of a loop.
	if want.Billed != 4 || want.Retries != 1 || want.Rounds != 1 || want.Polling != 1 {
		t.Errorf("got billed %d, retries %d, rounds %d, polling %d; want 4, 1, 1, 1", want.Billed, want.Retries, want.Rounds, want.Polling)
	}
}
