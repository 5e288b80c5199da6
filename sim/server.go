// Package sim is the embedded tenant simulator: a loopback HTTPS server that
// plays the Microsoft identity platform, Microsoft Graph, the Exchange Online
// admin API and the ITDR platform API for one scenario.
package sim

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"itdr-onboard/endpoints"
)

// Options configures Start.
type Options struct {
	Log  io.Writer        // request log: one JSON line per request (may be nil)
	Now  func() time.Time // nil = time.Now
	Addr string           // default "127.0.0.1:0"
	// Latency is added to every request of the partner simulator before it
	// is answered (bench: 100 customers at 40 ms). The tenant simulator
	// injects latency with faults instead.
	Latency time.Duration
}

// Server is a running simulator.
type Server struct {
	sc       *Scenario
	now      func() time.Time
	tls      *simTLS
	ln       net.Listener
	http     *http.Server
	base     string // https://127.0.0.1:PORT
	tokens   *TokenStore
	log      *simReqLog
	faults   *simFaults
	idp      *simIdentity
	state    *State
	graph    http.Handler
	exchange http.Handler
	platform http.Handler
	arm      http.Handler
	manage   http.Handler

	closeOnce sync.Once
	closeErr  error
	served    chan struct{}
}

// Start validates the scenario, generates the simulator's CA and leaf
// certificate in memory and serves HTTPS on 127.0.0.1 (Options.Addr).
func Start(sc *Scenario, opt Options) (*Server, error) {
	if sc == nil {
		return nil, errors.New("sim: no scenario")
	}
	sc, err := simNormalize(sc)
	if err != nil {
		return nil, err
	}
	now := opt.Now
	if now == nil {
		now = time.Now
	}
	addr := opt.Addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	// Certificates are dated from the real clock, the one the TLS handshake
	// checks them against, whatever clock the scenario logic runs on.
	t, err := simNewTLS(time.Now())
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("sim: listen %s: %w", addr, err)
	}
	s := &Server{
		sc:     sc,
		now:    now,
		tls:    t,
		ln:     ln,
		base:   "https://" + simHostPort(ln.Addr()),
		tokens: NewTokenStore(now),
		log:    &simReqLog{out: opt.Log},
		faults: simNewFaults(sc.Seed, sc.Faults),
		served: make(chan struct{}),
	}
	s.idp = simNewIdentity(s)
	if err := s.mountState(); err != nil {
		ln.Close()
		return nil, err
	}
	s.http = &http.Server{
		Handler:           s,
		ReadHeaderTimeout: 30 * time.Second,
		TLSNextProto:      map[string]func(*http.Server, *tls.Conn, http.Handler){}, // HTTP/1.1 only
		ErrorLog:          simDiscardLogger(),
	}
	go func() {
		defer close(s.served)
		_ = s.http.Serve(tls.NewListener(ln, t.serverConfig()))
	}()
	return s, nil
}

// mountState creates the tenant/platform state and mounts its handlers.
func (s *Server) mountState() error {
	st, err := NewState(s.sc, s.now)
	if err != nil {
		return fmt.Errorf("sim: scenario %q: %w", s.sc.Name, err)
	}
	st.Tokens = s.tokens
	st.AuthorityURL = s.base // admin_consent_url points at the simulator's /adminconsent
	s.state = st
	s.graph = st.GraphHandler()
	s.exchange = st.ExchangeHandler()
	s.platform = st.PlatformHandler()
	s.arm = http.HandlerFunc(st.serveARM)
	s.manage = http.HandlerFunc(st.serveManage)
	return nil
}

func simHostPort(a net.Addr) string {
	if ta, ok := a.(*net.TCPAddr); ok {
		ip := ta.IP
		if ip == nil || ip.IsUnspecified() {
			ip = net.IPv4(127, 0, 0, 1)
		}
		return net.JoinHostPort(ip.String(), fmt.Sprint(ta.Port))
	}
	return a.String()
}

// simGroupOf maps a request path to its endpoint group.
func simGroupOf(p string) (group, rel string) {
	for _, g := range []string{GroupGraph, GroupExchange, GroupPlatform, GroupARM, GroupManage} {
		pre := "/" + g
		if p == pre || strings.HasPrefix(p, pre+"/") {
			return g, strings.TrimPrefix(p, pre)
		}
	}
	return GroupIdentity, p
}

// ServeHTTP routes one request: request log → faults → handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	group, rel := simGroupOf(r.URL.Path)
	s.serveGroup(w, r, group, rel)
}

