package verify

import (
	"context"
	"fmt"
	"io/fs"

	crdsv2 "github.com/cilium/cilium/pkg/k8s/apis/cilium.io/client/crds/v2"
	"k8s.io/apiextensions-apiserver/pkg/apihelpers"
	"k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	structuralschema "k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/cel"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/defaulting"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/listtype"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/objectmeta"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/pruning"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/validation"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/validation/field"
	celconfig "k8s.io/apiserver/pkg/apis/cel"
	"sigs.k8s.io/yaml"
)

// crdValidator reproduces kube-apiserver's create-time validation of one
// custom resource kind, on the CRD Cilium embeds.
type crdValidator struct {
	kind       string
	apiVersion string
	namespaced bool
	structural *structuralschema.Structural
	schema     validation.SchemaValidator
	cel        *cel.Validator
	memo       *crdMemo // nil: every policy validated element by element
}

func newCRDValidator(file string) (*crdValidator, error) {
	raw, err := fs.ReadFile(crdsv2.EmbedFS, file)
	if err != nil {
		return nil, err
	}
	crd := &apiextensionsv1.CustomResourceDefinition{}
	if err := yaml.UnmarshalStrict(raw, crd); err != nil {
		return nil, fmt.Errorf("decode CRD %s: %w", file, err)
	}
	const version = "v2"
	val, err := apihelpers.GetSchemaForVersion(crd, version)
	if err != nil || val == nil {
		return nil, fmt.Errorf("CRD %s has no schema for %s: %v", file, version, err)
	}
	internal := &apiextensions.CustomResourceValidation{}
	if err := apiextensionsv1.Convert_v1_CustomResourceValidation_To_apiextensions_CustomResourceValidation(val, internal, nil); err != nil {
		return nil, err
	}
	s, err := structuralschema.NewStructural(internal.OpenAPIV3Schema)
	if err != nil {
		return nil, err
	}
	s = s.DeepCopy()
	if err := defaulting.PruneDefaults(s); err != nil {
		return nil, err
	}
	sv, _, err := validation.NewSchemaValidator(internal.OpenAPIV3Schema)
	if err != nil {
		return nil, err
	}
	memo, err := newCRDMemo(s, internal.OpenAPIV3Schema)
	if err != nil {
		return nil, err
	}
	return &crdValidator{
		kind:       crd.Spec.Names.Kind,
		apiVersion: crd.Spec.Group + "/" + version,
		namespaced: crd.Spec.Scope == apiextensionsv1.NamespaceScoped,
		structural: s,
		schema:     sv,
		cel:        cel.NewValidator(s, true, celconfig.PerCallLimit),
		memo:       memo,
	}, nil
}

// validate runs the API server's create pipeline on obj (decoded JSON) and
// returns the unknown fields (errors with kubectl's default
// --validate=strict) and every validation error.
func (c *crdValidator) validate(ctx context.Context, obj map[string]any) (unknown []string, errs field.ErrorList) {
	u := &unstructured.Unstructured{Object: obj}
	meta, _, unkMeta, err := objectmeta.GetObjectMetaWithOptions(u.Object, objectmeta.ObjectMetaOptions{ReturnUnknownFieldPaths: true})
	if err != nil {
		return nil, field.ErrorList{field.Invalid(field.NewPath("metadata"), nil, err.Error())}
	}
	unk := pruning.PruneWithOptions(u.Object, c.structural, true, structuralschema.UnknownFieldPathOptions{TrackUnknownFieldPaths: true})
	defaulting.PruneNonNullableNullsWithoutDefaults(u.Object, c.structural)
	ferr, unkCoerce := objectmeta.CoerceWithOptions(nil, u.Object, c.structural, false, objectmeta.CoerceOptions{ReturnUnknownFieldPaths: true})
	if ferr != nil {
		errs = append(errs, ferr)
	}
	unknown = append(append(unkMeta, unk...), unkCoerce...)
	if meta != nil {
		if err := objectmeta.SetObjectMeta(u.Object, meta); err != nil {
			errs = append(errs, field.Invalid(field.NewPath("metadata"), nil, err.Error()))
		}
	}
	defaulting.Default(u.Object, c.structural)
	delete(u.Object, "status")
	if got := u.GetAPIVersion(); got != c.apiVersion {
		errs = append(errs, field.Invalid(field.NewPath("apiVersion"), got, "must be "+c.apiVersion))
	}
	if got := u.GetKind(); got != c.kind {
		errs = append(errs, field.Invalid(field.NewPath("kind"), got, "must be "+c.kind))
	}
	errs = append(errs, apivalidation.ValidateObjectMetaAccessor(u, c.namespaced, apivalidation.NameIsDNSSubdomain, field.NewPath("metadata"))...)
	errs = append(errs, validation.ValidateCustomResource(nil, u.UnstructuredContent(), c.schema)...)
	errs = append(errs, objectmeta.Validate(nil, u.Object, c.structural, false)...)
	errs = append(errs, listtype.ValidateListSetsAndMaps(nil, c.structural, u.Object)...)
	if blocking(errs) {
		errs = append(errs, field.Invalid(nil, nil, "some validation rules were not checked because the object was invalid; correct the existing errors to complete validation"))
	} else {
		cerrs, _ := c.cel.Validate(ctx, nil, c.structural, u.Object, nil, celconfig.RuntimeCELCostBudget)
		errs = append(errs, cerrs...)
	}
	return unknown, errs
}

// blocking mirrors the API server: CEL rules are skipped when an earlier
// error makes the object unfit for them.
func blocking(errs field.ErrorList) bool {
	for _, e := range errs {
		switch e.Type {
		case field.ErrorTypeNotSupported, field.ErrorTypeRequired, field.ErrorTypeTooLong, field.ErrorTypeTooMany, field.ErrorTypeTypeInvalid:
			return true
		}
	}
	return false
}
