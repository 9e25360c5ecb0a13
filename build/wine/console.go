//go:build linux

package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// console is a command running on a pseudo-terminal, so that Wine gives the
// Windows program a real console and Ctrl+C typed on it reaches the program
// as CTRL_C_EVENT, as in cmd.exe on Windows.
type console struct {
	cmd     *exec.Cmd
	master  *os.File
	done    chan error
	drained chan struct{} // closed when the terminal has nothing more to read

	mu  sync.Mutex
	buf bytes.Buffer
}

func startConsole(env []string, name string, args ...string) (*console, error) {
	fd, err := unix.Open("/dev/ptmx", unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open /dev/ptmx: %w", err)
	}
	master := os.NewFile(uintptr(fd), "/dev/ptmx")
	if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil {
		master.Close()
		return nil, fmt.Errorf("unlockpt: %w", err)
	}
	n, err := unix.IoctlGetInt(fd, unix.TIOCGPTN)
	if err != nil {
		master.Close()
		return nil, fmt.Errorf("ptsname: %w", err)
	}
	slave, err := os.OpenFile("/dev/pts/"+strconv.Itoa(n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		master.Close()
		return nil, err
	}
	defer slave.Close()
	_ = unix.IoctlSetWinsize(int(slave.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: 50, Col: 200})
	cmd := exec.Command(name, args...)
	cmd.Env = env
	cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	if err := cmd.Start(); err != nil {
		master.Close()
		return nil, err
	}
	c := &console{cmd: cmd, master: master, done: make(chan error, 1), drained: make(chan struct{})}
	go func() {
		defer close(c.drained)
		b := make([]byte, 4096)
		for {
			n, err := master.Read(b)
			c.mu.Lock()
			c.buf.Write(b[:n])
			c.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	go func() { c.done <- cmd.Wait() }()
	return c, nil
}

// output is what the program wrote on its console so far.
func (c *console) output() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.buf.String()
}

// interrupt types Ctrl+C on the console.
func (c *console) interrupt() error {
	_, err := c.master.Write([]byte{3})
	return err
}

// wait returns the exit code once the program ends, or an error after d.
func (c *console) wait(d time.Duration) (int, error) {
	select {
	case err := <-c.done:
		c.done <- err
		// Everything written before the exit is still in the terminal.
		select {
		case <-c.drained:
		case <-time.After(3 * time.Second):
		}
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode(), nil
		}
		return 0, err
	case <-time.After(d):
		return -1, fmt.Errorf("still running %v later", d)
	}
}

// kill ends the program's whole session (wine and its children).
func (c *console) kill() {
	if c.cmd.ProcessState == nil {
		_ = syscall.Kill(-c.cmd.Process.Pid, syscall.SIGKILL)
		_, _ = c.wait(10 * time.Second)
	}
	_ = c.master.Close()
}

// runTimeout runs a command with a bound and returns its combined output.
func runTimeout(d time.Duration, name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	f, err := os.CreateTemp("", "clearway-wine-out-*")
	if err != nil {
		return "", err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdout, cmd.Stderr = f, f // a file: see runner.wine
	err = cmd.Run()
	out, _ := os.ReadFile(f.Name())
	return string(out), err
}
