package text

import (
	"strings"
	"testing"
	"time"
)

func TestClockOneFormat(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 5, 4, 12, 0, 0, 0, time.Local)
	if got := Clock(now.Add(-90*time.Minute), now); got != "10:30:00" {
		t.Errorf("same day: %q", got)
	}
	if got := Clock(now.AddDate(0, 0, 1), now); got != "2026-05-05 12:00" {
		t.Errorf("another day: %q", got)
	}
	if got := Clock(time.Time{}, now); got != "an unknown time" {
		t.Errorf("zero time: %q", got)
	}
}

func TestClockTimesRewritesAServiceStamp(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 5, 4, 12, 0, 0, 0, time.UTC)
	at := now.Add(2 * time.Hour)
	in := "Mapped; waiting for the first audit data (expected by " + at.Format(time.RFC3339) + ", can take up to 24 hours)."
	got := ClockTimes(in, now)
	want := "(expected by " + Clock(at, now) + ", can take"
	if !strings.Contains(got, want) || strings.Contains(got, "T14:00:00Z") {
		t.Errorf("ClockTimes = %q, want it to contain %q", got, want)
	}
	if s := "no time here"; ClockTimes(s, now) != s {
		t.Errorf("changed a sentence without a time")
	}
	frac := "at 2026-05-04T11:59:30.123+00:00 ok"
	if got := ClockTimes(frac, now); got != "at "+Clock(now.Add(-30*time.Second), now)+" ok" {
		t.Errorf("fractional stamp: %q", got)
	}
}
