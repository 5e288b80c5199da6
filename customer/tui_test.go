package customer_test

import (
	"context"
	"io"
	"sync"
	"testing"
	"time"

	"itdr-onboard/customer"
	"itdr-onboard/internal/testutil"
	"itdr-onboard/sim"
	"itdr-onboard/steps"
	"itdr-onboard/ui/tui"
)

type syncBuf = testutil.SyncBuffer

// The TUI drives a customer run like onboard's (partner onboard in a
// terminal): the consent bootstrap's screen, the steps, the final screen.
func TestTheTUIDrivesACustomerRun(t *testing.T) {
	t.Parallel()
	w := newWorld(t, scenario(cust{name: "Wingtip", tenant: sim.CustomerTenantPreset(sim.TenantReady)}))
	run, err := customer.New(w.deps, w.row(t, "Wingtip"), customer.Options{Yes: true, Interactive: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := run.Lock(); err != nil {
		t.Fatal(err)
	}
	defer run.Unlock()
	pr, pw := io.Pipe()
	defer pw.Close()
	out := &syncBuf{}
	r := steps.NewRunner(context.Background(), run.Executor, 8)
	finished := make(chan int, 1)
	var once sync.Once
	onChange := func(e *steps.Engine) { // on the TUI's goroutine
		if e.Finished() {
			once.Do(func() { finished <- steps.ExitCode(e) })
		}
	}
	done := make(chan int, 1)
	go func() {
		done <- tui.Run(context.Background(), run.Engine, r, tui.Options{Input: pr, Output: out, NoColor: true, Yes: true, OnChange: onChange})
	}()
	var code int
	select {
	case code = <-finished:
	case <-time.After(20 * time.Second):
		t.Fatal("the TUI did not drive the customer run to its end")
	}
	_, _ = pw.Write([]byte{0x03}) // leave the final screen
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the TUI did not close")
	}
	o, rec := run.Finish(r, code, nil)
	if o.Result != customer.ResultHealthy || rec.Path == "" {
		t.Fatalf("%s (exit %d): %s", o.Result, o.ExitCode, o.Message)
	}
}
