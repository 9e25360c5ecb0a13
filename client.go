package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/clearway/clearway/proxy/config"
	"github.com/clearway/clearway/proxy/instance"
	"github.com/clearway/clearway/proxy/keychain"
)

// adminClient talks to the running instance's /_clearway/ endpoints.
type adminClient struct {
	base  string // "http://127.0.0.1:8764"
	token string // "" when the instance does not require one
	http  *http.Client
}

// errNotRunning is returned by runningInstance when no clearway holds the data folder.
var errNotRunning = errors.New("clearway is not running (start it with `clearway` or `clearway serve`)")

// runningInstance finds the running clearway for this data folder. It returns
// errNotRunning when there is none.
func runningInstance(_ *config.Config) (*adminClient, error) {
	info, err := instance.Read(dataDir())
	if errors.Is(err, instance.ErrNotRunning) {
		return nil, errNotRunning
	}
	if err != nil {
		return nil, err
	}
	if info.PID == 0 {
		return nil, errors.New("clearway is starting; try again in a moment")
	}
	if info.Addr == "" {
		return nil, fmt.Errorf("clearway (pid %d) is running but its proxy is stopped: click \"Start proxy\" in its tray menu, or quit it to work on the files directly", info.PID)
	}
	c := &adminClient{base: "http://" + info.Addr, http: &http.Client{Timeout: 30 * time.Second}}
	// The running instance's own config decides, not the one this command
	// loaded (it may have been started with --config).
	if info.ClientToken {
		tok, _, err := keychain.ClientToken(openKeychain(nil))
		if err != nil {
			return nil, fmt.Errorf("client token: %w", err)
		}
		c.token = tok
	}
	return c, nil
}

// do sends a request and decodes a JSON answer into out (when non-nil), or
// copies a text answer to raw (when non-nil).
func (c *adminClient) do(method, path string, body io.Reader, out any, raw io.Writer) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, c.base+"/_clearway"+path, body)
	if err != nil {
		return err
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("running clearway at %s: %w", c.base, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Error struct{ Message string } `json:"error"`
		}
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
