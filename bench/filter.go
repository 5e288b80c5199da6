package main

import (
	"fmt"
	"runtime"
	"sort"
	"time"

	"itdr-onboard/steps"
	"itdr-onboard/ui/tui"
)

// filterResult is the organization picker's per-keystroke filter cost.
type filterResult struct {
	Orgs      int
	Keys      int
	Worst     time.Duration // the slowest keystroke (median over repetitions)
	Median    time.Duration // median keystroke
	Build     time.Duration // NewOrgFilter, once per question
	WorstText string
}

// orgChoices is Contoso Ltd plus n generated organizations named like the
// simulator's many-orgs scenario ("Customer 00001" …).
func orgChoices(n int) []steps.Choice {
	out := []steps.Choice{{Value: "org_contoso", Label: "Contoso Ltd"}}
	for i := 1; i <= n; i++ {
		out = append(out, steps.Choice{Value: fmt.Sprintf("org_gen_%05d", i), Label: fmt.Sprintf("Customer %05d", i)})
	}
	return out
}

// keystrokes is what a technician types: each prefix of a few searches
// (one that matches everything at first, an exact id, a fuzzy one), with a
// backspace in the middle.
func keystrokes() []string {
	var qs []string
	for _, word := range []string{"customer 04321", "contoso", "org_gen_04999", "cu 9"} {
		for i := 1; i <= len(word); i++ {
			qs = append(qs, word[:i])
		}
		qs = append(qs, word[:len(word)-1], "")
	}
	return qs
}

// measureFilter times tui.OrgFilter.Filter for every keystroke, reps times.
func measureFilter(n, reps int) filterResult {
	choices := orgChoices(n)
	runtime.GC()
	t0 := time.Now()
	f := tui.NewOrgFilter(choices)
	build := time.Since(t0)
	keys := keystrokes()
	per := make([][]time.Duration, len(keys))
	for r := 0; r < reps; r++ {
		for i, q := range keys {
			t := time.Now()
			res := f.Filter(q)
			per[i] = append(per[i], time.Since(t))
			if len(res) > len(choices) {
				panic("filter returned more than it was given")
			}
		}
	}
	out := filterResult{Orgs: len(choices), Keys: len(keys), Build: build}
	var meds []time.Duration
	for i, ds := range per {
		m := median(ds)
		meds = append(meds, m)
		if m > out.Worst {
			out.Worst, out.WorstText = m, keys[i]
		}
	}
	sort.Slice(meds, func(i, j int) bool { return meds[i] < meds[j] })
	out.Median = meds[len(meds)/2]
	return out
}
