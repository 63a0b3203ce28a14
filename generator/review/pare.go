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
	split := make([]dataBlock, len(bd))
	for i, doc := range bd {
		if d, ok := splitData(doc); ok {
			byRest[d.rest()], split[i] = i, d
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
		bd[j], hd[i] = pareData(split[j], d)
	}
}

// dataBlock is a YAML document split around its top-level "data:" block mapping,
// in the block style a render writes: each entry starts on a line indented by two
// spaces and goes on over the lines indented further (or empty). Its parts are
// slices of the document, not copies.
type dataBlock struct {
	before, after []byte // before ends with the "data:" line
	entries       []dataEntry
}

// dataEntry is one key of a data block and its text, the key's line included.
type dataEntry struct {
	key  string
	text []byte
}

func (d dataBlock) rest() string { return string(d.before) + "\x00" + string(d.after) }

// splitData splits doc around its data block; false when it has none, or one this
// reading cannot vouch for: a key given twice, a merge key or a complex key, or
// sequence items (a data block is a mapping of strings).
func splitData(doc []byte) (dataBlock, bool) {
	// line returns the line that starts at i, its newline included, and where the
	// next one starts.
	line := func(i int) ([]byte, int) {
		if j := bytes.IndexByte(doc[i:], '\n'); j >= 0 {
			return doc[i : i+j+1], i + j + 1
		}
		return doc[i:], len(doc)
	}
	start := -1
	for i := 0; i < len(doc); {
		l, next := line(i)
		if string(bytes.TrimSuffix(l, []byte("\n"))) == "data:" {
			start = next
			break
		}
		i = next
	}
	if start < 0 {
		return dataBlock{}, false
	}
	d := dataBlock{before: doc[:start]}
	keys := map[string]bool{}
	entry, key := -1, "" // where the entry being read starts, and its key
	i := start
	for i < len(doc) {
		l, next := line(i)
		body := bytes.TrimRight(l, " \n")
		if len(body) == 0 || bytes.HasPrefix(l, []byte("   ")) {
			if entry < 0 {
				return dataBlock{}, false // continues nothing
			}
			i = next
			continue
		}
		if !bytes.HasPrefix(l, []byte("  ")) {
			break // the block's end: the next top-level key
		}
		first := body[2:]
		k, _, _ := bytes.Cut(first, []byte(":"))
		if first[0] == '-' || first[0] == '?' || bytes.HasPrefix(first, []byte("<<")) || keys[string(k)] {
			return dataBlock{}, false
		}
		keys[string(k)] = true
		if entry >= 0 {
			d.entries = append(d.entries, dataEntry{key, doc[entry:i]})
		}
		entry, key, i = i, string(k), next
	}
	if entry >= 0 {
		d.entries = append(d.entries, dataEntry{key, doc[entry:i]})
	}
	d.after = doc[i:]
	return d, len(d.entries) > 0
}

// pareData gives the two sides' documents without the data entries both hold byte
// for byte (a key is given once per side: splitData vouches for it).
func pareData(b, h dataBlock) ([]byte, []byte) {
	base := make(map[string][]byte, len(b.entries))
	for _, e := range b.entries {
		base[e.key] = e.text
	}
	both := map[string]bool{}
	for _, e := range h.entries {
		if t, ok := base[e.key]; ok && bytes.Equal(t, e.text) {
			both[e.key] = true
		}
	}
	join := func(d dataBlock) []byte {
		out := bytes.Clone(d.before)
		kept := 0
		for _, e := range d.entries {
			if !both[e.key] {
				out = append(out, e.text...)
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
