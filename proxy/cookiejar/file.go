package cookiejar

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/clearway/clearway/internal/atomicfile"
	"github.com/clearway/clearway/internal/privdir"
)

// FileVersion is the version of the cookies.json format this package reads
// and writes. A file with another version is moved aside like a corrupt one.
const FileVersion = 1

// maxFileSize bounds what Open reads; a larger file is treated as corrupt.
// With the per-upstream byte budget a file written by this version stays far
// below it (256 KiB per upstream plus the JSON around it); the margin lets a
// file written before the budget existed still load, each jar trimmed to its
// budget, instead of being moved aside whole.
const maxFileSize = 256 << 20

// corruptTimeFormat stamps the name a bad file is moved to:
// cookies.json.corrupt-20060102T150405Z.
const corruptTimeFormat = "20060102T150405Z"

// lastFileTime is the latest instant the file holds (RFC 3339 allows years
// up to 9999); later expiries are written as this.
var lastFileTime = time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC)

// fileData is the whole cookies.json:
//
//	{"version":1,"saved_at":"...","upstreams":{"<name>":{"user_agent":"...","cookies":[...]}}}
type fileData struct {
	Version   int                        `json:"version"`
	SavedAt   time.Time                  `json:"saved_at,omitzero"`
	Upstreams map[string]json.RawMessage `json:"upstreams"`
}

// fileOut is fileData as written.
type fileOut struct {
	Version   int                     `json:"version"`
	SavedAt   time.Time               `json:"saved_at,omitzero"`
	Upstreams map[string]fileUpstream `json:"upstreams"`
}

// fileUpstream is one upstream's pinned User-Agent and cookies, oldest first.
type fileUpstream struct {
	UserAgent string       `json:"user_agent,omitempty"`
	Cookies   []fileCookie `json:"cookies"`
}

// fileCookie is a Record as stored. Expires absent means a session cookie.
type fileCookie struct {
	Name     string    `json:"name"`
	Value    string    `json:"value"`
	Quoted   bool      `json:"quoted,omitempty"`
	Domain   string    `json:"domain"`
	HostOnly bool      `json:"host_only"`
	Path     string    `json:"path"`
	Secure   bool      `json:"secure"`
	HttpOnly bool      `json:"http_only"`
	SameSite string    `json:"same_site,omitempty"`
	Expires  time.Time `json:"expires,omitzero"`
	Created  time.Time `json:"created,omitzero"`
}

func toFileCookie(r Record) fileCookie {
	exp := r.Expires
	if exp.After(lastFileTime) {
		exp = lastFileTime
	}
	created := r.Created
	if created.After(lastFileTime) || created.Year() < 1 {
		created = time.Time{}
	}
	return fileCookie{
		Name: r.Name, Value: r.Value, Quoted: r.Quoted, Domain: r.Domain, HostOnly: r.HostOnly,
		Path: r.Path, Secure: r.Secure, HttpOnly: r.HttpOnly, SameSite: r.SameSite,
		Expires: normalTime(exp), Created: normalTime(created),
	}
}

func (c fileCookie) record() Record {
	if c.Created.Year() < 1 || c.Created.After(lastFileTime) {
		c.Created = time.Time{} // unusable: counts as created at load
	}
	return Record{
		Name: c.Name, Value: c.Value, Quoted: c.Quoted, Domain: c.Domain, HostOnly: c.HostOnly,
		Path: c.Path, Secure: c.Secure, HttpOnly: c.HttpOnly, SameSite: c.SameSite,
		Expires: normalTime(c.Expires), Created: normalTime(c.Created),
	}
}

// valid reports whether c can be replayed into a jar as it is: a name, a
// canonical domain that survives the replay URL, a path starting with '/',
// and text that JSON keeps exactly (invalid UTF-8 would come back as U+FFFD,
// a different cookie, so such a cookie is not written at all).
func (c fileCookie) valid() bool {
	if c.Name == "" || c.Domain == "" || c.Path == "" || c.Path[0] != '/' {
		return false
	}
	if !utf8.ValidString(c.Name) || !utf8.ValidString(c.Path) || !utf8.ValidString(c.Domain) || !utf8.ValidString(c.Value) {
		return false
	}
	switch c.SameSite {
	case "", SameSiteLax, SameSiteStrict, SameSiteNone:
	default:
		return false
	}
	h, err := canonicalHost(replayHost(c.Domain))
	return err == nil && h == c.Domain
}

// decodeFile parses a cookies.json. Any problem (empty, not JSON, torn,
// trailing bytes, another version) is an error that says what without
// quoting the file's content.
func decodeFile(data []byte) (*fileData, error) {
	if len(strings.TrimSpace(string(data))) == 0 {
		return nil, errors.New("the file is empty")
	}
	var fd fileData
	if err := json.Unmarshal(data, &fd); err != nil {
		return nil, describeJSONError(err)
	}
	if fd.Version != FileVersion {
		return nil, fmt.Errorf("unsupported format version %d (this build reads %d)", fd.Version, FileVersion)
	}
	return &fd, nil
}

