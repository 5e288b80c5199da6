package cli

// Issue 7: `support-bundle` writes a .tar.gz a technician can attach to a
// support ticket. It is built from an allow-list (versions, OS, endpoint
// hosts, the saved progress with step timings, the structured log's request
// lines, the receipts list), never by copying files wholesale, and every
// entry is scrubbed again before it is written, so no Authorization header,
// token, device code, auth code, PKCE verifier or secret can end up in it.

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"runtime/debug"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"itdr-onboard/endpoints"
	"itdr-onboard/internal/atomicfile"
	"itdr-onboard/state"
	"itdr-onboard/ui/text"
)

// bundleLogKeys are the log attributes a bundle keeps; anything else in a
// log line is dropped.
var bundleLogKeys = map[string]bool{
	"time": true, "level": true, "msg": true, "method": true, "host": true, "path": true, "status": true,
	"request_id": true, "ms": true, "error": true, "step": true, "tenant_id": true, "exit_code": true,
	"outcome": true, "front_end": true, "auth": true, "check": true, "change": true, "attempt": true,
	"from": true, "last_completed": true, "organization_id": true, "took_over_pid": true, "event": true,
}

// maxBundleLogLines bounds the log part of a bundle (the newest lines are kept).
const maxBundleLogLines = 20000

// Patterns that look like credentials; they are replaced wherever they
// appear in a bundle (a second line of defence behind the allow-list).
// Compiled on first use, not at every start of the program.
var bundleScrubbers = sync.OnceValue(func() []bundleScrubber {
	return []bundleScrubber{
		{regexp.MustCompile(`(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,}`), "$1 [redacted]"},
		{regexp.MustCompile(`eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}(\.[A-Za-z0-9_-]*)?`), "[redacted-jwt]"},
		{regexp.MustCompile(`(?i)((?:access|refresh|id)_token|device_code|code_verifier|client_secret|api_secret|client_assertion|password|assertion|[?&]code)(\\?"?\s*[:=]\s*\\?"?)[^"&\s,}]+`), "$1$2[redacted]"},
	}
})

type bundleScrubber struct {
	re   *regexp.Regexp
	repl string
}

func scrubBundle(s string) string {
	for _, sc := range bundleScrubbers() {
		s = sc.re.ReplaceAllString(s, sc.repl)
	}
	return s
}

