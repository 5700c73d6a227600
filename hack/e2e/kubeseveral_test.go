package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// kubeSeveralYAML is one file with three workloads (issue 17): Pods web and
// probe and a Deployment api. web and api both have a container "app";
// API_BLOCK is the Deployment, which the test deletes later.
const kubeSeveralYAML = `apiVersion: v1
kind: Pod
metadata:
  name: web
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: app
    image: REGISTRY/busybox:latest
    command: [sh, -c, "mkdir -p /www && echo web-ok > /www/index.html && exec httpd -f -p 80 -h /www"]
    ports:
    - containerPort: 80
      hostPort: 18097
---
apiVersion: v1
kind: Pod
metadata:
  name: probe
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: client
    image: REGISTRY/busybox:latest
    command: [sleep, "3600"]
API_BLOCK`

const kubeSeveralAPI = `---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: api
spec:
  selector:
    matchLabels: {app: api}
  template:
    metadata:
      labels: {app: api}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: app
        image: REGISTRY/busybox:latest
        command: [sh, -c, "echo api started ip=$POD_IP host=$(hostname); mkdir -p /www && echo api-ok > /www/index.html && exec httpd -f -p 80 -h /www"]
        env:
        - name: POD_IP
          valueFrom:
            fieldRef: {fieldPath: status.podIP}
`

