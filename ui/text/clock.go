package text

import (
	"regexp"
	"sync"
	"time"
)

// Clock is the one way times are shown to people outside the TUI (line
// mode, --json's human fields aside, status, check): the local clock time
// ("15:04:05") when t falls on now's day, else the local date and minute
// ("2006-01-02 15:04"). A zero time is "an unknown time", never
// "0001-01-01".
func Clock(t, now time.Time) string {
	if t.IsZero() || t.Year() <= 1 {
		return "an unknown time"
	}
	t, now = t.Local(), now.Local()
	if t.YearDay() == now.YearDay() && t.Year() == now.Year() {
		return t.Format("15:04:05")
	}
	return t.Format("2006-01-02 15:04")
}

// rfc3339RE matches an RFC 3339 timestamp in a service's sentence
// ("expected by 2026-11-26T09:00:00Z").
var rfc3339RE = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`\b\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})`)
})

// ClockTimes rewrites every RFC 3339 timestamp in s (a sentence from an
// API, such as the platform's health reason) as Clock shows times, so one
// line never mixes the service's UTC stamp with the wizard's clock time.
func ClockTimes(s string, now time.Time) string {
	if len(s) < 20 {
		return s
	}
	return rfc3339RE().ReplaceAllStringFunc(s, func(m string) string {
		t, err := time.Parse(time.RFC3339Nano, m)
		if err != nil {
			return m
		}
		return Clock(t, now)
	})
}
