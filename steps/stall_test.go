package steps

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"itdr-onboard/auth"
)

// stallAuth's AwaitDeviceCode fails with a network error n times, then
// signs in.
type stallAuth struct {
	Authenticator
	mu    sync.Mutex
	n     int
	calls []string // user codes awaited
}

func (a *stallAuth) AwaitDeviceCode(_ context.Context, dc auth.DeviceCode) (auth.Account, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.calls = append(a.calls, dc.UserCode)
	if len(a.calls) <= a.n {
		return auth.Account{}, &auth.Error{Class: auth.ClassNetwork, Message: "Cannot reach login.microsoftonline.com.", Err: errors.New("timeout")}
	}
	return auth.Account{Username: "admin@contoso.onmicrosoft.com", TenantID: "t1"}, nil
}

// Issue 16 §6: while the device code is valid, Microsoft's sign-in service
// not answering is said as such and the executor keeps polling with the SAME
// code (no new code, no "expired"); the sign-in step shows the notice and
// issues nothing new.
func TestStalledTokenEndpointKeepsTheCode(t *testing.T) {
	t.Parallel()
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	fa := &stallAuth{n: 2}
	var slept []time.Duration
	x := &Executor{Auth: fa, Now: func() time.Time { return now },
		Sleep: func(_ context.Context, d time.Duration) error { slept = append(slept, d); now = now.Add(d); return nil }}
	code := auth.DeviceCode{UserCode: "ABCD-EFGH", ExpiresOn: now.Add(15 * time.Minute)}
	var emitted []Event
	ev := x.Do(context.Background(), AwaitDeviceCode{Code: code}, func(e Event) { emitted = append(emitted, e) })
	if _, ok := ev.(SignedIn); !ok {
		t.Fatalf("final event %#v", ev)
	}
	if len(emitted) != 2 || len(slept) != 2 || strings.Join(fa.calls, ",") != "ABCD-EFGH,ABCD-EFGH,ABCD-EFGH" {
		t.Fatalf("emitted %v, slept %v, awaited %v", emitted, slept, fa.calls)
	}

	// The step: the notice says what happened; no new code is asked for.
	s := &Session{}
	p := NewSignInStep()
	p.Enter(s)
	p.Handle(s, DeviceCodeIssued{Code: code})
	if effs := p.Handle(s, emitted[0]); len(effs) != 0 {
		t.Errorf("a stall produced effects %#v", effs)
	}
	d := p.Snapshot(s).Detail.(*SignInDetail)
	if !strings.Contains(d.Notice, "Microsoft's sign-in service is not answering") || !strings.Contains(d.Notice, "Cannot reach login.microsoftonline.com") ||
		strings.Contains(d.Notice, "expired; here is a new one") || d.CodesIssued != 1 || d.Code == nil || d.Code.UserCode != "ABCD-EFGH" {
		t.Errorf("after a stall: %+v", d)
	}

	// Near the code's end the executor stops polling and reports the error
	// (the step then asks for a new code as for any expiry or failure).
	fa2 := &stallAuth{n: 100}
	now2 := now
	x2 := &Executor{Auth: fa2, Now: func() time.Time { return now2 },
		Sleep: func(_ context.Context, d time.Duration) error { now2 = now2.Add(d); return nil }}
	ev = x2.Do(context.Background(), AwaitDeviceCode{Code: auth.DeviceCode{UserCode: "WXYZ", ExpiresOn: now.Add(10 * time.Second)}}, func(Event) {})
	if f, ok := ev.(SignInFailed); !ok || f.Err == nil {
		t.Fatalf("at expiry: %#v", ev)
	}
	if len(fa2.calls) > 5 {
		t.Errorf("polled %d times for a code valid 10 s", len(fa2.calls))
	}
}
