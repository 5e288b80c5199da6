package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// The simulator's request log records only method and path (never the
// query string or a body), which is too little to tell a repeated read
// from two different reads. For the in-process runs the bench therefore
// observes the wizard's own HTTP requests, passively: it installs a TLS
// dialer on http.DefaultTransport (endpoints.HTTPClient clones it, dialer
// included), dials and verifies exactly as the transport would, and parses
// the plaintext HTTP/1.1 requests written to each connection. Nothing is
// changed on the wire. Only method, path, query, the Exchange cmdlet name
// and $batch sub-requests are kept; headers (tokens) and other bodies are
// dropped at once and never printed.

// sniffed is one HTTP request the wizard sent.
type sniffed struct {
	At     time.Time
	Method string
	Host   string
	Path   string
	Query  string
	Cmdlet string // Exchange InvokeCommand: the cmdlet name
	Grant  string // identity token request: the grant_type (no other field)
	Conn   int64  // connection number (one TLS handshake each)
	// Batch holds the sub-requests of a Graph $batch ("GET /me").
	Batch []string
}

type sniffer struct {
	pool  atomic.Pointer[x509.CertPool]
	conns atomic.Int64
	mu    sync.Mutex
	reqs  []sniffed
	dials []time.Time
}

// install makes every transport cloned from http.DefaultTransport from now
// on dial through the sniffer.
func (s *sniffer) install() {
	http.DefaultTransport.(*http.Transport).DialTLSContext = s.dialTLS
}

// trust adds a simulator's CA to the CAs the dialer accepts (every
// simulator the bench starts has its own).
func (s *sniffer) trust(caPEM string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := x509.NewCertPool()
	if old := s.pool.Load(); old != nil {
		p = old.Clone()
	}
	p.AppendCertsFromPEM([]byte(caPEM))
	s.pool.Store(p)
}

// reset forgets what was recorded.
func (s *sniffer) reset() {
	s.mu.Lock()
	s.reqs, s.dials = nil, nil
	s.mu.Unlock()
}

func (s *sniffer) requests() []sniffed {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]sniffed(nil), s.reqs...)
}

func (s *sniffer) handshakes() []time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Time(nil), s.dials...)
}

func (s *sniffer) dialTLS(ctx context.Context, network, addr string) (net.Conn, error) {
	var d net.Dialer
	raw, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	host, _, _ := net.SplitHostPort(addr)
	cfg := &tls.Config{RootCAs: s.pool.Load(), ServerName: host, MinVersion: tls.VersionTLS12, NextProtos: []string{"http/1.1"}}
	tc := tls.Client(raw, cfg)
	if err := tc.HandshakeContext(ctx); err != nil {
		raw.Close()
		return nil, err
	}
	id := s.conns.Add(1)
	s.mu.Lock()
	s.dials = append(s.dials, time.Now())
	s.mu.Unlock()
	pr, pw := io.Pipe()
	fed := new(atomic.Int64)
	go s.parse(id, host, pr, fed)
	return newSniffConn(tc, pw, fed), nil
}

