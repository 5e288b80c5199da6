package auth

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/cache"

	"itdr-onboard/internal/atomicfile"
)

// CacheMode says where MSAL's token cache lives.
type CacheMode string

const (
	// CacheMemory keeps tokens in process memory only (default).
	CacheMemory CacheMode = "memory"
	// CacheFile writes <StateDir>/token-cache.json with mode 0600.
	CacheFile CacheMode = "file"
	// CacheKeyring would use the OS keyring; not available in this build.
	CacheKeyring CacheMode = "keyring"
)

// CacheFileName is the file name of the CacheFile token cache inside StateDir.
const CacheFileName = "token-cache.json"

// ErrKeyringUnavailable is returned by New for CacheKeyring: MSAL's keyring
// cache needs cgo and libsecret on Linux, which this build does not have.
var ErrKeyringUnavailable = errors.New("keyring cache not available on this system; use --token-cache file or the default in-memory cache")

// ParseCacheMode parses the --token-cache flag value.
func ParseCacheMode(s string) (CacheMode, error) {
	switch m := CacheMode(strings.ToLower(strings.TrimSpace(s))); m {
	case "":
		return CacheMemory, nil
	case CacheMemory, CacheFile:
		return m, nil
	case CacheKeyring:
		// Refused when the flag is read, so every command reports it as a
		// usage error (exit 2) before anything else happens.
		return "", fmt.Errorf("--token-cache keyring: %w", ErrKeyringUnavailable)
	}
	return "", fmt.Errorf("--token-cache %q: must be one of memory, file, keyring", s)
}

// fileCache is a cache.ExportReplace that keeps MSAL's serialized cache in
// one file, written atomically with mode 0600.
type fileCache struct {
	mu   sync.Mutex
	path string
}

func newFileCache(stateDir string) (*fileCache, error) {
	if stateDir == "" {
		return nil, errors.New("token cache: a state directory is needed for --token-cache file")
	}
	if err := os.MkdirAll(stateDir, 0o700); err != nil {
		return nil, fmt.Errorf("token cache: %w", err)
	}
	return &fileCache{path: filepath.Join(stateDir, CacheFileName)}, nil
}

// Replace loads the file into MSAL's cache. A missing file is an empty cache.
func (f *fileCache) Replace(ctx context.Context, u cache.Unmarshaler, _ cache.ReplaceHints) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	b, err := os.ReadFile(f.path)
	if errors.Is(err, fs.ErrNotExist) || (err == nil && len(b) == 0) {
		return u.Unmarshal([]byte("{}"))
	}
	if err != nil {
		return fmt.Errorf("token cache: %w", err)
	}
	if err := u.Unmarshal(b); err != nil {
		// A corrupt cache is not fatal: start signed out.
		return u.Unmarshal([]byte("{}"))
	}
	return nil
}

// Export writes MSAL's cache to the file: temp file (0600) + rename.
func (f *fileCache) Export(ctx context.Context, m cache.Marshaler, _ cache.ExportHints) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	b, err := m.Marshal()
	if err != nil {
		return fmt.Errorf("token cache: %w", err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := atomicfile.Write(f.path, b, 0o600); err != nil {
		return fmt.Errorf("token cache: %w", err)
	}
	return nil
}

// remove deletes the cache file.
func (f *fileCache) remove() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := os.Remove(f.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("token cache: %w", err)
	}
	return nil
}
