package auth

import (
	"fmt"
	"os"
	"runtime"
	"strings"
)

// Method is how the technician signs in.
type Method string

const (
	// MethodAuto picks device code on headless or SSH sessions, browser otherwise.
	MethodAuto Method = "auto"
	// MethodDevice is the OAuth device authorization grant (code typed at microsoft.com/devicelogin).
	MethodDevice Method = "device"
	// MethodBrowser is auth code + PKCE with a redirect to http://localhost:PORT.
	MethodBrowser Method = "browser"
)

// Methods lists the values --auth accepts.
func Methods() []Method { return []Method{MethodAuto, MethodDevice, MethodBrowser} }

// ParseMethod parses the --auth flag value.
func ParseMethod(s string) (Method, error) {
	switch m := Method(strings.ToLower(strings.TrimSpace(s))); m {
	case MethodAuto, MethodDevice, MethodBrowser:
		return m, nil
	case "":
		return MethodAuto, nil
	case "device-code", "devicecode":
		return MethodDevice, nil
	}
	return "", fmt.Errorf("--auth %q: must be one of auto, device, browser", s)
}

func envOrOS(env func(string) string) func(string) string {
	if env == nil {
		return os.Getenv
	}
	return env
}

// OverSSH reports whether the process runs in an SSH session.
func OverSSH(env func(string) string) bool {
	env = envOrOS(env)
	return env("SSH_CONNECTION") != "" || env("SSH_CLIENT") != "" || env("SSH_TTY") != ""
}

// hasDisplay reports whether a local browser can be shown.
func hasDisplay(env func(string) string, goos string) bool {
	switch goos {
	case "windows", "darwin":
		return true
	}
	return env("DISPLAY") != "" || env("WAYLAND_DISPLAY") != ""
}

// Headless reports whether no local browser can be opened: an SSH session
// without a forwarded display, or a Linux/BSD session without DISPLAY or
// WAYLAND_DISPLAY.
func Headless(env func(string) string) bool { return headless(envOrOS(env), runtime.GOOS) }

func headless(env func(string) string, goos string) bool {
	if OverSSH(env) {
		// An X-forwarded SSH session has DISPLAY set, but the browser would
		// open on the remote host's forwarded display: still prefer device code
		// unless the display is present.
		return env("DISPLAY") == "" && env("WAYLAND_DISPLAY") == ""
	}
	return !hasDisplay(env, goos)
}

// DefaultMethod resolves MethodAuto: device code when headless (no
// DISPLAY/WAYLAND_DISPLAY on Linux, or an SSH session), browser otherwise.
func DefaultMethod(env func(string) string) Method {
	return defaultMethod(envOrOS(env), runtime.GOOS)
}

func defaultMethod(env func(string) string, goos string) Method {
	if OverSSH(env) || headless(env, goos) {
		return MethodDevice
	}
	return MethodBrowser
}

// SSHForwardCommand is the command a technician runs on their own computer
// so the browser's redirect to http://localhost:PORT reaches this process:
// "ssh -L PORT:localhost:PORT user@host". The user comes from USER or
// LOGNAME, the host from SSH_CONNECTION's server address (else the hostname).
func SSHForwardCommand(env func(string) string, port int) string {
	env = envOrOS(env)
	user := env("USER")
	if user == "" {
		user = env("LOGNAME")
	}
	host, sshPort := "", ""
	if f := strings.Fields(env("SSH_CONNECTION")); len(f) >= 4 {
		host, sshPort = f[2], f[3]
	}
	if host == "" {
		host, _ = os.Hostname()
	}
	if host == "" {
		host = "HOST"
	}
	dest := host
	if user != "" {
		dest = user + "@" + host
	}
	cmd := fmt.Sprintf("ssh -L %d:localhost:%d", port, port)
	if sshPort != "" && sshPort != "22" {
		cmd += " -p " + sshPort
	}
	return cmd + " " + dest
}
