package checks

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"
)

// ProbeTimeout bounds one reachability probe.
const ProbeTimeout = 15 * time.Second

// MaxClockSkew is the largest tolerated difference between the local clock
// and a server's Date header.
const MaxClockSkew = 5 * time.Minute

type service struct{ name, base string }

func services(d Deps) []service {
	e := d.Endpoints
	all := []service{
		{"Microsoft sign-in", e.Authority},
		{"Microsoft Graph", e.Graph},
		{"Exchange Online", e.Exchange},
		{"ITDR platform", e.Platform},
	}
	var out []service
	for _, s := range all {
		if strings.TrimSpace(s.base) != "" {
			out = append(out, s)
		}
	}
	return out
}

func hostOf(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return raw
	}
	return u.Host
}

type probe struct {
	svc     service
	resp    *http.Response // body already closed
	sent    time.Time
	got     time.Time
	err     error
	problem string // "DNS lookup failed", ...
}

// probeOnce sends HEAD base/ without following redirects; any HTTP answer
// counts as reachable.
func probeOnce(ctx context.Context, hc *http.Client, now func() time.Time, s service) probe {
	p := probe{svc: s}
	ctx, cancel := context.WithTimeout(ctx, ProbeTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodHead, strings.TrimRight(s.base, "/")+"/", nil)
	if err != nil {
		p.err, p.problem = err, "invalid URL"
		return p
	}
	c := *hc
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	p.sent = now()
	resp, err := c.Do(req)
	p.got = now()
	if err != nil {
		p.err, p.problem = err, classifyNetErr(err)
		return p
	}
	resp.Body.Close()
	p.resp = resp
	return p
}

func classifyNetErr(err error) string {
	var dnsErr *net.DNSError
	var certErr *tls.CertificateVerificationError
	var unknownAuth x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	var invalid x509.CertificateInvalidError
	var recErr tls.RecordHeaderError
	var netErr net.Error
	var opErr *net.OpError
	switch {
	case strings.Contains(err.Error(), "server gave HTTP response to HTTPS client"):
		return "answered plain HTTP instead of HTTPS"
	case errors.As(err, &dnsErr):
		return "DNS lookup failed"
	case errors.As(err, &certErr), errors.As(err, &unknownAuth), errors.As(err, &hostErr),
		errors.As(err, &invalid), errors.As(err, &recErr), strings.Contains(err.Error(), "tls:"):
		return "TLS handshake failed (a proxy or firewall may be intercepting HTTPS)"
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &netErr) && netErr.Timeout():
		return "timed out"
	case errors.Is(err, context.Canceled):
		return "cancelled"
	case errors.As(err, &opErr) && opErr.Op == "dial":
		return "connection refused or blocked"
	}
	return "no HTTP answer"
}

// probeShare lets the reachability and clock-skew checks share one round of
// probes (they run side by side; probing twice would double the requests).
// A result is reused for a few seconds only, so a retry probes afresh.
type probeShare struct {
	mu  sync.Mutex
	at  time.Time
	res []probe
}

func (ps *probeShare) get(ctx context.Context, d Deps) []probe {
	if ps == nil {
		return probeAll(ctx, d)
	}
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if ps.res != nil && d.now().Sub(ps.at) < 10*time.Second {
		return ps.res
	}
	ps.res, ps.at = probeAll(ctx, d), d.now()
	return ps.res
}

func probeAll(ctx context.Context, d Deps) []probe {
	svcs := services(d)
	hc := d.httpClient()
	out := make([]probe, len(svcs))
	var wg sync.WaitGroup
	for i, s := range svcs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[i] = probeOnce(ctx, hc, d.now, s)
		}()
	}
	wg.Wait()
	return out
}

type reachability struct {
	meta
	d Deps
}

