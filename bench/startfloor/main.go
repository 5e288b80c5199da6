// Command startfloor is the start-up floor of bench row 1: the least a Go
// program must do to show a device code — read the endpoints file, trust
// its CA, send the two requests no device-code sign-in can avoid
// (openid-configuration, then POST …/devicecode) over one TLS connection
// and print one JSON event. It links net/http, crypto/tls and
// encoding/json and nothing else of ours; the bench builds it beside the
// wizard and runs it with the wizard's arguments (it reads --endpoints and
// ignores the rest), so row 1's start-up can be read against it.
package main

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"
)

func main() {
	var epFile string
	for i, a := range os.Args {
		if a == "--endpoints" && i+1 < len(os.Args) {
			epFile = os.Args[i+1]
		}
	}
	if err := run(epFile, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "startfloor:", err)
		os.Exit(1)
	}
}

func run(epFile string, out io.Writer) error {
	b, err := os.ReadFile(epFile)
	if err != nil {
		return err
	}
	var ep struct {
		Authority string `json:"authority"`
		ClientID  string `json:"client_id"`
		CA        string `json:"ca_cert_pem"`
		Graph     string `json:"graph_resource"`
	}
	if err := json.Unmarshal(b, &ep); err != nil {
		return err
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM([]byte(ep.CA))
	hc := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}, ForceAttemptHTTP2: true}}
	authority := strings.TrimRight(ep.Authority, "/") + "/organizations"
	var meta struct {
		DeviceAuthorization string `json:"device_authorization_endpoint"`
	}
	if err := getJSON(hc, authority+"/v2.0/.well-known/openid-configuration", nil, &meta); err != nil {
		return err
	}
	if meta.DeviceAuthorization == "" {
		meta.DeviceAuthorization = authority + "/oauth2/v2.0/devicecode"
	}
	form := url.Values{"client_id": {ep.ClientID}, "scope": {ep.Graph + "/.default openid offline_access profile"}}
	var dc struct {
		UserCode        string `json:"user_code"`
		VerificationURI string `json:"verification_uri"`
	}
	if err := getJSON(hc, meta.DeviceAuthorization, form, &dc); err != nil {
		return err
	}
	if dc.UserCode == "" {
		return fmt.Errorf("no user_code in the devicecode answer")
	}
	ev, _ := json.Marshal(map[string]any{"type": "device_code", "time": time.Now(), "verification_url": dc.VerificationURI})
	_, err = out.Write(append(ev, '\n'))
	return err
}

// getJSON GETs u (or POSTs form when it is not nil) and decodes the answer.
func getJSON(hc *http.Client, u string, form url.Values, v any) error {
	var resp *http.Response
	var err error
	if form == nil {
		resp, err = hc.Get(u)
	} else {
		resp, err = hc.PostForm(u, form)
	}
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", u, resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}
