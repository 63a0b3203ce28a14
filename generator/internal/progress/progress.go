// Package progress draws a progress bar (done/total, elapsed time and the current
// item) on a terminal, and nothing elsewhere: logs tell the story there.
package progress

import (
	"io"
	"os"

	"github.com/cheggaaa/pb/v3"
	"golang.org/x/term"
)

// Bar is a progress bar; the zero Bar draws nothing. It is safe for concurrent use.
type Bar struct {
	bar *pb.ProgressBar
}

// New starts a bar counting total things named noun ("images", "units") on w when w
// is a terminal; otherwise it returns a Bar that draws nothing.
func New(w io.Writer, total int, noun string) *Bar {
	f, ok := w.(*os.File)
	if !ok || f == nil || !term.IsTerminal(int(f.Fd())) || total == 0 {
		return &Bar{}
	}
	tmpl := `{{counters . }} ` + noun + ` {{bar . "[" "=" ">" " " "]"}} {{etime . }} {{string . "item"}}`
	bar := pb.New(total).SetTemplateString(tmpl).SetWriter(f).SetMaxWidth(120)
	bar.Set(pb.CleanOnFinish, true)
	bar.Start()
	return &Bar{bar: bar}
}

// Start names the item being worked on.
func (b *Bar) Start(item string) {
	if b.bar != nil {
		b.bar.Set("item", item)
	}
}

// Done counts one item done.
func (b *Bar) Done() {
	if b.bar != nil {
		b.bar.Increment()
	}
}

// Finish removes the bar.
func (b *Bar) Finish() {
	if b.bar != nil {
		b.bar.Finish()
	}
}

// Drawing says whether the bar is drawn (its writer is a terminal).
func (b *Bar) Drawing() bool { return b.bar != nil }