// NewNetworkReachability probes the sign-in, Graph, Exchange and platform
// hosts concurrently.
func NewNetworkReachability(d Deps) Check {
	return &reachability{
		meta: meta{id: IDNetworkReachability, title: "Network reachability",
			step: StepPrereqs, phase: BeforeSignIn, sev: Recommended},
		d: d,
	}
}

func (c *reachability) Run(ctx context.Context) Result {
	probes := c.d.probes.get(ctx, c.d)
	if len(probes) == 0 {
		return c.undecided("no service endpoints are configured, nothing to probe",
			"pass --cloud or --endpoints", errors.New("empty endpoints"))
	}
	var ok, bad []string
	var detail []string
	var errs []error
	for _, p := range probes {
		h := hostOf(p.svc.base)
		if p.err == nil {
			ok = append(ok, h)
			detail = append(detail, fmt.Sprintf("%s (%s): HTTP %d", p.svc.name, h, p.resp.StatusCode))
			continue
		}
		bad = append(bad, fmt.Sprintf("%s (%s): %s", h, p.svc.name, p.problem))
		detail = append(detail, fmt.Sprintf("%s (%s): %s", p.svc.name, h, p.problem))
		errs = append(errs, fmt.Errorf("%s: %w", h, p.err))
	}
	if len(bad) == 0 {
		return Result{Outcome: Pass,
			Summary: fmt.Sprintf("all %d services answered over HTTPS (%s)", len(ok), strings.Join(slices.Compact(ok), ", ")),
			Detail:  strings.Join(detail, "\n")}
	}
	return Result{Outcome: Warn,
		Summary: "unreachable: " + strings.Join(bad, "; "),
		Detail:  strings.Join(detail, "\n"),
		Remedy:  "allow outbound HTTPS (port 443) to these hosts; check the proxy (HTTPS_PROXY) and firewall, and that no TLS inspection replaces Microsoft's certificates",
		Err:     errors.Join(errs...)}
}

type clockSkew struct {
	meta
	d Deps
}

// NewClockSkew compares the local clock with the Date header of the first
// service host that answers.
func NewClockSkew(d Deps) Check {
	return &clockSkew{
		meta: meta{id: IDClockSkew, title: "Clock skew",
			step: StepPrereqs, phase: BeforeSignIn, sev: Recommended},
		d: d,
	}
}

func (c *clockSkew) Run(ctx context.Context) Result {
	probes := c.d.probes.get(ctx, c.d)
	var errs []error
	for _, p := range probes {
		if p.err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", hostOf(p.svc.base), p.err))
			continue
		}
		date, err := http.ParseTime(p.resp.Header.Get("Date"))
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: no usable Date header", hostOf(p.svc.base)))
			continue
		}
		// The server stamped Date somewhere between sending and receiving;
		// compare with the midpoint. Date has one-second resolution.
		local := p.sent.Add(p.got.Sub(p.sent) / 2)
		skew := local.Sub(date)
		h := hostOf(p.svc.base)
		abs := skew.Abs()
		if abs <= MaxClockSkew {
			return Result{Outcome: Pass,
				Summary: fmt.Sprintf("local clock is within %s of %s's clock (Date header)", roundSkew(abs), h)}
		}
		dir := "ahead of"
		if skew < 0 {
			dir = "behind"
		}
		return Result{Outcome: Warn,
			Summary: fmt.Sprintf("local clock is %s %s %s's clock (more than %s); sign-in tokens may be rejected", roundSkew(abs), dir, h, MaxClockSkew),
			Remedy:  "sync the clock (timedatectl set-ntp true)"}
	}
	if len(errs) == 0 {
		errs = append(errs, errors.New("no service endpoints configured"))
	}
	return c.undecided("could not compare the local clock: no service host answered with a Date header",
		"check network reachability; make sure the clock is synced (timedatectl set-ntp true)", errors.Join(errs...))
}

func roundSkew(d time.Duration) time.Duration {
	if d < time.Second {
		return time.Second
	}
	return d.Round(time.Second)
}
