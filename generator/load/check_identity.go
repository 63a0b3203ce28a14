package load

import (
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/rampart-gitops/rampart/generator/diag"
	"github.com/rampart-gitops/rampart/generator/internal/defaults"
	"github.com/rampart-gitops/rampart/generator/spec"
)

// checkIdentity checks an app's workload identity and the secrets it mounts with it:
// every secret store needs the identity that reads it, every mounted file name is
// unique in its directory, and no secret directory meets a writable one (an emptyDir
// over a secret hides it; a secret inside an emptyDir is not mounted where it says).
func checkIdentity(f *fileCtx, field string, a *spec.App) {
	if a.Identity != nil && a.Identity.Azure == nil {
		f.errorf(Field(field, "identity"), "name the app's cloud identity, e.g. identity: {azure: {clientID: <client ID>}}, or leave identity out",
			"identity names no cloud identity")
	}
	azure := a.Identity != nil && a.Identity.Azure != nil
	names, syncs := map[string]string{}, map[string]string{}
	var mounts []mount
	files := map[string]map[string]bool{}
	for i, s := range a.Secrets {
		sf := Index(Field(field, "secrets"), i)
		if prev, dup := names[s.Name]; dup && s.Name != "" {
			f.errorf(Field(sf, "name"), "secret names are unique within an app; rename one of them", "duplicate secret name %q (also %s)", s.Name, prev)
		} else {
			names[s.Name] = sf
		}
		checkSecretMount(f, Field(sf, "mountPath"), s.MountPath, a.WritablePaths, &mounts)
		if s.SyncSecret != "" {
			if prev, dup := syncs[s.SyncSecret]; dup {
				f.errorf(Field(sf, "syncSecret"), "sync each Kubernetes Secret from one place; name another Secret", "Secret %q is already synced by %s", s.SyncSecret, prev)
			} else {
				syncs[s.SyncSecret] = sf
			}
		}
		kv := s.AzureKeyVault
		if kv == nil {
			f.errorf(sf, "say where the objects come from, e.g. azureKeyVault: {vaultName: …, tenantID: …, objects: [{name: db-password}]}", "secret %q names no secret store", s.Name)
			continue
		}
		if !azure {
			f.errorf(Field(sf, "azureKeyVault"), "add identity: {azure: {clientID: <client ID>}} to the app, with a federated credential for system:serviceaccount:<team>:"+a.Name+" and read access to the vault",
				"the objects of vault %q are read with the app's Azure workload identity, and app %q has none", kv.VaultName, a.Name)
		}
		inDir := files[path.Clean(s.MountPath)]
		if inDir == nil {
			inDir = map[string]bool{}
			files[path.Clean(s.MountPath)] = inDir
		}
		seen := map[string]string{}
		for j, o := range kv.Objects {
			of := Index(Field(Field(sf, "azureKeyVault"), "objects"), j)
			key := string(o.Type) + "/" + o.Name
			if o.Type == "" {
				key = string(spec.VaultSecret) + "/" + o.Name
			}
			if prev, dup := seen[key]; dup {
				f.errorf(Field(of, "name"), "list each vault object once", "duplicate vault object %q (also %s)", o.Name, prev)
				continue
			}
			seen[key] = of
			if inDir[o.FileName()] {
				fieldName := "name"
				if o.Alias != "" {
					fieldName = "alias"
				}
				f.errorf(Field(of, fieldName), "give one of them an alias: each object is a file named after its alias or name",
					"duplicate object name %q in %s", o.FileName(), s.MountPath)
				continue
			}
			inDir[o.FileName()] = true
		}
	}
	// A secretEnv read from a synced Secret must name one of its keys.
	for i, e := range a.SecretEnv {
		prev, synced := syncs[e.Secret]
		if !synced {
			continue
		}
		s := a.Secrets[secretIndex(a.Secrets, e.Secret)]
		if s.AzureKeyVault == nil {
			continue
		}
		var keys []string
		found := false
		for _, o := range s.AzureKeyVault.Objects {
			if !slices.Contains(keys, o.FileName()) {
				keys = append(keys, o.FileName())
			}
			found = found || o.FileName() == e.Key
		}
		if !found {
			f.errorf(Field(Index(Field(field, "secretEnv"), i), "key"), knownList("its keys", keys, ""),
				"Secret %q (synced by %s) has no key %q", e.Secret, prev, e.Key)
		}
	}
}

func secretIndex(secrets []spec.Secret, sync string) int {
	for i, s := range secrets {
		if s.SyncSecret == sync {
			return i
		}
	}
	return 0
}

