package scheduler

import (
	"slices"
	"strconv"

	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"
)

// labelTable interns the label keys and values of a Snapshot's nodes so the
// fast decision path compares integers instead of looking up maps. Entries
// are reference counted by the nodes using them and freed when unused, so
// node churn does not grow the table. ID 0 means "no node has this string".
type labelTable struct {
	ids  map[string]uint32
	ents []labelEnt // by id; ents[0] unused
	free []uint32
}

type labelEnt struct {
	s     string
	refs  int32
	numOK bool  // s parses as a base-10 int64 (for Gt/Lt)
	num   int64 // its value
}

// labelKV is one node label as interned ids.
type labelKV struct{ key, val uint32 }

func newLabelTable() *labelTable {
	return &labelTable{ids: make(map[string]uint32), ents: make([]labelEnt, 1)}
}

func (t *labelTable) ref(s string) uint32 {
	if id, ok := t.ids[s]; ok {
		t.ents[id].refs++
		return id
	}
	e := labelEnt{s: s, refs: 1}
	if v, err := strconv.ParseInt(s, 10, 64); err == nil {
		e.num, e.numOK = v, true
	}
	var id uint32
	if n := len(t.free); n > 0 {
		id = t.free[n-1]
		t.free = t.free[:n-1]
		t.ents[id] = e
	} else {
		id = uint32(len(t.ents))
		t.ents = append(t.ents, e)
	}
	t.ids[s] = id
	return id
}

func (t *labelTable) unref(id uint32) {
	e := &t.ents[id]
	if e.refs--; e.refs > 0 {
		return
	}
	delete(t.ids, e.s)
	*e = labelEnt{}
	t.free = append(t.free, id)
}

// internLabels returns the node's labels as interned pairs sorted by key id.
func (t *labelTable) internLabels(m map[string]string) []labelKV {
	if len(m) == 0 {
		return nil
	}
	out := make([]labelKV, 0, len(m))
	for k, v := range m {
		out = append(out, labelKV{key: t.ref(k), val: t.ref(v)})
	}
	slices.SortFunc(out, func(a, b labelKV) int { return int(a.key) - int(b.key) })
	return out
}

func (t *labelTable) release(kvs []labelKV) {
	for _, kv := range kvs {
		t.unref(kv.key)
		t.unref(kv.val)
	}
}

// Operators of a compiled label requirement.
const (
	opIn uint8 = iota
	opNotIn
	opExists
	opDoesNotExist
	opGt
	opLt
	opNever
)

// labelReq is a labels.Requirement compiled against a labelTable: key 0 is a
// key no node has; values no node has are dropped (they cannot match).
type labelReq struct {
	key  uint32
	op   uint8
	vals []uint32
	num  int64
}

// compileSelector translates sel (built by package labels, so parse errors
// and validation stay upstream's) into requirements over t. It returns
// never=true for a selector that matches nothing.
func (t *labelTable) compileSelector(sel labels.Selector) (reqs []labelReq, never bool) {
	rs, selectable := sel.Requirements()
	if !selectable {
		return nil, true
	}
	reqs = make([]labelReq, 0, len(rs))
	for i := range rs {
		r := &rs[i]
		lr := labelReq{key: t.ids[r.Key()]}
		vals := r.ValuesUnsorted()
		switch r.Operator() {
		case selection.In, selection.Equals, selection.DoubleEquals:
			lr.op = opIn
		case selection.NotIn, selection.NotEquals:
			lr.op = opNotIn
		case selection.Exists:
			lr.op = opExists
		case selection.DoesNotExist:
			lr.op = opDoesNotExist
		case selection.GreaterThan, selection.LessThan:
			lr.op = opGt
			if r.Operator() == selection.LessThan {
				lr.op = opLt
			}
			if len(vals) != 1 {
				lr.op = opNever
				break
			}
			v, err := strconv.ParseInt(vals[0], 10, 64)
			if err != nil {
				lr.op = opNever
				break
			}
			lr.num = v
		default:
			lr.op = opNever
		}
		if lr.op == opIn || lr.op == opNotIn {
			for _, v := range vals {
				if id, ok := t.ids[v]; ok {
					lr.vals = append(lr.vals, id)
				}
			}
		}
		reqs = append(reqs, lr)
	}
	return reqs, false
}

func lookupLabel(kvs []labelKV, key uint32) (uint32, bool) {
	if key == 0 {
		return 0, false
	}
	for _, kv := range kvs {
		if kv.key >= key {
			return kv.val, kv.key == key
		}
	}
	return 0, false
}

// matchReqs reports whether node labels kvs satisfy every requirement (the
// semantics of labels.Requirement.Matches).
func (t *labelTable) matchReqs(reqs []labelReq, kvs []labelKV) bool {
	for i := range reqs {
		r := &reqs[i]
		val, has := lookupLabel(kvs, r.key)
		var ok bool
		switch r.op {
		case opIn:
			ok = has && slices.Contains(r.vals, val)
		case opNotIn:
			ok = !has || !slices.Contains(r.vals, val)
		case opExists:
			ok = has
		case opDoesNotExist:
			ok = !has
		case opGt, opLt:
			if has {
				if e := &t.ents[val]; e.numOK {
					ok = (r.op == opGt && e.num > r.num) || (r.op == opLt && e.num < r.num)
				}
			}
		}
		if !ok {
			return false
		}
	}
	return true
}
