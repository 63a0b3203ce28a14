package judge

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"sort"
)

// KubeScoreVersion is the kube-score release .ci/install-judges builds.
const KubeScoreVersion = "v1.20.0"

// EnvKubeScore points the harness at a kube-score binary.
const EnvKubeScore = "RAMPART_KUBE_SCORE"

// KubeScore runs kube-score (github.com/zegl/kube-score), an independent judge of
// Kubernetes best practice, on rendered files. It is built as a tool of its own
// (.ci/install-judges), so its dependencies stay out of Rampart's module.
type KubeScore struct {
	// Path is the binary.
	Path string
}

// FindKubeScore looks for kube-score in $RAMPART_KUBE_SCORE, then in the cache
// .ci/install-judges builds into, then on PATH. Its error wraps ErrMissingBinaries
// when there is none.
func FindKubeScore() (*KubeScore, error) {
	cached := ""
	if dir := JudgesDir(); dir != "" {
		cached = filepath.Join(dir, "kube-score-"+KubeScoreVersion, "kube-score")
	}
	p, err := findBinary(EnvKubeScore, "kube-score", cached)
	if err != nil {
		return nil, fmt.Errorf("finding kube-score: %w: %w", err, ErrMissingBinaries)
	}
	return &KubeScore{Path: p}, nil
}

// KubeScoreGrade is kube-score's grade of one check on one object.
type KubeScoreGrade int

// kube-score's grades (its scorecard.Grade values).
const (
	GradeCritical KubeScoreGrade = 1
	GradeWarning  KubeScoreGrade = 5
	GradeAlmostOK KubeScoreGrade = 7
	GradeAllOK    KubeScoreGrade = 10
)

func (g KubeScoreGrade) String() string {
	switch g {
	case GradeCritical:
		return "CRITICAL"
	case GradeWarning:
		return "WARNING"
	case GradeAlmostOK:
		return "ALMOST OK"
	case GradeAllOK:
		return "OK"
	}
	return fmt.Sprintf("grade %d", int(g))
}

// KubeScoreFinding is one comment of a check graded below OK on one object.
type KubeScoreFinding struct {
	// Object is Kind/namespace/name.
	Object string
	// Check is the check's ID, e.g. container-resources.
	Check   string
	Grade   KubeScoreGrade
	Summary string
	// Path names the part of the object, e.g. the container's name.
	Path string
}

func (f KubeScoreFinding) String() string {
	s := fmt.Sprintf("[%s] %s %s: %s", f.Grade, f.Object, f.Check, f.Summary)
	if f.Path != "" {
		s += " (" + f.Path + ")"
	}
	return s
}

// Score runs `kube-score score` on files for a Kubernetes version (e.g. v1.33) and
// returns every finding graded below OK, sorted. Checks kube-score skips are left out.
func (k *KubeScore) Score(ctx context.Context, kubeVersion string, files []string) ([]KubeScoreFinding, error) {
	if len(files) == 0 {
		return nil, errors.New("running kube-score: no files")
	}
	args := append([]string{"score", "--output-format", "json", "--kubernetes-version", kubeVersion}, files...)
	cmd := exec.CommandContext(ctx, k.Path, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	// kube-score exits 1 when any check is critical; the output says which.
	if err := cmd.Run(); err != nil {
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() != 1 || stdout.Len() == 0 {
			return nil, fmt.Errorf("running kube-score: %w: %s", err, bytes.TrimSpace(stderr.Bytes()))
		}
	}
	var objects []struct {
		TypeMeta struct {
			Kind string `json:"kind"`
		} `json:"type_meta"`
		ObjectMeta struct {
			Name      string `json:"name"`
			Namespace string `json:"namespace"`
		} `json:"object_meta"`
		Checks []struct {
			Check struct {
				ID string `json:"id"`
			} `json:"check"`
			Grade    KubeScoreGrade `json:"grade"`
			Skipped  bool           `json:"skipped"`
			Comments []struct {
				Path    string `json:"path"`
				Summary string `json:"summary"`
			} `json:"comments"`
		} `json:"checks"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &objects); err != nil {
		return nil, fmt.Errorf("reading kube-score's report: %w", err)
	}
	var out []KubeScoreFinding
	for _, o := range objects {
		name := o.TypeMeta.Kind + "/" + o.ObjectMeta.Namespace + "/" + o.ObjectMeta.Name
		if o.ObjectMeta.Namespace == "" {
			name = o.TypeMeta.Kind + "/" + o.ObjectMeta.Name
		}
		for _, c := range o.Checks {
			if c.Skipped || c.Grade >= GradeAllOK {
				continue
			}
			if len(c.Comments) == 0 {
				out = append(out, KubeScoreFinding{Object: name, Check: c.Check.ID, Grade: c.Grade})
			}
			for _, cm := range c.Comments {
				out = append(out, KubeScoreFinding{Object: name, Check: c.Check.ID, Grade: c.Grade, Summary: cm.Summary, Path: cm.Path})
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].String() < out[j].String() })
	return out, nil
}
