package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"time"

	"itdr-onboard/sim"
)

// span is one request as the simulator saw it: from the moment its handler
// was entered (after the TLS handshake and the request headers) to the
// moment the response was written, injected latency included.
type span struct {
	Start, End time.Time
	Label      string
}

func spansOf(recs []sim.RequestRecord) []span {
	out := make([]span, 0, len(recs))
	for _, r := range recs {
		d := time.Duration(r.LatencyMS * float64(time.Millisecond))
		out = append(out, span{Start: r.Time, End: r.Time.Add(d), Label: r.Method + " " + r.Path})
	}
	return out
}

// window keeps the spans that start in [from, to).
func window(sp []span, from, to time.Time) []span {
	var out []span
	for _, s := range sp {
		if !s.Start.Before(from) && s.Start.Before(to) {
			out = append(out, s)
		}
	}
	return out
}

// chain returns the longest sequence of requests of which each started
// after the previous one had finished: the requests that were, as the
// wizard ran them, one after another. No schedule of these requests can
// finish faster than len(chain) × latency. Greedy by earliest end is
// optimal for the maximum number of pairwise non-overlapping intervals.
// A tolerance absorbs clock granularity between "end" and the next
// "start" of dependent requests.
func chain(sp []span) []span {
	s := append([]span(nil), sp...)
	sort.Slice(s, func(i, j int) bool { return s[i].End.Before(s[j].End) })
	const tol = 200 * time.Microsecond
	var out []span
	var last time.Time
	for _, x := range s {
		if len(out) == 0 || !x.Start.Before(last.Add(-tol)) {
			out = append(out, x)
			last = x.End
		}
	}
	return out
}

// event is one line of the wizard's --json output.
type event struct {
	Time       time.Time `json:"time"`
	Step       string    `json:"step"`
	Type       string    `json:"type"`
	ID         string    `json:"id"`
	Outcome    string    `json:"outcome"`
	DurationMS float64   `json:"duration_ms"`
	UserCode   string    `json:"user_code"`
	raw        string
}

func parseEvents(r io.Reader) ([]event, error) {
	var out []event
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		var e event
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			return out, fmt.Errorf("not a JSON event: %.80q", line)
		}
		e.raw = line
		out = append(out, e)
	}
	return out, sc.Err()
}

func findEvent(evs []event, typ string) (event, bool) {
	for _, e := range evs {
		if e.Type == typ {
			return e, true
		}
	}
	return event{}, false
}

// checkTiming is when one check ran, from its JSON event (the event is
// emitted when it ends; duration_ms says how long it ran).
type checkTiming struct {
	ID         string
	Start, End time.Time
}

func checkTimings(evs []event, ids map[string]bool) []checkTiming {
	var out []checkTiming
	for _, e := range evs {
		if e.Type != "check" || !ids[e.ID] {
			continue
		}
		d := time.Duration(e.DurationMS * float64(time.Millisecond))
		out = append(out, checkTiming{ID: e.ID, Start: e.Time.Add(-d), End: e.Time})
	}
	return out
}

// wallOf is the time from the first start to the last end.
func wallOf(ts []checkTiming) time.Duration {
	if len(ts) == 0 {
		return 0
	}
	lo, hi := ts[0].Start, ts[0].End
	for _, t := range ts[1:] {
		if t.Start.Before(lo) {
			lo = t.Start
		}
		if t.End.After(hi) {
			hi = t.End
		}
	}
	return hi.Sub(lo)
}

// repeat is one read issued more than once.
type repeat struct {
	Key string
	N   int
	// Redundant counts the repetitions with no write anywhere between
	// them and the previous identical read: the answer cannot have changed.
	Redundant int
}

// repeatedReads finds reads (GET and HEAD, Exchange Get-* cmdlets, GETs
// inside a $batch) that were sent more than once. Identity-platform GETs
// (openid-configuration, MSAL's business) are left out. reqs must be in
// send order.
func repeatedReads(reqs []sniffed) []repeat {
	type state struct {
		n, redundant int
		writesAtLast int
	}
	seen := map[string]*state{}
	var order []string
	writes := 0
	note := func(k string) {
		st, ok := seen[k]
		if !ok {
			seen[k] = &state{n: 1, writesAtLast: writes}
			order = append(order, k)
			return
		}
		st.n++
		if st.writesAtLast == writes {
			st.redundant++
		}
		st.writesAtLast = writes
	}
	for _, r := range reqs {
		if isIdentityPath(r.Path) && r.Method != http.MethodHead {
			// Token and discovery traffic belongs to MSAL.
			continue
		}
		if len(r.Batch) > 0 {
			for _, b := range r.Batch {
				if strings.HasPrefix(b, "GET ") {
					note("batch " + b)
				}
			}
			if r.isWrite() {
				writes++
			}
			continue
		}
		if k, read := r.readKey(); read {
			note(k)
		} else if r.isWrite() {
			writes++
		}
	}
	var out []repeat
	for _, k := range order {
		if st := seen[k]; st.n > 1 {
			out = append(out, repeat{Key: k, N: st.n, Redundant: st.redundant})
		}
	}
	return out
}

// countBy counts requests per endpoint group.
func countBy(recs []sim.RequestRecord) map[string]int {
	m := map[string]int{}
	for _, r := range recs {
		m[r.Group]++
	}
	return m
}

func fmtCounts(m map[string]int) string {
	var parts []string
	for _, g := range []string{sim.GroupIdentity, sim.GroupGraph, sim.GroupExchange, sim.GroupPlatform} {
		if m[g] > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", g, m[g]))
		}
	}
	return strings.Join(parts, ", ")
}

func ms(d time.Duration) string {
	return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000)
}

func median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}
