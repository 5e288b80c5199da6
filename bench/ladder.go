package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"itdr-onboard/cli"
	"itdr-onboard/sim"
)

// Row 10 (issue 19): each evidence rung is shown within one poll round of
// the moment the simulator makes it provable. One onboarding of `typical`
// (directory audit 1 s, unified audit log 3 s, platform healthy 5 s after
// mapping) with --poll-base 50ms: the health step looks at the waiting
// rungs, then the platform, every round; rounds start 50 ms apart and
// double up to 5 min. Provable: rung 3 = the first Entra write + the
// directory latency, rung 4 = the first Exchange role-fix cmdlet + the
// unified-audit latency, rung 5 = the mapping + healthy_after. Shown = the
// time of the --json "evidence" event saying proven. Bound = the round
// interval in effect (the health event's next_check_s) + 4 reads at the
// injected latency (three rungs and the platform, one after the other).
func measureLadder(ctx context.Context, tmp string, latency time.Duration) []row {
	const healthy = 5 * time.Second
	fail := func(why string) []row {
		return []row{notMeasured("10", "evidence rungs shown after provable", why)}
	}
	base, err := sim.LoadScenario("typical")
	if err != nil {
		return fail(err.Error())
	}
	env, err := startScenario("typical", tmp, latency, healthy)
	if err != nil {
		return fail(err.Error())
	}
	defer env.Close()
	var out, errb bytes.Buffer
	io := cli.IO{In: strings.NewReader(""), Out: &out, Err: &errb, Env: func(string) string { return "" }}
	if code := cli.Run(ctx, onboardArgs(env.epFile, filepath.Join(env.dir, "state"), "--json"), io); code != 0 {
		return fail(fmt.Sprintf("onboarding exited %d", code))
	}
	evs, err := parseEvents(&out)
	if err != nil {
		return fail(err.Error())
	}
	var firstGraph, firstExo, mapped time.Time
	for _, c := range env.srv.State().Changes() {
		switch {
		case c.Service == "graph" && firstGraph.IsZero():
			firstGraph = c.Time
		case c.Service == "exchange" && firstExo.IsZero():
			firstExo = c.Time
		case c.Service == "platform" && strings.HasPrefix(c.Op, "POST") && mapped.IsZero():
			mapped = c.Time
		}
	}
	provable := map[int]time.Time{
		3: firstGraph.Add(base.Audit.DirectoryAuditLatency.D()),
		4: firstExo.Add(base.Audit.UnifiedAuditLatency.D()),
		5: mapped.Add(healthy),
	}
	var rows []row
	for n := 3; n <= 5; n++ {
		shown, interval, ok := rungShown(evs, n)
		name := fmt.Sprintf("evidence rung %d shown after it is provable", n)
		if !ok || provable[n].IsZero() {
			rows = append(rows, notMeasured(fmt.Sprintf("10.%d", n), name, "no proof seen"))
			continue
		}
		r := row{ID: fmt.Sprintf("10.%d", n), Name: name + fmt.Sprintf(" (round interval %s)", ms(interval))}
		r.judge(max(shown.Sub(provable[n]), 0), interval+4*latency, 1.0)
		rows = append(rows, r)
	}
	return rows
}

// rungShown is when rung n was first reported proven, and the health
// round interval in effect then (the last next_check_s before it).
func rungShown(evs []event, n int) (time.Time, time.Duration, bool) {
	interval := 50 * time.Millisecond
	for _, e := range evs {
		var f struct {
			NextCheckS float64 `json:"next_check_s"`
			Rung       struct {
				N     int    `json:"rung"`
				State string `json:"state"`
			} `json:"rung"`
		}
		if json.Unmarshal([]byte(e.raw), &f) != nil {
			continue
		}
		if e.Type == "health" && f.NextCheckS > 0 {
			interval = time.Duration(f.NextCheckS * float64(time.Second))
		}
		if e.Type == "evidence" && f.Rung.N == n && f.Rung.State == "proven" {
			return e.Time, interval, true
		}
	}
	return time.Time{}, 0, false
}
