package sim

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"
)

// simProxyHosts are the hosts `sim serve --proxy` answers for, each with the
// endpoint group that plays it. Every other host is refused: nothing the
// proxy is asked for leaves the machine.
var simProxyHosts = map[string]string{
	// The Microsoft identity platform: the global login hosts and the
	// sovereign clouds' (US Government, China/21Vianet).
	"login.microsoftonline.com":        GroupIdentity,
	"login.microsoft.com":              GroupIdentity,
	"login.windows.net":                GroupIdentity,
	"login.microsoftonline.us":         GroupIdentity,
	"login.partner.microsoftonline.cn": GroupIdentity,
	"graph.microsoft.com":              GroupGraph,
	"outlook.office365.com":            GroupExchange,
	"manage.office.com":                GroupManage,
	"management.azure.com":             GroupARM,
	// The ITDR platform's production API host (endpoints.DefaultPlatformURL),
	// so the wizard's production endpoints value reaches the simulated
	// platform too. The simulator must not import endpoints' types for its
	// wire shapes; this is only the host name.
	"api.itdr-platform.example": GroupPlatform,
}

// ProxyHosts lists, sorted, the host names `sim serve --proxy` serves (all on
// port 443) and the simulator's certificate carries.
func ProxyHosts() []string {
	out := make([]string, 0, len(simProxyHosts))
	for h := range simProxyHosts {
		out = append(out, h)
	}
	sort.Strings(out)
	return out
}

// simProxyGroup is the group that plays host ("" when the host is not one
// the proxy serves). host may carry :443.
func simProxyGroup(host string) string {
	h := strings.ToLower(host)
	if hh, port, err := net.SplitHostPort(h); err == nil {
		if port != "443" {
			return ""
		}
		h = hh
	}
	return simProxyHosts[strings.TrimSuffix(h, ".")]
}

// simPublicBase is "https://HOST" when the request came in through the proxy
// under one of Microsoft's host names, "" when it came to the loopback
// address directly.
func simPublicBase(r *http.Request) string {
	if simProxyGroup(r.Host) == "" {
		return ""
	}
	h := strings.ToLower(r.Host)
	if hh, _, err := net.SplitHostPort(h); err == nil {
		h = hh
	}
	return "https://" + h
}

// Proxy is a running `sim serve --proxy`: an HTTP CONNECT proxy on loopback
// that terminates TLS for Microsoft's host names with the simulator's
// certificate and serves the simulator behind them.
type Proxy struct {
	s     *Server
	ln    net.Listener
	front *http.Server
	back  *http.Server
	conns *simConnListener
	done  chan struct{}
	once  sync.Once
}

// StartProxy starts the CONNECT proxy on addr (default 127.0.0.1:0; only a
// loopback address is accepted).
func (s *Server) StartProxy(addr string) (*Proxy, error) {
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("sim proxy: address %q: %w", addr, err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return nil, fmt.Errorf("sim proxy: address %q is not a loopback address (use 127.0.0.1:PORT)", addr)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("sim proxy: listen %s: %w", addr, err)
	}
	p := &Proxy{s: s, ln: ln, conns: simNewConnListener(ln.Addr()), done: make(chan struct{})}
	p.front = &http.Server{Handler: http.HandlerFunc(p.connect), ReadHeaderTimeout: 30 * time.Second, ErrorLog: simDiscardLogger()}
	p.back = &http.Server{
		Handler:           http.HandlerFunc(s.servePublic),
		ReadHeaderTimeout: 30 * time.Second,
		TLSNextProto:      map[string]func(*http.Server, *tls.Conn, http.Handler){},
		ErrorLog:          simDiscardLogger(),
	}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); _ = p.front.Serve(ln) }()
	go func() { defer wg.Done(); _ = p.back.Serve(tls.NewListener(p.conns, s.tls.serverConfig())) }()
	go func() { wg.Wait(); close(p.done) }()
	return p, nil
}

// Addr is the proxy's host:port (for HTTPS_PROXY=http://ADDR).
func (p *Proxy) Addr() string { return simHostPort(p.ln.Addr()) }

// URL is http://ADDR, the value for HTTPS_PROXY.
func (p *Proxy) URL() string { return "http://" + p.Addr() }

// Close stops the proxy and drops its tunnels.
func (p *Proxy) Close() error {
	p.once.Do(func() {
		_ = p.front.Close()
		_ = p.back.Close()
		_ = p.conns.Close()
		<-p.done
	})
	return nil
}

// connect answers one request to the proxy itself: CONNECT to a served host
// opens a tunnel whose TLS the simulator terminates; anything else is refused
// and logged (group "proxy").
func (p *Proxy) connect(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	refuse := func(status int, msg string) {
		http.Error(w, msg, status)
		p.s.log.add(RequestRecord{Time: p.s.now().UTC(), Method: r.Method, Path: simClip(r.Host, 200), Status: status,
			LatencyMS: float64(time.Since(start).Microseconds()) / 1000, Group: GroupProxy})
	}
	if r.Method != http.MethodConnect {
		refuse(http.StatusMethodNotAllowed, "sim proxy: only CONNECT (HTTPS) is served; plain HTTP through this proxy is refused")
		return
	}
	if simProxyGroup(r.Host) == "" {
		refuse(http.StatusForbidden, fmt.Sprintf("sim proxy: refusing %s: this proxy serves only the hosts the tenant simulator plays (%s) on port 443; nothing leaves this machine", simClip(r.Host, 200), strings.Join(ProxyHosts(), ", ")))
		return
	}
	hj, ok := w.(http.Hijacker)
	if !ok {
		refuse(http.StatusInternalServerError, "sim proxy: cannot take over the connection")
		return
	}
	conn, rw, err := hj.Hijack()
	if err != nil {
		return
	}
	if _, err := conn.Write([]byte("HTTP/1.1 200 Connection Established\r\n\r\n")); err != nil {
		conn.Close()
		return
	}
	var c net.Conn = conn
	if rw.Reader.Buffered() > 0 {
		c = &simBufferedConn{Conn: conn, r: rw.Reader}
	}
	if !p.conns.push(c) {
		conn.Close()
	}
}

// servePublic serves a request that came through the proxy: the host decides
// the endpoint group, the path is the one Microsoft's service would see.
func (s *Server) servePublic(w http.ResponseWriter, r *http.Request) {
	group := simProxyGroup(r.Host)
	if group == "" {
		simNotFound(w)
		return
	}
	s.serveGroup(w, r, group, r.URL.Path)
}

// simConnListener is a net.Listener fed with the proxy's tunnels.
type simConnListener struct {
	addr   net.Addr
	ch     chan net.Conn
	mu     sync.Mutex
	closed bool
	done   chan struct{}
}

func simNewConnListener(addr net.Addr) *simConnListener {
	return &simConnListener{addr: addr, ch: make(chan net.Conn), done: make(chan struct{})}
}

func (l *simConnListener) push(c net.Conn) bool {
	select {
	case l.ch <- c:
		return true
	case <-l.done:
		return false
	}
}

func (l *simConnListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.ch:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *simConnListener) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.closed {
		l.closed = true
		close(l.done)
	}
	return nil
}

func (l *simConnListener) Addr() net.Addr { return l.addr }

// simBufferedConn reads what the proxy's HTTP reader already buffered first.
type simBufferedConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *simBufferedConn) Read(b []byte) (int, error) { return c.r.Read(b) }
