package review

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"maps"
	"slices"

	"github.com/rampart-gitops/rampart/generator/reach"
)

// A cluster's facts file holds the facts of each of its files by blob id, and is
// read whole by every report that touches the cluster: a large cluster's has
// thousands of entries that name the same few thousand strings. It is binary, each
// string written once: reading it is a pass over the bytes, not a parse.
//
//	strings:  count, then each: length, bytes
//	files:    count, then each: blob id (20 bytes), namespaces:
//	          count, then each: name, flags, names4, names7, labels, pods
//
// Counts and lengths are uvarints; a string is its index in the strings; a list of
// names is a count and strings; labels and each pod's labels are a count and pairs
// of strings. Labels are there only when the flags say so (a file without the
// Namespace object says nothing of its labels).

const (
	factWild4 = 1 << iota
	factWild7
	factIsolated
	factAllowPolicy
	factLabels
)

var errFactsFile = errors.New("damaged facts file")

// encodeFacts encodes facts by blob id, in a fixed order.
func encodeFacts(facts map[string]reach.Facts) ([]byte, error) {
	index := map[string]uint64{}
	var strs []string
	str := func(s string) uint64 {
		i, ok := index[s]
		if !ok {
			i = uint64(len(strs))
			index[s] = i
			strs = append(strs, s)
		}
		return i
	}
	var body []byte
	put := func(v uint64) { body = binary.AppendUvarint(body, v) }
	names := func(ns []string) {
		put(uint64(len(ns)))
		for _, n := range ns {
			put(str(n))
		}
	}
	labels := func(l map[string]string) {
		put(uint64(len(l)))
		for _, k := range slices.Sorted(maps.Keys(l)) {
			put(str(k))
			put(str(l[k]))
		}
	}
	ids := slices.Sorted(maps.Keys(facts))
	put(uint64(len(ids)))
	for _, id := range ids {
		raw, err := hex.DecodeString(id)
		if err != nil || len(raw) != 20 {
			return nil, errors.New("facts of a file not named by a blob id: " + id)
		}
		body = append(body, raw...)
		f := facts[id]
		put(uint64(len(f)))
		for _, ns := range slices.Sorted(maps.Keys(f)) {
			nf := f[ns]
			put(str(ns))
			var flags uint64
			set := func(bit uint64, on bool) {
				if on {
					flags |= bit
				}
			}
			set(factWild4, nf.Wild4)
			set(factWild7, nf.Wild7)
			set(factIsolated, nf.Isolated)
			set(factAllowPolicy, nf.AllowPolicy)
			set(factLabels, nf.Labels != nil)
			put(flags)
			names(nf.Names4)
			names(nf.Names7)
			if nf.Labels != nil {
				labels(nf.Labels)
			}
			put(uint64(len(nf.Pods)))
			for _, p := range nf.Pods {
				labels(p)
			}
		}
	}
	var out []byte
	out = binary.AppendUvarint(out, uint64(len(strs)))
	for _, s := range strs {
		out = binary.AppendUvarint(out, uint64(len(s)))
		out = append(out, s...)
	}
	return append(out, body...), nil
}

// factsReader reads an encoded facts file; the first damage it meets sticks.
type factsReader struct {
	b    []byte
	strs []string
	err  error
}

func (r *factsReader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.err = errFactsFile
		return 0
	}
	r.b = r.b[n:]
	return v
}

// count reads a count of items of at least min bytes each, checked against what is
// left, so a damaged count cannot ask for a huge allocation.
func (r *factsReader) count(min int) int {
	n := r.uvarint()
	if n > uint64(len(r.b)/min) {
		r.err = errFactsFile
		return 0
	}
	return int(n)
}

func (r *factsReader) bytes(n int) []byte {
	if r.err != nil || n > len(r.b) {
		r.err = errFactsFile
		return nil
	}
	b := r.b[:n]
	r.b = r.b[n:]
	return b
}

func (r *factsReader) str() string {
	i := r.uvarint()
	if i >= uint64(len(r.strs)) {
		r.err = errFactsFile
		return ""
	}
	return r.strs[i]
}

func (r *factsReader) names() []string {
	n := r.count(1)
	if n == 0 {
		return nil
	}
	out := make([]string, n)
	for i := range out {
		out[i] = r.str()
	}
	return out
}

func (r *factsReader) labels() map[string]string {
	n := r.count(2)
	out := make(map[string]string, n)
	for range n {
		k := r.str()
		out[k] = r.str()
	}
	return out
}

// decodeFacts decodes what encodeFacts encoded.
func decodeFacts(b []byte) (map[string]reach.Facts, error) {
	r := &factsReader{b: b}
	r.strs = make([]string, r.count(1))
	for i := range r.strs {
		r.strs[i] = string(r.bytes(r.count(1)))
	}
	files := r.count(21)
	out := make(map[string]reach.Facts, files)
	for range files {
		id := hex.EncodeToString(r.bytes(20))
		nss := r.count(2)
		f := make(reach.Facts, nss)
		for range nss {
			ns := r.str()
			flags := r.uvarint()
			nf := &reach.NamespaceFacts{
				Wild4: flags&factWild4 != 0, Wild7: flags&factWild7 != 0,
				Isolated: flags&factIsolated != 0, AllowPolicy: flags&factAllowPolicy != 0,
			}
			nf.Names4, nf.Names7 = r.names(), r.names()
			if flags&factLabels != 0 {
				nf.Labels = r.labels()
			}
			if pods := r.count(1); pods > 0 {
				nf.Pods = make([]map[string]string, pods)
				for i := range nf.Pods {
					nf.Pods[i] = r.labels()
				}
			}
			f[ns] = nf
		}
		out[id] = f
	}
	if r.err == nil && len(r.b) != 0 {
		r.err = errFactsFile
	}
	if r.err != nil {
		return nil, r.err
	}
	return out, nil
}
