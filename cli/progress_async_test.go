package cli

import (
	"testing"
	"time"

	"itdr-onboard/state"
)

// Progress files after the first are written off the front-end's loop; the
// last one handed over is the one on disk once the run releases the
// tenant (flushSaves), whatever the writer was doing.
func TestProgressSavesLandInOrderBeforeRelease(t *testing.T) {
	t.Parallel()
	st := state.Store{Dir: t.TempDir()}
	rg := &runGuard{store: st, now: time.Now}
	rg.prog.TenantID = contosoID
	for i, step := range []string{"prereqs", "signin", "roles", "mapping", "health"} {
		rg.prog.Completed = append(rg.prog.Completed, step)
		rg.prog.Current = step
		rg.save()
		if i == 0 {
			// The first is written at once.
			if p, err := st.LoadProgress(contosoID); err != nil || p == nil || p.Current != "prereqs" {
				t.Fatalf("first progress: %+v, %v", p, err)
			}
		}
	}
	rg.prog.Finished = true
	rg.save()
	rg.flushSaves()
	p, err := st.LoadProgress(contosoID)
	if err != nil || p == nil || !p.Finished || p.Current != "health" || len(p.Completed) != 5 {
		t.Fatalf("progress after flush: %+v, %v", p, err)
	}
}
