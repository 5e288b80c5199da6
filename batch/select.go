package batch

import (
	"bufio"
	"encoding/csv"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"unicode"

	"itdr-onboard/partner"
	"itdr-onboard/platform"
)

// ReadTenantsFile reads --tenants FILE: one tenant per line (a tenant id or
// a domain; a CSV line's first field), blank lines and # comments ignored.
func ReadTenantsFile(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("--tenants %s: %w", path, err)
	}
	defer f.Close()
	return ParseTenants(f, path)
}

// ParseTenants is ReadTenantsFile over a reader (name is for messages).
func ParseTenants(r io.Reader, name string) ([]string, error) {
	var out []string
	sc := bufio.NewScanner(r)
	first := true
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		if i := strings.IndexAny(l, ",;\t"); i >= 0 {
			l = strings.TrimSpace(l[:i])
		}
		l = strings.Trim(l, `"`)
		header := first
		first = false
		if header && (strings.EqualFold(l, "tenant") || strings.EqualFold(l, "tenant_id") || strings.EqualFold(l, "domain")) {
			continue // a header
		}
		if l != "" {
			out = append(out, l)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("--tenants %s: %w", name, err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("--tenants %s names no tenant: give one tenant id or domain per line", name)
	}
	return out, nil
}

// Selection picks tenants from the discovery rows.
type Selection struct {
	// Tenants are ids or domains (--tenants FILE); empty with All/AllReady.
	Tenants []string
	// AllReady picks every row in the ready lane (--all-ready).
	AllReady bool
	// All picks every customer discovered (the demo): those that need their
	// customer are handed off, connected ones skipped.
	All bool
}

// Select returns the chosen rows in discovery order. A --tenants entry that
// names no discovered customer is an error naming it.
func Select(rows []partner.Row, sel Selection) ([]partner.Row, error) {
	if sel.All {
		return append([]partner.Row(nil), rows...), nil
	}
	if sel.AllReady {
		var out []partner.Row
		for _, r := range rows {
			if r.Lane == partner.LaneReady {
				out = append(out, r)
			}
		}
		if len(out) == 0 {
			return nil, fmt.Errorf("--all-ready: no customer is in the ready lane; `batch plan` shows each lane's remedy")
		}
		return out, nil
	}
	if len(sel.Tenants) == 0 {
		return nil, fmt.Errorf("choose the tenants: --tenants FILE (ids or domains), --all-ready, or pick them in the table")
	}
	want := map[int]bool{}
	var unknown []string
	for _, t := range sel.Tenants {
		i := findRow(rows, t)
		if i < 0 {
			unknown = append(unknown, t)
			continue
		}
		want[i] = true
	}
	if len(unknown) > 0 {
		return nil, fmt.Errorf("--tenants: %s: not a customer this partner account can see (discovery lists %d; `batch plan` shows them)", strings.Join(unknown, ", "), len(rows))
	}
	var out []partner.Row
	for i, r := range rows {
		if want[i] {
			out = append(out, r)
		}
	}
	return out, nil
}

func findRow(rows []partner.Row, t string) int {
	t = strings.ToLower(strings.TrimSpace(t))
	for i, r := range rows {
		if strings.EqualFold(r.TenantID, t) || (r.Domain != "" && strings.EqualFold(r.Domain, t)) {
			return i
		}
	}
	return -1
}

// OrgMap is --org-map FILE: tenant (id, domain or name) → organization (id
// or exact name).
type OrgMap map[string]string

// ReadOrgMap reads a CSV of "tenant,organization" lines (a header line
// "tenant,organization" is allowed).
func ReadOrgMap(path string) (OrgMap, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("--org-map %s: %w", path, err)
	}
	defer f.Close()
	return ParseOrgMap(f, path)
}

// ParseOrgMap is ReadOrgMap over a reader.
func ParseOrgMap(r io.Reader, name string) (OrgMap, error) {
	cr := csv.NewReader(r)
	cr.Comment = '#'
	cr.FieldsPerRecord = -1
	cr.TrimLeadingSpace = true
	m := OrgMap{}
	for line := 1; ; line++ {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("--org-map %s: %w", name, err)
		}
		if len(rec) == 1 && strings.TrimSpace(rec[0]) == "" {
			continue
		}
		if len(rec) < 2 || strings.TrimSpace(rec[0]) == "" || strings.TrimSpace(rec[1]) == "" {
			return nil, fmt.Errorf("--org-map %s line %d: want \"tenant,organization\" (tenant id, domain or name; organization id or name), got %q", name, line, strings.Join(rec, ","))
		}
		k, v := strings.ToLower(strings.TrimSpace(rec[0])), strings.TrimSpace(rec[1])
		if line == 1 && k == "tenant" && strings.EqualFold(v, "organization") {
			continue
		}
		m[k] = v
	}
	return m, nil
}

