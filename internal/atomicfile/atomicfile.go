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
	return write(path, data, perm, true)
}

// WriteUnsynced is Write without the directory's sync: after a crash of
// the machine path holds the old contents or the new, never a torn file,
// but the rename itself may be lost (the old contents come back). For a
// file rewritten often whose latest version matters only once a later
// Write (or a sync of the directory) has made it durable.
func WriteUnsynced(path string, data []byte, perm os.FileMode) error {
	return write(path, data, perm, false)
}

func write(path string, data []byte, perm os.FileMode, syncDir bool) error {
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
	if !syncDir {
		return nil
	}
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}
