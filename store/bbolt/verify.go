package bbolt

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"os"
)

// This file checks a bbolt file's structure by reading it with bounds-checked
// Go code (ReadAt, never mmap), before bbolt follows any pointer through its
// mapping (Check runs it once bbolt has opened the file read-only, which
// maps it and reads only the two meta pages). bbolt trusts its file:
// it follows page ids and element offsets through unsafe pointers into the
// mapping, so a truncated file faults (SIGBUS/SIGSEGV, which no recover can
// catch) and a corrupt page can send it out of the mapping or around a cycle.
// verifyFile visits every page reachable from the meta page bbolt would use
// at most once, so it ends in time linear in the file's size, and refuses
// anything bbolt would trip on: a file shorter than its high-water mark,
// pages out of range, of the wrong type or with the wrong id, elements or
// keys outside their page, unsorted keys, a page referenced twice (a cycle),
// a free page that is also in use, a page neither free nor in use. The
// checks mirror bbolt's own `Tx.Check`, which cannot be used here because it
// walks the mapping in a goroutine of its own.

// The on-disk format of bbolt 1.x (go.etcd.io/bbolt/internal/common), in the
// host's byte order.
const (
	boltMagic        = 0xED0CDAED
	boltVersion      = 2
	pageHeaderSize   = 16 // id u64, flags u16, count u16, overflow u32
	metaSize         = 64 // magic, version, pageSize, flags u32; root, sequence, freelist, pgid, txid, checksum u64
	metaSumSize      = 56 // the checksum covers the fields before it
	elemSize         = 16 // branch: pos u32, ksize u32, pgid u64; leaf: flags, pos, ksize, vsize u32
	bucketHeaderSize = 16 // root pgid u64, sequence u64
	flagBranch       = 0x01
	flagLeaf         = 0x02
	flagMeta         = 0x04
	flagFreelist     = 0x10
	leafBucket       = 0x01
	noFreelist       = ^uint64(0)
	maxDepth         = 64 // a B+tree of 2^64 pages is shallower than this
)

var ne = binary.NativeEndian

type metaPage struct {
	pageSize uint32
	root     uint64
	freelist uint64
	pgid     uint64
	txid     uint64
}

// parseMeta decodes and validates the meta page in buf (header included).
func parseMeta(buf []byte) (metaPage, error) {
	if len(buf) < pageHeaderSize+metaSize {
		return metaPage{}, errors.New("short meta page")
	}
	m := buf[pageHeaderSize:]
	if ne.Uint16(buf[8:]) != flagMeta {
		return metaPage{}, fmt.Errorf("page type %#x, want meta", ne.Uint16(buf[8:]))
	}
	if ne.Uint32(m[0:]) != boltMagic {
		return metaPage{}, errors.New("not a bbolt file (bad magic number)")
	}
	if v := ne.Uint32(m[4:]); v != boltVersion {
		return metaPage{}, fmt.Errorf("unsupported bbolt format version %d", v)
	}
	h := fnv.New64a()
	h.Write(m[:metaSumSize])
	if h.Sum64() != ne.Uint64(m[metaSumSize:]) {
		return metaPage{}, errors.New("meta page checksum mismatch")
	}
	mp := metaPage{
		pageSize: ne.Uint32(m[8:]),
		root:     ne.Uint64(m[16:]),
		freelist: ne.Uint64(m[32:]),
		pgid:     ne.Uint64(m[40:]),
		txid:     ne.Uint64(m[48:]),
	}
	if mp.pageSize < 512 || mp.pageSize > 1<<24 || mp.pageSize&(mp.pageSize-1) != 0 {
		return metaPage{}, fmt.Errorf("invalid page size %d", mp.pageSize)
	}
	return mp, nil
}

// corruptError is a structural defect found by verifyFile.
type corruptError struct{ msg string }

func (e *corruptError) Error() string { return e.msg }

func corrupt(format string, args ...any) error {
	return &corruptError{msg: fmt.Sprintf(format, args...)}
}

type verifier struct {
	f    io.ReaderAt
	size int64
	meta metaPage
	ps   int64
	used map[uint64]bool // pages reachable from the root or the freelist
	free map[uint64]bool
}

