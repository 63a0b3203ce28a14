package judge

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	auditv1 "k8s.io/apiserver/pkg/apis/audit/v1"
)

// auditPolicy records every request at the Metadata level: the user, whom it
// impersonated, the verb, the object and the answer's code, never a body.
const auditPolicy = `apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
  - level: Metadata
`

// writeAuditPolicy writes the audit policy and returns the API server's audit
// flags.
func (s *Server) writeAuditPolicy() ([]string, error) {
	policy := filepath.Join(s.dir, "audit-policy.yaml")
	if err := os.WriteFile(policy, []byte(auditPolicy), 0o600); err != nil {
		return nil, fmt.Errorf("writing the audit policy: %w", err)
	}
	s.auditLog = filepath.Join(s.dir, "audit.log")
	return []string{
		"--audit-policy-file=" + policy,
		"--audit-log-path=" + s.auditLog,
		"--audit-log-format=json",
		// Write each event before the request is answered, so a test that
		// reads the log after its requests finished sees all of them.
		"--audit-log-mode=blocking",
		"--audit-log-maxbackup=0",
	}, nil
}

// AuditEvents reads every event the API server has logged so far (it logs
// only when started with [Options.Audit]).
func (s *Server) AuditEvents() ([]auditv1.Event, error) {
	if s.auditLog == "" {
		return nil, errors.New("reading the audit log: the server was started without Options.Audit")
	}
	f, err := os.Open(s.auditLog)
	if err != nil {
		return nil, fmt.Errorf("reading the audit log: %w", err)
	}
	defer f.Close()
	var events []auditv1.Event
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 16*1024*1024)
	for sc.Scan() {
		var e auditv1.Event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			return nil, fmt.Errorf("reading the audit log %s: %w", s.auditLog, err)
		}
		events = append(events, e)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading the audit log %s: %w", s.auditLog, err)
	}
	return events, nil
}
