package imagebuild

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"strings"
)

// Module is a Go module recorded in a binary's build info.
type Module struct {
	Path    string
	Version string // e.g. v0.37.0
}

// GoBinary returns an ELF executable file (mode 0755) at p that carries Go build info
// for goVersion (e.g. "go1.26.8"), the main module and deps, laid out exactly as
// cmd/link writes it since Go 1.18 (a ".go.buildinfo" blob with inline,
// varint-prefixed version and module strings), so that debug/buildinfo.Read — which
// Trivy's Go binary analyzer uses — reads it back.
//
// The file holds no machine code: building a real program with `go build` would make
// the image's digest depend on the toolchain that built it, and take seconds per test.
// The build info, which is all a scanner reads, is the real format.
func GoBinary(p, goVersion string, main Module, deps []Module) File {
	var mod strings.Builder
	fmt.Fprintf(&mod, "path\t%s\n", main.Path)
	fmt.Fprintf(&mod, "mod\t%s\t%s\t\n", main.Path, main.Version)
	for _, d := range deps {
		fmt.Fprintf(&mod, "dep\t%s\t%s\t\n", d.Path, d.Version)
	}
	fmt.Fprintf(&mod, "build\t-buildmode=exe\nbuild\t-compiler=gc\nbuild\t-trimpath=true\nbuild\tCGO_ENABLED=0\nbuild\tGOARCH=amd64\nbuild\tGOOS=linux\nbuild\tGOAMD64=v1\n")
	// cmd/go frames the module info with these sentinels (modload.infoStart/infoEnd).
	const infoStart = "0w\xaf\x0c\x92t\b\x02A\xe1\xc1\a\xe6\xd6\x18\xe6"
	const infoEnd = "\xf92C1\x86\x18 r\x00\x82B\x10A\x16\xd8\xf2"
	modinfo := infoStart + mod.String() + infoEnd

	var blob bytes.Buffer
	blob.WriteString("\xff Go buildinf:") // 14-byte magic
	blob.WriteByte(8)                     // pointer size
	blob.WriteByte(2)                     // flags: little endian, inline strings
	blob.Write(make([]byte, 16))          // unused pointer slots: 32-byte header
	writeVarString(&blob, goVersion)
	writeVarString(&blob, modinfo)

	const (
		ehSize  = 64
		phSize  = 56
		dataOff = 128 // 16-byte aligned, after the ELF and program headers
		vaddr   = 0x400000 + dataOff
	)
	var f bytes.Buffer
	le := binary.LittleEndian
	// ELF header.
	f.Write([]byte{0x7f, 'E', 'L', 'F', 2 /* 64-bit */, 1 /* little endian */, 1 /* version */, 0 /* SYSV */})
	f.Write(make([]byte, 8))
	_ = binary.Write(&f, le, uint16(2))     // e_type EXEC
	_ = binary.Write(&f, le, uint16(62))    // e_machine x86-64
	_ = binary.Write(&f, le, uint32(1))     // e_version
	_ = binary.Write(&f, le, uint64(vaddr)) // e_entry
	_ = binary.Write(&f, le, uint64(ehSize))
	_ = binary.Write(&f, le, uint64(0)) // e_shoff: no section headers
	_ = binary.Write(&f, le, uint32(0)) // e_flags
	_ = binary.Write(&f, le, uint16(ehSize))
	_ = binary.Write(&f, le, uint16(phSize))
	_ = binary.Write(&f, le, uint16(1))  // e_phnum
	_ = binary.Write(&f, le, uint16(64)) // e_shentsize
	_ = binary.Write(&f, le, uint16(0))  // e_shnum
	_ = binary.Write(&f, le, uint16(0))  // e_shstrndx
	// One PT_LOAD, read-write: where debug/buildinfo looks when there are no sections.
	_ = binary.Write(&f, le, uint32(1)) // PT_LOAD
	_ = binary.Write(&f, le, uint32(6)) // PF_R|PF_W
	_ = binary.Write(&f, le, uint64(dataOff))
	_ = binary.Write(&f, le, uint64(vaddr))
	_ = binary.Write(&f, le, uint64(vaddr))
	_ = binary.Write(&f, le, uint64(blob.Len()))
	_ = binary.Write(&f, le, uint64(blob.Len()))
	_ = binary.Write(&f, le, uint64(0x1000))
	f.Write(make([]byte, dataOff-f.Len()))
	f.Write(blob.Bytes())
	return File{Path: p, Mode: 0o755, Data: f.Bytes()}
}

func writeVarString(b *bytes.Buffer, s string) {
	b.Write(binary.AppendUvarint(nil, uint64(len(s))))
	b.WriteString(s)
}