// checkSecretMount checks a secret's mount path against the app's writable paths
// and its other secrets' mount paths.
func checkSecretMount(f *fileCtx, field, p string, writable []string, mounts *[]mount) {
	switch {
	case !strings.HasPrefix(p, "/"):
		f.errorf(field, "write an absolute path, e.g. /mnt/secrets", "mount path %q is not absolute", p)
		return
	case p == "/":
		f.errorf(field, "mount the secrets in a directory of their own, e.g. /mnt/secrets", "secrets cannot be mounted over the root directory")
		return
	case path.Clean(p) != p:
		f.errorf(field, fmt.Sprintf("write it as %s", path.Clean(p)), "mount path %q is not clean", p)
		return
	}
	for _, r := range reservedMounts {
		if nested(p, r) {
			f.errorf(field, "mount the secrets in a directory of their own, e.g. /mnt/secrets",
				"mount path %q collides with %s, %s", p, r, reservedWhy[r])
			return
		}
	}
	for _, w := range writable {
		if nested(p, w) {
			f.errorf(field, "mount the secrets outside the writable paths, e.g. /mnt/secrets, so the app cannot write over them and no emptyDir hides them",
				"mount path %q collides with writable path %q", p, w)
			return
		}
	}
	for _, m := range *mounts {
		if nested(p, m.path) {
			f.errorf(field, "mount each secret in a directory of its own", "mount path %q collides with %s's %q", p, m.secret, m.path)
			return
		}
	}
	*mounts = append(*mounts, mount{path: p, secret: strings.TrimSuffix(field, ".mountPath")})
}

// reservedMounts are directories a secret may not be mounted at, over or inside:
// the kernel's, and where Kubernetes and Azure Workload Identity's webhook mount the
// pod's tokens (a second mount there makes the pod invalid, or hides the token).
var reservedMounts = []string{"/dev", "/proc", "/run/secrets", "/sys", "/var/run/secrets"}

var reservedWhy = map[string]string{
	"/dev":             "the container's devices",
	"/proc":            "the kernel's process filesystem",
	"/sys":             "the kernel's sysfs",
	"/run/secrets":     "where tokens are mounted (/var/run is /run)",
	"/var/run/secrets": "where the workload identity token is mounted (/var/run/secrets/azure/tokens)",
}

// mount is a secret's mount path and the secret's field.
type mount struct{ path, secret string }

// nested says whether two clean absolute paths are the same or one lies inside the other.
func nested(a, b string) bool {
	return a == b || strings.HasPrefix(a, strings.TrimSuffix(b, "/")+"/") || strings.HasPrefix(b, strings.TrimSuffix(a, "/")+"/")
}

// checkSecrets checks a team's secrets across its apps and clusters: the
// SecretProviderClass names (<app>-<name>) and synced Secrets are unique in the
// namespace, no synced Secret takes the name of the cluster's Git credential (which
// the platform clones into every team namespace), and an app with an Azure identity
// can reach the Entra ID authority host on every cluster it runs on (a warning).
func checkSecrets(inv *Inventory) diag.List {
	var out diag.List
	for i := range inv.Teams {
		t := &inv.Teams[i]
		classes, syncs := map[string]string{}, map[string]string{}
		for ai := range t.Spec.Apps {
			a := &t.Spec.Apps[ai]
			af := Index("spec.apps", ai)
			for si, s := range a.Secrets {
				sf := Index(Field(af, "secrets"), si)
				class := a.Name + "-" + s.Name
				if prev, dup := classes[class]; dup && !strings.HasPrefix(prev, af+".") {
					out = append(out, netDiag(t, Field(sf, "name"), diag.Error, "rename the secret or the app: the two SecretProviderClasses would be one object",
						"SecretProviderClass %q is also %s's", class, prev))
				} else if !dup {
					classes[class] = sf
				}
				if s.SyncSecret == "" {
					continue
				}
				if prev, dup := syncs[s.SyncSecret]; dup && !strings.HasPrefix(prev, af+".") {
					out = append(out, netDiag(t, Field(sf, "syncSecret"), diag.Error, "sync each Kubernetes Secret from one place; name another Secret",
						"Secret %q is already synced by %s", s.SyncSecret, prev))
				} else if !dup {
					syncs[s.SyncSecret] = sf
				}
				if bad := clustersWhere(inv, t, func(c *Cluster) bool { return c.Spec.Flux.Repository.SecretName == s.SyncSecret }); len(bad) > 0 {
					out = append(out, netDiag(t, Field(sf, "syncSecret"), diag.Error, "name another Secret",
						"Secret %q is the Git credential Flux reads in every team namespace on %s %s", s.SyncSecret,
						netPlural(len(bad), "cluster", "clusters"), strings.Join(bad, ", ")))
				}
			}
			if a.Identity == nil || a.Identity.Azure == nil {
				continue
			}
			if bad := clustersWhere(inv, t, func(c *Cluster) bool {
				return c.Spec.CNI != spec.CNICilium && len(c.Spec.Egress.FQDNFallbackCIDRs) == 0
			}); len(bad) > 0 {
				out = append(out, netDiag(t, Field(Field(af, "identity"), "azure"), diag.Warning,
					"run the app on Cilium clusters, or the platform sets spec.egress.fqdnFallbackCIDRs (or allows the Entra ID ranges) in "+clusterFiles(bad),
					"app %q cannot reach the Entra ID authority host %s on %s %s to exchange its token: only Cilium clusters enforce host names",
					a.Name, defaults.AzureAuthorityHost, netPlural(len(bad), "cluster", "clusters"), strings.Join(bad, ", ")))
			}
		}
	}
	return out.Sort()
}
