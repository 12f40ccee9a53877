package locks

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/stackflow/stackflow/internal/testaws"
)

// clock is a settable time for leases.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

var t0 = time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)

func store(t *testing.T) (*Store, *clock) {
	t.Helper()
	cfg := testaws.Start(t)
	s := New(dynamodb.NewFromConfig(cfg), testaws.Table(t, cfg, "locks"))
	c := &clock{t: t0}
	s.now = c.now
	return s, c
}

func claim(exec, commit string, started time.Duration) Claim {
	return Claim{Stack: "hello-staging", Region: "us-east-1", Repository: "acme/hello", Branch: "main",
		Environment: "staging", Execution: exec, Commit: commit, StartedAt: t0.Add(started)}
}

func TestOneHolderAtATime(t *testing.T) {
	t.Parallel()
	s, _ := store(t)
	ctx := context.Background()
	a, b := claim("run-a", "aaaaaaa", 0), claim("run-b", "bbbbbbb", time.Second)
	if held, _, err := s.Acquire(ctx, a, time.Minute); err != nil || !held {
		t.Fatalf("a: got held %v, %v; want the free lock", held, err)
	}
	held, h, err := s.Acquire(ctx, b, time.Minute)
	if err != nil || held {
		t.Fatalf("b: got held %v, %v; want it refused while a holds the lock", held, err)
	}
	if h.Execution != "run-a" || h.Commit != "aaaaaaa" || !h.ExpiresAt.Equal(t0.Add(time.Minute)) {
		t.Errorf("got holder %+v, want run-a until %s", h, t0.Add(time.Minute))
	}
	if held, _, err := s.Acquire(ctx, a, time.Minute); err != nil || !held {
		t.Errorf("a again: got held %v, %v; want the holder to keep its lock", held, err)
	}
	if err := s.Release(ctx, b); err != nil {
		t.Fatal(err)
	}
	if held, _, _ := s.Acquire(ctx, b, time.Minute); held {
		t.Error("b released a lock it did not hold")
	}
	if err := s.Release(ctx, a); err != nil {
		t.Fatal(err)
	}
	if held, _, err := s.Acquire(ctx, b, time.Minute); err != nil || !held {
		t.Errorf("b after a released: got held %v, %v; want the lock", held, err)
	}
}

