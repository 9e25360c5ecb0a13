package cookiejar

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"sort"
	"time"
)

// ClearanceCookie is the cookie Cloudflare hands out once a client passed its
// check; losing it is what clearway exists to prevent.
const ClearanceCookie = "cf_clearance"

// FileSummary describes a cookie-jar file as Inspect found it. The zero value
// is a file that does not exist. It holds no cookie value.
type FileSummary struct {
	Exists    bool              // the file is there
	Mode      fs.FileMode       // its permission bits (0600 expected)
	Size      int64             // bytes
	SavedAt   time.Time         // when it was last written, as the file says
	Upstreams []UpstreamSummary // sorted by name
}

// UpstreamSummary is one upstream's cookies in a FileSummary. The zero value
// is an upstream with no cookie.
type UpstreamSummary struct {
	Name      string
	Cookies   int       // cookies Open would keep (valid, unexpired)
	Expired   int       // cookies Open would drop as expired
	Clearance time.Time // nearest expiry of an unexpired cf_clearance; zero: none with an expiry
	// SessionClearance is true when a cf_clearance without expiry is kept.
	SessionClearance bool
	// Unreadable says why this upstream's part of the file does not parse
	// (Open skips it); "" when it does.
	Unreadable string
}

// Inspect reads the jar file at path without changing anything: unlike Open
// it never creates the folder, restricts the mode, removes temporary files or
// moves a corrupt file aside, so it is safe while another process owns the
// file. A missing file gives a zero FileSummary and no error; a file Open
// would move aside gives an error saying why (never quoting its content).
// now decides which cookies count as expired.
func Inspect(path string, now time.Time) (FileSummary, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return FileSummary{}, nil
	}
	if err != nil {
		return FileSummary{}, fmt.Errorf("open cookie jar file: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return FileSummary{}, fmt.Errorf("stat cookie jar file: %w", err)
	}
	sum := FileSummary{Exists: true, Mode: fi.Mode().Perm(), Size: fi.Size()}
	if !fi.Mode().IsRegular() {
		return sum, fmt.Errorf("%s is not a regular file", path)
	}
	data, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err != nil {
		return sum, fmt.Errorf("read cookie jar file: %w", err)
	}
	if len(data) > maxFileSize {
		return sum, fmt.Errorf("the file is larger than %d bytes", maxFileSize)
	}
	fd, err := decodeFile(data)
	if err != nil {
		return sum, err
	}
	sum.SavedAt = normalTime(fd.SavedAt)
	for name, raw := range fd.Upstreams {
		us := UpstreamSummary{Name: name}
		var up fileUpstream
		if err := decodeUpstream(raw, &up); err != nil {
			us.Unreadable = err.Error()
			sum.Upstreams = append(sum.Upstreams, us)
			continue
		}
		for _, c := range up.Cookies {
			if !c.valid() {
				continue
			}
			r := c.record()
			if r.Expired(now) {
				us.Expired++
				continue
			}
			us.Cookies++
			if r.Name != ClearanceCookie {
				continue
			}
			if r.Session() {
				us.SessionClearance = true
			} else if us.Clearance.IsZero() || r.Expires.Before(us.Clearance) {
				us.Clearance = r.Expires
			}
		}
		sum.Upstreams = append(sum.Upstreams, us)
	}
	sort.Slice(sum.Upstreams, func(i, j int) bool { return sum.Upstreams[i].Name < sum.Upstreams[j].Name })
	return sum, nil
}
