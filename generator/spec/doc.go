// Package spec defines Rampart's input documents: Team (teams/<team>.yaml), Cluster
// (clusters/<cluster>/cluster.yaml) and Config (rampart.yaml), and generates their
// JSON Schemas from these types. It holds types only; reading and checking documents
// is the load stage's job.
package spec
