package bench

import (
	"slices"
	"testing"
	"time"
)

func TestPercentile(t *testing.T) {
	t.Parallel()
	ms := func(ns ...int) []time.Duration {
		var out []time.Duration
		for _, n := range ns {
			out = append(out, time.Duration(n)*time.Millisecond)
		}
		return out
	}
	hundred := make([]int, 100)
	for i := range hundred {
		hundred[i] = i + 1
	}
	tests := []struct {
		name   string
		sorted []time.Duration
		p      float64
		want   time.Duration
	}{
		{name: "none", sorted: nil, p: 50, want: 0},
		{name: "one", sorted: ms(7), p: 99, want: 7 * time.Millisecond},
		{name: "median of four is the second", sorted: ms(1, 2, 3, 4), p: 50, want: 2 * time.Millisecond},
		{name: "median of five is the third", sorted: ms(1, 2, 3, 4, 5), p: 50, want: 3 * time.Millisecond},
		{name: "p90 of ten is the ninth", sorted: ms(1, 2, 3, 4, 5, 6, 7, 8, 9, 10), p: 90, want: 9 * time.Millisecond},
		{name: "p99 of fewer than 100 is the maximum", sorted: ms(1, 2, 3, 4, 5, 6, 7, 8, 9, 10), p: 99, want: 10 * time.Millisecond},
		{name: "p99 of 100 is the 99th", sorted: ms(hundred...), p: 99, want: 99 * time.Millisecond},
		{name: "p100 is the maximum", sorted: ms(hundred...), p: 100, want: 100 * time.Millisecond},
		{name: "p0 is the minimum", sorted: ms(hundred...), p: 0, want: 1 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := Percentile(tt.sorted, tt.p); got != tt.want {
				t.Errorf("got %s, want %s", got, tt.want)
			}
		})
	}
}

func TestSummarize(t *testing.T) {
	t.Parallel()
	// 1..1000 ms, shuffled: the percentiles are their ranks.
	var ds []time.Duration
	for i := 1000; i >= 1; i-- {
		ds = append(ds, time.Duration((i*7919)%1000+1)*time.Millisecond)
	}
	before := slices.Clone(ds)
	got := Summarize(ds)
	want := Summary{
		N: 1000, Min: time.Millisecond, Mean: 500500 * time.Microsecond,
		P50: 500 * time.Millisecond, P90: 900 * time.Millisecond, P99: 990 * time.Millisecond, Max: 1000 * time.Millisecond,
	}
	if got != want {
		t.Errorf("got %+v, want %+v", got, want)
	}
	if !slices.Equal(ds, before) {
		t.Error("Summarize reordered its argument")
	}
	if got := Summarize(nil); got != (Summary{}) {
		t.Errorf("no values: got %+v, want the zero Summary", got)
	}
}
