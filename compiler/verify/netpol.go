package verify

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/cilium/cilium/pkg/k8s"
	slimnetv1 "github.com/cilium/cilium/pkg/k8s/slim/k8s/api/networking/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	sigsjson "sigs.k8s.io/json"

	"github.com/policypilot/ppc/ir"
)

// NetworkPolicyKind is Kubernetes' own policy kind, which Cilium enforces
// by translating it (pkg/k8s ParseNetworkPolicy).
const NetworkPolicyKind = "NetworkPolicy"

// DecodeNetworkPolicy decodes a NetworkPolicy strictly (an unknown or
// duplicate field is an error naming it, as the API server's strict field
// validation reports) into Cilium's slim type, which its translation
// reads.
func DecodeNetworkPolicy(js []byte) (*slimnetv1.NetworkPolicy, error) {
	var np networkingv1.NetworkPolicy
	strict, err := sigsjson.UnmarshalStrict(js, &np)
	if err != nil {
		return nil, err
	}
	if len(strict) > 0 {
		msgs := make([]string, len(strict))
		for i, e := range strict {
			msgs[i] = e.Error()
		}
		return nil, fmt.Errorf("%s", strings.Join(msgs, "; "))
	}
	var slim slimnetv1.NetworkPolicy
	if err := json.Unmarshal(js, &slim); err != nil {
		return nil, err
	}
	return &slim, nil
}

// netpolLayers verifies a NetworkPolicy: the API server's decoding and
// validation of networking.k8s.io/v1 (the checks of its
// ValidateNetworkPolicy that decide whether kubectl apply succeeds), then
// the agent: Cilium's translation into policy entries.
func (v *Verifier) netpolLayers(obj Object, name string) ir.Diagnostics {
	var np networkingv1.NetworkPolicy
	strict, err := sigsjson.UnmarshalStrict(obj.JSON, &np)
	if err != nil {
		return ir.Diagnostics{v.diag(LayerSchema, obj, name, nil, "cannot decode: "+err.Error())}
	}
	var ds ir.Diagnostics
	for _, e := range strict {
		ds = append(ds, v.diag(LayerSchema, obj, name, nil, e.Error()))
	}
	if np.APIVersion != "networking.k8s.io/v1" {
		ds = append(ds, v.diag(LayerSchema, obj, name, []string{"apiVersion"}, fmt.Sprintf("apiVersion %q: want networking.k8s.io/v1", np.APIVersion)))
	}
	for _, e := range validateNetworkPolicy(&np) {
		ds = append(ds, v.fieldDiag(obj, name, e))
	}
	if len(ds) > 0 {
		return ds
	}
	slim, err := DecodeNetworkPolicy(obj.JSON)
	if err != nil {
		return ir.Diagnostics{v.diag(LayerAgent, obj, name, nil, "cannot decode: "+err.Error())}
	}
	if _, err := k8s.ParseNetworkPolicy(v.logger, v.opts.Agent.ClusterName, slim); err != nil {
		d := v.diag(LayerAgent, obj, name, nil, err.Error())
		d.Details = append(d.Details, "the API server accepts this, but the Cilium agent rejects the policy and does not enforce it")
		return ir.Diagnostics{d}
	}
	return nil
}

