package scan

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
)

// Policy is what a render accepts: the cluster's threshold and the team's exceptions.
type Policy struct {
	// Threshold blocks findings at or above it. The zero value blocks every finding:
	// callers set it from the cluster (HIGH on production, CRITICAL elsewhere).
	Threshold Severity
	// IgnoreUnfixed lets findings without a fixed version pass.
	IgnoreUnfixed bool
	// Exceptions are the team's accepted vulnerabilities.
	Exceptions []Exception
}

// Exception accepts one vulnerability in some images until a date.
type Exception struct {
	// ID is the vulnerability ID it covers.
	ID string `json:"id"`
	// Images are the repositories it covers ("registry.example.com/payments/api");
	// empty covers every image of the team.
	Images []string `json:"images,omitempty"`
	// Reason is why the team accepts the risk.
	Reason string `json:"reason"`
	// Expires is the last day the exception applies, YYYY-MM-DD (UTC).
	Expires string `json:"expires"`
	// Source locates the exception for messages, e.g. "teams/payments.yaml:31:7".
	Source string `json:"source,omitempty"`
	// locate, when set, gives Source the first time a result carries the
	// exception: finding its line decodes its file's positions, which a render
	// of a thousand teams that reports nothing about their exceptions never needs.
	locate func() string
}

// located is x with its Source.
func (x Exception) located() Exception {
	if x.Source == "" && x.locate != nil {
		x.Source = x.locate()
	}
	x.locate = nil
	return x
}

// ImageFinding is a finding in a particular image.
type ImageFinding struct {
	// Image is the pinned reference.
	Image string `json:"image"`
	// Repository is the image's normalized repository.
	Repository string `json:"repository"`
	Finding
}

// CoveredFinding is a finding at or above the threshold that an exception accepts.
type CoveredFinding struct {
	ImageFinding
	Exception Exception `json:"exception"`
}

// ExpiredException is an exception past its date; it no longer covers anything.
type ExpiredException struct {
	Exception Exception `json:"exception"`
	// Message says so, with the date: `exception CVE-… (teams/payments.yaml:31:7) expired on 2026-10-01`.
	Message string `json:"message"`
}

// ImageError is an image the gate could not judge (not resolved or not scanned).
type ImageError struct {
	Image   string `json:"image"`
	Message string `json:"message"`
}

// Verdict is the gate's decision for one set of images under one policy.
type Verdict struct {
	// Threshold is the policy's threshold, for reports.
	Threshold Severity `json:"threshold"`
	// Blocking findings fail the gate.
	Blocking []ImageFinding `json:"blocking"`
	// Covered findings would block but an unexpired exception accepts them.
	Covered []CoveredFinding `json:"covered"`
	// Expired exceptions no longer apply.
	Expired []ExpiredException `json:"expired"`
	// Unused exceptions are unexpired and match no finding in their images.
	Unused []Exception `json:"unused"`
	// Errors are images without a scan result: they fail the gate (fail closed).
	Errors []ImageError `json:"errors"`
}

// Passed reports whether nothing blocks.
func (v Verdict) Passed() bool { return len(v.Blocking) == 0 && len(v.Errors) == 0 }

// Err is nil when the gate passed, and otherwise an error listing what blocks it as
// an aligned table (image, package, installed, fixed, ID, severity, title).
func (v Verdict) Err() error {
	if v.Passed() {
		return nil
	}
	return &GateError{Verdict: v}
}

// GateError is a failed gate.
type GateError struct{ Verdict Verdict }

func (e *GateError) Error() string {
	var b strings.Builder
	v := e.Verdict
	switch {
	case len(v.Blocking) > 0 && len(v.Errors) > 0:
		fmt.Fprintf(&b, "image scan gate failed: %d finding(s) at or above %s and %d image(s) not scanned", len(v.Blocking), v.Threshold, len(v.Errors))
	case len(v.Blocking) > 0:
		fmt.Fprintf(&b, "image scan gate failed: %d finding(s) at or above %s", len(v.Blocking), v.Threshold)
	default:
		fmt.Fprintf(&b, "image scan gate failed: %d image(s) not scanned", len(v.Errors))
	}
	for _, ie := range v.Errors {
		fmt.Fprintf(&b, "\n  %s", ie.Message)
	}
	if len(v.Blocking) > 0 {
		b.WriteString("\n")
		tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "  IMAGE\tPACKAGE\tINSTALLED\tFIXED\tID\tSEVERITY\tTITLE")
		for _, f := range v.Blocking {
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%s\t%s\n", f.Image, f.Package, f.Installed, cmp.Or(f.Fixed, "-"), f.ID, f.Severity, f.Title)
		}
		_ = tw.Flush()
	}
	out := strings.TrimRight(b.String(), "\n")
	for _, x := range v.Expired {
		out += "\n  " + x.Message
	}
	return out
}

