package sim

import (
	"crypto/x509"
	"encoding/json"
	"io"
	"regexp"
	"testing"
	"time"
)

// Issue 22: the simulator's certificates are checked by the TLS handshake
// against the real clock, so they are dated from it whatever clock the
// scenario logic runs on — two years back, now, two years ahead.
func TestCertificatesDatedFromTheRealClockWhateverTheSimulatorsClock(t *testing.T) {
	for _, shift := range []time.Duration{-2 * 365 * 24 * time.Hour, 0, 2 * 365 * 24 * time.Hour} {
		sc, err := LoadScenario("typical")
		if err != nil {
			t.Fatal(err)
		}
		srv, err := Start(sc, Options{Now: func() time.Time { return time.Now().Add(shift) }})
		if err != nil {
			t.Fatal(err)
		}
		resp, err := srv.HTTPClient().Get(srv.URL() + "/devicelogin")
		if err != nil {
			srv.Close()
			t.Fatalf("simulator clock shifted %v: %v", shift, err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		now := time.Now()
		for _, der := range srv.tls.leaf.Certificate { // leaf, then the CA
			c, err := x509.ParseCertificate(der)
			if err != nil {
				srv.Close()
				t.Fatal(err)
			}
			if now.Before(c.NotBefore) || now.After(c.NotAfter) {
				t.Errorf("shift %v: %s valid %v – %v, real now %v", shift, c.Subject.CommonName, c.NotBefore, c.NotAfter, now)
			}
		}
		srv.Close()
	}
}

// Issue 22: built-in scenarios never carry an absolute date, so none of them
// ages with the calendar (relative forms such as expires_in: "60d" only).
func TestBuiltinScenariosHoldNoAbsoluteDate(t *testing.T) {
	date := regexp.MustCompile(`\b(19|20)[0-9]{2}-[01][0-9]-[0-3][0-9]`)
	for _, name := range BuiltinScenarios() {
		b, err := BuiltinScenarioJSON(name)
		if err != nil {
			t.Fatal(err)
		}
		if m := date.Find(b); m != nil {
			t.Errorf("built-in scenario %s holds the absolute date %s: write it relative (e.g. \"expires_in\": \"60d\")", name, m)
		}
	}
}

// Issue 22: expires_in dates the subscription relative to the simulator's
// start (its own clock), in days or as a Go duration, negative for the past.
func TestSubscriptionExpiresInIsRelativeToTheSimulatorsStart(t *testing.T) {
	start := time.Date(2031, 3, 4, 5, 6, 7, 0, time.UTC) // any date works: nothing here is compared with the real clock
	for _, tc := range []struct {
		in   string
		want time.Time
	}{
		{`"60d"`, start.Add(60 * 24 * time.Hour)},
		{`"-3d"`, start.Add(-3 * 24 * time.Hour)},
		{`"36h"`, start.Add(36 * time.Hour)},
	} {
		sc, err := LoadScenario("typical")
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal([]byte(tc.in), &sc.Platform.Account.ExpiresIn); err != nil {
			t.Fatalf("%s: %v", tc.in, err)
		}
		st, err := NewState(sc, func() time.Time { return start })
		if err != nil {
			t.Fatal(err)
		}
		if got := st.pf.expiresAt; !got.Equal(tc.want) {
			t.Errorf("expires_in %s: subscription ends %v, want %v", tc.in, got, tc.want)
		}
	}
	var d Duration
	if err := json.Unmarshal([]byte(`"sixty days"`), &d); err == nil {
		t.Error(`"sixty days" was accepted as a duration`)
	}
}
