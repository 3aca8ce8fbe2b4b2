package decision

import (
	"math"
	"strings"
)

// names interns strings (purposes, asset categories) as small integers for
// the lifetime of an engine.
type names struct {
	ids  map[string]uint16
	list []string
}

// intern returns the id naming s, assigning one if new; false when all
// 65,535 ids are taken (0xffff is never handed out). The caller holds the
// write lock.
func (n *names) intern(s string) (uint16, bool) {
	if id, ok := n.ids[s]; ok {
		return id, true
	}
	if len(n.list) >= math.MaxUint16 {
		return 0, false
	}
	if n.ids == nil {
		n.ids = make(map[string]uint16)
	}
	id := uint16(len(n.list))
	s = strings.Clone(s)
	n.ids[s] = id
	n.list = append(n.list, s)
	return id, true
}

// id returns the id of s, if interned.
func (n *names) id(s string) (uint16, bool) {
	id, ok := n.ids[s]
	return id, ok
}

// clone returns a copy that can intern more names without changing n.
func (n *names) clone() names {
	c := names{ids: make(map[string]uint16, len(n.ids)), list: append([]string(nil), n.list...)}
	for k, v := range n.ids {
		c.ids[k] = v
	}
	return c
}
