//go:build wasip1

package main

import (
	"encoding/binary"
	"slices"
	"strings"
)

var le = binary.LittleEndian

// commands are the script's calls: every WASI preview-1 function, a few
// variants (fd_fdstat_rights, poll_*), and eq/lt to compare bound values.
var commands = map[string]command{
	"args_sizes_get": {"", func([]arg) result {
		e, c, s := sizes(argsSizesGet)
		r := result{errno: e, value: int64(c)}
		r.add("count", c)
		r.add("size", s)
		return r
	}},
	"args_get": {"", func([]arg) result {
		e, c, s := sizes(argsSizesGet)
		if e != 0 {
			return errOnly(e)
		}
		return strList(c, s, argsGet)
	}},
	"environ_sizes_get": {"", func([]arg) result {
		e, c, s := sizes(environSizesGet)
		r := result{errno: e, value: int64(c)}
		r.add("count", c)
		r.add("size", s)
		return r
	}},
	"environ_get": {"", func([]arg) result {
		e, c, s := sizes(environSizesGet)
		if e != 0 {
			return errOnly(e)
		}
		return strList(c, s, environGet)
	}},
	"clock_res_get": {"i", func(a []arg) result {
		var res uint64
		r := result{errno: clockResGet(a[0].u32(), ptr(&res)), value: int64(res)}
		r.add("nonzero", res != 0)
		return r
	}},
	"clock_time_get": {"ii", func(a []arg) result {
		var t uint64
		r := result{errno: clockTimeGet(a[0].u32(), a[1].u64(), ptr(&t)), value: int64(t)}
		r.add("nonzero", t != 0)
		return r
	}},
	"random_get": {"i", func(a []arg) result {
		b := make([]byte, a[0].i)
		r := result{errno: randomGet(buf(b), uint32(len(b)))}
		r.add("n", len(b))
		r.add("nonzero", slices.ContainsFunc(b, func(c byte) bool { return c != 0 }))
		return r
	}},
	"fd_advise": {"iiii", func(a []arg) result {
		return errOnly(fdAdvise(a[0].fd(), a[1].u64(), a[2].u64(), a[3].u32()))
	}},
	"fd_allocate": {"iii", func(a []arg) result {
		return errOnly(fdAllocate(a[0].fd(), a[1].u64(), a[2].u64()))
	}},
	"fd_close":    {"i", func(a []arg) result { return errOnly(fdClose(a[0].fd())) }},
	"fd_datasync": {"i", func(a []arg) result { return errOnly(fdDatasync(a[0].fd())) }},
	"fd_sync":     {"i", func(a []arg) result { return errOnly(fdSync(a[0].fd())) }},
	"fd_fdstat_get": {"i", func(a []arg) result {
		var st [24]byte
		r := result{errno: fdFdstatGet(a[0].fd(), ptr(&st[0]))}
		r.add("type", filetypeName(st[0]))
		r.add("flags", bitNames(uint64(le.Uint16(st[2:])), fdflagNames))
		r.field("base", int64(le.Uint64(st[8:])))
		r.field("inh", int64(le.Uint64(st[16:])))
		return r
	}},
	// fd_fdstat_rights FD MASK: the fd's base and inheriting rights within
	// MASK, and those of MASK missing from each, by name.
	"fd_fdstat_rights": {"ii", func(a []arg) result {
		var st [24]byte
		r := result{errno: fdFdstatGet(a[0].fd(), ptr(&st[0]))}
		base, inh, mask := le.Uint64(st[8:]), le.Uint64(st[16:]), a[1].u64()
		r.add("base", bitNames(base&mask, rightNames))
		r.add("inh", bitNames(inh&mask, rightNames))
		r.add("missing_base", bitNames(mask&^base, rightNames))
		r.add("missing_inh", bitNames(mask&^inh, rightNames))
		return r
	}},
	"fd_fdstat_set_flags": {"ii", func(a []arg) result {
		return errOnly(fdFdstatSetFlags(a[0].fd(), a[1].u32()))
	}},
	"fd_fdstat_set_rights": {"iii", func(a []arg) result {
		return errOnly(fdFdstatSetRights(a[0].fd(), a[1].u64(), a[2].u64()))
	}},
	"fd_filestat_get": {"i", func(a []arg) result {
		var st [64]byte
		return filestat(fdFilestatGet(a[0].fd(), ptr(&st[0])), st[:])
	}},
	"fd_filestat_set_size": {"ii", func(a []arg) result {
		return errOnly(fdFilestatSetSize(a[0].fd(), a[1].u64()))
	}},
	"fd_filestat_set_times": {"iiii", func(a []arg) result {
		return errOnly(fdFilestatSetTimes(a[0].fd(), a[1].u64(), a[2].u64(), a[3].u32()))
	}},
	"fd_pread": {"iii", func(a []arg) result {
		b := make([]byte, a[1].i)
		var n uint32
		r := result{errno: fdPread(a[0].fd(), ptr(iovec(b)), 1, a[2].u64(), ptr(&n)), value: int64(n)}
		r.add("n", n)
		r.add("data", quote(b[:min(n, uint32(len(b)))]))
		return r
	}},
	"fd_pwrite": {"isi", func(a []arg) result {
		b := []byte(a[1].s)
		var n uint32
		r := result{errno: fdPwrite(a[0].fd(), ptr(iovec(b)), 1, a[2].u64(), ptr(&n)), value: int64(n)}
		r.add("n", n)
		return r
	}},
	"fd_prestat_get": {"i", func(a []arg) result {
		var st [8]byte
		r := result{errno: fdPrestatGet(a[0].fd(), ptr(&st[0]))}
		r.add("tag", st[0])
		r.add("len", le.Uint32(st[4:]))
		r.value = int64(le.Uint32(st[4:]))
		return r
	}},
	"fd_prestat_dir_name": {"ii", func(a []arg) result {
		b := make([]byte, a[1].i)
		r := result{errno: fdPrestatDirName(a[0].fd(), buf(b), uint32(len(b)))}
		r.add("name", quote(b))
		return r
	}},
	"fd_read": {"ii", func(a []arg) result {
		b := make([]byte, a[1].i)
		var n uint32
		r := result{errno: fdRead(a[0].fd(), ptr(iovec(b)), 1, ptr(&n)), value: int64(n)}
		r.add("n", n)
		r.add("data", quote(b[:min(n, uint32(len(b)))]))
		return r
	}},
	// fd_read2 FD L1 L2: a read into two iovecs.
	"fd_read2": {"iii", func(a []arg) result {
		b1, b2 := make([]byte, a[1].i), make([]byte, a[2].i)
		iov := [4]uint32{uint32(uintptr(buf(b1))), uint32(len(b1)), uint32(uintptr(buf(b2))), uint32(len(b2))}
		var n uint32
		r := result{errno: fdRead(a[0].fd(), ptr(&iov), 2, ptr(&n)), value: int64(n)}
		all := append(b1, b2...)
		r.add("n", n)
		r.add("data", quote(all[:min(n, uint32(len(all)))]))
		return r
	}},
	"fd_write": {"is", func(a []arg) result {
		b := []byte(a[1].s)
		var n uint32
		r := result{errno: fdWrite(a[0].fd(), ptr(iovec(b)), 1, ptr(&n)), value: int64(n)}
		r.add("n", n)
		return r
	}},
	// fd_readdir FD BUFLEN COOKIE: entries sorted by name, cookies in
	// order; fields ino.NAME and cookie.NAME.
	"fd_readdir": {"iii", func(a []arg) result {
		b := make([]byte, a[1].i)
		var used uint32
		e := fdReaddir(a[0].fd(), buf(b), uint32(len(b)), a[2].u64(), ptr(&used))
		if e != 0 {
			return errOnly(e)
		}
		r := readdir(b[:min(used, uint32(len(b)))])
		r.out = append([]kv{{"used", itoa(int64(used))}}, r.out...)
		return r
	}},
	// fd_readdir_all FD BUFLEN: the whole listing read with a BUFLEN
	// buffer, resuming from the last whole entry's cookie until a call
	// returns less than the buffer: the number of entries, of calls, and
	// of names seen twice.
	"fd_readdir_all": {"ii", func(a []arg) result {
		seen := map[string]bool{}
		b := make([]byte, a[1].i)
		var cookie uint64
		calls, dups := 0, 0
		for calls < 100000 {
			var used uint32
			calls++
			if e := fdReaddir(a[0].fd(), buf(b), uint32(len(b)), cookie, ptr(&used)); e != 0 {
				return errOnly(e)
			}
			rest := b[:min(used, uint32(len(b)))]
			whole := 0
			for len(rest) >= 24 {
				next, n := le.Uint64(rest), le.Uint32(rest[16:])
				if uint32(len(rest)-24) < n {
					break
				}
				name := string(rest[24 : 24+n])
				if seen[name] {
					dups++
				}
				seen[name] = true
				cookie = next
				whole++
				rest = rest[24+n:]
			}
			if used < uint32(len(b)) || whole == 0 {
				break
			}
		}
		r := result{value: int64(len(seen))}
		r.add("n", len(seen))
		r.add("calls", calls)
		r.add("dups", dups)
		return r
	}},
	"fd_renumber": {"ii", func(a []arg) result { return errOnly(fdRenumber(a[0].fd(), a[1].fd())) }},
	"fd_seek": {"iii", func(a []arg) result {
		var pos uint64
		r := result{errno: fdSeek(a[0].fd(), a[1].i, a[2].u32(), ptr(&pos)), value: int64(pos)}
		r.add("off", pos)
		return r
	}},
	"fd_tell": {"i", func(a []arg) result {
		var pos uint64
		r := result{errno: fdTell(a[0].fd(), ptr(&pos)), value: int64(pos)}
		r.add("off", pos)
		return r
	}},
	"path_create_directory": {"is", func(a []arg) result {
		p := []byte(a[1].s)
		return errOnly(pathCreateDirectory(a[0].fd(), buf(p), uint32(len(p))))
	}},
	"path_filestat_get": {"iis", func(a []arg) result {
		p := []byte(a[2].s)
		var st [64]byte
		return filestat(pathFilestatGet(a[0].fd(), a[1].u32(), buf(p), uint32(len(p)), ptr(&st[0])), st[:])
	}},
	"path_filestat_set_times": {"iisiii", func(a []arg) result {
		p := []byte(a[2].s)
		return errOnly(pathFilestatSetTimes(a[0].fd(), a[1].u32(), buf(p), uint32(len(p)), a[3].u64(), a[4].u64(), a[5].u32()))
	}},
	"path_link": {"iisis", func(a []arg) result {
		p, p2 := []byte(a[2].s), []byte(a[4].s)
		return errOnly(pathLink(a[0].fd(), a[1].u32(), buf(p), uint32(len(p)), a[3].fd(), buf(p2), uint32(len(p2))))
	}},
	// path_open DIRFD LOOKUP PATH OFLAGS BASE INHERITING FDFLAGS: binds
	// the new fd.
	"path_open": {"iisiiii", func(a []arg) result {
		p := []byte(a[2].s)
		fd := int32(-1)
		e := pathOpen(a[0].fd(), a[1].u32(), buf(p), uint32(len(p)), a[3].u32(), a[4].u64(), a[5].u64(), a[6].u32(), ptr(&fd))
		return result{errno: e, value: int64(fd)}
	}},
	"path_readlink": {"isi", func(a []arg) result {
		p := []byte(a[1].s)
		b := make([]byte, a[2].i)
		var n uint32
		r := result{errno: pathReadlink(a[0].fd(), buf(p), uint32(len(p)), buf(b), uint32(len(b)), ptr(&n)), value: int64(n)}
		r.add("n", n)
		r.add("target", quote(b[:min(n, uint32(len(b)))]))
		return r
	}},
	"path_remove_directory": {"is", func(a []arg) result {
		p := []byte(a[1].s)
		return errOnly(pathRemoveDirectory(a[0].fd(), buf(p), uint32(len(p))))
	}},
	"path_rename": {"isis", func(a []arg) result {
		p, p2 := []byte(a[1].s), []byte(a[3].s)
		return errOnly(pathRename(a[0].fd(), buf(p), uint32(len(p)), a[2].fd(), buf(p2), uint32(len(p2))))
	}},
	"path_symlink": {"sis", func(a []arg) result {
		t, p := []byte(a[0].s), []byte(a[2].s)
		return errOnly(pathSymlink(buf(t), uint32(len(t)), a[1].fd(), buf(p), uint32(len(p))))
	}},
	"path_unlink_file": {"is", func(a []arg) result {
		p := []byte(a[1].s)
		return errOnly(pathUnlinkFile(a[0].fd(), buf(p), uint32(len(p))))
	}},
	// poll_clock CLOCK TIMEOUT FLAGS: one clock subscription.
	"poll_clock": {"iii", func(a []arg) result {
		var sub [48]byte
		le.PutUint64(sub[0:], 7)
		sub[8] = 0
		le.PutUint32(sub[16:], a[0].u32())
		le.PutUint64(sub[24:], a[1].u64())
		le.PutUint16(sub[40:], uint16(a[2].i))
		return poll(sub[:])
	}},
	// poll_fd_read FD and poll_fd_write FD: one fd subscription and a
	// clock subscription of 5 s (a fallback, so a wrong answer cannot
	// hang).
	"poll_fd_read":  {"i", func(a []arg) result { return pollFD(1, a[0].u32()) }},
	"poll_fd_write": {"i", func(a []arg) result { return pollFD(2, a[0].u32()) }},
	// poll_none: no subscriptions.
	"poll_none": {"", func([]arg) result {
		var in [48]byte
		var ev [32]byte
		var n uint32
		r := result{errno: pollOneoff(ptr(&in[0]), ptr(&ev[0]), 0, ptr(&n))}
		r.add("n", n)
		return r
	}},
	"proc_exit": {"i", func(a []arg) result {
		out.Flush()
		procExit(a[0].u32())
		panic("proc_exit returned")
	}},
	"proc_raise":  {"i", func(a []arg) result { return errOnly(procRaise(a[0].u32())) }},
	"sched_yield": {"", func([]arg) result { return errOnly(schedYield()) }},
	"sock_accept": {"ii", func(a []arg) result {
		fd := int32(-1)
		return result{errno: sockAccept(a[0].fd(), a[1].u32(), ptr(&fd)), value: int64(fd)}
	}},
	"sock_recv": {"iii", func(a []arg) result {
		b := make([]byte, a[1].i)
		var n uint32
		var fl uint16
		r := result{errno: sockRecv(a[0].fd(), ptr(iovec(b)), 1, a[2].u32(), ptr(&n), ptr(&fl))}
		r.add("n", n)
		return r
	}},
	"sock_send": {"isi", func(a []arg) result {
		b := []byte(a[1].s)
		var n uint32
		r := result{errno: sockSend(a[0].fd(), ptr(iovec(b)), 1, a[2].u32(), ptr(&n))}
		r.add("n", n)
		return r
	}},
	"sock_shutdown": {"ii", func(a []arg) result { return errOnly(sockShutdown(a[0].fd(), a[1].u32())) }},
	// eq A B and lt A B compare bound values (not WASI calls).
	"eq": {"ii", func(a []arg) result {
		var r result
		r.add("eq", a[0].i == a[1].i)
		return r
	}},
	"lt": {"ii", func(a []arg) result {
		var r result
		r.add("lt", a[0].i < a[1].i)
		return r
	}},
}

