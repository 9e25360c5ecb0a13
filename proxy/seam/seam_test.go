package seam

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"testing"
)

func TestCredentialNeverShowsItsValue(t *testing.T) {
	c := Credential{Upstream: "api", Name: "anthropic", Header: http.Header{"X-Api-Key": {"sk-very-secret"}}}
	var buf bytes.Buffer
	slog.New(slog.NewTextHandler(&buf, nil)).Info("attempt", "cred", c)
	out := buf.String() + fmt.Sprint(c) + fmt.Sprintf("%v %s", c, c)
	if strings.Contains(out, "sk-very-secret") || !strings.Contains(out, "anthropic") {
		t.Fatalf("output %q shows the value or not the name", out)
	}
}

func TestDefaults(t *testing.T) {
	var l Limiter = NoLimit{}
	release, err := l.Acquire(context.Background(), "api")
	if err != nil {
		t.Fatal(err)
	}
	release()
	if l.Waiting("api") != 0 {
		t.Fatal("NoLimit has a queue")
	}
	var c Credentials = NoCredentials{}
	cred, err := c.Credential(context.Background(), KeyRequest{Upstream: "api", Attempt: 1})
	if err != nil || cred.Header != nil || cred.Upstream != "api" || c.Report(cred, Outcome{Status: 401}) {
		t.Fatalf("NoCredentials: %+v %v", cred, err)
	}
	var r error = &Refused{Reason: "paused"}
	if !errors.Is(r, ErrRefused) {
		t.Fatal("Refused does not match ErrRefused")
	}
	ke := &KeyError{Upstream: "api", Key: "k", Err: errors.New("locked")}
	if !strings.Contains(ke.Error(), `"k"`) || errors.Unwrap(ke) == nil {
		t.Fatalf("KeyError %q", ke)
	}
}