// parse reads the HTTP/1.1 requests written on one connection.
func (s *sniffer) parse(conn int64, host string, r io.Reader, fed *atomic.Int64) {
	br := bufio.NewReader(r)
	for {
		req, err := http.ReadRequest(br)
		if err != nil {
			io.Copy(io.Discard, br)
			return
		}
		rec := sniffed{At: time.Unix(0, fed.Load()), Method: req.Method, Host: host, Path: req.URL.Path, Query: req.URL.RawQuery, Conn: conn}
		body, _ := io.ReadAll(req.Body)
		req.Body.Close()
		switch {
		case strings.HasSuffix(req.URL.Path, "/oauth2/v2.0/token"):
			// Only the grant type is kept: codes, tokens and secrets in
			// the rest of the form are dropped here.
			if v, err := url.ParseQuery(string(body)); err == nil {
				rec.Grant = v.Get("grant_type")
			}
		case strings.HasSuffix(req.URL.Path, "/InvokeCommand"):
			var cmd struct {
				CmdletInput struct {
					CmdletName string
					Parameters map[string]any
				}
			}
			if json.Unmarshal(body, &cmd) == nil {
				rec.Cmdlet = cmd.CmdletInput.CmdletName
				if g, ok := cmd.CmdletInput.Parameters["RoleAssignee"].(string); ok {
					rec.Cmdlet += " -RoleAssignee " + g
				}
			}
		case strings.HasSuffix(req.URL.Path, "/$batch"):
			var b struct {
				Requests []struct {
					Method string `json:"method"`
					URL    string `json:"url"`
				} `json:"requests"`
			}
			if json.Unmarshal(body, &b) == nil {
				for _, sub := range b.Requests {
					rec.Batch = append(rec.Batch, strings.ToUpper(sub.Method)+" "+sub.URL)
				}
			}
		}
		s.mu.Lock()
		s.reqs = append(s.reqs, rec)
		s.mu.Unlock()
	}
}

// sniffConn copies what the client writes to the parser through a buffered
// channel, in order, so the client never waits for the parser.
type sniffConn struct {
	net.Conn
	mu     sync.Mutex
	closed bool
	ch     chan chunk
}

type chunk struct {
	at time.Time
	b  []byte
}

func newSniffConn(c net.Conn, pw *io.PipeWriter, fed *atomic.Int64) *sniffConn {
	sc := &sniffConn{Conn: c, ch: make(chan chunk, 1024)}
	go func() {
		for ck := range sc.ch {
			fed.Store(ck.at.UnixNano())
			pw.Write(ck.b)
		}
		pw.Close()
	}()
	return sc
}

func (c *sniffConn) Write(b []byte) (int, error) {
	at := time.Now()
	n, err := c.Conn.Write(b)
	if n > 0 {
		c.mu.Lock()
		if !c.closed {
			c.ch <- chunk{at, append([]byte(nil), b[:n]...)}
		}
		c.mu.Unlock()
	}
	return n, err
}

func (c *sniffConn) Close() error {
	c.mu.Lock()
	if !c.closed {
		c.closed = true
		close(c.ch)
	}
	c.mu.Unlock()
	return c.Conn.Close()
}

// readKey is what makes two reads "the same read".
func (r sniffed) readKey() (string, bool) {
	switch {
	case r.Cmdlet != "":
		return "POST " + r.Path + " " + r.Cmdlet, strings.HasPrefix(r.Cmdlet, "Get-")
	case r.Method == http.MethodGet || r.Method == http.MethodHead:
		q := r.Query
		if isIdentityPath(r.Path) {
			q = redactQuery(q)
		}
		k := r.Method + " " + r.Path
		if q != "" {
			k += "?" + q
		}
		return k, true
	}
	return r.Method + " " + r.Path, false
}

// isWrite reports whether a request changes tenant or platform state.
func (r sniffed) isWrite() bool {
	if isIdentityPath(r.Path) {
		return false // token requests change no tenant state
	}
	if r.Cmdlet != "" {
		return !strings.HasPrefix(r.Cmdlet, "Get-")
	}
	if strings.HasSuffix(r.Path, "/$batch") {
		for _, b := range r.Batch {
			if !strings.HasPrefix(b, "GET ") {
				return true
			}
		}
		return false
	}
	return r.Method != http.MethodGet && r.Method != http.MethodHead
}

func isIdentityPath(p string) bool {
	return !strings.HasPrefix(p, "/graph") && !strings.HasPrefix(p, "/exchange") && !strings.HasPrefix(p, "/platform")
}

// redactQuery keeps parameter names only (identity queries can hold codes).
func redactQuery(q string) string {
	v, err := url.ParseQuery(q)
	if err != nil || len(v) == 0 {
		return ""
	}
	var names []string
	for k := range v {
		names = append(names, k+"=…")
	}
	return strings.Join(names, "&")
}
