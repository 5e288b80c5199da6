package plain

import (
	"fmt"
	"sync"
	"time"

	"itdr-onboard/steps"
	"itdr-onboard/ui/text"
)

// ladderSeen remembers what was last said of each evidence rung, so a rung
// is reported when its state changes, not on every poll.
type ladderSeen struct {
	mu   sync.Mutex
	said map[string]string
}

// changed returns the rungs whose state differs from what was last said.
func (l *ladderSeen) changed(rungs []steps.LadderRung) []steps.LadderRung {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.said == nil {
		l.said = map[string]string{}
	}
	var out []steps.LadderRung
	for _, r := range rungs {
		key := fmt.Sprintf("%s|%t|%t", r.State, r.Late, r.Account)
		if r.State == "" || l.said[r.ID] == key {
			continue
		}
		l.said[r.ID] = key
		out = append(out, r)
	}
	return out
}

// RungLine is one evidence rung in words (plain mode and `status`).
func RungLine(r steps.LadderRung, now time.Time) string {
	head := fmt.Sprintf("evidence %d/5 %s: ", r.N, r.Title)
	switch r.State {
	case steps.RungProven:
		return head + "proven at " + clock(r.ProvenAt, now) + " — " + text.Line(r.Summary)
	case steps.RungCannot:
		s := head + "cannot be proven"
		if r.Account {
			s += " with this account"
		}
		s += " — " + text.Line(r.Summary)
		if r.Remedy != "" {
			s += "; what to do: " + text.Line(r.Remedy)
		}
		return s
	case steps.RungNoSignIn:
		return head + "needs a sign-in — " + text.Line(r.Summary)
	}
	s := head + fmt.Sprintf("waiting (typically %s, at worst %s)", r.Typical, r.Worst)
	if r.Summary != "" {
		s += " — " + text.Line(r.Summary)
	}
	if r.Remedy != "" {
		s += "; " + text.Line(r.Remedy)
	}
	if r.Late {
		s += "; past its worst case: " + text.Line(r.IfLate)
	}
	return s
}

func healthLadder(snap steps.Snapshot) []steps.LadderRung {
	if d, ok := snap.Detail.(*steps.HealthDetail); ok {
		return d.Ladder
	}
	return nil
}
