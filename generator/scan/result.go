package scan

import (
	"cmp"
	"slices"
	"time"
)

// Result is the scan of one image digest.
type Result struct {
	// Digest is the image manifest digest.
	Digest string `json:"digest"`
	// Image is the pinned reference the image was scanned under (one of possibly
	// several referring to the same digest).
	Image string `json:"image"`
	// OS is the detected operating system, e.g. "alpine 3.22.2"; empty if none.
	OS string `json:"os,omitempty"`
	// DBVersion identifies the vulnerability database (see Scanner.DBVersion).
	DBVersion string `json:"dbVersion"`
	// ScannedAt is when the image was analysed (not when the cache was read).
	ScannedAt time.Time `json:"scannedAt"`
	// Packages is the number of packages found (OS and language).
	Packages int `json:"packages"`
	// Findings are the vulnerabilities, sorted (see SortFindings).
	Findings []Finding `json:"findings"`

	// Cached says the result came from the cache.
	Cached bool `json:"-"`
	// Err is why the image could not be scanned; such results are never cached.
	Err error `json:"-"`
}

// Finding is one vulnerability in one package of an image.
type Finding struct {
	// ID is the vulnerability ID, e.g. CVE-2026-10001.
	ID string `json:"id"`
	// Package is the package name as installed (the binary package for OS packages).
	Package string `json:"package"`
	// Installed and Fixed are the installed and first fixed version; Fixed is empty
	// when no fix exists yet.
	Installed string `json:"installed"`
	Fixed     string `json:"fixed,omitempty"`
	// Severity is the severity Trivy assigns.
	Severity Severity `json:"severity"`
	// Title is the vulnerability's one-line title.
	Title string `json:"title,omitempty"`
	// Type is the package ecosystem Trivy detected: "alpine", "node-pkg", "gobinary", …
	Type string `json:"type"`
	// Target is what Trivy found the package in: the OS, or a file path in the image.
	Target string `json:"target"`
	// PkgPath is the file the language package was read from, if any.
	PkgPath string `json:"pkgPath,omitempty"`
	// URL is the advisory's primary URL.
	URL string `json:"url,omitempty"`
}

// SortFindings orders findings by severity (highest first), then ID, package,
// installed version and target, so output never depends on analysis order.
func SortFindings(fs []Finding) {
	slices.SortFunc(fs, compareFindings)
}

func compareFindings(a, b Finding) int {
	return cmp.Or(
		cmp.Compare(b.Severity.Rank(), a.Severity.Rank()),
		cmp.Compare(a.ID, b.ID),
		cmp.Compare(a.Package, b.Package),
		cmp.Compare(a.Installed, b.Installed),
		cmp.Compare(a.Target, b.Target),
		cmp.Compare(a.PkgPath, b.PkgPath),
	)
}
