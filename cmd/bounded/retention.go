package main

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

const retentionUsage = "how long the event streams keep events, e.g. 720h or 30d; 0 or empty keeps them forever, so that " +
	"'bounded reporting rebuild' reaches back to the first event (default $BOUNDED_RETENTION, else forever)"

// parseRetention reads a stream retention: a Go duration, a number of
// days ("30d"), or "0"/"" for forever (0).
func parseRetention(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "" || s == "0" || s == "forever" {
		return 0, nil
	}
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil || n < 1 {
			return 0, fmt.Errorf("%q: want a whole number of days, a duration (720h) or 0 for forever", s)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("%q: want a duration (720h), a number of days (30d) or 0 for forever", s)
	}
	if d > 0 && d < 10*time.Minute {
		return 0, fmt.Errorf("%q: want at least 10m (the relay's duplicate window must fit in it)", s)
	}
	return d, nil
}
