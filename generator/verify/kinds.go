package verify

import (
	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// kind is what the verify stage knows about one kind of object: its upstream Go type
// (every rendered object decodes strictly into it), whether it is namespaced, and its
// resource name for RBAC.
type kind struct {
	namespaced bool
	resource   string
	newObject  func() any
}

func gvk(groupVersion, k string) schema.GroupVersionKind {
	return schema.FromAPIVersionAndKind(groupVersion, k)
}

// kinds are the kinds Rampart may render: the core kinds and each layer's, every one
// with its upstream type. Anything else is refused.
var kinds = mergeKinds(coreKinds, networkKinds, engineKinds, ingressKinds, gitCredentialKinds, admissionKinds, secretsKinds)

func mergeKinds(sets ...map[schema.GroupVersionKind]kind) map[schema.GroupVersionKind]kind {
	out := map[schema.GroupVersionKind]kind{}
	for _, s := range sets {
		for k, v := range s {
			out[k] = v
		}
	}
	return out
}

// coreKinds are Kubernetes' and Flux's own kinds.
var coreKinds = map[schema.GroupVersionKind]kind{
	gvk("v1", "Namespace"):                                    {false, "namespaces", func() any { return &corev1.Namespace{} }},
	gvk("v1", "ServiceAccount"):                               {true, "serviceaccounts", func() any { return &corev1.ServiceAccount{} }},
	gvk("v1", "Service"):                                      {true, "services", func() any { return &corev1.Service{} }},
	gvk("v1", "ConfigMap"):                                    {true, "configmaps", func() any { return &corev1.ConfigMap{} }},
	gvk("v1", "Secret"):                                       {true, "secrets", func() any { return &corev1.Secret{} }},
	gvk("v1", "PersistentVolumeClaim"):                        {true, "persistentvolumeclaims", func() any { return &corev1.PersistentVolumeClaim{} }},
	gvk("v1", "Pod"):                                          {true, "pods", func() any { return &corev1.Pod{} }},
	gvk("apps/v1", "Deployment"):                              {true, "deployments", func() any { return &appsv1.Deployment{} }},
	gvk("apps/v1", "StatefulSet"):                             {true, "statefulsets", func() any { return &appsv1.StatefulSet{} }},
	gvk("apps/v1", "DaemonSet"):                               {true, "daemonsets", func() any { return &appsv1.DaemonSet{} }},
	gvk("batch/v1", "Job"):                                    {true, "jobs", func() any { return &batchv1.Job{} }},
	gvk("batch/v1", "CronJob"):                                {true, "cronjobs", func() any { return &batchv1.CronJob{} }},
	gvk("policy/v1", "PodDisruptionBudget"):                   {true, "poddisruptionbudgets", func() any { return &policyv1.PodDisruptionBudget{} }},
	gvk("autoscaling/v2", "HorizontalPodAutoscaler"):          {true, "horizontalpodautoscalers", func() any { return &autoscalingv2.HorizontalPodAutoscaler{} }},
	gvk("networking.k8s.io/v1", "NetworkPolicy"):              {true, "networkpolicies", func() any { return &networkingv1.NetworkPolicy{} }},
	gvk("networking.k8s.io/v1", "Ingress"):                    {true, "ingresses", func() any { return &networkingv1.Ingress{} }},
	gvk("rbac.authorization.k8s.io/v1", "Role"):               {true, "roles", func() any { return &rbacv1.Role{} }},
	gvk("rbac.authorization.k8s.io/v1", "RoleBinding"):        {true, "rolebindings", func() any { return &rbacv1.RoleBinding{} }},
	gvk("rbac.authorization.k8s.io/v1", "ClusterRole"):        {false, "clusterroles", func() any { return &rbacv1.ClusterRole{} }},
	gvk("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"): {false, "clusterrolebindings", func() any { return &rbacv1.ClusterRoleBinding{} }},
	gvk("kustomize.toolkit.fluxcd.io/v1", "Kustomization"):    {true, "kustomizations", func() any { return &kustomizev1.Kustomization{} }},
	gvk("source.toolkit.fluxcd.io/v1", "GitRepository"):       {true, "gitrepositories", func() any { return &sourcev1.GitRepository{} }},
}

// Namespaced reports whether a kind Rampart may render is namespaced; known is false
// for kinds it may not render at all (verify refuses those).
func Namespaced(apiVersion, k string) (namespaced, known bool) {
	info, ok := kinds[gvk(apiVersion, k)]
	return info.namespaced, ok
}
