package cookiejar

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"
)

// netscapeHeader is the first line curl writes; browsers' export
// extensions write it too.
const netscapeHeader = "# Netscape HTTP Cookie File"

// httpOnlyPrefix marks an HttpOnly cookie's line (curl's convention).
const httpOnlyPrefix = "#HttpOnly_"

// maxNetscapeLine bounds one line of a cookies.txt (cookies are at most a
// few kilobytes; browsers refuse larger ones).
const maxNetscapeLine = 1 << 20

// maxReportedLines is how many bad lines a ParseNetscape error lists.
const maxReportedLines = 20

// ParseError is a bad line in a Netscape cookies.txt. Its message never holds
// the cookie's value.
type ParseError struct {
	Line int    // 1-based line number
	Msg  string // what is wrong with it
}

// Error returns "cookies.txt line N: MSG".
func (e *ParseError) Error() string { return fmt.Sprintf("cookies.txt line %d: %s", e.Line, e.Msg) }

// ParseNetscape reads a Netscape cookies.txt as curl -c and browser export
// extensions write it: one cookie per line with 7 tab-separated fields
// (domain, include-subdomains TRUE/FALSE, path, secure TRUE/FALSE, expiry in
// Unix seconds with 0 for a session cookie, name, value). A line starting with
// "#HttpOnly_" is an HttpOnly cookie; other lines starting with '#' are
// comments; blank lines and CR line ends are fine. As curl does, a line of 6
// fields is a cookie with an empty value, and the include-subdomains field
// decides host-only (a leading dot on the domain is dropped). A value in
// double quotes keeps them through Record.Quoted.
//
// Every bad line is reported: err joins one *ParseError per bad line (the
// first 20). recs holds the cookies of the good lines even when err is not
// nil, so a caller can choose between all-or-nothing and best effort. A read
// error is returned as is, wrapped.
func ParseNetscape(r io.Reader) (recs []Record, err error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), maxNetscapeLine)
	var errs []error
	bad := 0
	for n := 1; sc.Scan(); n++ {
		rec, ok, perr := parseNetscapeLine(sc.Text())
		if perr != "" {
			bad++
			if bad <= maxReportedLines {
				errs = append(errs, &ParseError{Line: n, Msg: perr})
			}
			continue
		}
		if ok {
			recs = append(recs, rec)
		}
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			errs = append(errs, fmt.Errorf("cookies.txt: a line is longer than %d bytes", maxNetscapeLine))
		} else {
			errs = append(errs, fmt.Errorf("read cookies.txt: %w", err))
		}
	}
	if bad > maxReportedLines {
		errs = append(errs, fmt.Errorf("cookies.txt: %d more bad lines", bad-maxReportedLines))
	}
	return recs, errors.Join(errs...)
}

// parseNetscapeLine parses one line. ok is false for comments and blank
// lines; msg says what is wrong with a bad line.
func parseNetscapeLine(line string) (rec Record, ok bool, msg string) {
	line = strings.TrimSuffix(line, "\r")
	if strings.TrimSpace(line) == "" {
		return rec, false, ""
	}
	line = strings.TrimLeft(line, " ") // a tab would be an empty domain field
	if strings.HasPrefix(line, httpOnlyPrefix) {
		rec.HttpOnly = true
		line = line[len(httpOnlyPrefix):]
	} else if line[0] == '#' {
		return rec, false, ""
	}
	f := strings.Split(line, "\t")
	if len(f) == 6 {
		f = append(f, "") // curl: a cookie with an empty value
	}
	if len(f) != 7 {
		return rec, false, fmt.Sprintf("want 7 tab-separated fields, got %d", len(f))
	}
	domain := strings.TrimPrefix(f[0], ".")
	if domain == "" {
		return rec, false, "empty domain"
	}
	if domain[0] == '.' {
		return rec, false, fmt.Sprintf("invalid domain %q", f[0])
	}
	if d, ok := asciiToLower(domain); !ok || strings.ContainsAny(d, " ;,/") {
		return rec, false, fmt.Sprintf("invalid domain %q", f[0])
	} else {
		rec.Domain = d
	}
	sub, ok := parseBool(f[1])
	if !ok {
		return rec, false, fmt.Sprintf("include-subdomains field is %q, want TRUE or FALSE", f[1])
	}
	rec.HostOnly = !sub
	rec.Path = f[2]
	if rec.Path == "" {
		rec.Path = "/"
	}
	if rec.Path[0] != '/' {
		return rec, false, fmt.Sprintf("path %q does not start with /", f[2])
	}
	if rec.Secure, ok = parseBool(f[3]); !ok {
		return rec, false, fmt.Sprintf("secure field is %q, want TRUE or FALSE", f[3])
	}
	exp, emsg := parseExpiry(f[4])
	if emsg != "" {
		return rec, false, emsg
	}
	rec.Expires = exp
	rec.Name = f[5]
	if rec.Name == "" {
		return rec, false, "empty cookie name"
	}
	if strings.ContainsAny(rec.Name, " ;=\"") {
		return rec, false, fmt.Sprintf("invalid cookie name %q", rec.Name)
	}
	rec.Value = f[6]
	if len(rec.Value) >= 2 && rec.Value[0] == '"' && rec.Value[len(rec.Value)-1] == '"' {
		rec.Value = rec.Value[1 : len(rec.Value)-1]
		rec.Quoted = true
	}
	return rec, true, ""
}

