//go:build unix

package cli

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"itdr-onboard/sim"
	"itdr-onboard/state"
)

// Issue 16 §7: SIGHUP — what a dropped SSH session sends — is handled like
// ctrl+c: the run ends with 130, the progress is saved (unfinished, so the
// next run offers to resume), the receipt of the changes made is written and
// the tenant's lock is released.
func TestSIGHUPIsHandledLikeInterrupt(t *testing.T) {
	t.Parallel()
	ts := startSim(t, "typical", func(sc *sim.Scenario) {
		sc.Platform.HealthyAfter = sim.Duration(time.Hour) // the run is waiting when the signal comes
	})
	args := []string{"onboard", "--endpoints", ts.ep, "--state-dir", ts.stateDir, "--poll-base", "100ms",
		"--json", "--yes", "--org", "Contoso Ltd", "--tenant", contosoID}
	raw, _ := json.Marshal(args)
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), "ITDR_ONBOARD_HELPER=1", "ITDR_ONBOARD_HELPER_ARGS="+string(raw))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var seen []string
	signalled := false
	sc := bufio.NewScanner(stdout)
	sc.Buffer(make([]byte, 1<<16), 1<<22)
	for sc.Scan() {
		seen = append(seen, sc.Text())
		var m map[string]any
		if json.Unmarshal(sc.Bytes(), &m) == nil && m["type"] == "step_started" && m["step"] == "health" && !signalled {
			if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
				t.Fatal(err)
			}
			signalled = true
		}
	}
	io.Copy(io.Discard, stdout)
	err = cmd.Wait()
	if !signalled {
		t.Fatalf("the run ended before the health wait\n%s\n%s", strings.Join(seen, "\n"), stderr.String())
	}
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		t.Fatalf("after SIGHUP: %v\n%s", err, strings.Join(seen, "\n"))
	}
	if code := ee.ExitCode(); code != ExitInterrupted {
		t.Fatalf("exit %d (%v), want %d\n%s\n%s", code, ee, ExitInterrupted, strings.Join(seen, "\n"), stderr.String())
	}
	st := state.Store{Dir: ts.stateDir}
	if _, err := st.ReadLock(contosoID); !os.IsNotExist(err) {
		t.Errorf("the lock was not released: %v", err)
	}
	prog, err := st.LoadProgress(contosoID)
	if err != nil || prog == nil || prog.Finished {
		t.Errorf("progress after SIGHUP: %+v, %v", prog, err)
	}
	receipts, _ := filepath.Glob(filepath.Join(st.TenantDir(contosoID), "receipt-*.json"))
	// One receipt for the onboarding: the signal during the health wait
	// rewrites it, never adds a second naming the same changes (§2).
	if len(receipts) != 1 {
		t.Errorf("%d receipts after SIGHUP in the health wait, want 1: %v (stderr %s)", len(receipts), receipts, stderr.String())
	}
	if last := seen[len(seen)-1]; !strings.Contains(last, `"finished"`) || !strings.Contains(last, `"exit_code":130`) {
		t.Errorf("last event %s", last)
	}
}
