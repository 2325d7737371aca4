// Command render-schema decodes YAML documents strictly into the Kubernetes v1.35 Go types they
// claim to be (by apiVersion and kind), so a misspelled or misplaced field, a wrong value type or
// an unknown kind in a file k8s-ha renders is an error. The render tests build and run it;
// it reads the files named on the command line and prints one line per document.
//
// With -policy FILE, it instead runs the ValidatingAdmissionPolicies in FILE the way the
// apiserver's ValidatingAdmissionPolicy plugin does (its CEL environment and validator) on each
// Pod file named after it, for CREATE and UPDATE, and prints one line per pod and operation.
package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	storagev1 "k8s.io/api/storage/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	apiserverv1 "k8s.io/apiserver/pkg/apis/apiserver/v1"
	auditv1 "k8s.io/apiserver/pkg/apis/audit/v1"
	clientcmdv1 "k8s.io/client-go/tools/clientcmd/api/v1"
	kubeproxyv1alpha1 "k8s.io/kube-proxy/config/v1alpha1"
	schedulerv1 "k8s.io/kube-scheduler/config/v1"
	kubeletv1beta1 "k8s.io/kubelet/config/v1beta1"
	eventratelimitv1alpha1 "k8s.io/kubernetes/plugin/pkg/admission/eventratelimit/apis/eventratelimit/v1alpha1"
	psav1 "k8s.io/pod-security-admission/admission/api/v1"
	"sigs.k8s.io/yaml"
)

// types maps "apiVersion kind" to a constructor of the Go type that document must decode into.
var types = map[string]func() any{
	"kubelet.config.k8s.io/v1beta1 KubeletConfiguration":        func() any { return &kubeletv1beta1.KubeletConfiguration{} },
	"kubeproxy.config.k8s.io/v1alpha1 KubeProxyConfiguration":   func() any { return &kubeproxyv1alpha1.KubeProxyConfiguration{} },
	"kubescheduler.config.k8s.io/v1 KubeSchedulerConfiguration": func() any { return &schedulerv1.KubeSchedulerConfiguration{} },
	"apiserver.config.k8s.io/v1 AuthenticationConfiguration":    func() any { return &apiserverv1.AuthenticationConfiguration{} },
	"apiserver.config.k8s.io/v1 EncryptionConfiguration":        func() any { return &apiserverv1.EncryptionConfiguration{} },
	"apiserver.config.k8s.io/v1 AdmissionConfiguration":         func() any { return &apiserverv1.AdmissionConfiguration{} },
	"audit.k8s.io/v1 Policy":                                    func() any { return &auditv1.Policy{} },
	"v1 Config":                                                 func() any { return &clientcmdv1.Config{} },
	"v1 ServiceAccount":                                         func() any { return &corev1.ServiceAccount{} },
	"v1 ConfigMap":                                              func() any { return &corev1.ConfigMap{} },
	"v1 Service":                                                func() any { return &corev1.Service{} },
	"apps/v1 Deployment":                                        func() any { return &appsv1.Deployment{} },
	"rbac.authorization.k8s.io/v1 ClusterRole":                  func() any { return &rbacv1.ClusterRole{} },
	"rbac.authorization.k8s.io/v1 ClusterRoleBinding":           func() any { return &rbacv1.ClusterRoleBinding{} },
	"rbac.authorization.k8s.io/v1 Role":                         func() any { return &rbacv1.Role{} },
	"rbac.authorization.k8s.io/v1 RoleBinding":                  func() any { return &rbacv1.RoleBinding{} },
	"storage.k8s.io/v1 StorageClass":                            func() any { return &storagev1.StorageClass{} },
	"admissionregistration.k8s.io/v1 ValidatingAdmissionPolicy": func() any {
		return &admissionregistrationv1.ValidatingAdmissionPolicy{}
	},
	"admissionregistration.k8s.io/v1 ValidatingAdmissionPolicyBinding": func() any {
		return &admissionregistrationv1.ValidatingAdmissionPolicyBinding{}
	},
}

func main() {
	if len(os.Args) > 2 && os.Args[1] == "-policy" {
		if err := runPolicies(os.Args[2], os.Args[3:]); err != nil {
			fmt.Printf("FAIL %v\n", err)
			os.Exit(1)
		}
		return
	}
	failed := false
	for _, file := range os.Args[1:] {
		if err := checkFile(file); err != nil {
			fmt.Printf("FAIL %s: %v\n", file, err)
			failed = true
		}
	}
	if failed {
		os.Exit(1)
	}
}

func checkFile(file string) error {
	data, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	reader := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	for n := 1; ; n++ {
		doc, err := reader.Read()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("document %d: %w", n, err)
		}
		if len(bytes.TrimSpace(doc)) == 0 {
			continue
		}
		var meta metav1.TypeMeta
		if err := yaml.Unmarshal(doc, &meta); err != nil {
			return fmt.Errorf("document %d: %w", n, err)
		}
		key := meta.APIVersion + " " + meta.Kind
		newObj, ok := types[key]
		if !ok {
			return fmt.Errorf("document %d: unknown apiVersion/kind %q", n, key)
		}
		obj := newObj()
		if err := yaml.UnmarshalStrict(doc, obj); err != nil {
			return fmt.Errorf("document %d (%s): %w", n, key, err)
		}
		if admission, ok := obj.(*apiserverv1.AdmissionConfiguration); ok {
			if err := checkAdmissionPlugins(admission); err != nil {
				return fmt.Errorf("document %d (%s): %w", n, key, err)
			}
		}
		fmt.Printf("ok %s %s\n", file, key)
	}
}

// pluginConfig is the "apiVersion kind" an admission plugin's inline configuration must name and
// the type it must decode into.
type pluginConfig struct {
	typeMeta string
	newCfg   func() any
}

// pluginTypes maps an admission plugin's name to its configuration's apiVersion, kind and type.
var pluginTypes = map[string]pluginConfig{
	"PodSecurity":    {"pod-security.admission.config.k8s.io/v1 PodSecurityConfiguration", func() any { return &psav1.PodSecurityConfiguration{} }},
	"EventRateLimit": {"eventratelimit.admission.k8s.io/v1alpha1 Configuration", func() any { return &eventratelimitv1alpha1.Configuration{} }},
}

// checkAdmissionPlugins decodes each plugin's inline configuration strictly into its own type: the
// AdmissionConfiguration type keeps it as raw bytes, so a typo there would pass unseen. The
// apiVersion and kind are compared too, since strict decoding takes any string in them.
func checkAdmissionPlugins(c *apiserverv1.AdmissionConfiguration) error {
	for _, p := range c.Plugins {
		cfg, ok := pluginTypes[p.Name]
		if !ok {
			return fmt.Errorf("plugin %q: no type known for its configuration", p.Name)
		}
		if p.Configuration == nil {
			continue
		}
		var meta metav1.TypeMeta
		if err := yaml.Unmarshal(p.Configuration.Raw, &meta); err != nil {
			return fmt.Errorf("plugin %q: %w", p.Name, err)
		}
		if got := meta.APIVersion + " " + meta.Kind; got != cfg.typeMeta {
			return fmt.Errorf("plugin %q: configuration is %q, want %q", p.Name, got, cfg.typeMeta)
		}
		if err := yaml.UnmarshalStrict(p.Configuration.Raw, cfg.newCfg()); err != nil {
			return fmt.Errorf("plugin %q: %w", p.Name, err)
		}
	}
	return nil
}