func parseBool(s string) (bool, bool) {
	switch {
	case strings.EqualFold(s, "TRUE"):
		return true, true
	case strings.EqualFold(s, "FALSE"):
		return false, true
	}
	return false, false
}

// parseExpiry reads the expiry field: Unix seconds, 0 for a session cookie.
// Some exporters write fractional seconds; they are truncated.
func parseExpiry(s string) (time.Time, string) {
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		if n == 0 {
			return time.Time{}, ""
		}
		if n < 0 {
			return time.Time{}, fmt.Sprintf("negative expiry %q", s)
		}
		if n > maxUnixSeconds {
			n = maxUnixSeconds
		}
		return time.Unix(n, 0).UTC(), ""
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil && !math.IsInf(f, 0) && !math.IsNaN(f) && f >= 0 {
		if f > maxUnixSeconds {
			f = maxUnixSeconds
		}
		if f < 1 {
			return time.Time{}, ""
		}
		return time.Unix(int64(f), 0).UTC(), ""
	}
	return time.Time{}, fmt.Sprintf("expiry %q is not a number of seconds", s)
}

// maxUnixSeconds is 9999-12-31T23:59:59Z, the last instant the JSON file can
// hold; later expiries are clamped to it.
const maxUnixSeconds = 253402300799

// WriteNetscape writes recs as a Netscape cookies.txt that curl -b/-c and
// browser import extensions read: the "# Netscape HTTP Cookie File" header,
// then one line per record, "#HttpOnly_" before HttpOnly ones, a leading dot
// and TRUE for domain cookies, 0 as the expiry of session cookies, the value in
// double quotes when Quoted. A record that cannot be written (a tab or line
// break in a field, an empty name or domain) is an error naming the cookie
// (never its value), found before anything is written: on such an error w
// receives nothing.
func WriteNetscape(w io.Writer, recs []Record) error {
	for _, r := range recs {
		if err := checkWritable(r); err != nil {
			return err
		}
	}
	bw := bufio.NewWriter(w)
	bw.WriteString(netscapeHeader + "\n")
	bw.WriteString("# https://curl.se/docs/http-cookies.html\n")
	bw.WriteString("# Written by clearway. It holds secrets: keep it private (mode 0600).\n\n")
	for _, r := range recs {
		var b strings.Builder
		if r.HttpOnly {
			b.WriteString(httpOnlyPrefix)
		}
		if !r.HostOnly {
			b.WriteByte('.')
		}
		b.WriteString(strings.TrimPrefix(r.Domain, "."))
		b.WriteString(boolField(!r.HostOnly))
		path := r.Path
		if path == "" {
			path = "/"
		}
		b.WriteString("\t" + path)
		b.WriteString(boolField(r.Secure))
		exp := int64(0)
		if !r.Expires.IsZero() {
			exp = max(r.Expires.Unix(), 1)
		}
		b.WriteString("\t" + strconv.FormatInt(exp, 10))
		b.WriteString("\t" + r.Name + "\t")
		if r.Quoted {
			b.WriteString(`"` + r.Value + `"`)
		} else {
			b.WriteString(r.Value)
		}
		b.WriteByte('\n')
		bw.WriteString(b.String())
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write cookies.txt: %w", err)
	}
	return nil
}

func boolField(b bool) string {
	if b {
		return "\tTRUE"
	}
	return "\tFALSE"
}

// checkWritable rejects a record that a cookies.txt line cannot hold.
func checkWritable(r Record) error {
	if r.Name == "" || strings.TrimPrefix(r.Domain, ".") == "" {
		return fmt.Errorf("write cookies.txt: cookie %q for %q has no name or domain", r.Name, r.Domain)
	}
	const bad = "\t\r\n"
	if strings.ContainsAny(r.Name, bad) || strings.ContainsAny(r.Domain, bad) || strings.ContainsAny(r.Path, bad) {
		return fmt.Errorf("write cookies.txt: cookie %q for %q has a tab or line break in its name, domain or path", r.Name, r.Domain)
	}
	if strings.ContainsAny(r.Value, bad) {
		return fmt.Errorf("write cookies.txt: cookie %q for %q has a tab or line break in its value", r.Name, r.Domain)
	}
	if strings.HasPrefix(r.Domain, "#") && !r.HttpOnly && r.HostOnly {
		return fmt.Errorf("write cookies.txt: cookie %q has a domain starting with #", r.Name)
	}
	return nil
}
