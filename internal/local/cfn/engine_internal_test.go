package cfn

import "testing"

// TestAStackIsFreeWithTheStatusThatEndsItsOperation: the status that ends
// an operation frees the stack in the same step (under the engine's lock),
// so a caller that saw CREATE_COMPLETE and executes its next change set at
// once is never refused "is in CREATE_COMPLETE state and can not be
// updated"; a status of an operation still running keeps it busy.
func TestAStackIsFreeWithTheStatusThatEndsItsOperation(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		status string
		busy   bool
	}{
		{statusCreateComplete, false},
		{statusUpdateComplete, false},
		{statusCreateFailed, false},
		{statusUpdateRollbackFailed, false},
		{statusUpdateCleanup, true},
		{statusRollbackInProgress, true},
		{statusUpdateInProgress, true},
	} {
		st := &stack{busy: true}
		st.setStatus(tt.status, "", "")
		if st.busy != tt.busy {
			t.Errorf("after %s: busy %v, want %v", tt.status, st.busy, tt.busy)
		}
	}
}
