package state

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"itdr-onboard/internal/atomicfile"
	"itdr-onboard/ui/text"
)

// PartnerConfigFile is the wizard's partner configuration, in the partner
// state directory (<state-dir>/partner/config.json): the onboarding app
// `partner setup` created or validated, so the partner commands need no
// --client-id. It holds ids only (never a token or secret).
const PartnerConfigFile = "config.json"

// PartnerConfig is the saved partner configuration.
type PartnerConfig struct {
	// ClientID is the onboarding app's application (client) id.
	ClientID string `json:"client_id"`
	// PartnerTenantID is the partner tenant it is registered in.
	PartnerTenantID string    `json:"partner_tenant_id,omitempty"`
	SavedAt         time.Time `json:"saved_at"`
}

// PartnerConfigPath is <dir>/config.json.
func (s Store) PartnerConfigPath() string { return filepath.Join(s.Dir, PartnerConfigFile) }

// SavePartnerConfig writes the configuration atomically, mode 0600.
func (s Store) SavePartnerConfig(c PartnerConfig) error {
	if c.ClientID == "" {
		return errors.New("state: partner config without a client id")
	}
	if err := os.MkdirAll(s.Dir, 0o700); err != nil {
		return fmt.Errorf("state: %w", err)
	}
	b, err := text.MarshalIndent(c, "", "  ")
	if err != nil {
		return err
	}
	if err := atomicfile.Write(s.PartnerConfigPath(), append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("state: writing %s: %w", s.PartnerConfigPath(), err)
	}
	return nil
}

// LoadPartnerConfig reads the configuration; (nil, nil) when there is none.
func (s Store) LoadPartnerConfig() (*PartnerConfig, error) {
	b, err := os.ReadFile(s.PartnerConfigPath())
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("state: %w", err)
	}
	var c PartnerConfig
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("state: %s is not valid JSON (%v): delete it and run partner setup again", s.PartnerConfigPath(), err)
	}
	c.ClientID = strings.TrimSpace(c.ClientID)
	if c.ClientID == "" {
		return nil, fmt.Errorf("state: %s has no client_id: run partner setup again", s.PartnerConfigPath())
	}
	return &c, nil
}
