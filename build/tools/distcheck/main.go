// Command distcheck inspects clearway's release artifacts and fails with a
// clear message when one is not what the packaging promises. It is run by
// build/ci.d/70-packaging.sh after build/dist.sh.
//
// Usage:
//
//	distcheck pe [-gui] [-signed] [-icon] [-manifest TEXT] [-version 0.1.0] FILE.exe
//	distcheck plist [-require KEY[=VALUE]]... FILE.plist
//	distcheck icns [-min-sizes N] FILE.icns
//	distcheck elf [-arch amd64|arm64] [-static] FILE
//	distcheck freeport
//
// Each subcommand prints what it found, one fact a line, and exits 1 on the
// first broken promise.
package main

import (
	"fmt"
	"os"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: distcheck pe|elf|plist|icns [flags] FILE, or distcheck freeport")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "pe":
		err = runPE(os.Args[2:])
	case "plist":
		err = runPlist(os.Args[2:])
	case "icns":
		err = runICNS(os.Args[2:])
	case "elf":
		err = runELF(os.Args[2:])
	case "freeport":
		err = runFreePort()
	default:
		err = fmt.Errorf("unknown subcommand %q (want pe, elf, plist, icns or freeport)", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "distcheck:", err)
		os.Exit(1)
	}
}