// serveGroup serves one request for an endpoint group; rel is the path the
// group's handler sees (its prefix stripped). Direct requests come through
// ServeHTTP, proxied ones (Microsoft's host names) through servePublic.
func (s *Server) serveGroup(w http.ResponseWriter, r *http.Request, group, rel string) {
	start := s.now()
	wallStart := time.Now()
	// The Date header is the simulated server's clock (what the wizard's
	// clock-skew check compares with), not the host's.
	w.Header().Set("Date", start.UTC().Format(http.TimeFormat))
	sw := &simStatusWriter{ResponseWriter: w}
	r, note := simWithLogNote(r)
	if s.faults.hasRace() && r.Method != http.MethodGet && r.Method != http.MethodHead {
		r.Body = simNewReplayBody(r.Body) // a raced write is served twice
	}
	inner := r
	if group != GroupIdentity && r.URL.Path != rel {
		inner = simWithPath(r, rel)
	}
	fault := s.faults.serve(sw, r, group, rel, s.now, func(w http.ResponseWriter) {
		switch group {
		case GroupGraph:
			s.graph.ServeHTTP(w, inner)
		case GroupExchange:
			s.exchange.ServeHTTP(w, inner)
		case GroupPlatform:
			s.platform.ServeHTTP(w, inner)
		case GroupARM:
			s.arm.ServeHTTP(w, inner)
		case GroupManage:
			s.manage.ServeHTTP(w, inner)
		default:
			s.idp.ServeHTTP(w, r)
		}
	})
	status := sw.status
	if status == 0 && !sw.hijacked {
		status = http.StatusOK
	}
	rec := RequestRecord{
		Time:      start.UTC(),
		Method:    r.Method,
		Path:      r.URL.Path,
		Status:    status,
		LatencyMS: float64(time.Since(wallStart).Microseconds()) / 1000,
		Group:     group,
		Fault:     fault,
		Host:      strings.TrimPrefix(simPublicBase(r), "https://"),
	}
	note.fill(&rec)
	s.log.add(rec)
}

// simWithPath is r with its path replaced (the prefix a parent stripped),
// like http.StripPrefix does; RequestURI keeps what the client sent.
func simWithPath(r *http.Request, p string) *http.Request {
	r2 := new(http.Request)
	*r2 = *r
	r2.URL = new(url.URL)
	*r2.URL = *r.URL
	r2.URL.Path = p
	r2.URL.RawPath = ""
	return r2
}

// Endpoints returns where every simulated service lives.
func (s *Server) Endpoints() endpoints.Endpoints {
	key, secret := s.sc.Platform.APIKey, s.sc.Platform.APISecret
	return endpoints.Endpoints{
		Cloud:             "sim",
		Authority:         s.base,
		Graph:             s.base + "/graph",
		GraphResource:     simGraphResource,
		Exchange:          s.base + "/exchange",
		ExchangeResource:  simExchangeResource,
		Platform:          s.base + "/platform",
		ClientID:          endpoints.DefaultClientID,
		CACertPEM:         string(s.tls.caPEM),
		InstanceDiscovery: false,
		PlatformAPIKey:    key,
		PlatformAPISecret: secret,
	}
}

// HTTPClient returns a client that trusts only the simulator's CA.
func (s *Server) HTTPClient() *http.Client { return s.Endpoints().HTTPClient() }

// TenantID is the simulated tenant's id.
func (s *Server) TenantID() string { return s.sc.Tenant.ID }

// URL is the simulator's base URL (https://127.0.0.1:PORT).
func (s *Server) URL() string { return s.base }

// Scenario returns the scenario the server runs (with defaults filled in).
func (s *Server) Scenario() *Scenario { return s.sc }

// State is the tenant and platform state (for tests: snapshots, change log).
func (s *Server) State() *State { return s.state }

// Tokens is the store of every access token issued.
func (s *Server) Tokens() *TokenStore { return s.tokens }

// Requests returns a copy of the in-memory request log.
func (s *Server) Requests() []RequestRecord { return s.log.snapshot() }

// IssueToken issues a valid access token for the scenario's sign-in user for
// audience "https://graph.microsoft.com" or "https://outlook.office365.com".
func (s *Server) IssueToken(audience string) string {
	aud := strings.TrimRight(audience, "/")
	return s.idp.issueAccessToken(s.idp.signInUser(), aud, aud+"/.default", endpoints.DefaultClientID, s.now())
}

// Close stops the server and drops open connections.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		// Shutdown waits for connections that never carried a request (a
		// client's spare TLS connection) as if they were busy; do not let
		// that hold every demo and test up for seconds.
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		if err := s.http.Shutdown(ctx); err != nil {
			s.closeErr = s.http.Close()
		}
		<-s.served
	})
	return s.closeErr
}
