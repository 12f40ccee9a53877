package bench

import (
	"fmt"
	"math"
	"slices"
	"time"
)

// Summary describes a set of latencies.
type Summary struct {
	N    int           `json:"n"`
	Min  time.Duration `json:"min"`
	Mean time.Duration `json:"mean"`
	P50  time.Duration `json:"p50"`
	P90  time.Duration `json:"p90"`
	P99  time.Duration `json:"p99"`
	Max  time.Duration `json:"max"`
}

// Summarize returns the summary of ds, which it does not change. The
// percentiles are nearest-rank: the p-th percentile of n values is the
// ceil(p/100*n)-th smallest, so it is always one of the values measured
// and P99 of fewer than 100 values is the maximum.
func Summarize(ds []time.Duration) Summary {
	if len(ds) == 0 {
		return Summary{}
	}
	sorted := slices.Clone(ds)
	slices.Sort(sorted)
	var sum time.Duration
	for _, d := range sorted {
		sum += d
	}
	return Summary{
		N:    len(sorted),
		Min:  sorted[0],
		Mean: sum / time.Duration(len(sorted)),
		P50:  Percentile(sorted, 50),
		P90:  Percentile(sorted, 90),
		P99:  Percentile(sorted, 99),
		Max:  sorted[len(sorted)-1],
	}
}

// Percentile returns the nearest-rank p-th percentile (0 < p <= 100) of
// sorted, which must be in ascending order: the ceil(p/100*n)-th smallest
// value. It returns 0 for no values.
func Percentile(sorted []time.Duration, p float64) time.Duration {
	n := len(sorted)
	if n == 0 {
		return 0
	}
	rank := int(math.Ceil(p / 100 * float64(n)))
	rank = min(max(rank, 1), n)
	return sorted[rank-1]
}

// String is the summary on one line, in milliseconds.
func (s Summary) String() string {
	return fmt.Sprintf("p50 %s  p90 %s  p99 %s  max %s  (mean %s, min %s, n=%d)",
		ms(s.P50), ms(s.P90), ms(s.P99), ms(s.Max), ms(s.Mean), ms(s.Min), s.N)
}

// ms formats d in milliseconds with one decimal.
func ms(d time.Duration) string {
	return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond))
}
