package main

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"
)

// Build stamps, set at link time by build/dist.sh and the Makefile:
//
//	go build -ldflags "-X main.version=0.1.0 -X main.commit=abc1234 -X main.date=2026-11-27T12:00:00Z"
//
// When left empty (plain `go build` or `go run .`), versionInfo and
// shortVersion fall back to the module and VCS data recorded by the Go
// toolchain (runtime/debug.ReadBuildInfo). Note that VCS stamping is off
// when GOFLAGS contains -buildvcs=false, so the ldflags are the main path.
var (
	// version is the release version without a leading "v", e.g. "0.1.0".
	version = ""
	// commit is the VCS revision the binary was built from (short or full hash).
	commit = ""
	// date is the build time in RFC 3339 UTC, e.g. "2026-11-27T12:00:00Z".
	date = ""
)

// buildStamp is the resolved version information of this binary.
type buildStamp struct {
	version string // "0.1.0" or "dev"
	commit  string // short hash, possibly suffixed "-dirty"; "unknown" when absent
	date    string // RFC 3339; "unknown" when absent
}

// readBuildStamp combines the link-time stamps with the toolchain's build
// info; link-time values win. info may be nil.
func readBuildStamp(info *debug.BuildInfo) buildStamp {
	s := buildStamp{
		version: strings.TrimPrefix(strings.TrimSpace(version), "v"),
		commit:  strings.TrimSpace(commit),
		date:    strings.TrimSpace(date),
	}
	if info != nil {
		if s.version == "" {
			v := info.Main.Version
			if v != "" && v != "(devel)" {
				s.version = strings.TrimPrefix(v, "v")
			}
		}
		var revision, vcsTime string
		modified := false
		for _, setting := range info.Settings {
			switch setting.Key {
			case "vcs.revision":
				revision = setting.Value
			case "vcs.time":
				vcsTime = setting.Value
			case "vcs.modified":
				modified = setting.Value == "true"
			}
		}
		if s.commit == "" && revision != "" {
			s.commit = shortHash(revision)
			if modified {
				s.commit += "-dirty"
			}
		}
		if s.date == "" {
			s.date = vcsTime
		}
	}
	if s.version == "" {
		s.version = "dev"
	}
	if s.commit == "" {
		s.commit = "unknown"
	}
	if s.date == "" {
		s.date = "unknown"
	}
	return s
}

// shortHash shortens a full VCS revision to the customary 7 characters.
func shortHash(revision string) string {
	if len(revision) > 7 {
		return revision[:7]
	}
	return revision
}

// currentBuildStamp resolves the stamps of the running binary.
func currentBuildStamp() buildStamp {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		info = nil
	}
	return readBuildStamp(info)
}

// versionInfo returns the one-line description printed by `clearway version`,
// e.g. "clearway 0.1.0 (commit abc1234, built 2026-11-27T12:00:00Z, go1.26.8 linux/amd64)".
func versionInfo() string {
	s := currentBuildStamp()
	return fmt.Sprintf("clearway %s (commit %s, built %s, %s %s/%s)",
		s.version, s.commit, s.date, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}

// shortVersion returns just the version, e.g. "0.1.0", or "dev" for an
// unstamped build. The tray and status output show it.
func shortVersion() string {
	return currentBuildStamp().version
}
