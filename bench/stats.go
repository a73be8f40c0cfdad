package bench

import (
	"slices"
	"time"
)

// Percentiles summarises a set of durations, in milliseconds. Percentiles
// are nearest-rank: P99 is the smallest value with at least 99% of the
// values at or below it.
type Percentiles struct {
	N    int     `json:"n"`
	Min  float64 `json:"min_ms"`
	P50  float64 `json:"p50_ms"`
	P90  float64 `json:"p90_ms"`
	P99  float64 `json:"p99_ms"`
	P999 float64 `json:"p999_ms"`
	Max  float64 `json:"max_ms"`
	Mean float64 `json:"mean_ms"`
}

// percentiles summarises ds (which it sorts in place).
func percentiles(ds []time.Duration) Percentiles {
	if len(ds) == 0 {
		return Percentiles{}
	}
	slices.Sort(ds)
	rank := func(q float64) float64 {
		// nearest rank: ceil(q*n), 1-based
		k := int(q*float64(len(ds)) + 0.999999999)
		k = min(max(k, 1), len(ds))
		return ms(ds[k-1])
	}
	var sum time.Duration
	for _, d := range ds {
		sum += d
	}
	return Percentiles{
		N:    len(ds),
		Min:  ms(ds[0]),
		P50:  rank(0.50),
		P90:  rank(0.90),
		P99:  rank(0.99),
		P999: rank(0.999),
		Max:  ms(ds[len(ds)-1]),
		Mean: ms(sum / time.Duration(len(ds))),
	}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// perSecond is n over d, or 0 for an empty interval.
func perSecond(n int64, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}