// TestKubeSeveralWorkloads: each workload of one file is its own pod, with
// its own unit, namespaces, address, hostname and downward values; a
// container of one pod reaches the others over the network, by address and
// by pod name; deleting one
// workload from the file removes its pod's units only; down removes
// everything and leaves no netns, veth or state behind.
func TestKubeSeveralWorkloads(t *testing.T) {
	e := newBerthEnv(t)
	e.kubeWrite("shop", strings.Replace(kubeSeveralYAML, "API_BLOCK", kubeSeveralAPI, 1))
	before := netleakCounts(e)
	out, err := e.berth("apply")
	t.Logf("apply:\n%s", out)
	const (
		webPod, probePod, apiPod = "berth-shop.web.pod.service", "berth-shop.probe.pod.service", "berth-shop.api.pod.service"
		webApp, probeClient      = `berth-shop-web\x2dapp.service`, `berth-shop-probe\x2dclient.service`
		apiApp                   = `berth-shop-api\x2dapp.service`
	)
	all := []string{webPod, probePod, apiPod, webApp, probeClient, apiApp}
	for _, u := range all {
		if st := e.prop(u, "ActiveState"); err != nil || st != "active" {
			t.Fatalf("%s is %s (apply: %v)\n%s", u, st, err, e.sh("journalctl --no-pager -n 80 -u 'berth-shop*' || true"))
		}
	}
	if b := e.prop(apiApp, "BindsTo"); b != apiPod {
		t.Errorf("%s BindsTo=%q, want its own pod %s", apiApp, b, apiPod)
	}

	// Each pod its own network namespace, address and hostname.
	addr := map[string]string{}
	for unit, host := range map[string]string{webApp: "web", probeClient: "probe", apiApp: "api"} {
		addr[unit] = e.netpodAddr(unit)
		if h := e.netMustIn(unit, "hostname"); h != host {
			t.Errorf("%s: hostname %q, want %q", unit, h, host)
		}
	}
	if addr[webApp] == "" || addr[webApp] == addr[apiApp] || addr[webApp] == addr[probeClient] || addr[apiApp] == addr[probeClient] {
		t.Fatalf("pod addresses %v: want three different ones", addr)
	}
	if a, b := e.sh(fmt.Sprintf("readlink /proc/%d/ns/net", e.mainPID(webApp))), e.sh(fmt.Sprintf("readlink /proc/%d/ns/net", e.mainPID(apiApp))); a == b {
		t.Errorf("web and api share the network namespace %s", a)
	}
	// The downward API gives api its own pod's address.
	apiJournal := func() string { return e.sh("journalctl --no-pager -o cat -u '" + apiApp + "'") }
	e.eventually(10*time.Second, "api's start line", func() bool {
		return strings.Contains(apiJournal(), "api started")
	})
	if j := apiJournal(); !strings.Contains(j, "api started ip="+addr[apiApp]+" host=api") {
		t.Errorf("api's POD_IP is not its pod's address %s:\n%s", addr[apiApp], j)
	}

	// Pods reach each other over the project's network; web's hostPort
	// answers on the host.
	e.netpodMustHTTP(probeClient, addr[webApp], 80, "web-ok")
	e.netpodMustHTTP(probeClient, addr[apiApp], 80, "api-ok")
	e.netpodMustHTTP(webApp, addr[apiApp], 80, "api-ok")
	e.netpodMustHTTP("", "127.0.0.1", 18097, "web-ok")
	// and by name: each pod's name is in the others' /etc/hosts.
	if out, err := e.netpodByName(probeClient, "api", 80); err != nil || out != "api-ok" {
		t.Errorf("probe fetching http://api/: %q %v\n%s", out, err, e.netMustIn(probeClient, "cat /etc/hosts"))
	}

	if out := e.mustBerth("plan"); !strings.Contains(out, "No changes.") {
		t.Errorf("plan right after apply:\n%s", out)
	}

	// Deleting the Deployment removes its pod and container only.
	kept := map[string]string{}
	for _, u := range []string{webPod, probePod, webApp, probeClient} {
		kept[u] = e.prop(u, "InvocationID")
	}
	e.kubeWrite("shop", strings.Replace(kubeSeveralYAML, "API_BLOCK", "", 1))
	plan := e.mustBerth("plan")
	for _, want := range []string{"remove shop/.pod.api (" + apiPod + ")", "remove shop/api-app (" + apiApp + ")"} {
		if !strings.Contains(plan, want) {
			t.Errorf("plan lacks %q:\n%s", want, plan)
		}
	}
	if n := strings.Count(plan, "- remove ") + strings.Count(plan, "+ create ") + strings.Count(plan, "~ recreate "); n != 2 {
		t.Errorf("plan after deleting api changes more than its pod:\n%s", plan)
	}
	t.Logf("apply after deleting api:\n%s", e.mustBerth("apply"))
	e.eventually(20*time.Second, "api's units gone", func() bool {
		return !strings.Contains(e.sh("systemctl list-units --all --plain --no-legend 'berth-*'"), "api")
	})
	for u, id := range kept {
		if got := e.prop(u, "InvocationID"); got != id || e.prop(u, "ActiveState") != "active" {
			t.Errorf("%s was restarted or stopped (invocation %s -> %s) when api was deleted", u, id, got)
		}
	}
	if p := e.sh("ls /run/berth/pods"); strings.Contains(p, "api") || !strings.Contains(p, "shop.web") {
		t.Errorf("pod pins after deleting api: %q", p)
	}
	e.netpodMustHTTP(probeClient, addr[webApp], 80, "web-ok")
	if out, err := e.netIn(probeClient, fmt.Sprintf("nc -w 2 %s 80 </dev/null; echo rc=$?", addr[apiApp])); !strings.Contains(out, "rc=1") {
		t.Errorf("api's address still answers after its deletion: %q %v", out, err)
	}

	// down removes every pod of the file and all they made.
	t.Logf("down:\n%s", e.mustBerth("down", "shop"))
	e.eventually(20*time.Second, "the project's units gone", func() bool {
		return !strings.Contains(e.sh("systemctl list-units --all --plain --no-legend 'berth-*'"), "shop")
	})
	if f := e.runDirLeftovers(); f != "" {
		t.Errorf("left in the run dir:\n%s", f)
	}
	if m := e.sh("grep -E ' /run/berth' /proc/self/mountinfo || true"); m != "" {
		t.Errorf("mounts left under the run dir:\n%s", m)
	}
	// berth's shared nftables chains stay; no rule names a pod or its port.
	after := netleakCounts(e)
	for what, n := range after {
		if n != before[what] && what != "nftables rules" {
			t.Errorf("%s: %d before apply, %d after down", what, before[what], n)
		}
	}
	rules := e.sh("nft list ruleset 2>/dev/null; iptables-save")
	for _, a := range append([]string{"18097"}, addr[webApp], addr[apiApp], addr[probeClient]) {
		if strings.Contains(rules, a) {
			t.Errorf("a rule still names %s after down:\n%s", a, rules)
		}
	}
}
