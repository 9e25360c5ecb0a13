package doctor

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/clearway/clearway/proxy/cookiejar"
)

// checkCookies: the jar file loads, cookies per upstream, and the nearest
// cf_clearance expiry.
func checkCookies(_ context.Context, o *Options) []Result {
	if o.CookiesPath == "" {
		return nil
	}
	r := Result{Name: "cookie-jar"}
	now := o.now()
	sum, err := cookiejar.Inspect(o.CookiesPath, now)
	switch {
	case err != nil && !sum.Exists:
		r.Status, r.Detail = Fail, err.Error()
		r.Fix = "check the permissions of " + o.CookiesPath
		return []Result{r}
	case err != nil:
		r.Status = Warn
		r.Detail = fmt.Sprintf("%s does not load (%v): the next start moves it aside and begins with no cookies", o.CookiesPath, err)
		r.Fix = "nothing to do (Cloudflare hands out new cookies); `clearway cookies import FILE` restores saved ones"
		return []Result{r}
	case !sum.Exists:
		r.Status, r.Detail = OK, o.CookiesPath+" (no cookies saved yet)"
		return []Result{r}
	}
	var parts []string
	var nearest time.Time
	nearestUp := ""
	var bad []string
	total := 0
	for _, u := range sum.Upstreams {
		total += u.Cookies
		p := fmt.Sprintf("%s %d", u.Name, u.Cookies)
		if u.Unreadable != "" {
			p = u.Name + " unreadable (" + u.Unreadable + "; skipped at start)"
			bad = append(bad, u.Name)
		}
		if u.SessionClearance {
			p += " (cf_clearance for this session)"
		}
		parts = append(parts, p)
		if !u.Clearance.IsZero() && (nearest.IsZero() || u.Clearance.Before(nearest)) {
			nearest, nearestUp = u.Clearance, u.Name
		}
	}
	detail := fmt.Sprintf("%s loads: %d %s", o.CookiesPath, total, plural(total, "cookie", "cookies"))
	if len(parts) > 0 {
		detail += " (" + strings.Join(parts, ", ") + ")"
	}
	if !nearest.IsZero() {
		detail += fmt.Sprintf("; nearest cf_clearance expiry %s (%s, in %s)", nearest.UTC().Format("2006-01-02 15:04 UTC"), nearestUp, nearest.Sub(now).Round(time.Minute))
	}
	r.Status, r.Detail = OK, detail
	if len(bad) > 0 {
		r.Status = Warn
		r.Fix = "nothing to do (the next start skips those upstreams' cookies; Cloudflare hands out new ones); `clearway cookies clear " + bad[0] + "` tidies the file"
	}
	if runtime.GOOS != "windows" && sum.Mode&0o077 != 0 {
		r.Status = Warn
		r.Detail += fmt.Sprintf("; mode %04o lets other users read the cookies", sum.Mode)
		r.Fix = "chmod 600 " + o.CookiesPath + " (clearway also restricts it when it starts)"
	}
	return []Result{r}
}

// sqliteMagic starts every SQLite 3 database file.
var sqliteMagic = []byte("SQLite format 3\x00")

// checkUsage: the usage database is an SQLite file only its owner can read.
// It is looked at, not opened, so a running clearway is not disturbed.
func checkUsage(_ context.Context, o *Options) []Result {
	if o.UsagePath == "" {
		return nil
	}
	r := Result{Name: "usage-db"}
	f, err := os.Open(o.UsagePath)
	if errors.Is(err, fs.ErrNotExist) {
		r.Status, r.Detail = OK, o.UsagePath+" (not created yet)"
		return []Result{r}
	}
	if err != nil {
		r.Status, r.Detail, r.Fix = Fail, err.Error(), "check the permissions of "+o.UsagePath
		return []Result{r}
	}
	defer f.Close()
	head := make([]byte, len(sqliteMagic))
	_, rerr := io.ReadFull(f, head)
	fi, serr := f.Stat()
	switch {
	case serr != nil:
		r.Status, r.Detail, r.Fix = Fail, serr.Error(), "check "+o.UsagePath
	case rerr != nil || !bytes.Equal(head, sqliteMagic):
		r.Status = Fail
		r.Detail = o.UsagePath + " is not an SQLite database"
		r.Fix = "move it aside (clearway starts a new ledger); `clearway usage` then counts from now"
	case runtime.GOOS != "windows" && fi.Mode().Perm()&0o077 != 0:
		r.Status = Warn
		r.Detail = fmt.Sprintf("%s (SQLite, %d KiB) has mode %04o: other users can read your usage", o.UsagePath, fi.Size()>>10, fi.Mode().Perm())
		r.Fix = "chmod 600 " + o.UsagePath
	default:
		r.Status, r.Detail = OK, fmt.Sprintf("%s (SQLite, %d KiB)", o.UsagePath, fi.Size()>>10)
	}
	return []Result{r}
}
