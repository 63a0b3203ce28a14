// Package review is what a reviewer reads instead of a raw diff of rendered YAML: it
// takes two rendered trees (the committed clusters/ at a base revision, read through
// git, and the new render) and gives a Diff — per cluster and team, the objects
// added, changed and removed, with a short security summary of each change — and a
// Report for the pull request: the diff, the reachability change of every touched
// cluster (from generator/reach), the scan gate (from generator/scan) and the spec
// warnings, kept under GitHub's comment size limit.
//
// It never re-renders the base: the base is the rendered output committed there.
// Only files whose git blob ids differ are read and parsed, so a one-team change on
// a 1,000-team fleet parses a handful of files.
package review
