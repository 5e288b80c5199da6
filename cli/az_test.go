package cli

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"itdr-onboard/sim"
)

// azPath finds Debian's Azure CLI or says how to install it. With
// ITDR_REQUIRE_AZ=1 (set by .ci/run, which installs it) a missing az fails
// the test instead.
func azPath(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("az")
	if err != nil {
		msg := "az is not installed (no az on PATH); install it with scripts/install-az.sh (Debian's azure-cli)"
		if os.Getenv("ITDR_REQUIRE_AZ") == "1" {
			t.Fatal(msg + " — ITDR_REQUIRE_AZ=1 forbids skipping")
		}
		t.Skip(msg)
	}
	return p
}

// Issue 17: a real client nobody here wrote — the Azure CLI (MSAL for
// Python), unpatched — signs in to the simulator with a device code through
// `sim serve --proxy`, the code approved on the simulator's /devicelogin
// page; refreshes silently for Graph and Exchange; and calls Graph with
// `az rest` (/me and a $batch). Everything goes through the loopback proxy,
// which refuses every host the simulator does not play.
func TestAzureCLISignsInThroughSimProxy(t *testing.T) {
	t.Parallel()
	az := azPath(t)
	manual := false
	proxyURL, caPath, _, logPath := simServeProxy(t, "typical", func(sc *sim.Scenario) { sc.SignIn.AutoApprove = &manual })
	home := t.TempDir()
	env := []string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + home, "LANG=C.UTF-8",
		"AZURE_CONFIG_DIR=" + filepath.Join(home, "azure"), "AZURE_CORE_COLLECT_TELEMETRY=false",
		"AZURE_CORE_NO_COLOR=true", "AZURE_CORE_ONLY_SHOW_ERRORS=true",
		"HTTPS_PROXY=" + proxyURL, "HTTP_PROXY=" + proxyURL, "https_proxy=" + proxyURL, "http_proxy=" + proxyURL,
		"NO_PROXY=", "no_proxy=", "REQUESTS_CA_BUNDLE=" + caPath, "SSL_CERT_FILE=" + caPath,
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	run := func(args ...string) string {
		t.Helper()
		cmd := exec.CommandContext(ctx, az, args...)
		cmd.Env = env
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("az %s: %v\n%s", args[0]+" "+args[1], err, stderr.String())
		}
		return string(out)
	}

	// az login prints the code on stderr and polls; approve it on the page.
	login := exec.CommandContext(ctx, az, "login", "--use-device-code", "--tenant", simTenant, "--allow-no-subscriptions", "--output", "json")
	login.Env = env
	stderr, err := login.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stdout strings.Builder
	login.Stdout = &stdout
	if err := login.Start(); err != nil {
		t.Fatal(err)
	}
	codeRE := regexp.MustCompile(`open the page (https://\S+) and enter the code ([A-Z0-9-]+)`)
	var page, code string
	var said strings.Builder
	sc := bufio.NewScanner(stderr)
	for sc.Scan() {
		said.WriteString(sc.Text() + "\n")
		if m := codeRE.FindStringSubmatch(sc.Text()); m != nil {
			page, code = m[1], m[2]
			break
		}
	}
	if code == "" {
		login.Wait()
		t.Fatalf("az login printed no device code:\n%s", said.String())
	}
	go io.Copy(io.Discard, stderr)
	if page != "https://login.microsoftonline.com/devicelogin" {
		t.Errorf("verification page %q, want the simulator's under login.microsoftonline.com", page)
	}
	approveThroughProxy(t, proxyURL, caPath, page, code)
	if err := login.Wait(); err != nil {
		t.Fatalf("az login: %v\n%s", err, said.String())
	}
	var accounts []struct {
		TenantID string `json:"tenantId"`
		User     struct{ Name string }
	}
	if err := json.Unmarshal([]byte(stdout.String()), &accounts); err != nil || len(accounts) != 1 ||
		accounts[0].TenantID != simTenant || accounts[0].User.Name != "admin@contoso.onmicrosoft.com" {
		t.Fatalf("az login output (%v): %s", err, stdout.String())
	}

	// Silent refresh for Graph and for Exchange (the refresh token).
	for _, res := range []string{"https://graph.microsoft.com", "https://outlook.office365.com"} {
		var tok struct {
			AccessToken string `json:"accessToken"`
			Tenant      string `json:"tenant"`
			TokenType   string `json:"tokenType"`
		}
		if err := json.Unmarshal([]byte(run("account", "get-access-token", "--resource", res, "--output", "json")), &tok); err != nil ||
			tok.AccessToken == "" || tok.Tenant != simTenant || tok.TokenType != "Bearer" {
			t.Fatalf("get-access-token --resource %s: %v (tenant %q, type %q)", res, err, tok.Tenant, tok.TokenType)
		}
	}

	var me map[string]any
	if err := json.Unmarshal([]byte(run("rest", "--url", "https://graph.microsoft.com/v1.0/me", "--output", "json")), &me); err != nil ||
		me["userPrincipalName"] != "admin@contoso.onmicrosoft.com" {
		t.Fatalf("az rest /me: %v %v", err, me)
	}
	var batch struct {
		Responses []struct {
			ID     string `json:"id"`
			Status int    `json:"status"`
		} `json:"responses"`
	}
	body := `{"requests":[{"id":"1","method":"GET","url":"/organization?$select=id,displayName"},{"id":"2","method":"GET","url":"/subscribedSkus"}]}`
	if err := json.Unmarshal([]byte(run("rest", "--method", "post", "--url", "https://graph.microsoft.com/v1.0/$batch", "--body", body, "--output", "json")), &batch); err != nil ||
		len(batch.Responses) != 2 || batch.Responses[0].Status != 200 || batch.Responses[1].Status != 200 {
		t.Fatalf("az rest $batch: %v %+v", err, batch)
	}

	// What az asked for, as the simulator saw it: all under Microsoft's host
	// names through the proxy; what the proxy refused never left the machine.
	hosts := map[string]int{}
	var refused []string
	for _, r := range readSimLog(t, logPath) {
		if r.Group == sim.GroupProxy {
			refused = append(refused, r.Path)
			continue
		}
		if r.Host == "" {
			t.Errorf("%s %s reached the simulator's loopback address directly", r.Method, r.Path)
		}
		hosts[r.Host]++
	}
	for _, h := range []string{"login.microsoftonline.com", "management.azure.com", "graph.microsoft.com"} {
		if hosts[h] == 0 {
			t.Errorf("az sent nothing to %s (hosts %v)", h, hosts)
		}
	}
	if len(refused) > 0 {
		t.Logf("the proxy refused (nothing left loopback): %s", strings.Join(refused, ", "))
	}
}

// approveThroughProxy types the code on the /devicelogin page the way a
// browser behind the same proxy would.
func approveThroughProxy(t *testing.T, proxyURL, caPath, page, code string) {
	t.Helper()
	pem, err := os.ReadFile(caPath)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	pu, _ := url.Parse(proxyURL)
	c := &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{Proxy: http.ProxyURL(pu), TLSClientConfig: &tls.Config{RootCAs: pool}}}
	resp, err := c.PostForm(page, url.Values{"otc": {code}, "action": {"approve"}})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(b), "signed in") {
		t.Fatalf("/devicelogin: %d %.300s", resp.StatusCode, b)
	}
}
