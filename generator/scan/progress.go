package scan

import (
	"io"
	"os"

	"github.com/cheggaaa/pb/v3"
	"golang.org/x/term"
)

// progress draws a bar (images done/total and the current image) when the writer is
// a terminal; otherwise it does nothing and the Logger's lines tell the story.
type progress struct {
	bar *pb.ProgressBar
}

const progressTemplate = `{{counters . }} images {{bar . "[" "=" ">" " " "]"}} {{etime . }} {{string . "image"}}`

func newProgress(w io.Writer, total int) *progress {
	f, ok := w.(*os.File)
	if !ok || f == nil || !term.IsTerminal(int(f.Fd())) || total == 0 {
		return &progress{}
	}
	bar := pb.New(total).SetTemplateString(progressTemplate).SetWriter(f).SetMaxWidth(120)
	bar.Set(pb.CleanOnFinish, true)
	bar.Start()
	return &progress{bar: bar}
}

func (p *progress) start(image string) {
	if p.bar != nil {
		p.bar.Set("image", image)
	}
}

func (p *progress) done() {
	if p.bar != nil {
		p.bar.Increment()
	}
}

func (p *progress) finish() {
	if p.bar != nil {
		p.bar.Finish()
	}
}
