package endpoints

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestUseProxyFollowsGoRules(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		host, noProxy string
		want          bool
	}{
		{"graph.microsoft.com", "", true},
		{"localhost", "", false},
		{"127.0.0.1", "", false},
		{"::1", "", false},
		{"graph.microsoft.com", "*", false},
		{"graph.microsoft.com", "microsoft.com", false},
		{"graph.microsoft.com", ".microsoft.com", false},
		{"login.microsoftonline.com", "microsoft.com", true},
		{"10.1.2.3", "10.0.0.0/8", false},
		{"graph.microsoft.com", "graph.microsoft.com:443", false},
	} {
		if got := useProxy(c.host, c.noProxy); got != c.want {
			t.Errorf("useProxy(%q, NO_PROXY=%q) = %v, want %v", c.host, c.noProxy, got, c.want)
		}
	}
}

// The production client reads HTTPS_PROXY and SSL_CERT_FILE when it is
// built (env.go); the simulator's endpoints value ignores both. Not
// parallel: it sets the process environment.
func TestHTTPClientReadsProxyAndCertFileFromEnvironment(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.pem")
	os.WriteFile(bad, []byte("not a certificate"), 0o600)
	t.Setenv("NO_PROXY", "")
	t.Setenv("HTTPS_PROXY", "127.0.0.1:3128")
	t.Setenv("SSL_CERT_FILE", bad)
	if err := CheckEnvironment(); err == nil || !strings.Contains(err.Error(), "SSL_CERT_FILE") {
		t.Fatalf("CheckEnvironment with a file without certificates: %v", err)
	}
	t.Setenv("SSL_CERT_FILE", filepath.Join(dir, "missing.pem"))
	if err := CheckEnvironment(); err == nil || !strings.Contains(err.Error(), "SSL_CERT_FILE") {
		t.Fatalf("CheckEnvironment with a missing file: %v", err)
	}
	t.Setenv("SSL_CERT_FILE", "")
	t.Setenv("HTTPS_PROXY", "http://[bad")
	if err := CheckEnvironment(); err == nil || !strings.Contains(err.Error(), "HTTPS_PROXY") {
		t.Fatalf("CheckEnvironment with a malformed proxy: %v", err)
	}
	t.Setenv("HTTPS_PROXY", "127.0.0.1:3128")
	if err := CheckEnvironment(); err != nil {
		t.Fatal(err)
	}
	tr := Global().HTTPClient().Transport.(*http.Transport)
	req, _ := http.NewRequest(http.MethodGet, "https://graph.microsoft.com/v1.0/me", nil)
	u, err := tr.Proxy(req)
	if err != nil || u == nil || u.String() != "http://127.0.0.1:3128" {
		t.Fatalf("proxy for graph.microsoft.com = %v, %v", u, err)
	}
	sim := Global()
	sim.CACertPEM = "x"
	if tr := sim.HTTPClient().Transport.(*http.Transport); tr.Proxy != nil {
		t.Fatal("the simulator's endpoints go through a proxy")
	}
}
