package discovery

import (
	"slices"
	"strings"
	"sync"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Mapper is a meta.RESTMapper over the server's discovery documents, read
// once on first use, with kubectl's mapping rules (client-go's restmapper:
// NewDeferredDiscoveryRESTMapper under NewShortcutExpander): groups in the
// server's order with each group's preferred version first, lower-case
// kinds and singular names accepted, short names ("po", "deploy") expanded
// unless a resource has that full name. It also expands discovery
// categories ("all"). Safe for concurrent use.
type Mapper struct {
	c    *Client
	once sync.Once
	err  error
	pm   meta.PriorityRESTMapper
	// lists are every group-version's resources, in discovery order.
	lists []*metav1.APIResourceList
	// short maps a short name to its resources, in discovery order.
	short []shortcut
}

type shortcut struct{ short, long schema.GroupResource }

// NewMapper returns a Mapper reading c's server.
func NewMapper(c *Client) *Mapper { return &Mapper{c: c} }

func (m *Mapper) load() error {
	m.once.Do(func() {
		groups, lists, err := m.c.ServerGroupsAndResources()
		if err != nil && len(lists) == 0 {
			m.err = err
			return
		}
		// A group-version that failed is left out, as kubectl leaves it.
		m.lists = lists
		byGV := map[string]*metav1.APIResourceList{}
		for _, l := range lists {
			byGV[l.GroupVersion] = l
		}
		var union meta.MultiRESTMapper
		// The legacy v1 first, then each group's preferred version, its
		// other versions, and last any version of each group.
		resPrio := []schema.GroupVersionResource{{Version: "v1", Resource: meta.AnyResource}}
		kindPrio := []schema.GroupVersionKind{{Version: "v1", Kind: meta.AnyKind}}
		for _, g := range groups {
			pv := g.PreferredVersion.Version
			if pv != "" && byGV[g.PreferredVersion.GroupVersion] != nil {
				resPrio = append(resPrio, schema.GroupVersionResource{Group: g.Name, Version: pv, Resource: meta.AnyResource})
				kindPrio = append(kindPrio, schema.GroupVersionKind{Group: g.Name, Version: pv, Kind: meta.AnyKind})
			}
			for _, v := range g.Versions {
				l := byGV[v.GroupVersion]
				if l == nil {
					continue
				}
				if v.Version != pv {
					resPrio = append(resPrio, schema.GroupVersionResource{Group: g.Name, Version: v.Version, Resource: meta.AnyResource})
					kindPrio = append(kindPrio, schema.GroupVersionKind{Group: g.Name, Version: v.Version, Kind: meta.AnyKind})
				}
				gv := schema.GroupVersion{Group: g.Name, Version: v.Version}
				vm := meta.NewDefaultRESTMapper([]schema.GroupVersion{gv})
				for _, r := range l.APIResources {
					if strings.Contains(r.Name, "/") {
						continue // subresources
					}
					scope := meta.RESTScopeRoot
					if r.Namespaced {
						scope = meta.RESTScopeNamespace
					}
					plural, singular := gv.WithResource(r.Name), gv.WithResource(r.SingularName)
					if r.SingularName == "" {
						_, singular = meta.UnsafeGuessKindToResource(gv.WithKind(r.Kind))
					}
					// The lower-case kind first: the resource maps back to
					// the last kind added for it.
					vm.AddSpecific(gv.WithKind(strings.ToLower(r.Kind)), plural, singular, scope)
					vm.AddSpecific(gv.WithKind(r.Kind), plural, singular, scope)
					vm.Add(gv.WithKind(r.Kind+"List"), scope)
					for _, s := range r.ShortNames {
						m.short = append(m.short, shortcut{
							short: schema.GroupResource{Group: g.Name, Resource: s},
							long:  schema.GroupResource{Group: g.Name, Resource: r.Name},
						})
					}
				}
				vm.Add(gv.WithKind("List"), meta.RESTScopeRoot)
				union = append(union, vm)
			}
		}
		for _, g := range groups {
			resPrio = append(resPrio, schema.GroupVersionResource{Group: g.Name, Version: meta.AnyVersion, Resource: meta.AnyResource})
			kindPrio = append(kindPrio, schema.GroupVersionKind{Group: g.Name, Version: meta.AnyVersion, Kind: meta.AnyKind})
		}
		m.pm = meta.PriorityRESTMapper{Delegate: union, ResourcePriority: resPrio, KindPriority: kindPrio}
	})
	return m.err
}

// expand is kubectl's shortcutExpander.expandResourceShortcut.
func (m *Mapper) expand(r schema.GroupVersionResource) schema.GroupVersionResource {
	for _, l := range m.lists {
		gv, _ := schema.ParseGroupVersion(l.GroupVersion)
		if r.Group != "" && r.Group != gv.Group {
			continue
		}
		for _, ar := range l.APIResources {
			if r.Resource == ar.Name || r.Resource == ar.SingularName {
				return r // a full name is never a short one
			}
		}
	}
	for _, s := range m.short {
		if (r.Group == "" || r.Group == s.short.Group) && r.Resource == s.short.Resource {
			// kubectl's expansion keeps no version: "hpa.v1.autoscaling"
			// is the preferred version's.
			return schema.GroupVersionResource{Group: s.long.Group, Resource: s.long.Resource}
		}
	}
	if r.Group == "" {
		return r
	}
	// "hpa.autoscal" names autoscaling's: a group prefix matches.
	for _, s := range m.short {
		if strings.HasPrefix(s.short.Group, r.Group) && r.Resource == s.short.Resource {
			r.Group, r.Resource = s.long.Group, s.long.Resource
			return r
		}
	}
	return r
}

func (m *Mapper) KindFor(r schema.GroupVersionResource) (schema.GroupVersionKind, error) {
	if err := m.load(); err != nil {
		return schema.GroupVersionKind{}, err
	}
	return m.pm.KindFor(m.expand(r))
}

func (m *Mapper) KindsFor(r schema.GroupVersionResource) ([]schema.GroupVersionKind, error) {
	if err := m.load(); err != nil {
		return nil, err
	}
	return m.pm.KindsFor(m.expand(r))
}

func (m *Mapper) ResourceFor(r schema.GroupVersionResource) (schema.GroupVersionResource, error) {
	if err := m.load(); err != nil {
		return schema.GroupVersionResource{}, err
	}
	return m.pm.ResourceFor(m.expand(r))
}

func (m *Mapper) ResourcesFor(r schema.GroupVersionResource) ([]schema.GroupVersionResource, error) {
	if err := m.load(); err != nil {
		return nil, err
	}
	return m.pm.ResourcesFor(m.expand(r))
}

func (m *Mapper) RESTMapping(gk schema.GroupKind, versions ...string) (*meta.RESTMapping, error) {
	if err := m.load(); err != nil {
		return nil, err
	}
	return m.pm.RESTMapping(gk, versions...)
}

func (m *Mapper) RESTMappings(gk schema.GroupKind, versions ...string) ([]*meta.RESTMapping, error) {
	if err := m.load(); err != nil {
		return nil, err
	}
	return m.pm.RESTMappings(gk, versions...)
}

func (m *Mapper) ResourceSingularizer(resource string) (string, error) {
	if err := m.load(); err != nil {
		return "", err
	}
	return m.pm.ResourceSingularizer(m.expand(schema.GroupVersionResource{Resource: resource}).Resource)
}

// Categories returns the resources in the discovery category name ("all"),
// each once, in discovery order, as client-go's
// restmapper.NewDiscoveryCategoryExpander.
func (m *Mapper) Categories(name string) ([]schema.GroupResource, error) {
	if err := m.load(); err != nil {
		return nil, err
	}
	var out []schema.GroupResource
	for _, l := range m.lists {
		gv, _ := schema.ParseGroupVersion(l.GroupVersion)
		for _, r := range l.APIResources {
			gr := schema.GroupResource{Group: gv.Group, Resource: r.Name}
			if slices.Contains(r.Categories, name) && !slices.Contains(out, gr) {
				out = append(out, gr)
			}
		}
	}
	return out, nil
}

var _ meta.RESTMapper = (*Mapper)(nil)