func newSupportBundleCmd(g *globalFlags, io IO) *cobra.Command {
	var out, epFile, cloud string
	c := &cobra.Command{
		Use:   "support-bundle",
		Short: "Write a .tar.gz for a support ticket (never contains tokens, codes or secrets)",
		Long: `support-bundle collects what support needs to diagnose a run: versions, OS, the cloud and
endpoint hosts, the saved progress of each tenant (steps and their timings), the request lines
of the structured log (--log-file: method, host, path, status, request id, errors) and the list
of change receipts. It never contains Authorization headers, access or refresh tokens, device
codes, authorization codes, PKCE verifiers or client secrets.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if out == "" {
				out = "itdr-onboard-support-" + time.Now().UTC().Format("20060102T150405Z") + ".tar.gz"
			}
			if !strings.HasSuffix(out, ".tar.gz") && !strings.HasSuffix(out, ".tgz") {
				return usageError("--out %q: the bundle is a gzip'd tar; name it …tar.gz", out)
			}
			if d := filepath.Dir(out); d != "" {
				if st, err := os.Stat(d); err != nil || !st.IsDir() {
					return usageError("--out %q: directory %s does not exist", out, d)
				}
			}
			var ep endpoints.Endpoints
			var err error
			switch {
			case epFile != "":
				ep, err = endpoints.Load(epFile)
				if err != nil {
					return usageError("%v", err)
				}
			case cloud != "":
				ep, err = endpoints.ForCloud(cloud)
				if err != nil {
					return usageError("--cloud: %v", err)
				}
			default:
				ep = endpoints.Global()
			}
			if g.logFile != "" {
				if _, err := os.Stat(g.logFile); err != nil {
					return usageError("--log-file %s: %v", g.logFile, err)
				}
			}
			b := supportBundle{StateDir: g.stateDirOr(defaultStateDir()), LogFile: g.logFile, Endpoints: ep, Now: time.Now}
			n, err := b.Write(out)
			if err != nil {
				return err
			}
			fmt.Fprintf(io.Out, "Support bundle: %s (%d files). It holds no tokens, codes or secrets; review it before sending.\n", out, n)
			return nil
		},
	}
	c.Flags().StringVarP(&out, "out", "o", "", "where to write the bundle (default itdr-onboard-support-<time>.tar.gz)")
	c.Flags().StringVar(&epFile, "endpoints", "", "the endpoints file the run used (its hosts are recorded, nothing else)")
	c.Flags().StringVar(&cloud, "cloud", "", "the Microsoft cloud the run used (global, usgov, usgovdod, china)")
	return c
}

// supportBundle is what goes into a bundle.
type supportBundle struct {
	StateDir  string
	LogFile   string
	Endpoints endpoints.Endpoints
	Now       func() time.Time
}

type bundleFile struct {
	name string
	data []byte
}

// Write writes the bundle (atomically) and returns how many files it holds.
func (b supportBundle) Write(path string) (int, error) {
	files, err := b.files()
	if err != nil {
		return 0, err
	}
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	now := b.Now()
	for _, f := range files {
		data := []byte(scrubBundle(string(f.data)))
		hdr := &tar.Header{Name: "itdr-onboard-support/" + f.name, Mode: 0o600, Size: int64(len(data)), ModTime: now, Typeflag: tar.TypeReg}
		if err := tw.WriteHeader(hdr); err != nil {
			return 0, err
		}
		if _, err := tw.Write(data); err != nil {
			return 0, err
		}
	}
	if err := tw.Close(); err != nil {
		return 0, err
	}
	if err := gz.Close(); err != nil {
		return 0, err
	}
	if err := atomicfile.Write(path, buf.Bytes(), 0o600); err != nil {
		return 0, fmt.Errorf("writing %s: %w", path, err)
	}
	return len(files), nil
}

func hostOf(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return ""
	}
	return p.Host
}

func (b supportBundle) files() ([]bundleFile, error) {
	var files []bundleFile
	add := func(name string, v any) {
		j, _ := text.MarshalIndent(v, "", "  ")
		files = append(files, bundleFile{name, append(j, '\n')})
	}
	info := map[string]any{
		"version":    Version,
		"go_version": runtime.Version(),
		"os":         runtime.GOOS,
		"arch":       runtime.GOARCH,
		"created_at": b.Now().UTC().Format(time.RFC3339),
		"state_dir":  b.StateDir,
		"cloud":      b.Endpoints.Cloud,
		"hosts": map[string]string{
			"authority": hostOf(b.Endpoints.Authority), "graph": hostOf(b.Endpoints.Graph),
			"exchange": hostOf(b.Endpoints.Exchange), "platform": hostOf(b.Endpoints.Platform),
		},
		"custom_ca":          b.Endpoints.CACertPEM != "",
		"instance_discovery": b.Endpoints.InstanceDiscovery,
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		deps := map[string]string{}
		for _, d := range bi.Deps {
			if strings.Contains(d.Path, "microsoft-authentication-library") || strings.Contains(d.Path, "bubbletea") || strings.Contains(d.Path, "cobra") {
				deps[d.Path] = d.Version
			}
		}
		info["module"] = bi.Main.Path
		info["dependencies"] = deps
	}
	add("info.json", info)

	progress, err := state.Store{Dir: b.StateDir}.AllProgress()
	if err != nil {
		return nil, err
	}
	if progress == nil {
		progress = []*state.Progress{}
	}
	add("progress.json", progress)

	add("receipts.json", b.receipts())

	if b.LogFile != "" {
		lines, requests, errs, err := b.logLines()
		if err != nil {
			return nil, fmt.Errorf("--log-file %s: %w", b.LogFile, err)
		}
		files = append(files, bundleFile{"log.jsonl", lines})
		add("requests.json", requests)
		add("errors.json", errs)
	}
	files = append(files, bundleFile{"README.txt", []byte(`itdr-onboard support bundle

info.json      versions, OS, cloud and endpoint hosts
progress.json  each tenant's saved progress: steps, their timings, the organization and integration ids
receipts.json  the change receipts in the state dir (file, tenant, time, change ids)
log.jsonl      the structured log (--log-file), reduced to known fields (method, host, path, status, request id, errors)
requests.json  request counts and the request ids of failed requests
errors.json    the log's warnings and errors

It never contains Authorization headers, access or refresh tokens, device codes, authorization
codes, PKCE verifiers or client secrets.
`)})
	return files, nil
}

type bundleReceipt struct {
	File      string    `json:"file"`
	TenantID  string    `json:"tenant_id"`
	Tenant    string    `json:"tenant_name,omitempty"`
	WrittenAt time.Time `json:"written_at"`
	Changes   []string  `json:"changes"`
	Declined  int       `json:"declined"`
}

func (b supportBundle) receipts() []bundleReceipt {
	paths, _ := filepath.Glob(filepath.Join(b.StateDir, "tenants", "*", "receipt-*.json"))
	out := []bundleReceipt{}
	for _, p := range paths {
		raw, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		var rc struct {
			TenantID   string    `json:"tenant_id"`
			TenantName string    `json:"tenant_name"`
			WrittenAt  time.Time `json:"written_at"`
			Changes    []struct {
				Change struct {
					ID string `json:"id"`
				} `json:"change"`
			} `json:"changes"`
			Declined []json.RawMessage `json:"declined"`
		}
		if json.Unmarshal(raw, &rc) != nil {
			continue
		}
		r := bundleReceipt{File: filepath.Join(filepath.Base(filepath.Dir(p)), filepath.Base(p)), TenantID: rc.TenantID,
			Tenant: rc.TenantName, WrittenAt: rc.WrittenAt, Changes: []string{}, Declined: len(rc.Declined)}
		for _, c := range rc.Changes {
			r.Changes = append(r.Changes, c.Change.ID)
		}
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].WrittenAt.After(out[j].WrittenAt) })
	return out
}

type requestSummary struct {
	Total    int              `json:"total"`
	ByHost   map[string]int   `json:"by_host"`
	ByStatus map[string]int   `json:"by_status"`
	Failed   []map[string]any `json:"failed"`
	Slowest  []map[string]any `json:"slowest"`
}

// logLines reads the structured log, keeps the allow-listed attributes of
// each line and summarises the requests.
func (b supportBundle) logLines() ([]byte, requestSummary, []map[string]any, error) {
	sum := requestSummary{ByHost: map[string]int{}, ByStatus: map[string]int{}, Failed: []map[string]any{}, Slowest: []map[string]any{}}
	errs := []map[string]any{}
	f, err := os.Open(b.LogFile)
	if err != nil {
		return nil, sum, nil, err
	}
	defer f.Close()
	var kept [][]byte
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	var reqs []map[string]any
	for sc.Scan() {
		var m map[string]any
		if json.Unmarshal(sc.Bytes(), &m) != nil {
			continue // not a log line: dropped, never copied
		}
		clean := map[string]any{}
		for k, v := range m {
			if !bundleLogKeys[k] {
				continue
			}
			switch x := v.(type) {
			case string:
				if len(x) > 500 {
					x = x[:500] + "…"
				}
				clean[k] = scrubBundle(x)
			case float64, bool, nil:
				clean[k] = x
			}
		}
		line, _ := text.Marshal(clean)
		kept = append(kept, line)
		if len(kept) > maxBundleLogLines {
			kept = kept[1:]
		}
		if clean["msg"] == "http" {
			reqs = append(reqs, clean)
			sum.Total++
			if h, ok := clean["host"].(string); ok {
				sum.ByHost[h]++
			}
			st := "error"
			if s, ok := clean["status"].(float64); ok {
				st = fmt.Sprint(int(s))
			}
			sum.ByStatus[st]++
			if st == "error" || !strings.HasPrefix(st, "2") {
				sum.Failed = append(sum.Failed, clean)
			}
		}
		if lv, _ := clean["level"].(string); lv == "WARN" || lv == "ERROR" {
			if clean["msg"] != "http" {
				errs = append(errs, clean)
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, sum, nil, err
	}
	sort.SliceStable(reqs, func(i, j int) bool {
		a, _ := reqs[i]["ms"].(float64)
		c, _ := reqs[j]["ms"].(float64)
		return a > c
	})
	if len(reqs) > 10 {
		reqs = reqs[:10]
	}
	sum.Slowest = append(sum.Slowest, reqs...)
	if len(sum.Failed) > 500 {
		sum.Failed = sum.Failed[len(sum.Failed)-500:]
	}
	return append(bytes.Join(kept, []byte("\n")), '\n'), sum, errs, nil
}
