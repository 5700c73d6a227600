package compose

import (
	"slices"
	"strconv"
	"strings"

	"github.com/berth-dev/berth/compose/model"
)

// linkAliases gives `links: ["db:database"]` its meaning on berth's
// networks: the alias names the target service on every network the two
// share, as docker's link alias names it for the linking container. A link
// without an alias needs nothing: service names resolve anyway. The
// dependency a link implies is added with the others (deps.go).
func (l *loader) linkAliases(p *model.Project) {
	byName := map[string]*model.Service{}
	for i := range p.Services {
		byName[p.Services[i].Name] = &p.Services[i]
	}
	for _, sname := range l.cp.ServiceNames() {
		c := svcAt{ps: l.pos, name: sname, l: l}
		from := byName[sname]
		for i, link := range l.cp.Services[sname].Links {
			field := []string{"links", strconv.Itoa(i)}
			target, alias, _ := strings.Cut(link, ":")
			if alias == "" || alias == target || from == nil {
				continue
			}
			to, ok := byName[target]
			if !ok {
				c.warnf(field, "%q is not a service of this project; the alias %q is not created", target, alias)
				continue
			}
			shared := 0
			for _, n := range sortedKeys(from.Networks) {
				a, ok := to.Networks[n]
				if !ok {
					continue
				}
				shared++
				if !slices.Contains(a.Aliases, alias) {
					a.Aliases = append(a.Aliases, alias)
					to.Networks[n] = a
				}
			}
			if shared == 0 {
				c.warnf(field, "%s and %s share no network, so the alias %q cannot resolve", sname, target, alias)
			}
		}
	}
}