// TestRacersOneWinner has many runs take one free lock at once: the
// conditional write lets exactly one win.
func TestRacersOneWinner(t *testing.T) {
	t.Parallel()
	s, _ := store(t)
	var wg sync.WaitGroup
	var mu sync.Mutex
	winners := 0
	for i := range 20 {
		wg.Go(func() {
			held, _, err := s.Acquire(context.Background(), claim("run-"+string(rune('a'+i)), "c", time.Duration(i)), time.Minute)
			if err != nil {
				t.Error(err)
			}
			if held {
				mu.Lock()
				winners++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if winners != 1 {
		t.Errorf("got %d holders, want 1", winners)
	}
}

func TestLeaseLapses(t *testing.T) {
	t.Parallel()
	s, clk := store(t)
	ctx := context.Background()
	dead, next := claim("run-dead", "deadbee", 0), claim("run-next", "ccccccc", time.Second)
	if held, _, _ := s.Acquire(ctx, dead, 10*time.Second); !held {
		t.Fatal("want the free lock")
	}
	clk.add(9 * time.Second)
	if held, _, _ := s.Acquire(ctx, next, time.Minute); held {
		t.Fatal("got the lock before the lease lapsed")
	}
	clk.add(2 * time.Second)
	if held, _, err := s.Acquire(ctx, next, time.Minute); err != nil || !held {
		t.Fatalf("got held %v, %v; want the lock once the dead holder's lease lapsed", held, err)
	}
	if err := s.Renew(ctx, dead, time.Minute, false); !errors.Is(err, ErrNotHeld) {
		t.Errorf("the dead holder renewed: got %v, want ErrNotHeld", err)
	}
}

func TestRenewKeepsTheLock(t *testing.T) {
	t.Parallel()
	s, clk := store(t)
	ctx := context.Background()
	a, b := claim("run-a", "aaaaaaa", 0), claim("run-b", "bbbbbbb", time.Second)
	s.Acquire(ctx, a, 10*time.Second)
	for range 5 {
		clk.add(8 * time.Second)
		if err := s.Renew(ctx, a, 10*time.Second, false); err != nil {
			t.Fatalf("renew: %v", err)
		}
		if held, _, _ := s.Acquire(ctx, b, time.Minute); held {
			t.Fatal("another run took a lock its holder kept renewing")
		}
	}
}

func TestSuperseding(t *testing.T) {
	t.Parallel()
	s, _ := store(t)
	ctx := context.Background()
	older, newer := claim("run-old", "0000000", 0), claim("run-new", "1111111", time.Second)
	if err := s.Register(ctx, older); err != nil {
		t.Fatalf("older first: %v", err)
	}
	if err := s.Register(ctx, older); err != nil {
		t.Fatalf("older again: %v, want it to stay the newest", err)
	}
	if err := s.Register(ctx, newer); err != nil {
		t.Fatalf("newer: %v", err)
	}
	var sup *SupersededError
	if err := s.Register(ctx, older); !errors.As(err, &sup) || sup.Newer.Commit != "1111111" || sup.Newer.Execution != "run-new" {
		t.Fatalf("older after newer: got %v, want superseded by 1111111", err)
	}
	// A retry of the newer run claims its start: it takes its place.
	retry := newer
	retry.Execution = "run-new-retry"
	if err := s.Register(ctx, retry); err != nil {
		t.Fatalf("a retry of the newest: got %v, want it registered in its place", err)
	}
	// A retry of the older one is still older.
	retry = older
	retry.Execution = "run-old-retry"
	if err := s.Register(ctx, retry); !errors.As(err, &sup) || sup.Newer.Execution != "run-new-retry" {
		t.Fatalf("a retry of the older: got %v, want superseded by the newer's retry", err)
	}
	// Another commit with the very same start is not a retry.
	twin := newer
	twin.Execution, twin.Commit = "run-twin", "2222222"
	if err := s.Register(ctx, twin); !errors.As(err, &sup) {
		t.Fatalf("another commit started at the same instant: got %v, want superseded", err)
	}
	// Another branch, or another environment's stack, is another race.
	other := older
	other.Branch = "release/1"
	if err := s.Register(ctx, other); err != nil {
		t.Errorf("other branch: got %v, want nil", err)
	}
	other = older
	other.Stack = "hello-prod"
	if err := s.Register(ctx, other); err != nil {
		t.Errorf("other stack: got %v, want nil", err)
	}
}

func TestTakeOverFromAnApprovalWait(t *testing.T) {
	t.Parallel()
	s, _ := store(t)
	ctx := context.Background()
	older, newer := claim("run-old", "0000000", 0), claim("run-new", "1111111", time.Second)
	s.Acquire(ctx, older, time.Minute)
	_, h, _ := s.Acquire(ctx, newer, time.Minute)
	if ok, err := s.TakeOver(ctx, newer, h, time.Minute); err != nil || ok {
		t.Fatalf("got %v, %v; want no take-over while the holder deploys", ok, err)
	}
	if err := s.Renew(ctx, older, time.Hour, true); err != nil {
		t.Fatal(err)
	}
	_, h, _ = s.Acquire(ctx, newer, time.Minute)
	if !h.Awaiting {
		t.Fatalf("got holder %+v, want it awaiting approval", h)
	}
	if ok, err := s.TakeOver(ctx, newer, h, time.Minute); err != nil || !ok {
		t.Fatalf("got %v, %v; want the lock taken over", ok, err)
	}
	if err := s.Renew(ctx, older, time.Hour, false); !errors.Is(err, ErrNotHeld) {
		t.Errorf("the older run renewed after the take-over: got %v, want ErrNotHeld", err)
	}
	if held, _, _ := s.Acquire(ctx, newer, time.Minute); !held {
		t.Error("the newer run does not hold the lock it took over")
	}
}
