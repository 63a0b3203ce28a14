package cache

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"maps"
	"slices"
	"strings"

	"github.com/rampart-gitops/rampart/generator/diag"
	"github.com/rampart-gitops/rampart/generator/manifest"
	"github.com/rampart-gitops/rampart/generator/verify"
)

// An entry's metadata is a flat sequence of length-prefixed strings and counts: a
// no-op render of a large fleet reads every entry, and this decodes with little more
// than a copy (gob compiled its types again for every entry).

type encoder struct{ b []byte }

func (e *encoder) uint(n int)      { e.b = binary.AppendUvarint(e.b, uint64(n)) }
func (e *encoder) bytes(b []byte)  { e.uint(len(b)); e.b = append(e.b, b...) }
func (e *encoder) string(s string) { e.uint(len(s)); e.b = append(e.b, s...) }

// decoder reads the metadata: numbers from b, strings as slices of text, one copy of
// the whole metadata, so an entry decodes with one allocation for its text rather
// than one for each of its hundreds of strings (a no-op render of a large fleet
// decodes every entry).
type decoder struct {
	b    []byte // what is left to read
	text string // all of it
	err  error
}

func newDecoder(b []byte) *decoder { return &decoder{b: b, text: string(b)} }

var errShort = errors.New("render cache entry is truncated")

func (d *decoder) uint() int {
	if d.err != nil {
		return 0
	}
	n, k := binary.Uvarint(d.b)
	if k <= 0 || n > uint64(len(d.b)) {
		d.err = errShort
		return 0
	}
	d.b = d.b[k:]
	return int(n)
}

// size is a number that is not a length within the metadata (a file's size).
func (d *decoder) size() int {
	if d.err != nil {
		return 0
	}
	n, k := binary.Uvarint(d.b)
	if k <= 0 || n > 1<<31 {
		d.err = errShort
		return 0
	}
	d.b = d.b[k:]
	return int(n)
}

func (d *decoder) string() string {
	n := d.uint()
	if d.err != nil || n > len(d.b) {
		d.err = errShort
		return ""
	}
	off := len(d.text) - len(d.b)
	d.b = d.b[n:]
	return d.text[off : off+n]
}

func marshalEntry(e *Entry) ([]byte, error) {
	var enc encoder
	enc.uint(len(e.Files))
	for _, f := range e.Files {
		enc.string(f.Path)
		enc.string(string(f.Layer))
		enc.string(f.Team)
		enc.uint(f.Size)
		enc.bytes(f.Sum[:])
	}
	enc.uint(len(e.Images))
	for _, img := range e.Images {
		enc.string(img)
	}
	if e.Pins == nil {
		enc.uint(0)
	} else {
		enc.uint(len(e.Pins) + 1)
		for _, k := range slices.Sorted(maps.Keys(e.Pins)) {
			enc.string(k)
			enc.string(e.Pins[k])
		}
	}
	enc.uint(len(e.Sums))
	for _, s := range e.Sums {
		enc.b = binary.BigEndian.AppendUint64(enc.b, s)
	}
	w, err := json.Marshal(e.Warnings)
	if err != nil {
		return nil, err
	}
	enc.bytes(w)
	return enc.b, nil
}

func unmarshalEntry(b []byte) (*Entry, error) {
	d := newDecoder(b)
	e := &Entry{}
	n := d.uint()
	if n > len(b) {
		return nil, errShort
	}
	e.Files = make([]File, 0, n)
	for range n {
		f := File{Path: d.string(), Layer: manifest.Layer(d.string()), Team: d.string(), Size: d.size()}
		if copy(f.Sum[:], d.string()) != len(f.Sum) {
			return nil, errShort
		}
		e.Files = append(e.Files, f)
	}
	for range d.uint() {
		e.Images = append(e.Images, d.string())
	}
	if pins := d.uint(); pins > 0 {
		e.Pins = make(map[string]string, pins-1)
		for range pins - 1 {
			k := d.string()
			e.Pins[k] = d.string()
		}
	}
	sums := d.uint()
	if sums*8 > len(d.b) {
		return nil, errShort
	}
	e.Sums = make([]uint64, sums)
	for i := range e.Sums {
		e.Sums[i] = binary.BigEndian.Uint64(d.b[8*i:])
	}
	d.b = d.b[8*sums:]
	var warnings diag.List
	if w := d.string(); d.err == nil && w != "null" {
		if err := json.Unmarshal([]byte(w), &warnings); err != nil {
			return nil, err
		}
	}
	if d.err != nil {
		return nil, d.err
	}
	if len(d.b) != 0 {
		return nil, errors.New("render cache entry has trailing bytes")
	}
	e.Warnings = warnings
	return e, nil
}

// marshalObjects encodes an entry's objects, the part LoadObjects reads. A file's
// path is written once for the run of objects it holds.
func marshalObjects(objs []verify.Object) []byte {
	var enc encoder
	enc.uint(len(objs))
	for i, o := range objs {
		enc.string(o.Key)
		// Ref is the end of Key (Kind/namespace/name after the apiVersion): its start.
		if strings.HasSuffix(o.Key, o.Ref) {
			enc.uint(len(o.Key) - len(o.Ref) + 1)
		} else {
			enc.uint(0)
			enc.string(o.Ref)
		}
		if i > 0 && o.File == objs[i-1].File {
			enc.uint(0)
			continue
		}
		enc.uint(1)
		enc.string(o.File)
	}
	return enc.b
}

func unmarshalObjects(b []byte) ([]verify.Object, error) {
	d := newDecoder(b)
	n := d.uint()
	if n > len(b) {
		return nil, errShort
	}
	objs := make([]verify.Object, 0, n)
	file := ""
	for range n {
		o := verify.Object{Key: d.string()}
		// Not lengths within what is left: a Ref's start and the flag of a new File.
		if at := d.size(); at == 0 {
			o.Ref = d.string()
		} else if at <= len(o.Key)+1 {
			o.Ref = o.Key[at-1:]
		} else {
			return nil, errShort
		}
		if d.size() == 1 {
			file = d.string()
		}
		o.File = file
		objs = append(objs, o)
	}
	if d.err != nil {
		return nil, d.err
	}
	if len(d.b) != 0 {
		return nil, errors.New("render cache entry has trailing bytes")
	}
	return objs, nil
}
