package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/apiserver/pkg/admission"
	plugincel "k8s.io/apiserver/pkg/admission/plugin/cel"
	"k8s.io/apiserver/pkg/admission/plugin/policy/validating"
	celconfig "k8s.io/apiserver/pkg/apis/cel"
	"k8s.io/apiserver/pkg/cel/environment"
	"sigs.k8s.io/yaml"
)

// runPolicies evaluates every ValidatingAdmissionPolicy in policyFile against each Pod file, for
// CREATE and UPDATE (the pod as its own old object), and prints one line each:
// "<pod file> <namespace> <operation> <policy>: not matched|admitted|denied (<reason>): <message>".
func runPolicies(policyFile string, podFiles []string) error {
	policies, err := readPolicies(policyFile)
	if err != nil {
		return err
	}
	if len(policies) == 0 {
		return fmt.Errorf("%s: no ValidatingAdmissionPolicy", policyFile)
	}
	gvk := corev1.SchemeGroupVersion.WithKind("Pod")
	gvr := corev1.SchemeGroupVersion.WithResource("pods")
	for _, file := range podFiles {
		data, err := os.ReadFile(file)
		if err != nil {
			return err
		}
		pod := &corev1.Pod{}
		if err := yaml.UnmarshalStrict(data, pod); err != nil {
			return fmt.Errorf("%s: %w", file, err)
		}
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: pod.Namespace, Labels: map[string]string{"kubernetes.io/metadata.name": pod.Namespace}}}
		for _, op := range []admission.Operation{admission.Create, admission.Update} {
			var old runtime.Object
			var options runtime.Object = &metav1.CreateOptions{}
			if op == admission.Update {
				old, options = pod.DeepCopy(), &metav1.UpdateOptions{}
			}
			attrs := admission.NewAttributesRecord(pod, old, gvk, pod.Namespace, pod.Name, gvr, "", op, options, false, nil)
			versioned := &admission.VersionedAttributes{Attributes: attrs, VersionedKind: gvk, VersionedObject: pod, VersionedOldObject: old}
			for _, p := range policies {
				verdict, err := evaluate(p, versioned, ns)
				if err != nil {
					return fmt.Errorf("policy %s: %w", p.Name, err)
				}
				fmt.Printf("%s %s %s %s: %s\n", file, pod.Namespace, op, p.Name, verdict)
			}
		}
	}
	return nil
}

func readPolicies(file string) ([]*admissionregistrationv1.ValidatingAdmissionPolicy, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	var out []*admissionregistrationv1.ValidatingAdmissionPolicy
	reader := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	for {
		doc, err := reader.Read()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		var meta metav1.TypeMeta
		if err := yaml.Unmarshal(doc, &meta); err != nil {
			return nil, err
		}
		if meta.Kind != "ValidatingAdmissionPolicy" {
			continue
		}
		p := &admissionregistrationv1.ValidatingAdmissionPolicy{}
		if err := yaml.UnmarshalStrict(doc, p); err != nil {
			return nil, err
		}
		out = append(out, p)
	}
}

// evaluate matches the request against the policy's matchConstraints (operations and resource of
// its resourceRules, its namespaceSelector) and, when it matches, runs its validations with the
// apiserver's own compiler and validator (compilePolicy in k8s.io/apiserver's validating plugin).
func evaluate(p *admissionregistrationv1.ValidatingAdmissionPolicy, attr *admission.VersionedAttributes, ns *corev1.Namespace) (string, error) {
	mc := p.Spec.MatchConstraints
	if mc == nil {
		return "", fmt.Errorf("no matchConstraints")
	}
	if !rulesMatch(mc.ResourceRules, attr) {
		return "not matched", nil
	}
	if mc.NamespaceSelector != nil {
		sel, err := metav1.LabelSelectorAsSelector(mc.NamespaceSelector)
		if err != nil {
			return "", err
		}
		if !sel.Matches(labels.Set(ns.Labels)) {
			return "not matched", nil
		}
	}
	if len(p.Spec.MatchConditions) > 0 || len(p.Spec.Variables) > 0 || p.Spec.ParamKind != nil || len(p.Spec.AuditAnnotations) > 0 {
		return "", fmt.Errorf("matchConditions, variables, paramKind and auditAnnotations are not evaluated here")
	}
	env, err := plugincel.NewCompositionEnv(plugincel.VariablesTypeName, environment.MustBaseEnvSet(environment.DefaultCompatibilityVersion()))
	if err != nil {
		return "", err
	}
	compiler := plugincel.NewCompositedCompilerFromTemplate(env)
	vars := plugincel.OptionalVariableDeclarations{HasAuthorizer: true}
	validations := make([]plugincel.ExpressionAccessor, len(p.Spec.Validations))
	messages := make([]plugincel.ExpressionAccessor, len(p.Spec.Validations))
	for i, v := range p.Spec.Validations {
		validations[i] = &validating.ValidationCondition{Expression: v.Expression, Message: v.Message, Reason: v.Reason}
		if v.MessageExpression != "" {
			messages[i] = &validating.MessageExpressionCondition{MessageExpression: v.MessageExpression}
		}
	}
	filter := compiler.CompileCondition(validations, vars, environment.StoredExpressions)
	if errs := filter.CompilationErrors(); len(errs) > 0 {
		return "", fmt.Errorf("compilation: %v", errs)
	}
	validator := validating.NewValidator(
		filter,
		nil,
		compiler.CompileCondition(nil, vars, environment.StoredExpressions),
		compiler.CompileCondition(messages, plugincel.OptionalVariableDeclarations{}, environment.StoredExpressions),
		p.Spec.FailurePolicy,
	)
	result := validator.Validate(context.Background(), attr.GetResource(), attr, nil, ns, celconfig.RuntimeCELCostBudget, nil)
	var denied []string
	for _, d := range result.Decisions {
		switch {
		case d.Evaluation == validating.EvalError:
			denied = append(denied, fmt.Sprintf("error (%s): %s", d.Action, d.Message))
		case d.Action == validating.ActionDeny:
			denied = append(denied, fmt.Sprintf("denied (%s): %s", d.Reason, d.Message))
		}
	}
	if len(denied) == 0 {
		return "admitted", nil
	}
	return strings.Join(denied, "; "), nil
}

func rulesMatch(rules []admissionregistrationv1.NamedRuleWithOperations, attr admission.Attributes) bool {
	gvr := attr.GetResource()
	for _, r := range rules {
		if contains(r.Operations, admissionregistrationv1.OperationType(attr.GetOperation())) && containsString(r.APIGroups, gvr.Group) &&
			containsString(r.APIVersions, gvr.Version) && containsString(r.Resources, gvr.Resource) {
			return true
		}
	}
	return false
}

func contains(ops []admissionregistrationv1.OperationType, op admissionregistrationv1.OperationType) bool {
	for _, o := range ops {
		if o == op || o == admissionregistrationv1.OperationAll {
			return true
		}
	}
	return false
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s || x == "*" {
			return true
		}
	}
	return false
}
