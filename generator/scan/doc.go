// Package scan is the supply-chain stage: it takes image references and a policy, and
// gives resolved digests, vulnerability findings and a gate verdict.
//
// The stage runs in three steps, each usable on its own:
//
//  1. Resolve turns every reference into a pinned one (repo:tag@sha256:…) by asking
//     the registry (or an OCI image layout, offline) for the tag's digest.
//  2. Scan analyses each distinct digest once with Trivy as a Go library — fanal's image
//     artifact for OS packages and language packages (Go binaries, npm, …), then Trivy's
//     local scan service against a Trivy vulnerability database on disk — and caches
//     the result by digest and database version. With a Trivy server (Options.Server)
//     the layers are still read here, but the analysis goes to the server's cache and
//     the server detects, as `trivy image --server` does; no local database is opened.
//  3. Gate applies a Policy (severity threshold, unfixed findings, the team's
//     exceptions with expiry dates) to the findings of a set of images.
//
// It fails closed: a missing or stale database, a server that cannot be reached or
// rejects the token, an image that cannot be resolved or pulled, and a scan error are
// errors, and Gate blocks any image without a result.
//
// Trivy keeps its database handle in a process-wide variable, so only one local
// Scanner may be open at a time; Close releases it. A Scanner that scans through a
// server never touches the handle.
package scan
