package review

import (
	"bytes"
	"maps"
)

// differentDocuments are the documents of a file at the base, b, and at the head,
// h, without those both hold byte for byte. With pare, a document left at both
// sides that is the same object with a different data block (a Falco rules shard:
// a ConfigMap of half a megabyte, one team's key changed) also loses the data
// entries both hold byte for byte (pareData): decoding what is left is what costs.
func differentDocuments(b, h []byte, pare bool) ([]byte, []byte) {
	bd, hd := bytes.Split(b, documentSeparator), bytes.Split(h, documentSeparator)
	in := map[string]int{}
	for _, doc := range bd {
		in[string(doc)]++
	}
	both := map[string]int{}
	for _, doc := range hd {
		if in[string(doc)] > both[string(doc)] {
			both[string(doc)]++
		}
	}
	keep := func(docs [][]byte) [][]byte {
		left := maps.Clone(both)
		var out [][]byte
		for _, doc := range docs {
			if left[string(doc)] > 0 {
				left[string(doc)]--
				continue
			}
			out = append(out, doc)
		}
		return out
	}
	bd, hd = keep(bd), keep(hd)
	if pare {
		pareDocuments(bd, hd)
	}
	return bytes.Join(bd, documentSeparator), bytes.Join(hd, documentSeparator)
}

// pareDocuments pares, in place, each base document with the head document that is
// the same but for its data block's entries.
func pareDocuments(bd, hd [][]byte) {
	byRest := map[string]int{}
	for i, doc := range bd {
		if d, ok := splitData(doc); ok {
			byRest[d.rest()] = i
		}
	}
	for i, doc := range hd {
		d, ok := splitData(doc)
		if !ok {
			continue
		}
		j, ok := byRest[d.rest()]
		if !ok {
			continue
		}
		delete(byRest, d.rest()) // one pairing per document
		b, _ := splitData(bd[j])
		bd[j], hd[i] = pareData(b, d)
	}
}

// dataBlock is a YAML document split around its top-level "data:" block mapping,
// in the block style a render writes: each entry starts on a line indented by two
// spaces and goes on over the lines indented further (or empty).
type dataBlock struct {
	before, after []byte // before ends with the "data:" line
	entries       [][]byte
}

func (d dataBlock) rest() string { return string(d.before) + "\x00" + string(d.after) }

// splitData splits doc around its data block; false when it has none, or one this
// reading cannot vouch for: a key given twice, a merge key or a complex key, or
// sequence items (a data block is a mapping of strings).
func splitData(doc []byte) (dataBlock, bool) {
	lines := bytes.SplitAfter(doc, []byte("\n"))
	start := -1
	for i, l := range lines {
		if string(bytes.TrimRight(l, "\n")) == "data:" {
			start = i + 1
			break
		}
	}
	if start < 0 {
		return dataBlock{}, false
	}
	d := dataBlock{before: bytes.Join(lines[:start], nil)}
	keys := map[string]bool{}
	end := start
	for ; end < len(lines); end++ {
		l := lines[end]
		body := bytes.TrimRight(l, " \n")
		switch {
		case len(body) == 0 || bytes.HasPrefix(l, []byte("   ")):
			if len(d.entries) == 0 {
				return dataBlock{}, false // continues nothing
			}
			d.entries[len(d.entries)-1] = append(d.entries[len(d.entries)-1], l...)
			continue
		case !bytes.HasPrefix(l, []byte("  ")):
			// the block's end: the next top-level key
		default:
			first := body[2:]
			key, _, _ := bytes.Cut(first, []byte(":"))
			if first[0] == '-' || first[0] == '?' || bytes.HasPrefix(first, []byte("<<")) || keys[string(key)] {
				return dataBlock{}, false
			}
			keys[string(key)] = true
			d.entries = append(d.entries, bytes.Clone(l))
			continue
		}
		break
	}
	d.after = bytes.Join(lines[end:], nil)
	return d, len(d.entries) > 0
}

// pareData gives the two sides' documents without the data entries both hold byte
// for byte.
func pareData(b, h dataBlock) ([]byte, []byte) {
	in := map[string]bool{}
	for _, e := range b.entries {
		in[string(e)] = true
	}
	both := map[string]bool{}
	for _, e := range h.entries {
		if in[string(e)] {
			both[string(e)] = true
		}
	}
	join := func(d dataBlock) []byte {
		out := bytes.Clone(d.before)
		kept := 0
		for _, e := range d.entries {
			if !both[string(e)] {
				out = append(out, e...)
				kept++
			}
		}
		if kept == 0 {
			// "data:" with nothing under it is a null; an empty mapping is what
			// was there.
			out = append(bytes.TrimSuffix(bytes.TrimRight(out, "\n"), []byte("data:")), "data: {}\n"...)
		}
		return append(out, d.after...)
	}
	return join(b), join(h)
}
