package checks

import (
	"context"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"itdr-onboard/endpoints"
)

// quietTLS is an httptest TLS server that does not log the handshake
// failures the tests provoke on purpose.
func quietTLS(h http.Handler) *httptest.Server {
	s := httptest.NewUnstartedServer(h)
	s.Config.ErrorLog = log.New(io.Discard, "", 0)
	s.StartTLS()
	return s
}

func dateServer(date func() string) *httptest.Server {
	return quietTLS(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if d := date(); d != "" {
			w.Header().Set("Date", d)
		}
		w.WriteHeader(http.StatusNotFound) // any HTTP answer counts
	}))
}

func allAt(u string) endpoints.Endpoints {
	return endpoints.Endpoints{Authority: u, Graph: u + "/graph", Exchange: u + "/exo", Platform: u + "/platform"}
}

func TestReachabilityPass(t *testing.T) {
	srv := dateServer(func() string { return "" })
	defer srv.Close()
	d := Deps{Endpoints: allAt(srv.URL), HTTP: srv.Client(), Now: fixedNow}
	r := NewNetworkReachability(d).Run(context.Background())
	expect(t, r, Pass, "all 4 services answered over HTTPS ("+hostOf(srv.URL)+")")
	mustContain(t, "detail", r.Detail, "Microsoft Graph", "HTTP 404")
}

func TestReachabilityFailures(t *testing.T) {
	good := dateServer(func() string { return "" })
	defer good.Close()
	closed := quietTLS(http.NotFoundHandler())
	closedURL := closed.URL
	closed.Close()
	// A listener that answers the TLS hello with garbage.
	garbage, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer garbage.Close()
	go func() {
		for {
			c, err := garbage.Accept()
			if err != nil {
				return
			}
			c.Write([]byte("SSH-2.0-OpenSSH_9.6\r\n"))
			c.Close()
		}
	}()
	plain := httptest.NewServer(http.NotFoundHandler()) // not TLS
	defer plain.Close()

	hc := good.Client()
	tr := hc.Transport.(*http.Transport).Clone()
	dial := tr.DialContext
	if dial == nil {
		dial = (&net.Dialer{}).DialContext
	}
	tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		if strings.HasPrefix(addr, "graph.nowhere.invalid") {
			return nil, &net.OpError{Op: "dial", Net: network, Err: &net.DNSError{Err: "no such host", Name: "graph.nowhere.invalid", IsNotFound: true}}
		}
		return dial(ctx, network, addr)
	}
	hc = &http.Client{Transport: tr}
	d := Deps{Endpoints: endpoints.Endpoints{
		Authority: good.URL,
		Graph:     "https://graph.nowhere.invalid",
		Exchange:  closedURL,
		Platform:  "https://" + garbage.Addr().String(),
	}, HTTP: hc, Now: fixedNow}
	r := NewNetworkReachability(d).Run(context.Background())
	expect(t, r, Warn, "graph.nowhere.invalid (Microsoft Graph): DNS lookup failed",
		hostOf(closedURL)+" (Exchange Online): connection refused",
		garbage.Addr().String()+" (ITDR platform): TLS handshake failed")
	if strings.Contains(r.Summary, hostOf(good.URL)+" (") {
		t.Errorf("reachable host listed as unreachable: %q", r.Summary)
	}
	if r.Err == nil {
		t.Error("Err not set")
	}
	mustContain(t, "remedy", r.Remedy, "443")
}

func TestReachabilityUntrustedCert(t *testing.T) {
	srv := dateServer(func() string { return "" })
	defer srv.Close()
	d := Deps{Endpoints: endpoints.Endpoints{Platform: srv.URL}, HTTP: &http.Client{}, Now: fixedNow}
	r := NewNetworkReachability(d).Run(context.Background())
	expect(t, r, Warn, "TLS handshake failed")
}

func TestReachabilityPlainHTTP(t *testing.T) {
	plain := httptest.NewServer(http.NotFoundHandler())
	defer plain.Close()
	d := Deps{Endpoints: endpoints.Endpoints{Platform: strings.Replace(plain.URL, "http://", "https://", 1)}, HTTP: &http.Client{}, Now: fixedNow}
	expect(t, NewNetworkReachability(d).Run(context.Background()), Warn, "answered plain HTTP instead of HTTPS")
}

func TestReachabilityNoEndpoints(t *testing.T) {
	r := NewNetworkReachability(Deps{}).Run(context.Background())
	expect(t, r, Warn, "no service endpoints")
}

func TestClockSkew(t *testing.T) {
	cases := []struct {
		name    string
		server  time.Time
		outcome Outcome
		has     []string
	}{
		{"in sync", t0.Add(2 * time.Second), Pass, []string{"within 2s"}},
		{"4 minutes", t0.Add(-4 * time.Minute), Pass, []string{"within 4m0s"}},
		{"local behind", t0.Add(10 * time.Minute), Warn, []string{"10m0s behind"}},
		{"local ahead", t0.Add(-2 * time.Hour), Warn, []string{"2h0m0s ahead of"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := dateServer(func() string { return tc.server.Format(http.TimeFormat) })
			defer srv.Close()
			d := Deps{Endpoints: allAt(srv.URL), HTTP: srv.Client(), Now: fixedNow}
			r := NewClockSkew(d).Run(context.Background())
			expect(t, r, tc.outcome, tc.has...)
			if tc.outcome == Warn && r.Remedy != "sync the clock (timedatectl set-ntp true)" {
				t.Errorf("remedy = %q", r.Remedy)
			}
		})
	}
}

func TestClockSkewUndecided(t *testing.T) {
	srv := quietTLS(http.NotFoundHandler())
	u := srv.URL
	srv.Close()
	r := NewClockSkew(Deps{Endpoints: allAt(u), HTTP: &http.Client{}, Now: fixedNow}).Run(context.Background())
	expect(t, r, Warn, "could not compare")
	if r.Err == nil {
		t.Error("Err not set")
	}
}
