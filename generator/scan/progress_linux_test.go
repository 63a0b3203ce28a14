package scan

import (
	"bytes"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// openPTY opens a pseudo-terminal pair, so the progress bar sees a real terminal.
func openPTY(t *testing.T) (master, slave *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	if err := unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Skipf("unlocking the pseudo-terminal: %v", err)
	}
	n, err := unix.IoctlGetInt(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Skipf("naming the pseudo-terminal: %v", err)
	}
	s, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("opening the pseudo-terminal: %v", err)
	}
	t.Cleanup(func() { _ = s.Close(); _ = m.Close() })
	return m, s
}

func TestProgressBarOnTerminal(t *testing.T) {
	master, slave := openPTY(t)
	var mu sync.Mutex
	var buf bytes.Buffer
	go func() {
		b := make([]byte, 4096)
		for {
			n, err := master.Read(b)
			mu.Lock()
			buf.Write(b[:n])
			mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	p := newProgress(slave, 2)
	if !p.Drawing() {
		t.Fatal("no progress bar for a terminal")
	}
	p.start("registry.example.com/team/api:1.0.0@sha256:abc")
	p.done()
	p.start("registry.example.com/team/web:2.0.0@sha256:def")
	time.Sleep(400 * time.Millisecond) // at least one refresh with the current image shown
	p.done()
	p.finish()
	time.Sleep(100 * time.Millisecond)
	mu.Lock()
	s := buf.String()
	mu.Unlock()
	t.Logf("terminal saw: %q", s)
	if !strings.Contains(s, "images") || !strings.Contains(s, "registry.example.com/team/web") {
		t.Errorf("terminal output lacks the bar: %q", s)
	}
}