// lookup finds the map's entry for a row.
func (m OrgMap) lookup(r partner.Row) (string, bool) {
	for _, k := range []string{r.TenantID, r.Domain, r.Name} {
		if k == "" {
			continue
		}
		if v, ok := m[strings.ToLower(strings.TrimSpace(k))]; ok {
			return v, true
		}
	}
	return "", false
}

// Match chooses the platform organization of a row: the --org-map entry,
// else the organization named exactly like the customer, else the best
// match with a warning (OrgNote), else none. An --org-map entry naming no
// organization is an error.
func Match(r partner.Row, orgs []platform.Organization, m OrgMap) (Tenant, error) {
	t := Tenant{TenantID: r.TenantID, Name: r.Name, Domain: r.Domain, Lane: r.Lane, Row: r}
	if v, ok := m.lookup(r); ok {
		for _, o := range orgs {
			if o.ID == v {
				t.OrgID, t.Org, t.OrgSource = o.ID, o.Name, "org-map"
				return t, nil
			}
		}
		for _, o := range orgs {
			if strings.EqualFold(strings.TrimSpace(o.Name), v) {
				t.OrgID, t.Org, t.OrgSource = o.ID, o.Name, "org-map"
				return t, nil
			}
		}
		return t, fmt.Errorf("--org-map: %s → %q: no platform organization has that id or name", r.Name, v)
	}
	name := strings.ToLower(strings.TrimSpace(r.Name))
	for _, o := range orgs {
		if strings.ToLower(strings.TrimSpace(o.Name)) == name {
			t.OrgID, t.Org, t.OrgSource = o.ID, o.Name, "exact"
			return t, nil
		}
	}
	if r.Lane == partner.LaneConnected || r.Lane == partner.LaneConflict {
		t.OrgID, t.Org, t.OrgSource = r.OrgID, r.Organization, "integration"
		return t, nil
	}
	best, score := bestOrg(r.Name, orgs)
	if best != nil && score >= 0.5 {
		t.OrgID, t.Org, t.OrgSource = best.ID, best.Name, "best-match"
		t.OrgNote = fmt.Sprintf("no organization is named exactly %q; best match %q (%s) — check it, or name the right one in --org-map", r.Name, best.Name, best.ID)
		return t, nil
	}
	t.OrgSource = "none"
	t.OrgNote = fmt.Sprintf("no platform organization is named like %q: add a line \"%s,<organization id>\" to an --org-map file", r.Name, r.TenantID)
	return t, nil
}

// bestOrg returns the organization whose name is most like name (Dice
// coefficient over letter bigrams of the normalised names).
func bestOrg(name string, orgs []platform.Organization) (*platform.Organization, float64) {
	a := bigrams(normName(name))
	var best *platform.Organization
	bs := 0.0
	for i := range orgs {
		s := dice(a, bigrams(normName(orgs[i].Name)))
		if s > bs || (s == bs && best != nil && orgs[i].Name < best.Name) {
			best, bs = &orgs[i], s
		}
	}
	return best, bs
}

var orgSuffixes = map[string]bool{"ltd": true, "limited": true, "inc": true, "llc": true, "gmbh": true, "corp": true, "corporation": true, "co": true, "plc": true, "ag": true, "sa": true, "bv": true, "the": true}

func normName(s string) string {
	f := strings.FieldsFunc(strings.ToLower(s), func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) })
	var keep []string
	for _, w := range f {
		if !orgSuffixes[w] {
			keep = append(keep, w)
		}
	}
	return strings.Join(keep, " ")
}

func bigrams(s string) map[string]int {
	m := map[string]int{}
	r := []rune(s)
	for i := 0; i+1 < len(r); i++ {
		m[string(r[i:i+2])]++
	}
	return m
}

func dice(a, b map[string]int) float64 {
	na, nb, both := 0, 0, 0
	for _, n := range a {
		na += n
	}
	for _, n := range b {
		nb += n
	}
	if na+nb == 0 {
		return 0
	}
	keys := make([]string, 0, len(a))
	for k := range a {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		both += min(a[k], b[k])
	}
	return 2 * float64(both) / float64(na+nb)
}
