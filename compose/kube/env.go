package kube

import (
	"fmt"
	"strings"

	"github.com/berth-dev/berth/compose/model"
)

// environment builds a container's environment as the kubelet does:
// envFrom sources first (in order, later ones win), then env entries in
// order; $(NAME) in a value refers to a variable defined before it.
// secret holds the names whose final value is a Secret's; runtime are the
// variables the launcher fills in (status.podIP and the like).
func (o *objects) environment(c *Container, path string) (env map[string]string, secret map[string]bool, runtime []model.RuntimeEnvVar, err error) {
	d := o.workload
	env, secret = map[string]string{}, map[string]bool{}
	for i, ef := range c.EnvFrom {
		ep := fmt.Sprintf("%s.envFrom[%d]", path, i)
		var data map[string][]byte
		var ok, optional bool
		switch {
		case ef.ConfigMapRef != nil && ef.SecretRef == nil:
			data, ok = o.configMaps[ef.ConfigMapRef.Name]
			optional = isTrue(ef.ConfigMapRef.Optional)
			if !ok && !optional {
				return nil, nil, nil, d.errf(ep+".configMapRef.name", "no ConfigMap %q %s", ef.ConfigMapRef.Name, o.notFound())
			}
		case ef.SecretRef != nil && ef.ConfigMapRef == nil:
			data, ok = o.secrets[ef.SecretRef.Name]
			optional = isTrue(ef.SecretRef.Optional)
			if !ok && !optional {
				return nil, nil, nil, d.errf(ep+".secretRef.name", "no Secret %q %s", ef.SecretRef.Name, o.notFound())
			}
		default:
			return nil, nil, nil, d.errf(ep, "exactly one of configMapRef and secretRef is required")
		}
		for _, k := range sortedKeys(data) {
			if ef.ConfigMapRef != nil && o.binary[ef.ConfigMapRef.Name+"/"+k] {
				continue // binaryData is for files only
			}
			env[ef.Prefix+k] = string(data[k])
			secret[ef.Prefix+k] = ef.SecretRef != nil
		}
	}
	rt := map[string]model.RuntimeField{}
	for i, e := range c.Env {
		ep := fmt.Sprintf("%s.env[%d]", path, i)
		if e.Name == "" {
			return nil, nil, nil, d.errf(ep+".name", "required")
		}
		if e.ValueFrom == nil {
			env[e.Name] = expand(e.Value, env)
			secret[e.Name] = false
			delete(rt, e.Name)
			continue
		}
		if fr := e.ValueFrom.FieldRef; fr != nil && e.ValueFrom.ResourceFieldRef == nil {
			if f, ok := runtimeFields[fr.FieldPath]; ok {
				rt[e.Name] = f
				delete(env, e.Name)
				delete(secret, e.Name)
				continue
			}
		}
		v, set, err := o.valueFrom(c, e.ValueFrom, ep+".valueFrom")
		if err != nil {
			return nil, nil, nil, err
		}
		if set {
			env[e.Name] = v
			secret[e.Name] = e.ValueFrom.SecretKeyRef != nil
			delete(rt, e.Name)
		}
	}
	for _, k := range sortedKeys(rt) {
		runtime = append(runtime, model.RuntimeEnvVar{Name: k, Field: rt[k]})
	}
	return env, secret, runtime, nil
}

// valueFrom resolves one env source; set is false for a missing optional key.
func (o *objects) valueFrom(c *Container, src *EnvVarSource, path string) (string, bool, error) {
	d := o.workload
	n := 0
	for _, set := range []bool{src.FieldRef != nil, src.ResourceFieldRef != nil, src.ConfigMapKeyRef != nil, src.SecretKeyRef != nil} {
		if set {
			n++
		}
	}
	if n != 1 {
		return "", false, d.errf(path, "exactly one of fieldRef, resourceFieldRef, configMapKeyRef and secretKeyRef is required")
	}
	switch {
	case src.FieldRef != nil:
		v, ok := o.podField(src.FieldRef.FieldPath, false)
		if !ok {
			return "", false, d.errf(path+".fieldRef.fieldPath", "unsupported field %q (supported: %s)", src.FieldRef.FieldPath, envFields)
		}
		return v, true, nil
	case src.ResourceFieldRef != nil:
		target := c
		if name := src.ResourceFieldRef.ContainerName; name != "" && name != c.Name {
			if target = o.findContainer(name); target == nil {
				return "", false, d.errf(path+".resourceFieldRef.containerName", "no container %q in the pod", name)
			}
		}
		v, err := o.resourceField(target, src.ResourceFieldRef, path+".resourceFieldRef")
		return v, err == nil, err
	case src.ConfigMapKeyRef != nil:
		return o.lookupKey(o.configMaps, "ConfigMap", src.ConfigMapKeyRef, path+".configMapKeyRef")
	}
	return o.lookupKey(o.secrets, "Secret", src.SecretKeyRef, path+".secretKeyRef")
}

func (o *objects) lookupKey(objs map[string]map[string][]byte, kind string, ref *KeySelect, path string) (string, bool, error) {
	d := o.workload
	data, ok := objs[ref.Name]
	if !ok {
		if isTrue(ref.Optional) {
			return "", false, nil
		}
		return "", false, d.errf(path+".name", "no %s %q %s", kind, ref.Name, o.notFound())
	}
	v, ok := data[ref.Key]
	if ok && kind == "ConfigMap" && o.binary[ref.Name+"/"+ref.Key] {
		return "", false, d.errf(path+".key", "key %q of ConfigMap %q is binaryData, which only a volume can mount", ref.Key, ref.Name)
	}
	if !ok {
		if isTrue(ref.Optional) {
			return "", false, nil
		}
		return "", false, d.errf(path+".key", "%s %q has no key %q", kind, ref.Name, ref.Key)
	}
	return string(v), true, nil
}

func isTrue(b *bool) bool { return b != nil && *b }

// expand replaces $(NAME) with NAME's value from env; $$(NAME) is a literal
// $(NAME), and references to unknown names stay as written (Kubernetes'
// rules).
func expand(s string, env map[string]string) string {
	if !strings.Contains(s, "$") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '$' || i+1 >= len(s) {
			b.WriteByte(s[i])
			continue
		}
		switch s[i+1] {
		case '$':
			b.WriteByte('$')
			i++
		case '(':
			end := strings.IndexByte(s[i+2:], ')')
			if end < 0 {
				b.WriteString(s[i:])
				return b.String()
			}
			name := s[i+2 : i+2+end]
			if v, ok := env[name]; ok {
				b.WriteString(v)
			} else {
				b.WriteString(s[i : i+3+end])
			}
			i += 2 + end
		default:
			b.WriteByte('$')
		}
	}
	return b.String()
}

func expandAll(in []string, env map[string]string) []string {
	out := make([]string, len(in))
	for i, s := range in {
		out[i] = expand(s, env)
	}
	return out
}
