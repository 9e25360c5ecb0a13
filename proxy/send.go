package proxy

import (
	"crypto/tls"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// send makes one attempt through the session's transport, with its cookie
// jar: what http.Client.Do does for a request that follows no redirect
// (clearway never follows one), without the client's per-request machinery.
// Client.Do clones every request's headers for a redirect that never comes
// (and builds closures and a request list around it); this path is taken by
// every request, so it is done here by hand. Errors are wrapped as Client.Do
// wraps them (*url.Error with the method and the URL, its password
// masked), and the jar gets the cookies of every answer, as with a Client.
// req.Header must be the attempt's own map: the Cookie header is set on it.
func (s *session) send(req *http.Request) (*http.Response, error) {
	if u := req.URL.User; u != nil && req.Header.Get("Authorization") == "" {
		password, _ := u.Password()
		req.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(u.Username()+":"+password)))
	}
	cookieURL := req.URL
	if req.Host != "" {
		c := *req.URL
		c.Host = req.Host
		cookieURL = &c
	}
	for _, c := range s.jar.Cookies(cookieURL) {
		req.AddCookie(c)
	}
	resp, err := s.transport.RoundTrip(req)
	if err != nil {
		if tlsErr, ok := err.(tls.RecordHeaderError); ok && string(tlsErr.RecordHeader[:]) == "HTTP/" {
			err = http.ErrSchemeMismatch
		}
		return nil, &url.Error{Op: urlErrorOp(req.Method), URL: stripPassword(req.URL), Err: err}
	}
	if resp == nil {
		return nil, &url.Error{Op: urlErrorOp(req.Method), URL: stripPassword(req.URL),
			Err: fmt.Errorf("http: RoundTripper implementation (%T) returned a nil *Response with a nil error", s.transport)}
	}
	if resp.Body == nil {
		if resp.ContentLength > 0 && req.Method != http.MethodHead {
			return nil, &url.Error{Op: urlErrorOp(req.Method), URL: stripPassword(req.URL),
				Err: fmt.Errorf("http: RoundTripper implementation (%T) returned a *Response with content length %d but a nil Body", s.transport, resp.ContentLength)}
		}
		resp.Body = io.NopCloser(strings.NewReader(""))
	}
	if rc := resp.Cookies(); len(rc) > 0 {
		s.jar.SetCookies(cookieURL, rc)
	}
	return resp, nil
}

// urlErrorOp is net/http's: "Post" for POST.
func urlErrorOp(method string) string {
	if method == "" {
		return "Get"
	}
	return method[:1] + strings.ToLower(method[1:])
}

// stripPassword is net/http's: the URL with its password, if any, as "***".
func stripPassword(u *url.URL) string {
	if _, set := u.User.Password(); set {
		return strings.Replace(u.String(), u.User.String()+"@", u.User.Username()+":***@", 1)
	}
	return u.String()
}
