package auth

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/public"
)

func envMap(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestParseMethod(t *testing.T) {
	for in, want := range map[string]Method{"auto": MethodAuto, "": MethodAuto, "device": MethodDevice, "Browser": MethodBrowser, " device-code ": MethodDevice} {
		if got, err := ParseMethod(in); err != nil || got != want {
			t.Errorf("ParseMethod(%q) = %q, %v", in, got, err)
		}
	}
	_, err := ParseMethod("password")
	if err == nil || !strings.Contains(err.Error(), "--auth") || !strings.Contains(err.Error(), "auto, device, browser") {
		t.Fatalf("error %v", err)
	}
}

func TestDefaultMethod(t *testing.T) {
	cases := []struct {
		env  map[string]string
		goos string
		want Method
	}{
		{map[string]string{}, "linux", MethodDevice},
		{map[string]string{"DISPLAY": ":0"}, "linux", MethodBrowser},
		{map[string]string{"WAYLAND_DISPLAY": "wayland-0"}, "linux", MethodBrowser},
		{map[string]string{"DISPLAY": ":0", "SSH_CONNECTION": "1.2.3.4 5 6.7.8.9 22"}, "linux", MethodDevice},
		{map[string]string{}, "darwin", MethodBrowser},
		{map[string]string{}, "windows", MethodBrowser},
		{map[string]string{"SSH_CONNECTION": "1.2.3.4 5 6.7.8.9 22"}, "darwin", MethodDevice},
		{map[string]string{"SSH_TTY": "/dev/pts/1"}, "windows", MethodDevice},
	}
	for _, tc := range cases {
		if got := defaultMethod(envMap(tc.env), tc.goos); got != tc.want {
			t.Errorf("%v on %s: %s, want %s", tc.env, tc.goos, got, tc.want)
		}
	}
	if DefaultMethod(envMap(map[string]string{"SSH_CLIENT": "1.2.3.4 5 22"})) != MethodDevice {
		t.Error("SSH_CLIENT not headless")
	}
	if !OverSSH(envMap(map[string]string{"SSH_CONNECTION": "a b c d"})) || OverSSH(envMap(nil)) {
		t.Error("OverSSH")
	}
}

func TestSSHForwardCommand(t *testing.T) {
	cases := []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"USER": "tech", "SSH_CONNECTION": "203.0.113.7 52144 198.51.100.10 22"}, "ssh -L 8400:localhost:8400 tech@198.51.100.10"},
		{map[string]string{"LOGNAME": "ops", "SSH_CONNECTION": "203.0.113.7 52144 198.51.100.10 2222"}, "ssh -L 8400:localhost:8400 -p 2222 ops@198.51.100.10"},
		{map[string]string{"USER": "tech", "SSH_CONNECTION": "2001:db8::7 52144 2001:db8::10 22"}, "ssh -L 8400:localhost:8400 tech@2001:db8::10"},
	}
	for _, tc := range cases {
		if got := SSHForwardCommand(envMap(tc.env), 8400); got != tc.want {
			t.Errorf("%v: %q, want %q", tc.env, got, tc.want)
		}
	}
	// no SSH_CONNECTION: the hostname
	got := SSHForwardCommand(envMap(map[string]string{"USER": "tech"}), 9000)
	if !strings.HasPrefix(got, "ssh -L 9000:localhost:9000 tech@") || strings.HasSuffix(got, "@") {
		t.Errorf("hostname fallback %q", got)
	}
}

func TestDeviceCodeRedaction(t *testing.T) {
	dc := DeviceCode{
		UserCode:        "ABCD-EFGH",
		VerificationURL: "https://microsoft.com/devicelogin",
		Message:         "To sign in, enter ABCD-EFGH",
		ExpiresOn:       time.Date(2026, 10, 1, 12, 0, 0, 0, time.UTC),
		h:               &dcHandle{dc: public.DeviceCode{Result: public.DeviceCodeResult{DeviceCode: secretDevice, UserCode: "ABCD-EFGH"}}},
	}
	for _, v := range []any{dc, &dc, []DeviceCode{dc}, map[string]DeviceCode{"k": dc}, struct{ D DeviceCode }{dc}} {
		out := fmtAll(v)
		if strings.Contains(out, secretDevice) {
			t.Fatalf("device code leaked: %s", out)
		}
	}
	if !strings.Contains(dc.String(), "ABCD-EFGH") || !strings.Contains(dc.GoString(), "ABCD-EFGH") {
		t.Fatal("user code missing from String")
	}
	b, err := json.Marshal(dc)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil || m["user_code"] != "ABCD-EFGH" || m["verification_url"] != "https://microsoft.com/devicelogin" || len(m) != 4 {
		t.Fatalf("json %s", b)
	}
}

func TestDeviceCodeFromFakeIsRedacted(t *testing.T) {
	f := newFakeIdP(t)
	c := f.client(t, nil)
	dc, err := c.StartDeviceCode(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if out := fmtAll(dc); strings.Contains(out, secretDevice) {
		t.Fatalf("leak: %s", out)
	}
}
