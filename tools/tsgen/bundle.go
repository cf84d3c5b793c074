package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/big"
	"strings"

	"gopkg.in/yaml.v3"
)

// Bundle returns the two documents as JSON for the HTML renderers of `make docs` (document order kept, YAML
// anchors and merge keys resolved): openapi.json as it is, and asyncapi.json with every schema it takes from
// ../openapi/openapi.yaml copied into its own components.schemas (with the schemas those reference, under the
// same names, or OpenAPI<Name> when the AsyncAPI document has a schema of that name) and the references
// rewritten to them, so that it stands alone.
func Bundle(asyncSpec, openSpec []byte) (openJSON, asyncJSON []byte, err error) {
	var adoc, odoc yaml.Node
	if err := yaml.Unmarshal(asyncSpec, &adoc); err != nil {
		return nil, nil, fmt.Errorf("asyncapi: %w", err)
	}
	if err := yaml.Unmarshal(openSpec, &odoc); err != nil {
		return nil, nil, fmt.Errorf("openapi: %w", err)
	}
	oroot, aroot := root(&odoc), root(&adoc)
	if openJSON, err = toJSON(oroot); err != nil {
		return nil, nil, fmt.Errorf("openapi: %w", err)
	}

	aschemas := path(aroot, "components", "schemas")
	oschemas := path(oroot, "components", "schemas")
	if aschemas == nil || oschemas == nil {
		return nil, nil, fmt.Errorf("components.schemas missing")
	}
	// Collect the OpenAPI schemas needed, transitively, in order of first reference.
	var need []string
	seen := map[string]bool{}
	rename := map[string]string{} // OpenAPI schema name → name in the bundle
	var visitErr error
	var visit func(n *yaml.Node, fromOpenAPI bool)
	add := func(name string) {
		if seen[name] {
			return
		}
		if get(oschemas, name) == nil {
			visitErr = fmt.Errorf("openapi.yaml has no schema %s", name)
			return
		}
		rename[name] = name
		if get(aschemas, name) != nil {
			rename[name] = "OpenAPI" + name
			if get(aschemas, rename[name]) != nil || get(oschemas, rename[name]) != nil {
				visitErr = fmt.Errorf("schema %s is in both documents, and so is %s", name, rename[name])
				return
			}
		}
		seen[name] = true
		need = append(need, name)
		visit(get(oschemas, name), true)
	}
	visit = func(n *yaml.Node, fromOpenAPI bool) {
		n = deref(n)
		if n == nil {
			return
		}
		if n.Kind == yaml.MappingNode {
			for i := 0; i+1 < len(n.Content); i += 2 {
				k, v := n.Content[i], deref(n.Content[i+1])
				if k.Value == "$ref" && v.Kind == yaml.ScalarNode {
					switch {
					case strings.HasPrefix(v.Value, openapiRefPrefix):
						add(strings.TrimPrefix(v.Value, openapiRefPrefix))
					case fromOpenAPI && strings.HasPrefix(v.Value, localRefPrefix):
						add(strings.TrimPrefix(v.Value, localRefPrefix))
					case fromOpenAPI:
						visitErr = fmt.Errorf("unsupported $ref %s in an OpenAPI schema", v.Value)
					}
					continue
				}
				visit(v, fromOpenAPI)
			}
			return
		}
		for _, c := range n.Content {
			visit(c, fromOpenAPI)
		}
	}
	visit(aroot, false)
	if visitErr != nil {
		return nil, nil, visitErr
	}

	fromOpenAPI := &jsonConv{rewrite: func(ref string) string {
		return localRefPrefix + rename[strings.TrimPrefix(ref, localRefPrefix)]
	}}
	conv := &jsonConv{rewrite: func(ref string) string {
		if strings.HasPrefix(ref, openapiRefPrefix) {
			return localRefPrefix + rename[strings.TrimPrefix(ref, openapiRefPrefix)]
		}
		return ref
	}}
	var extra []jsonEntry
	for _, name := range need {
		var b bytes.Buffer
		if err := fromOpenAPI.write(&b, get(oschemas, name)); err != nil {
			return nil, nil, err
		}
		extra = append(extra, jsonEntry{rename[name], b.Bytes()})
	}
	conv.extraSchemas = aschemas
	conv.extra = extra
	var out bytes.Buffer
	if err := conv.write(&out, aroot); err != nil {
		return nil, nil, fmt.Errorf("asyncapi: %w", err)
	}
	return openJSON, indent(out.Bytes()), nil
}

