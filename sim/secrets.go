package sim

// IssuedSecrets returns every secret the simulator handed out or accepted so
// far: access tokens, refresh tokens, device codes, authorization codes and
// the platform API secret. Redaction tests scan logs, screens and files for
// each of them.
func (s *Server) IssuedSecrets() []string {
	var out []string
	s.tokens.mu.Lock()
	for t := range s.tokens.tokens {
		out = append(out, t)
	}
	s.tokens.mu.Unlock()
	if s.idp != nil {
		s.idp.mu.Lock()
		for dc := range s.idp.byDevice {
			out = append(out, dc)
		}
		for c := range s.idp.codes {
			out = append(out, c)
		}
		for r := range s.idp.refresh {
			out = append(out, r)
		}
		s.idp.mu.Unlock()
	}
	if s.sc != nil && s.sc.Platform.APISecret != "" {
		out = append(out, s.sc.Platform.APISecret)
	}
	return out
}