// Gate judges images (as resolved) by their results under policy on the day now.
// An image without a result, or whose result has an error, fails the gate.
func Gate(images []Resolved, results map[string]*Result, policy Policy, now time.Time) Verdict {
	v := Verdict{Threshold: policy.Threshold, Blocking: []ImageFinding{}, Covered: []CoveredFinding{},
		Expired: []ExpiredException{}, Unused: []Exception{}, Errors: []ImageError{}}
	today := now.UTC().Format(time.DateOnly)

	type live struct {
		Exception
		repos map[string]bool
		used  bool
	}
	var active []*live
	for _, x := range policy.Exceptions {
		if x, msg, expired := exceptionExpired(x, today); expired {
			v.Expired = append(v.Expired, ExpiredException{Exception: x, Message: msg})
			continue
		}
		l := &live{Exception: x, repos: map[string]bool{}}
		for _, img := range x.Images {
			l.repos[normalizeRepo(img)] = true
		}
		active = append(active, l)
	}

	seen := map[string]bool{}
	for _, img := range sortedImages(images) {
		if seen[img.Pinned] {
			continue
		}
		seen[img.Pinned] = true
		res := results[img.Digest]
		switch {
		case img.Digest == "":
			v.Errors = append(v.Errors, ImageError{Image: img.Ref, Message: fmt.Sprintf("image %q was not resolved to a digest", img.Ref)})
			continue
		case res == nil:
			v.Errors = append(v.Errors, ImageError{Image: img.Pinned, Message: fmt.Sprintf("image %q was not scanned", img.Pinned)})
			continue
		case res.Err != nil:
			v.Errors = append(v.Errors, ImageError{Image: img.Pinned, Message: res.Err.Error()})
			continue
		}
		repo := normalizeRepo(img.Repository)
		for _, f := range res.Findings {
			fi := ImageFinding{Image: img.Pinned, Repository: img.Repository, Finding: f}
			var cover *live
			for _, x := range active {
				if x.ID == f.ID && (len(x.repos) == 0 || x.repos[repo]) {
					x.used = true
					if cover == nil {
						cover = x
					}
				}
			}
			if !f.Severity.AtLeast(policy.Threshold) || (policy.IgnoreUnfixed && f.Fixed == "") {
				continue
			}
			if cover != nil {
				v.Covered = append(v.Covered, CoveredFinding{ImageFinding: fi, Exception: cover.located()})
				continue
			}
			v.Blocking = append(v.Blocking, fi)
		}
	}
	for _, x := range active {
		if !x.used {
			v.Unused = append(v.Unused, x.located())
		}
	}
	sortImageFindings(v.Blocking)
	slices.SortStableFunc(v.Covered, func(a, b CoveredFinding) int { return compareImageFindings(a.ImageFinding, b.ImageFinding) })
	slices.SortStableFunc(v.Expired, func(a, b ExpiredException) int { return compareExceptions(a.Exception, b.Exception) })
	slices.SortStableFunc(v.Unused, compareExceptions)
	slices.SortStableFunc(v.Errors, func(a, b ImageError) int { return cmp.Compare(a.Image, b.Image) })
	return v
}

// exceptionExpired reports whether x no longer applies on today (YYYY-MM-DD); an
// unreadable date counts as expired, so a typo cannot extend an exception forever.
// An expired exception comes back located, with the message that says so.
func exceptionExpired(x Exception, today string) (Exception, string, bool) {
	_, err := time.Parse(time.DateOnly, x.Expires)
	if err == nil && today <= x.Expires {
		return x, "", false
	}
	x = x.located()
	where := x.ID
	if x.Source != "" {
		where = fmt.Sprintf("%s (%s)", x.ID, x.Source)
	}
	if err != nil {
		return x, fmt.Sprintf("exception %s has expiry %q, not a YYYY-MM-DD date; it is treated as expired", where, x.Expires), true
	}
	return x, fmt.Sprintf("exception %s expired on %s and no longer applies", where, x.Expires), true
}

// normalizeRepo turns "nginx", "docker.io/library/nginx" and even a reference with a
// tag into one repository name, so exceptions match however they are written.
func normalizeRepo(s string) string {
	if n, ok := normalizedRepos.Load(s); ok {
		return n.(string)
	}
	n := s
	if r, err := name.NewRepository(s); err == nil {
		n = r.Name()
	} else if r, err := name.ParseReference(s); err == nil {
		n = r.Context().Name()
	}
	normalizedRepos.Store(s, n)
	return n
}

// normalizedRepos remembers normalizeRepo's answers: a fleet's gate asks the same
// few hundred repositories' names for every unit.
var normalizedRepos sync.Map

func sortedImages(images []Resolved) []Resolved {
	out := slices.Clone(images)
	slices.SortFunc(out, func(a, b Resolved) int { return cmp.Or(cmp.Compare(a.Pinned, b.Pinned), cmp.Compare(a.Ref, b.Ref)) })
	return out
}

func sortImageFindings(fs []ImageFinding) { slices.SortStableFunc(fs, compareImageFindings) }

func compareImageFindings(a, b ImageFinding) int {
	return cmp.Or(cmp.Compare(a.Image, b.Image), compareFindings(a.Finding, b.Finding))
}

func compareExceptions(a, b Exception) int {
	return cmp.Or(cmp.Compare(a.ID, b.ID), cmp.Compare(a.Source, b.Source), cmp.Compare(a.Expires, b.Expires))
}
