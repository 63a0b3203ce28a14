// Package load is the first stage of the pipeline: it reads a repository's inputs and
// gives the Inventory the later stages render from, or every mistake in them at once.
//
// Load takes the repository root as an fs.FS and reads rampart.yaml (optional),
// clusters/<name>/cluster.yaml (at least one) and teams/<name>.yaml. Each file passes,
// in order:
//
//  1. a size limit (MaxFileSize), checked before the file is read;
//  2. YAML parsing into nodes, refusing empty files, a second document, anchors,
//     aliases and merge keys (so an alias bomb costs only its own text), duplicate
//     and non-string keys;
//  3. conversion to plain values, recording each field's line and column (Positions);
//  4. a check of apiVersion and kind, then the kind's JSON Schema (generated from the
//     spec types), each failure mapped to the field, its position and a hint;
//  5. a strict decode into the spec type;
//  6. semantic checks: names, references between files, quantities, ports, images,
//     paths, dates and network destinations.
//
// On bad input Load returns a diag.List, sorted, holding every error of every file,
// and no Inventory. On success the Inventory's clusters and teams are sorted by name,
// and each carries its file and Positions for the diagnostics of later stages.
package load
