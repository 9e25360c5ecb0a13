package keychain

import (
	"fmt"
	"strings"
)

// MaxNameLen is the longest key name ValidName accepts.
const MaxNameLen = 64

// ValidName reports whether a key name is usable by users: non-empty, at
// most MaxNameLen characters from A-Z, a-z, 0-9, ".", "_" and "-", and not
// starting with "_" (reserved for clearway's own entries such as
// ClientTokenName). The error, matching ErrInvalidName, says why.
func ValidName(name string) error {
	if err := checkChars(name); err != nil {
		return err
	}
	if strings.HasPrefix(name, "_") {
		return fmt.Errorf("%w: %q starts with \"_\", which is reserved for clearway itself", ErrInvalidName, name)
	}
	return nil
}

// checkChars applies ValidName's rules except the reserved prefix.
func checkChars(name string) error {
	if name == "" {
		return fmt.Errorf("%w: the name is empty", ErrInvalidName)
	}
	if len(name) > MaxNameLen {
		return fmt.Errorf("%w: %q is %d characters long; the limit is %d", ErrInvalidName, name, len(name), MaxNameLen)
	}
	for i, r := range name {
		if (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9') || r == '.' || r == '_' || r == '-' {
			continue
		}
		return fmt.Errorf("%w: %q contains %q at position %d: use only letters, digits, \".\", \"_\" and \"-\"", ErrInvalidName, name, r, i+1)
	}
	return nil
}

// checkStoreName validates a name given to a Store, which accepts clearway's
// reserved names too.
func checkStoreName(op, name string) error {
	if err := checkChars(name); err != nil {
		return &Error{Op: op, Name: name, Kind: ErrInvalidName, Err: err}
	}
	return nil
}
