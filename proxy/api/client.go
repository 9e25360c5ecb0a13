package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/clearway/clearway/proxy/usage"
)

// Client calls a running proxy's admin API. It is the one place the CLI's
// side of the API lives: how a request is sent (HTTP is the only transport
// so far; HTTP may be replaced, e.g. by a unix socket dialer), authenticated
// and decoded. The zero value is not usable; set Base. Safe for concurrent
// use.
type Client struct {
	Base  string       // "http://127.0.0.1:8764"
	Token string       // client token; "" when the proxy requires none
	HTTP  *http.Client // nil: http.DefaultClient
}

// Health calls GET /health.
func (c *Client) Health(ctx context.Context) (Health, error) {
	var h Health
	err := c.Do(ctx, http.MethodGet, PathHealth, nil, &h, nil)
	return h, err
}

// Status calls GET /status.
func (c *Client) Status(ctx context.Context) (Status, error) {
	var st Status
	err := c.Do(ctx, http.MethodGet, PathStatus, nil, &st, nil)
	return st, err
}

// Usage calls GET /usage with since and by ("" for the defaults).
func (c *Client) Usage(ctx context.Context, since, by string) (Usage, error) {
	q := url.Values{}
	if since != "" {
		q.Set(ParamSince, since)
	}
	if by != "" {
		q.Set(ParamBy, by)
	}
	var u Usage
	err := c.Do(ctx, http.MethodGet, PathUsage+"?"+q.Encode(), nil, &u, nil)
	return u, err
}

// UsageRecent calls GET /usage/recent for the latest n requests.
func (c *Client) UsageRecent(ctx context.Context, n int) ([]usage.Entry, error) {
	var out []usage.Entry
	err := c.Do(ctx, http.MethodGet, PathUsageRecent+"?"+ParamN+"="+strconv.Itoa(n), nil, &out, nil)
	return out, err
}

// Cookies calls GET /cookies for upstream ("" = all), with values when asked.
func (c *Client) Cookies(ctx context.Context, upstream string, values bool) ([]CookieEntry, error) {
	q := url.Values{ParamUpstream: {upstream}}
	if values {
		q.Set(ParamValues, "1")
	}
	var out []CookieEntry
	err := c.Do(ctx, http.MethodGet, PathCookies+"?"+q.Encode(), nil, &out, nil)
	return out, err
}

// ClearCookies calls POST /cookies/clear for upstream ("" = all).
func (c *Client) ClearCookies(ctx context.Context, upstream string, unpinUA bool) (ClearResult, error) {
	q := url.Values{ParamUpstream: {upstream}}
	if unpinUA {
		q.Set(ParamUnpinUA, "1")
	}
	var res ClearResult
	err := c.Do(ctx, http.MethodPost, PathCookiesClear+"?"+q.Encode(), nil, &res, nil)
	return res, err
}

// ImportCookies calls POST /cookies/import with a Netscape cookies.txt.
func (c *Client) ImportCookies(ctx context.Context, cookiesTxt io.Reader) (ImportResult, error) {
	var res ImportResult
	err := c.Do(ctx, http.MethodPost, PathCookiesImport, cookiesTxt, &res, nil)
	return res, err
}

// ExportCookies calls GET /cookies/export and copies the cookies.txt to w.
func (c *Client) ExportCookies(ctx context.Context, w io.Writer) error {
	return c.Do(ctx, http.MethodGet, PathCookiesExport, nil, nil, w)
}

// ReloadKeys calls POST /keys/reload.
func (c *Client) ReloadKeys(ctx context.Context) (KeysResult, error) {
	var res KeysResult
	err := c.Do(ctx, http.MethodPost, PathKeysReload, nil, &res, nil)
	return res, err
}

// Do sends method to path (an endpoint with its query) and decodes a JSON
// answer into out (when non-nil), or copies the answer to raw (when
// non-nil). An answer other than 200 is an error carrying the proxy's
// message.
func (c *Client) Do(ctx context.Context, method, path string, body io.Reader, out any, raw io.Writer) error {
	req, err := http.NewRequestWithContext(ctx, method, c.Base+path, body)
	if err != nil {
		return err
	}
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("running clearway at %s: %w", c.Base, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		var e ErrorBody
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		if json.Unmarshal(b, &e) == nil && e.Error.Message != "" {
			return errors.New(strings.TrimPrefix(e.Error.Message, "clearway: "))
		}
		return fmt.Errorf("running clearway answered %s", resp.Status)
	}
	if raw != nil {
		_, err = io.Copy(raw, resp.Body)
		return err
	}
	if out != nil {
		return json.NewDecoder(resp.Body).Decode(out)
	}
	return nil
}

// UICode calls POST /ui/code: a one-time login link for the dashboard.
func (c *Client) UICode(ctx context.Context) (UICode, error) {
	var res UICode
	err := c.Do(ctx, http.MethodPost, PathUICode, nil, &res, nil)
	return res, err
}