// decodeUpstream parses one upstream's part of the file, so that a part that
// does not parse costs only that upstream.
func decodeUpstream(raw json.RawMessage, up *fileUpstream) error {
	if err := json.Unmarshal(raw, up); err != nil {
		return describeJSONError(err)
	}
	return nil
}

// describeJSONError turns a decoding error into a message that names the
// place, never the content (which may be a cookie value).
func describeJSONError(err error) error {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	var pe *time.ParseError
	switch {
	case errors.As(err, &se) && strings.Contains(se.Error(), "unexpected end"):
		return fmt.Errorf("the file ends early at byte %d (truncated)", se.Offset)
	case errors.As(err, &se):
		return fmt.Errorf("invalid JSON at byte %d", se.Offset)
	case errors.As(err, &te):
		return fmt.Errorf("field %q holds a %s, not the expected type", te.Field, te.Value)
	case errors.As(err, &pe):
		return errors.New("a time field is not an RFC 3339 time")
	}
	return errors.New("invalid content")
}

// encodeFile renders the state as cookies.json (indented, for people who look).
func encodeFile(savedAt time.Time, ups map[string]fileUpstream) ([]byte, error) {
	if savedAt.After(lastFileTime) {
		savedAt = lastFileTime
	}
	fd := fileOut{Version: FileVersion, SavedAt: normalTime(savedAt), Upstreams: ups}
	data, err := json.MarshalIndent(fd, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode cookie jars: %w", err)
	}
	return append(data, '\n'), nil
}

// readFile reads the jar file. A missing file gives nil, nil.
//
// The file is opened without following a symbolic link (a link planted in
// its place once made clearway chmod the link's target) and must be a
// regular file of the user's that others cannot write (internal/privdir);
// one only readable by others is restricted to 0600, with a warning.
func readFile(path string, logger *slog.Logger) ([]byte, error) {
	before, statErr := os.Lstat(path)
	f, err := privdir.OpenFile(path, os.O_RDONLY, 0o600)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("open cookie jar file: %w", err)
	}
	defer f.Close()
	// Windows reports every file as 0666 and Chmod cannot restrict it (the
	// folder's ACL does): checking there only warned at every start.
	if statErr == nil && runtime.GOOS != "windows" && before.Mode().Perm()&0o077 != 0 {
		logger.Warn("cookie jar file was readable by others; restricted it to mode 0600", "path", path,
			"was", fmt.Sprintf("%#o", before.Mode().Perm()))
	}
	data, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("read cookie jar file: %w", err)
	}
	if data == nil {
		data = []byte{}
	}
	return data, nil
}

// moveAside renames a file that does not parse to
// <path>.corrupt-<UTC time>, so nothing is lost, and says so.
func moveAside(path string, now time.Time, reason error, logger *slog.Logger) {
	base := path + ".corrupt-" + now.UTC().Format(corruptTimeFormat)
	dst := base
	for i := 2; ; i++ {
		if _, err := os.Lstat(dst); errors.Is(err, fs.ErrNotExist) {
			break
		}
		dst = base + "-" + strconv.Itoa(i)
	}
	if err := os.Rename(path, dst); err != nil {
		logger.Error("cookie jar file does not parse and could not be moved aside; starting with empty jars, the next save replaces it",
			"path", path, "reason", reason.Error(), "err", err)
		return
	}
	logger.Warn("cookie jar file does not parse; moved it aside and starting with empty jars",
		"path", path, "moved_to", dst, "reason", reason.Error())
}

// removeStaleTemps deletes temporary files that an interrupted save left
// next to path.
func removeStaleTemps(path string, logger *slog.Logger) {
	if removed := atomicfile.RemoveTemps(path); removed > 0 {
		logger.Info("removed temporary files left by an interrupted save", "dir", filepath.Dir(path), "count", removed)
	}
}

// sortedCookies renders records oldest first, the order a load replays.
func sortedCookies(recs []Record) []fileCookie {
	slices.SortStableFunc(recs, func(a, b Record) int { return a.Created.Compare(b.Created) })
	out := make([]fileCookie, 0, len(recs))
	for _, r := range recs {
		if fc := toFileCookie(r); fc.valid() {
			out = append(out, fc)
		}
	}
	return out
}

// writeFileAtomic replaces path with data, mode 0600, through
// atomicfile.WriteFile (a crash leaves the old file or the new one; a
// symbolic link at path is refused). It creates the folder (mode 0700) if it
// is missing.
func writeFileAtomic(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("create folder for cookie jars: %w", err)
	}
	return atomicfile.WriteFile(path, data, 0o600)
}
