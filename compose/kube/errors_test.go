package kube

import (
	"strings"
	"testing"
)

// TestErrors: bad input fails with the file, the line and the field.
func TestErrors(t *testing.T) {
	const head = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  containers:\n  - name: c\n    image: busybox\n"
	cases := []struct {
		name, yaml, want string
	}{
		{"no image", "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  containers:\n  - name: c\n",
			"f.yaml:7: Pod p: spec.containers[0].image: required"},
		{"bad cpu", head + "    resources:\n      limits:\n        cpu: lots\n",
			`f.yaml:11: Pod p: spec.containers[0].resources.limits.cpu: invalid quantity "lots"`},
		{"missing configmap", head + "    env:\n    - name: A\n      valueFrom:\n        configMapKeyRef:\n          name: nope\n          key: k\n",
			`f.yaml:13: Pod p: spec.containers[0].env[0].valueFrom.configMapKeyRef.name: no ConfigMap "nope" in this file`},
		{"unknown volume", head + "    volumeMounts:\n    - name: v\n      mountPath: /v\n",
			`f.yaml:10: Pod p: spec.containers[0].volumeMounts[0].name: no volume "v"`},
		{"bad restart", head + "  restartPolicy: Sometimes\n",
			`f.yaml:9: Pod p: spec.restartPolicy: unknown policy "Sometimes" (valid: Always, OnFailure, Never)`},
		{"fieldRef", head + "    env:\n    - name: PHASE\n      valueFrom:\n        fieldRef:\n          fieldPath: status.phase\n",
			`f.yaml:13: Pod p: spec.containers[0].env[0].valueFrom.fieldRef.fieldPath: unsupported field "status.phase"`},
		{"fieldRef in a volume", head + "    volumeMounts:\n    - {name: info, mountPath: /info}\n  volumes:\n  - name: info\n    downwardAPI:\n      items:\n      - path: ip\n        fieldRef: {fieldPath: status.podIP}\n",
			`f.yaml:16: Pod p: spec.volumes[0].downwardAPI.items[0].fieldRef.fieldPath: unsupported field "status.podIP" (supported in a volume:`},
		{"bad divisor", head + "    env:\n    - name: CPU\n      valueFrom:\n        resourceFieldRef: {resource: limits.cpu, divisor: 0}\n",
			`f.yaml:12: Pod p: spec.containers[0].env[0].valueFrom.resourceFieldRef.divisor: must be a positive quantity, not "0"`},
		{"bad resource", head + "    env:\n    - name: GPU\n      valueFrom:\n        resourceFieldRef: {resource: limits.gpu}\n",
			`spec.containers[0].env[0].valueFrom.resourceFieldRef.resource: unsupported resource "limits.gpu"`},
		{"named port", head + "    livenessProbe:\n      httpGet:\n        port: web\n",
			`f.yaml:11: Pod p: spec.containers[0].livenessProbe.httpGet.port: no port named "web"`},
		{"unknown kind", "apiVersion: v1\nkind: Service\nmetadata:\n  name: s\n",
			"f.yaml:2: kind Service is not supported"},
		{"two pods of one name", head + "---\n" + head, `Pod p: metadata.name: pod name "p" is also the name of the pod of Pod p at f.yaml:`},
		{"no name", "apiVersion: v1\nkind: Pod\nspec: {}\n", "f.yaml:2: Pod: metadata.name: required"},
		{"syntax", "apiVersion: v1\nkind: Pod\n  bad: [\n", "f.yaml:3: mapping values are not allowed in this context"},
		// Issue 17: the invalid file of the Kubernetes docs' examples has a
		// tab and a duplicate key; each keeps its line.
		{"tab", "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  containers:\n  - name: c\n\t  image: busybox\n",
			"f.yaml:8: a tab indents this line; YAML indents with spaces only"},
		{"duplicate key", head + "    image: busybox:1.36\n", `f.yaml:9: Pod p: mapping key "image" already defined at line 8`},
		{"duplicate name", "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  name: q\n", `f.yaml:5: Pod: mapping key "name" already defined at line 4`},
		// Issue 17: the pods of one file publish on the same host.
		{"service of two pods", "apiVersion: v1\nkind: Pod\nmetadata: {name: b-x}\nspec:\n  containers:\n  - {name: c, image: i}\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: b}\nspec:\n  containers:\n  - {name: x-c, image: i}\n",
			`f.yaml:13: Pod b: spec.containers[0].name: container "x-c" of pod b is the service "b-x-c", as f.yaml:6 (Pod b-x) is: rename one`},
		{"hostPort of two pods", "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Pod\n  metadata: {name: a}\n  spec:\n    containers:\n    - name: c\n      image: b\n      ports:\n      - containerPort: 80\n        hostPort: 8080\n" +
			"- apiVersion: v1\n  kind: Pod\n  metadata: {name: b}\n  spec:\n    containers:\n    - name: c\n      image: b\n      ports:\n      - containerPort: 81\n        hostPort: 8080\n",
			"f.yaml:23: Pod b: spec.containers[0].ports[0].hostPort: hostPort 8080/tcp is already published by f.yaml:13 (Pod a, container c)"},
		{"list items", "apiVersion: v1\nkind: List\nitems: {a: b}\n", "f.yaml:3: List: items: must be a list of objects"},
		{"binaryData as env", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: m}\nbinaryData: {k: AAEC}\n---\n" + head + "    env:\n    - name: K\n      valueFrom:\n        configMapKeyRef: {name: m, key: k}\n",
			`Pod p: spec.containers[0].env[0].valueFrom.configMapKeyRef.key: key "k" of ConfigMap "m" is binaryData`},
		{"bad annotation", "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  annotations:\n    io.containers.autoupdate: always\nspec:\n  containers:\n  - name: c\n    image: b\n",
			`f.yaml:6: Pod p: metadata.annotations.io.containers.autoupdate: unknown policy "always" (valid: registry, local, disabled)`},
		{"job always", "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: j\nspec:\n  template:\n    spec:\n      restartPolicy: Always\n      containers:\n      - name: c\n        image: b\n",
			"f.yaml:8: Job j: spec.template.spec.restartPolicy: a Job's pod must use OnFailure or Never"},
		{"secret not base64", "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\ndata:\n  k: '%%%'\n---\n" + head,
			"f.yaml:6: Secret s: data.k: not base64"},
		// Issue 16: names reach unit files, launcher command lines and
		// paths under the state dir; Kubernetes' own rules keep them plain.
		{"container name traversal", "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  containers:\n  - name: ../../../../escaped-spec\n    image: busybox\n",
			`f.yaml:7: Pod p: spec.containers[0].name: "../../../../escaped-spec" is not a DNS-1123 label`},
		{"container name glob", "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  containers:\n  - name: '*'\n    image: busybox\n",
			`f.yaml:7: Pod p: spec.containers[0].name: "*" is not a DNS-1123 label`},
		{"pod name newline", "apiVersion: v1\nkind: Pod\nmetadata:\n  name: \"p\\nExecStartPre=/bin/x\"\nspec:\n  containers:\n  - name: c\n    image: busybox\n",
			`metadata.name: "p\nExecStartPre=/bin/x" is not a DNS-1123 subdomain`},
		{"hostname flag", head + "  hostname: \"h --host-network\"\n",
			`f.yaml:9: Pod p: spec.hostname: "h --host-network" is not a DNS-1123 label`},
		{"hostname carriage return", head + "  hostname: \"h\\r[Service]\"\n",
			`f.yaml:9: Pod p: spec.hostname: "h\r[Service]" is not a DNS-1123 label`},
		{"image", "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  containers:\n  - name: c\n    image: \"busybox\\rExecStartPre=/bin/x\"\n",
			`f.yaml:8: Pod p: spec.containers[0].image: image reference: "busybox\rExecStartPre=/bin/x" contains the control character U+000D`},
		{"host sysctl", head + "  securityContext:\n    sysctls:\n    - name: kernel.pid_max\n      value: \"100000\"\n",
			`f.yaml:11: Pod p: spec.securityContext.sysctls[0].name: "kernel.pid_max" is not a namespaced sysctl`},
		{"unknown capability", head + "    securityContext:\n      capabilities:\n        add: [NET_ADMIN, SYS_EVERYTHING]\n",
			`Pod p: spec.containers[0].securityContext.capabilities.add[1]: unknown capability "SYS_EVERYTHING"`},
		{"claim traversal", head + "    volumeMounts:\n    - name: v\n      mountPath: /v\n  volumes:\n  - name: v\n    persistentVolumeClaim:\n      claimName: ../../x\n",
			`Pod p: spec.volumes[0].persistentVolumeClaim.claimName: "../../x" is not a DNS-1123 subdomain`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse("f", "f.yaml", []byte(c.yaml))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v\nwant it to contain %q", err, c.want)
			}
		})
	}
}

