package main

import (
	"debug/elf"
	"errors"
	"flag"
	"fmt"
)

// runELF checks a Linux binary's machine and that it is static: no program
// interpreter and no shared-library dependencies, so it runs on any
// distribution whatever its libc.
func runELF(args []string) error {
	fs := flag.NewFlagSet("elf", flag.ContinueOnError)
	arch := fs.String("arch", "", "require this GOARCH (amd64 or arm64)")
	static := fs.Bool("static", false, "require a static binary (no PT_INTERP, no DT_NEEDED)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return errors.New("elf: want exactly one FILE")
	}
	path := fs.Arg(0)
	f, err := elf.Open(path)
	if err != nil {
		return fmt.Errorf("elf: %w", err)
	}
	defer f.Close()
	fmt.Printf("elf: %s: %s %s\n", path, f.Class, f.Machine)
	want := map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64}
	if *arch != "" {
		m, ok := want[*arch]
		if !ok {
			return fmt.Errorf("elf: unknown -arch %q", *arch)
		}
		if f.Machine != m {
			return fmt.Errorf("elf: %s is %s, want %s", path, f.Machine, m)
		}
	}
	if *static {
		for _, p := range f.Progs {
			if p.Type == elf.PT_INTERP {
				return fmt.Errorf("elf: %s has a program interpreter: it is dynamically linked (build with CGO_ENABLED=0)", path)
			}
		}
		libs, err := f.ImportedLibraries()
		if err != nil {
			return fmt.Errorf("elf: %s: %w", path, err)
		}
		if len(libs) > 0 {
			return fmt.Errorf("elf: %s needs shared libraries %v", path, libs)
		}
		fmt.Println("elf: static (no interpreter, no shared libraries)")
	}
	return nil
}
