// Package atomicfile writes a file so that a crash at any moment leaves
// either the old contents or the new, never a torn file.
package atomicfile

import (
	"os"
	"path/filepath"
)

// Write writes data to a temp file in path's directory (".<name>.*.tmp"),
// sets perm, syncs it and renames it over path, then syncs the directory.
// On any error the temp file is removed and path is left as it was.
func Write(path string, data []byte, perm os.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp) // a no-op once the rename has happened
	if err := f.Chmod(perm); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}