// TestCommandArgs follows Kubernetes' rules against the image's
// ENTRYPOINT/CMD, which the runtime applies as docker does: command
// replaces ENTRYPOINT and drops CMD, args alone replaces CMD.
func TestCommandArgs(t *testing.T) {
	cases := []struct {
		name, fields    string
		entrypoint, cmd []string
		entrypointSet   bool
	}{
		{"neither", "", nil, nil, false},
		{"command", "    command: [/bin/a, x]\n", []string{"/bin/a", "x"}, nil, true},
		{"args", "    args: [y]\n", nil, []string{"y"}, false},
		{"both", "    command: [/bin/a]\n    args: [\"$(X)\", \"$$(X)\"]\n    env:\n    - {name: X, value: v}\n", []string{"/bin/a"}, []string{"v", "$(X)"}, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			y := "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n  - name: c\n    image: b\n" + c.fields
			p, err := Parse("f", "f.yaml", []byte(y))
			if err != nil {
				t.Fatal(err)
			}
			s := p.Services[0]
			if (s.Entrypoint != nil) != c.entrypointSet || strings.Join(s.Entrypoint, " ") != strings.Join(c.entrypoint, " ") ||
				strings.Join(s.Command, " ") != strings.Join(c.cmd, " ") || (s.Command == nil) != (c.cmd == nil) {
				t.Errorf("entrypoint %q command %q, want %q %q", s.Entrypoint, s.Command, c.entrypoint, c.cmd)
			}
		})
	}
}

// TestQuantities covers the CPU and memory forms manifests use.
func TestQuantities(t *testing.T) {
	for in, want := range map[string]float64{
		"500m": 0.5, "2": 2, "0.25": 0.25, "64Mi": 64 << 20, "1G": 1e9, "1Gi": 1 << 30, "128974848": 128974848, "129e6": 129e6, "100k": 1e5,
	} {
		got, err := parseQuantity(in)
		if err != nil || got != want {
			t.Errorf("parseQuantity(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "lots", "-1", "1Qi"} {
		if _, err := parseQuantity(bad); err == nil {
			t.Errorf("parseQuantity(%q) accepted", bad)
		}
	}
}