type jsonEntry struct {
	key string
	val []byte
}

// jsonConv writes a YAML node as JSON in document order.
type jsonConv struct {
	rewrite      func(ref string) string // applied to $ref values
	extraSchemas *yaml.Node              // the mapping to which extra entries are appended
	extra        []jsonEntry
}

func toJSON(n *yaml.Node) ([]byte, error) {
	var b bytes.Buffer
	if err := (&jsonConv{}).write(&b, n); err != nil {
		return nil, err
	}
	return indent(b.Bytes()), nil
}

func indent(b []byte) []byte {
	var out bytes.Buffer
	if err := json.Indent(&out, b, "", "  "); err != nil {
		return b
	}
	out.WriteByte('\n')
	return out.Bytes()
}

// entries returns the key/value pairs of mapping n with merge keys (<<) resolved: merged entries first, explicit
// keys override them in place or follow.
func entries(n *yaml.Node) ([]*yaml.Node, []*yaml.Node) {
	var keys, vals []*yaml.Node
	idx := map[string]int{}
	set := func(k, v *yaml.Node, override bool) {
		if i, ok := idx[k.Value]; ok {
			if override {
				vals[i] = v
			}
			return
		}
		idx[k.Value] = len(keys)
		keys = append(keys, k)
		vals = append(vals, v)
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if k := n.Content[i]; k.Tag == "!!merge" || (k.Value == "<<" && k.Tag != "!!str") {
			srcs := []*yaml.Node{deref(n.Content[i+1])}
			if srcs[0].Kind == yaml.SequenceNode {
				srcs = seq(srcs[0])
			}
			for _, s := range srcs {
				mk, mv := entries(deref(s))
				for j := range mk {
					set(mk[j], mv[j], false)
				}
			}
		}
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i]
		if k.Tag == "!!merge" || (k.Value == "<<" && k.Tag != "!!str") {
			continue
		}
		set(k, n.Content[i+1], true)
	}
	return keys, vals
}

func (c *jsonConv) write(b *bytes.Buffer, n *yaml.Node) error {
	n = deref(n)
	switch n.Kind {
	case yaml.DocumentNode:
		return c.write(b, n.Content[0])
	case yaml.MappingNode:
		keys, vals := entries(n)
		b.WriteByte('{')
		for i := range keys {
			if i > 0 {
				b.WriteByte(',')
			}
			kb, _ := json.Marshal(keys[i].Value)
			b.Write(kb)
			b.WriteByte(':')
			v := deref(vals[i])
			if keys[i].Value == "$ref" && c.rewrite != nil && v.Kind == yaml.ScalarNode {
				rb, _ := json.Marshal(c.rewrite(v.Value))
				b.Write(rb)
				continue
			}
			if err := c.write(b, v); err != nil {
				return err
			}
		}
		if n == c.extraSchemas {
			for i, e := range c.extra {
				if len(keys) > 0 || i > 0 {
					b.WriteByte(',')
				}
				kb, _ := json.Marshal(e.key)
				b.Write(kb)
				b.WriteByte(':')
				b.Write(e.val)
			}
		}
		b.WriteByte('}')
	case yaml.SequenceNode:
		b.WriteByte('[')
		for i, e := range n.Content {
			if i > 0 {
				b.WriteByte(',')
			}
			if err := c.write(b, e); err != nil {
				return err
			}
		}
		b.WriteByte(']')
	case yaml.ScalarNode:
		switch n.Tag {
		case "!!null":
			b.WriteString("null")
		case "!!bool":
			var v bool
			if err := n.Decode(&v); err != nil {
				return err
			}
			fmt.Fprint(b, v)
		case "!!int":
			var v big.Int
			if _, ok := v.SetString(strings.ReplaceAll(n.Value, "_", ""), 0); !ok {
				return fmt.Errorf("line %d: integer %q", n.Line, n.Value)
			}
			b.WriteString(v.String())
		case "!!float":
			var v float64
			if err := n.Decode(&v); err != nil {
				return err
			}
			fb, err := json.Marshal(v)
			if err != nil {
				return fmt.Errorf("line %d: %w", n.Line, err)
			}
			b.Write(fb)
		default:
			sb, _ := json.Marshal(n.Value)
			b.Write(sb)
		}
	default:
		return fmt.Errorf("line %d: unexpected YAML node", n.Line)
	}
	return nil
}
