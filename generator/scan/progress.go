package scan

import (
	"io"

	"github.com/rampart-gitops/rampart/generator/internal/progress"
)

// newProgress draws a bar (images done/total and the current image) when the writer
// is a terminal; otherwise it does nothing and the Logger's lines tell the story.
func newProgress(w io.Writer, total int) *progressBar {
	return &progressBar{progress.New(w, total, "images")}
}

type progressBar struct{ *progress.Bar }

func (p *progressBar) start(image string) { p.Start(image) }
func (p *progressBar) done()              { p.Done() }
func (p *progressBar) finish()            { p.Finish() }
