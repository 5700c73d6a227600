package network

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"slices"
	"strconv"

	"github.com/google/nftables"
)

// Published ports are added and deleted over netlink, in one batch per
// call, as `nft -f` would send them: an exec of nft costs ~20 ms of the
// container's start. The rules and maps themselves stay with knftables
// (syncRules), which runs once per network change.

var rulesTableNL = &nftables.Table{Name: rulesTable, Family: nftables.TableFamilyINet}

func portSet(name string) *nftables.Set {
	return &nftables.Set{Table: rulesTableNL, Name: name, IsMap: true}
}

// concatBytes encodes a concatenation as nft stores it: each part padded
// to the 4-byte register size; an address in network order, a protocol
// as its number, a port big-endian.
func concatBytes(parts []string) ([]byte, error) {
	var b []byte
	for _, s := range parts {
		switch {
		case s == "tcp":
			b = append(b, 6, 0, 0, 0)
		case s == "udp":
			b = append(b, 17, 0, 0, 0)
		default:
			if a, err := netip.ParseAddr(s); err == nil {
				b = append(b, a.AsSlice()...)
				continue
			}
			n, err := strconv.ParseUint(s, 10, 16)
			if err != nil {
				return nil, fmt.Errorf("nft element part %q: neither address, protocol nor port", s)
			}
			b = binary.BigEndian.AppendUint16(b, uint16(n))
			b = append(b, 0, 0)
		}
	}
	return b, nil
}

// nl is e as a netlink element, with id as its comment.
func (e portElem) nl(id string) (nftables.SetElement, error) {
	key, err := concatBytes(e.Key)
	if err != nil {
		return nftables.SetElement{}, err
	}
	val, err := concatBytes(e.Value)
	if err != nil {
		return nftables.SetElement{}, err
	}
	return nftables.SetElement{Key: key, Val: val, Comment: id}, nil
}

// portsBatch queues element changes on conn, for one Flush.
type portsBatch struct {
	conn *nftables.Conn
	n    int
	err  error
}

func (b *portsBatch) add(m string, e nftables.SetElement) {
	b.n++
	b.err = errJoinFirst(b.err, b.conn.SetAddElements(portSet(m), []nftables.SetElement{e}))
}

// del deletes by key only: the key is what names an element.
func (b *portsBatch) del(m string, key []byte) {
	b.n++
	b.err = errJoinFirst(b.err, b.conn.SetDeleteElements(portSet(m), []nftables.SetElement{{Key: key}}))
}

func (b *portsBatch) flush() error {
	if b.err != nil {
		return b.err
	}
	if b.n == 0 {
		return nil
	}
	if err := b.conn.Flush(); err != nil {
		return fmt.Errorf("nftables: %w", err)
	}
	return nil
}

func errJoinFirst(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

// setPortElems deletes prev (recorded earlier for id) and adds elems, in
// one netlink batch. prev are added first: the delete of an element that
// is gone fails the batch.
func setPortElems(id string, prev, elems []portElem) error {
	conn, err := nftables.New()
	if err != nil {
		return fmt.Errorf("nftables: %w", err)
	}
	b := &portsBatch{conn: conn}
	for _, e := range prev {
		ne, err := e.nl(id)
		if err != nil {
			return err
		}
		b.add(e.Map, ne)
		b.del(e.Map, ne.Key)
	}
	for _, e := range elems {
		ne, err := e.nl(id)
		if err != nil {
			return err
		}
		b.add(e.Map, ne)
	}
	return b.flush()
}

// replaceElems deletes, in one batch, every element whose comment is id
// or whose key one of elems has, and adds elems.
func replaceElems(id string, elems []portElem) error {
	conn, err := nftables.New()
	if err != nil {
		return fmt.Errorf("nftables: %w", err)
	}
	maps, err := portMapsPresent(conn)
	if err != nil {
		return err
	}
	var want []nftables.SetElement
	taken := map[string]bool{} // map and key of each of elems
	for _, e := range elems {
		ne, err := e.nl(id)
		if err != nil {
			return err
		}
		want = append(want, ne)
		taken[e.Map+"\x00"+string(ne.Key)] = true
	}
	b := &portsBatch{conn: conn}
	for _, m := range maps {
		cur, err := conn.GetSetElements(portSet(m))
		if err != nil {
			return fmt.Errorf("listing nft map %s: %w", m, err)
		}
		for _, c := range cur {
			if c.Comment == id || taken[m+"\x00"+string(c.Key)] {
				b.del(m, c.Key)
			}
		}
	}
	for i, e := range elems {
		b.add(e.Map, want[i])
	}
	return b.flush()
}

// portMapsPresent lists the port maps that exist; none when the table is
// gone.
func portMapsPresent(conn *nftables.Conn) ([]string, error) {
	tables, err := conn.ListTablesOfFamily(nftables.TableFamilyINet)
	if err != nil {
		return nil, fmt.Errorf("nftables: listing tables: %w", err)
	}
	if !slices.ContainsFunc(tables, func(t *nftables.Table) bool { return t.Name == rulesTable }) {
		return nil, nil
	}
	sets, err := conn.GetSets(rulesTableNL)
	if err != nil {
		return nil, fmt.Errorf("nftables: listing maps: %w", err)
	}
	var out []string
	for _, m := range portMaps {
		if slices.ContainsFunc(sets, func(s *nftables.Set) bool { return s.Name == m.name }) {
			out = append(out, m.name)
		}
	}
	return out, nil
}