func pollFD(typ byte, fd uint32) result {
	var subs [96]byte
	le.PutUint64(subs[0:], 1)
	subs[8] = typ
	le.PutUint32(subs[16:], fd)
	le.PutUint64(subs[48:], 2)
	subs[56] = 0
	le.PutUint32(subs[64:], 1) // monotonic
	le.PutUint64(subs[72:], 5e9)
	return poll(subs[:])
}

var eventTypes = []string{"CLOCK", "FD_READ", "FD_WRITE"}

// poll runs poll_oneoff over the subscriptions in subs and prints the
// events as userdata:type:errno, sorted.
func poll(subs []byte) result {
	nsubs := uint32(len(subs) / 48)
	evs := make([]byte, 32*nsubs)
	var n uint32
	r := result{errno: pollOneoff(ptr(&subs[0]), ptr(&evs[0]), nsubs, ptr(&n)), value: int64(n)}
	var list []string
	for i := uint32(0); i < min(n, nsubs); i++ {
		ev := evs[32*i:]
		typ := "T" + itoa(int64(ev[10]))
		if int(ev[10]) < len(eventTypes) {
			typ = eventTypes[ev[10]]
		}
		list = append(list, itoa(int64(le.Uint64(ev)))+":"+typ+":"+errnoName(uint32(le.Uint16(ev[8:]))))
	}
	slices.Sort(list)
	r.add("n", n)
	r.add("events", strings.Join(list, ","))
	return r
}

func itoa(v int64) string {
	if v < 0 {
		return "-" + itoa(-v)
	}
	if v < 10 {
		return string(rune('0' + v))
	}
	return itoa(v/10) + string(rune('0'+v%10))
}