// verifyFile checks the structure of the bbolt file f of the given size and
// returns the meta page in use, or a *corruptError saying what is wrong.
func verifyFile(f io.ReaderAt, size int64) (metaPage, error) {
	if size < 2*1024 {
		return metaPage{}, corrupt("truncated: %d bytes is smaller than two meta pages", size)
	}
	head := make([]byte, 4096)
	n, err := f.ReadAt(head, 0)
	if err != nil && !errors.Is(err, io.EOF) {
		return metaPage{}, err
	}
	head = head[:n]
	// Find the page size as bbolt does: from meta 0, else from meta 1 at
	// each candidate page size.
	m0, err0 := parseMeta(head)
	ps := int64(m0.pageSize)
	var m1 metaPage
	err1 := errors.New("unreadable")
	if err0 == nil {
		m1, err1 = readMeta(f, ps, size)
	} else {
		for cand := int64(1024); cand <= 1<<24 && cand < size-1024; cand *= 2 {
			if m, err := readMeta(f, cand, size); err == nil && int64(m.pageSize) == cand {
				m1, err1, ps = m, nil, cand
				break
			}
		}
	}
	var m metaPage
	switch {
	case err0 != nil && err1 != nil:
		return metaPage{}, corrupt("both meta pages are invalid (meta 0: %v; meta 1: %v)", err0, err1)
	case err0 == nil && err1 == nil:
		m = m0
		if m1.txid > m0.txid {
			m = m1
		}
	case err0 == nil:
		m = m0
	default:
		m = m1
	}
	if int64(m.pageSize) != ps {
		return metaPage{}, corrupt("meta pages disagree on the page size (%d, %d)", ps, m.pageSize)
	}
	if m.pgid < 2 || m.pgid > uint64(size/ps) {
		return metaPage{}, corrupt("truncated: the file is %d bytes but its metadata (transaction %d) says it holds %d pages of %d bytes (%d bytes)",
			size, m.txid, m.pgid, ps, int64(m.pgid)*ps)
	}
	v := &verifier{f: f, size: size, meta: m, ps: ps, used: map[uint64]bool{0: true, 1: true}, free: map[uint64]bool{}}
	if err := v.freelist(); err != nil {
		return metaPage{}, err
	}
	if err := v.bucketPage(m.root, "root bucket", 0); err != nil {
		return metaPage{}, err
	}
	for id := uint64(2); id < m.pgid; id++ {
		if !v.used[id] && !v.free[id] {
			return metaPage{}, corrupt("page %d is neither in use nor free", id)
		}
	}
	return m, nil
}

func readMeta(f io.ReaderAt, off, size int64) (metaPage, error) {
	if off+pageHeaderSize+metaSize > size {
		return metaPage{}, errors.New("beyond the end of the file")
	}
	buf := make([]byte, pageHeaderSize+metaSize)
	if _, err := f.ReadAt(buf, off); err != nil {
		return metaPage{}, err
	}
	return parseMeta(buf)
}

// page reads page id with its overflow pages, checking it lies below the
// high-water mark and has not been reached before.
func (v *verifier) page(id uint64, what string) ([]byte, error) {
	if id < 2 || id >= v.meta.pgid {
		return nil, corrupt("%s: page id %d out of range [2, %d)", what, id, v.meta.pgid)
	}
	buf := make([]byte, v.ps)
	if _, err := v.f.ReadAt(buf, int64(id)*v.ps); err != nil {
		return nil, corrupt("%s: reading page %d: %v", what, id, err)
	}
	if got := ne.Uint64(buf); got != id {
		return nil, corrupt("%s: page %d has id %d", what, id, got)
	}
	overflow := uint64(ne.Uint32(buf[12:]))
	if id+overflow >= v.meta.pgid {
		return nil, corrupt("%s: page %d overflows past the high-water mark (%d more pages)", what, id, overflow)
	}
	for i := id; i <= id+overflow; i++ {
		if v.used[i] {
			return nil, corrupt("%s: page %d is referenced twice", what, i)
		}
		if v.free[i] {
			return nil, corrupt("%s: page %d is both in use and free", what, i)
		}
		v.used[i] = true
	}
	if overflow > 0 {
		buf = append(buf, make([]byte, int64(overflow)*v.ps)...)
		if _, err := v.f.ReadAt(buf[v.ps:], int64(id+1)*v.ps); err != nil {
			return nil, corrupt("%s: reading page %d: %v", what, id, err)
		}
	}
	return buf, nil
}

