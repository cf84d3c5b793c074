package httpapi

import (
	"net/http"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/routers"

	"github.com/imspec/imserver/server/internal/apierr"
	"github.com/imspec/imserver/server/internal/strictjson"
)

// refuseAmbiguous answers 1001 and returns true when body has a repeated key or a key that differs only in
// case from a schema property: kin-openapi validates keys exactly while the strict handler's encoding/json
// matches them case-insensitively, so such a body would be validated as one request and acted on as another.
func refuseAmbiguous(w http.ResponseWriter, r *http.Request, route *routers.Route, body []byte) bool {
	if len(body) == 0 {
		return false // a missing body is the validator's to refuse
	}
	var s strictjson.Shape
	if rb := route.Operation.RequestBody; rb != nil && rb.Value != nil {
		if mt := rb.Value.Content.Get("application/json"); mt != nil && mt.Schema != nil {
			s = schemaShape{mt.Schema.Value}
		}
	}
	if err := strictjson.Check(body, s); err != nil {
		writeError(w, r, http.StatusOK, apierr.Args("%s", strictjson.Describe(err)))
		return true
	}
	return false
}

// schemaShape reads an OpenAPI schema as a strictjson.Shape: properties of the schema and of its
// allOf/oneOf/anyOf parts; an object with additionalProperties and no properties is a free map.
type schemaShape struct{ s *openapi3.Schema }

func (sh schemaShape) parts() []*openapi3.Schema {
	out := []*openapi3.Schema{sh.s}
	for _, refs := range []openapi3.SchemaRefs{sh.s.AllOf, sh.s.OneOf, sh.s.AnyOf} {
		for _, r := range refs {
			if r != nil && r.Value != nil {
				out = append(out, schemaShape{r.Value}.parts()...)
			}
		}
	}
	return out
}

func (sh schemaShape) Names() []string {
	var names []string
	for _, p := range sh.parts() {
		for n := range p.Properties {
			names = append(names, n)
		}
	}
	return names
}

func (sh schemaShape) Map() bool {
	if sh.s == nil {
		return true
	}
	for _, p := range sh.parts() {
		if len(p.Properties) > 0 {
			return false
		}
	}
	return true
}

func (sh schemaShape) Field(key string) strictjson.Shape {
	if sh.s == nil {
		return nil
	}
	for _, p := range sh.parts() {
		if r := p.Properties[key]; r != nil && r.Value != nil {
			return schemaShape{r.Value}
		}
	}
	for _, p := range sh.parts() {
		if ap := p.AdditionalProperties.Schema; ap != nil && ap.Value != nil {
			return schemaShape{ap.Value}
		}
	}
	return nil
}

func (sh schemaShape) Elem() strictjson.Shape {
	if sh.s == nil || sh.s.Items == nil || sh.s.Items.Value == nil {
		return nil
	}
	return schemaShape{sh.s.Items.Value}
}
