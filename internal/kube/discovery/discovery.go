// Package discovery reads the API server's discovery documents (/api,
// /apis, /api/v1, /apis/GROUP/VERSION) as client-go's discovery client
// does, for the few calls wasmpod makes. client-go's own package imports
// k8s.io/client-go/kubernetes/scheme, which registers every Kubernetes API
// group at start; this one links none.
//
// A Client is safe for concurrent use; it caches nothing.
package discovery

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"sync"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/rest"
)

// Client asks one API server about its groups and resources.
type Client struct{ rc rest.Interface }

// New returns a Client that sends its requests through rc (any typed
// client's RESTClient: the requests use absolute paths).
func New(rc rest.Interface) *Client { return &Client{rc: rc} }

// NewForConfig returns a Client for c.
func NewForConfig(c *rest.Config) (*Client, error) {
	cfg := rest.CopyConfig(c)
	cfg.APIPath = ""
	cfg.GroupVersion = nil
	cfg.ContentType = "application/json"
	if cfg.NegotiatedSerializer == nil {
		return nil, fmt.Errorf("discovery: the rest config has no NegotiatedSerializer")
	}
	rc, err := rest.UnversionedRESTClientFor(cfg)
	if err != nil {
		return nil, err
	}
	return New(rc), nil
}

// RESTClient returns the client the requests go through.
func (c *Client) RESTClient() rest.Interface { return c.rc }

func (c *Client) get(ctx context.Context, into any, path ...string) error {
	raw, err := c.rc.Get().AbsPath(path...).SetHeader("Accept", "application/json").Do(ctx).Raw()
	if err != nil {
		return err
	}
	return json.Unmarshal(raw, into)
}

// ServerGroups returns the groups the server serves, the legacy core group
// ("", /api) first, as client-go's ServerGroups.
func (c *Client) ServerGroups() (*metav1.APIGroupList, error) {
	ctx := context.TODO()
	var versions metav1.APIVersions
	if err := c.get(ctx, &versions, "/api"); err != nil {
		return nil, err
	}
	var groups metav1.APIGroupList
	if err := c.get(ctx, &groups, "/apis"); err != nil {
		return nil, err
	}
	if len(versions.Versions) > 0 {
		core := metav1.APIGroup{}
		for _, v := range versions.Versions {
			core.Versions = append(core.Versions, metav1.GroupVersionForDiscovery{GroupVersion: v, Version: v})
		}
		core.PreferredVersion = core.Versions[0]
		groups.Groups = append([]metav1.APIGroup{core}, groups.Groups...)
	}
	return &groups, nil
}

// ServerResourcesForGroupVersion returns the resources of one group-version
// ("v1", "apps/v1"); an unknown one is a NotFound error.
func (c *Client) ServerResourcesForGroupVersion(groupVersion string) (*metav1.APIResourceList, error) {
	path := "/apis/" + groupVersion
	if groupVersion == "v1" {
		path = "/api/v1"
	}
	list := &metav1.APIResourceList{GroupVersion: groupVersion}
	if err := c.get(context.TODO(), list, path); err != nil {
		return nil, err
	}
	// The server may leave it out (the legacy core group does).
	list.GroupVersion = groupVersion
	return list, nil
}

// GroupDiscoveryFailedError is client-go's ErrGroupDiscoveryFailed: some
// group-versions could not be read; the others were.
type GroupDiscoveryFailedError struct {
	Groups map[schema.GroupVersion]error
}

func (e *GroupDiscoveryFailedError) Error() string {
	var groups []string
	for gv, err := range e.Groups {
		groups = append(groups, fmt.Sprintf("%s: %v", gv, err))
	}
	sort.Strings(groups)
	return "unable to retrieve the complete list of server APIs: " + strings.Join(groups, ", ")
}

// ServerGroupsAndResources returns the groups and every group-version's
// resources, read in parallel. When some group-versions fail, the others
// are returned with a *GroupDiscoveryFailedError.
func (c *Client) ServerGroupsAndResources() ([]*metav1.APIGroup, []*metav1.APIResourceList, error) {
	groups, err := c.ServerGroups()
	if err != nil {
		return nil, nil, err
	}
	var gvs []string
	out := make([]*metav1.APIGroup, 0, len(groups.Groups))
	for i := range groups.Groups {
		out = append(out, &groups.Groups[i])
		for _, v := range groups.Groups[i].Versions {
			gvs = append(gvs, v.GroupVersion)
		}
	}
	lists := make([]*metav1.APIResourceList, len(gvs))
	errs := make([]error, len(gvs))
	var wg sync.WaitGroup
	for i, gv := range gvs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			lists[i], errs[i] = c.ServerResourcesForGroupVersion(gv)
		}()
	}
	wg.Wait()
	failed := map[schema.GroupVersion]error{}
	var got []*metav1.APIResourceList
	for i, gv := range gvs {
		if errs[i] != nil {
			pgv, _ := schema.ParseGroupVersion(gv)
			failed[pgv] = errs[i]
			continue
		}
		got = append(got, lists[i])
	}
	if len(failed) > 0 {
		return out, got, &GroupDiscoveryFailedError{Groups: failed}
	}
	return out, got, nil
}

// ServerPreferredResources returns, for every group, each resource (not
// subresources) once:
// from the group's preferred version when it has it there, else from the
// first version listing it, as client-go's ServerPreferredResources. A
// partial answer comes with a *GroupDiscoveryFailedError.
func (c *Client) ServerPreferredResources() ([]*metav1.APIResourceList, error) {
	groups, lists, err := c.ServerGroupsAndResources()
	if len(lists) == 0 && err != nil {
		return nil, err
	}
	byGV := map[string]*metav1.APIResourceList{}
	for _, l := range lists {
		byGV[l.GroupVersion] = l
	}
	var out []*metav1.APIResourceList
	for _, g := range groups {
		order := []string{g.PreferredVersion.GroupVersion}
		for _, v := range g.Versions {
			if v.GroupVersion != g.PreferredVersion.GroupVersion {
				order = append(order, v.GroupVersion)
			}
		}
		seen := map[string]bool{}
		for _, gv := range order {
			l := byGV[gv]
			if l == nil {
				continue
			}
			var keep []metav1.APIResource
			for _, r := range l.APIResources {
				if strings.Contains(r.Name, "/") {
					continue // subresources are not listed, as client-go's
				}
				if !seen[r.Name] {
					seen[r.Name] = true
					keep = append(keep, r)
				}
			}
			if len(keep) > 0 {
				out = append(out, &metav1.APIResourceList{TypeMeta: l.TypeMeta, GroupVersion: gv, APIResources: keep})
			}
		}
	}
	return out, err
}
