package endpoints

import (
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
)

// The production HTTP client reads two standard variables from the process
// environment each time it is built (not once per process, as net/http's
// ProxyFromEnvironment does):
//
//   - HTTPS_PROXY / https_proxy (HTTP_PROXY for http URLs) and NO_PROXY /
//     no_proxy, with Go's rules: loopback and localhost are never proxied,
//     NO_PROXY lists hosts, .domains (a domain matches its subdomains too),
//     IPs, CIDRs, or "*". A corporate proxy, or `sim serve --proxy`.
//   - SSL_CERT_FILE: a PEM bundle that replaces the system's trusted roots
//     (OpenSSL's and Go-on-Linux's meaning, applied here on every OS): a
//     TLS-inspecting proxy's CA, or the simulator's CA written by
//     `sim serve --ca-out`. Unset: the system roots.
//
// An endpoints file with ca_cert_pem (the simulator's) ignores both: it is
// reached directly on loopback and trusts only that CA.

// CheckEnvironment reports a malformed proxy variable or an SSL_CERT_FILE
// that cannot be read or holds no certificate, naming the variable, so a bad
// setting fails before the first request instead of as a TLS error.
func CheckEnvironment() error {
	for _, k := range []string{"HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"} {
		if v := os.Getenv(k); v != "" {
			if _, err := parseProxyURL(v); err != nil {
				return fmt.Errorf("%s=%q is not a proxy URL (want http://HOST:PORT): %v", k, v, err)
			}
		}
	}
	if f := os.Getenv("SSL_CERT_FILE"); f != "" {
		if _, err := loadCAFile(f); err != nil {
			return fmt.Errorf("SSL_CERT_FILE: %v (unset it to use the system's trusted roots)", err)
		}
	}
	return nil
}

func loadCAFile(path string) (*x509.CertPool, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("%s holds no PEM certificate", path)
	}
	return pool, nil
}

func parseProxyURL(v string) (*url.URL, error) {
	if !strings.Contains(v, "://") {
		v = "http://" + v
	}
	u, err := url.Parse(v)
	if err != nil {
		return nil, err
	}
	if u.Host == "" {
		return nil, fmt.Errorf("no host")
	}
	switch u.Scheme {
	case "http", "https", "socks5", "socks5h":
	default:
		return nil, fmt.Errorf("unsupported scheme %q", u.Scheme)
	}
	return u, nil
}

func firstEnv(keys ...string) string {
	for _, k := range keys {
		if v := os.Getenv(k); v != "" {
			return v
		}
	}
	return ""
}

// envProxy is the proxy function for the environment as it is now.
func envProxy() func(*http.Request) (*url.URL, error) {
	httpsProxy := firstEnv("HTTPS_PROXY", "https_proxy")
	httpProxy := firstEnv("HTTP_PROXY", "http_proxy")
	noProxy := firstEnv("NO_PROXY", "no_proxy")
	return func(r *http.Request) (*url.URL, error) {
		p := httpProxy
		if r.URL.Scheme == "https" {
			p = httpsProxy
		}
		if p == "" || !useProxy(r.URL.Hostname(), noProxy) {
			return nil, nil
		}
		return parseProxyURL(p)
	}
}

// useProxy applies Go's rules: never for localhost or loopback; not for a
// host NO_PROXY matches.
func useProxy(host, noProxy string) bool {
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return false
	}
	ip := net.ParseIP(host)
	if ip != nil && ip.IsLoopback() {
		return false
	}
	for _, e := range strings.Split(noProxy, ",") {
		e = strings.ToLower(strings.TrimSpace(e))
		if e == "" {
			continue
		}
		if e == "*" {
			return false
		}
		if _, cidr, err := net.ParseCIDR(e); err == nil {
			if ip != nil && cidr.Contains(ip) {
				return false
			}
			continue
		}
		if h, _, err := net.SplitHostPort(e); err == nil {
			e = h
		}
		if e == host || ("."+host) == e {
			return false
		}
		d := strings.TrimPrefix(e, ".")
		if d != "" && strings.HasSuffix(host, "."+d) {
			return false
		}
	}
	return true
}