func (v *verifier) freelist() error {
	if v.meta.freelist == noFreelist {
		return nil // not synced: bbolt rebuilds it by scanning, which trusts nothing on a free page
	}
	p, err := v.page(v.meta.freelist, "freelist")
	if err != nil {
		return err
	}
	if f := ne.Uint16(p[8:]); f != flagFreelist {
		return corrupt("freelist: page %d has type %#x", v.meta.freelist, f)
	}
	count, start := uint64(ne.Uint16(p[10:])), uint64(pageHeaderSize)
	if count == 0xFFFF {
		count, start = ne.Uint64(p[pageHeaderSize:]), pageHeaderSize+8
	}
	if count > (uint64(len(p))-start)/8 {
		return corrupt("freelist: %d ids do not fit in page %d", count, v.meta.freelist)
	}
	for i := uint64(0); i < count; i++ {
		id := ne.Uint64(p[start+8*i:])
		switch {
		case id < 2 || id >= v.meta.pgid:
			return corrupt("freelist: free page id %d out of range [2, %d)", id, v.meta.pgid)
		case v.free[id]:
			return corrupt("freelist: page %d is freed twice", id)
		case v.used[id]:
			return corrupt("freelist: page %d is both in use and free", id)
		}
		v.free[id] = true
	}
	return nil
}

// bucketPage checks the B+tree rooted at page id.
func (v *verifier) bucketPage(id uint64, bucket string, depth int) error {
	if depth > maxDepth {
		return corrupt("bucket %s: tree deeper than %d", bucket, maxDepth)
	}
	p, err := v.page(id, "bucket "+bucket)
	if err != nil {
		return err
	}
	return v.nodeIn(p, id, bucket, depth)
}

// nodeIn checks the branch or leaf page p (a page, or an inline bucket).
func (v *verifier) nodeIn(p []byte, id uint64, bucket string, depth int) error {
	flags, count := ne.Uint16(p[8:]), int(ne.Uint16(p[10:]))
	where := func() string {
		if id == 0 {
			return "inline page of bucket " + bucket
		}
		return fmt.Sprintf("page %d of bucket %s", id, bucket)
	}
	if pageHeaderSize+count*elemSize > len(p) {
		return corrupt("%s: %d elements do not fit", where(), count)
	}
	var prev []byte
	for i := 0; i < count; i++ {
		eoff := pageHeaderSize + i*elemSize
		e := p[eoff : eoff+elemSize]
		var pos, ksize, vsize uint64
		var eflags uint32
		switch flags {
		case flagBranch:
			pos, ksize = uint64(ne.Uint32(e[0:])), uint64(ne.Uint32(e[4:]))
		case flagLeaf:
			eflags = ne.Uint32(e[0:])
			pos, ksize, vsize = uint64(ne.Uint32(e[4:])), uint64(ne.Uint32(e[8:])), uint64(ne.Uint32(e[12:]))
		default:
			return corrupt("%s: page type %#x, want branch or leaf", where(), flags)
		}
		start := uint64(eoff) + pos
		if start+ksize+vsize > uint64(len(p)) {
			return corrupt("%s: element %d lies outside the page", where(), i)
		}
		key := p[start : start+ksize]
		if i > 0 && bytes.Compare(prev, key) >= 0 {
			return corrupt("%s: keys out of order at element %d", where(), i)
		}
		prev = key
		if flags == flagBranch {
			if id == 0 {
				return corrupt("%s: an inline bucket cannot branch", where())
			}
			if err := v.bucketPage(ne.Uint64(e[8:]), bucket, depth+1); err != nil {
				return err
			}
			continue
		}
		if eflags&leafBucket == 0 {
			continue
		}
		// A sub-bucket: its header, then its root page or, inline, its only leaf.
		val := p[start+ksize : start+ksize+vsize]
		name := bucket + "/" + fmt.Sprintf("%q", key)
		if len(val) < bucketHeaderSize {
			return corrupt("%s: bucket %s has a %d-byte header", where(), name, len(val))
		}
		if root := ne.Uint64(val); root != 0 {
			if err := v.bucketPage(root, name, depth+1); err != nil {
				return err
			}
			continue
		}
		inline := val[bucketHeaderSize:]
		if len(inline) < pageHeaderSize {
			return corrupt("%s: inline bucket %s is too short", where(), name)
		}
		if f := ne.Uint16(inline[8:]); f != flagLeaf {
			return corrupt("%s: inline bucket %s has page type %#x", where(), name, f)
		}
		if err := v.nodeIn(inline, 0, name, depth+1); err != nil {
			return err
		}
	}
	if flags == flagBranch && count == 0 {
		return corrupt("%s: empty branch page", where())
	}
	return nil
}

// verifyPath opens path read-only and verifies it (see verifyFile).
func verifyPath(path string) (metaPage, error) {
	f, err := os.Open(path)
	if err != nil {
		return metaPage{}, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return metaPage{}, err
	}
	return verifyFile(f, st.Size())
}