// validateNetworkPolicy is what the API server checks of a NetworkPolicy
// beyond its types: a name, valid label selectors, peers that are either
// selectors or an ipBlock, valid CIDRs with exceptions inside them,
// protocols, ports and port ranges, and policy types.
func validateNetworkPolicy(np *networkingv1.NetworkPolicy) field.ErrorList {
	var errs field.ErrorList
	if np.Name == "" {
		errs = append(errs, field.Required(field.NewPath("metadata", "name"), "name or generateName is required"))
	}
	for _, m := range validation.IsDNS1123Subdomain(np.Name) {
		if np.Name != "" {
			errs = append(errs, field.Invalid(field.NewPath("metadata", "name"), np.Name, m))
		}
	}
	spec := field.NewPath("spec")
	opts := metav1validation.LabelSelectorValidationOptions{}
	errs = append(errs, metav1validation.ValidateLabelSelector(&np.Spec.PodSelector, opts, spec.Child("podSelector"))...)
	peers := func(ps []networkingv1.NetworkPolicyPeer, at *field.Path) {
		for i, p := range ps {
			pp := at.Index(i)
			n := 0
			if p.PodSelector != nil {
				n++
				errs = append(errs, metav1validation.ValidateLabelSelector(p.PodSelector, opts, pp.Child("podSelector"))...)
			}
			if p.NamespaceSelector != nil {
				n++
				errs = append(errs, metav1validation.ValidateLabelSelector(p.NamespaceSelector, opts, pp.Child("namespaceSelector"))...)
			}
			if p.IPBlock != nil {
				if n > 0 {
					errs = append(errs, field.Forbidden(pp, "may not specify both ipBlock and another peer"))
				}
				n++
				errs = append(errs, validateIPBlock(p.IPBlock, pp.Child("ipBlock"))...)
			}
			if n == 0 {
				errs = append(errs, field.Required(pp, "must specify a peer"))
			}
		}
	}
	ports := func(ps []networkingv1.NetworkPolicyPort, at *field.Path) {
		for i, p := range ps {
			pp := at.Index(i)
			if p.Protocol != nil && *p.Protocol != "TCP" && *p.Protocol != "UDP" && *p.Protocol != "SCTP" {
				errs = append(errs, field.NotSupported(pp.Child("protocol"), *p.Protocol, []string{"TCP", "UDP", "SCTP"}))
			}
			if p.Port != nil {
				if p.Port.Type == 0 {
					for _, m := range validation.IsValidPortNum(int(p.Port.IntVal)) {
						errs = append(errs, field.Invalid(pp.Child("port"), p.Port.IntVal, m))
					}
				} else {
					for _, m := range validation.IsValidPortName(p.Port.StrVal) {
						errs = append(errs, field.Invalid(pp.Child("port"), p.Port.StrVal, m))
					}
				}
			}
			if p.EndPort != nil {
				switch {
				case p.Port == nil:
					errs = append(errs, field.Required(pp.Child("port"), "must be specified when endPort is specified"))
				case p.Port.Type != 0:
					errs = append(errs, field.Forbidden(pp.Child("endPort"), "may not be specified when port is non-numeric"))
				case *p.EndPort < p.Port.IntVal:
					errs = append(errs, field.Invalid(pp.Child("endPort"), *p.EndPort, "must be greater than or equal to port"))
				}
			}
		}
	}
	for i, r := range np.Spec.Ingress {
		peers(r.From, spec.Child("ingress").Index(i).Child("from"))
		ports(r.Ports, spec.Child("ingress").Index(i).Child("ports"))
	}
	for i, r := range np.Spec.Egress {
		peers(r.To, spec.Child("egress").Index(i).Child("to"))
		ports(r.Ports, spec.Child("egress").Index(i).Child("ports"))
	}
	if len(np.Spec.PolicyTypes) > 2 {
		errs = append(errs, field.TooMany(spec.Child("policyTypes"), len(np.Spec.PolicyTypes), 2))
	}
	for i, t := range np.Spec.PolicyTypes {
		if t != networkingv1.PolicyTypeIngress && t != networkingv1.PolicyTypeEgress {
			errs = append(errs, field.NotSupported(spec.Child("policyTypes").Index(i), t, []string{"Ingress", "Egress"}))
		}
	}
	return errs
}

func validateIPBlock(b *networkingv1.IPBlock, at *field.Path) field.ErrorList {
	var errs field.ErrorList
	cidr, err := netip.ParsePrefix(b.CIDR)
	if err != nil {
		return append(errs, field.Invalid(at.Child("cidr"), b.CIDR, "must be a valid CIDR"))
	}
	for i, x := range b.Except {
		e, err := netip.ParsePrefix(x)
		switch {
		case err != nil:
			errs = append(errs, field.Invalid(at.Child("except").Index(i), x, "must be a valid CIDR"))
		case e.Addr().Is4() != cidr.Addr().Is4() || e.Bits() <= cidr.Bits() || !cidr.Contains(e.Addr()):
			errs = append(errs, field.Invalid(at.Child("except").Index(i), x, "must be a strict subset of "+strconv.Quote(b.CIDR)))
		}
	}
	return errs
}
