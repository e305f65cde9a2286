// as-probe: wasmpod's AssemblyScript test guest. argv[1] selects a
// behaviour; runtime/enginetest/guest_as.go and as_guest_e2e_test.go run it
// and check its exact output.
//
// process, console, Date, Math.random and crypto come from
// @assemblyscript/wasi-shim. The shim has no file API, so the file
// commands declare the WASI preview-1 imports they need and call them
// directly, as an AssemblyScript user does: find the preopen with
// fd_prestat_get/fd_prestat_dir_name, then path_open and fd_* on it.

// ---- WASI preview-1 imports -------------------------------------------

// @ts-ignore: decorator
@external("wasi_snapshot_preview1", "fd_prestat_get")
declare function fd_prestat_get(fd: u32, buf: usize): u16;
// @ts-ignore: decorator
@external("wasi_snapshot_preview1", "fd_prestat_dir_name")
declare function fd_prestat_dir_name(fd: u32, path: usize, pathLen: usize): u16;
// @ts-ignore: decorator
@external("wasi_snapshot_preview1", "fd_fdstat_get")
declare function fd_fdstat_get(fd: u32, buf: usize): u16;
// @ts-ignore: decorator
@external("wasi_snapshot_preview1", "fd_fdstat_set_flags")
declare function fd_fdstat_set_flags(fd: u32, flags: u16): u16;
// @ts-ignore: decorator
@external("wasi_snapshot_preview1", "path_open")
declare function path_open(fd: u32, lookupflags: u32, path: usize, pathLen: usize, oflags: u16, rightsBase: u64, rightsInheriting: u64, fdflags: u16, opened: usize): u16;
// @ts-ignore: decorator
@external("wasi_snapshot_preview1", "fd_close")
declare function fd_close(fd: u32): u16;
// @ts-ignore: decorator
@external("wasi_snapshot_preview1", "fd_write")
declare function fd_write(fd: u32, iovs: usize, iovsLen: usize, nwritten: usize): u16;
// @ts-ignore: decorator
@external("wasi_snapshot_preview1", "fd_read")
declare function fd_read(fd: u32, iovs: usize, iovsLen: usize, nread: usize): u16;
// @ts-ignore: decorator
@external("wasi_snapshot_preview1", "fd_pread")
declare function fd_pread(fd: u32, iovs: usize, iovsLen: usize, offset: u64, nread: usize): u16;
// @ts-ignore: decorator
@external("wasi_snapshot_preview1", "fd_seek")
declare function fd_seek(fd: u32, offset: i64, whence: u8, newOffset: usize): u16;
// @ts-ignore: decorator
@external("wasi_snapshot_preview1", "fd_tell")
declare function fd_tell(fd: u32, offset: usize): u16;
// @ts-ignore: decorator
@external("wasi_snapshot_preview1", "fd_filestat_get")
declare function fd_filestat_get(fd: u32, buf: usize): u16;
// @ts-ignore: decorator
@external("wasi_snapshot_preview1", "fd_filestat_set_size")
declare function fd_filestat_set_size(fd: u32, size: u64): u16;
// @ts-ignore: decorator
@external("wasi_snapshot_preview1", "fd_readdir")
declare function fd_readdir(fd: u32, buf: usize, bufLen: usize, cookie: u64, bufUsed: usize): u16;
// @ts-ignore: decorator
@external("wasi_snapshot_preview1", "path_filestat_get")
declare function path_filestat_get(fd: u32, lookupflags: u32, path: usize, pathLen: usize, buf: usize): u16;
// @ts-ignore: decorator
@external("wasi_snapshot_preview1", "path_create_directory")
declare function path_create_directory(fd: u32, path: usize, pathLen: usize): u16;
// @ts-ignore: decorator
@external("wasi_snapshot_preview1", "path_remove_directory")
declare function path_remove_directory(fd: u32, path: usize, pathLen: usize): u16;
// @ts-ignore: decorator
@external("wasi_snapshot_preview1", "path_unlink_file")
declare function path_unlink_file(fd: u32, path: usize, pathLen: usize): u16;
// @ts-ignore: decorator
@external("wasi_snapshot_preview1", "path_rename")
declare function path_rename(fd: u32, oldPath: usize, oldLen: usize, newFd: u32, newPath: usize, newLen: usize): u16;
// @ts-ignore: decorator
@external("wasi_snapshot_preview1", "path_symlink")
declare function path_symlink(oldPath: usize, oldLen: usize, fd: u32, newPath: usize, newLen: usize): u16;
// @ts-ignore: decorator
@external("wasi_snapshot_preview1", "path_readlink")
declare function path_readlink(fd: u32, path: usize, pathLen: usize, buf: usize, bufLen: usize, bufUsed: usize): u16;
// @ts-ignore: decorator
@external("wasi_snapshot_preview1", "clock_res_get")
declare function clock_res_get(id: u32, res: usize): u16;
// @ts-ignore: decorator
@external("wasi_snapshot_preview1", "clock_time_get")
declare function clock_time_get(id: u32, precision: u64, time: usize): u16;
// @ts-ignore: decorator
@external("wasi_snapshot_preview1", "poll_oneoff")
declare function poll_oneoff(subs: usize, events: usize, nsubs: usize, nevents: usize): u16;
// @ts-ignore: decorator
@external("wasi_snapshot_preview1", "random_get")
declare function random_get(buf: usize, bufLen: usize): u16;

// Rights (only those the probe asks for).
const FD_READ: u64 = 1 << 1;
const FD_SEEK: u64 = 1 << 2;
const FD_FDSTAT_SET_FLAGS: u64 = 1 << 3;
const FD_TELL: u64 = 1 << 5;
const FD_WRITE: u64 = 1 << 6;
const PATH_CREATE_FILE: u64 = 1 << 10;
const PATH_OPEN: u64 = 1 << 13;
const FD_READDIR: u64 = 1 << 14;
const PATH_UNLINK_FILE: u64 = 1 << 26;
const FD_FILESTAT_GET: u64 = 1 << 21;
const FD_FILESTAT_SET_SIZE: u64 = 1 << 22;
const FILE_RIGHTS: u64 = FD_READ | FD_WRITE | FD_SEEK | FD_TELL | FD_FILESTAT_GET | FD_FILESTAT_SET_SIZE;

const OFLAG_CREAT: u16 = 1;
const OFLAG_DIRECTORY: u16 = 2;
const OFLAG_EXCL: u16 = 4;
const OFLAG_TRUNC: u16 = 8;
const LOOKUP_FOLLOW: u32 = 1;

const FDFLAG_APPEND: u16 = 1;

const WHENCE_SET: u8 = 0;
const WHENCE_CUR: u8 = 1;
const WHENCE_END: u8 = 2;

const ERRNO_PERM: u16 = 63;
const ERRNO_NOTCAPABLE: u16 = 76;

const CLOCK_REALTIME: u32 = 0;
const CLOCK_MONOTONIC: u32 = 1;

// scratch holds out-parameters and iovecs (never strings or data).
const scratch = memory.data(128);

// ---- helpers ----------------------------------------------------------

function out(s: string): void {
  process.stdout.write(s);
  process.stdout.write("\n");
}

function die(s: string): void {
  process.stderr.write(s);
  process.stderr.write("\n");
  process.exit(1);
}

function check(op: string, errno: u16): void {
  if (errno != 0) die(op + ": errno " + errno.toString());
}

function quote(s: string): string {
  return "\"" + s + "\"";
}

function typeName(t: u8): string {
  switch (t) {
    case 3: return "dir";
    case 4: return "regular";
    case 7: return "symlink";
  }
  return "type" + t.toString();
}

// preopen returns the fd of the preopened directory named name.
function preopen(name: string): u32 {
  let seen = "";
  for (let fd: u32 = 3; ; fd++) {
    if (fd_prestat_get(fd, scratch) != 0) break;
    if (load<u8>(scratch) != 0) continue; // not a directory
    let len = load<u32>(scratch, 4);
    let buf = new ArrayBuffer(<i32>len);
    check("fd_prestat_dir_name", fd_prestat_dir_name(fd, changetype<usize>(buf), len));
    let dir = String.UTF8.decode(buf);
    if (dir == name) return fd;
    seen += " " + dir;
  }
  die("no preopen " + name + " (have" + seen + ")");
  return 0;
}

// open returns the new fd, or -errno.
function open(dir: u32, path: string, lookup: u32, oflags: u16, base: u64, inheriting: u64): i32 {
  let p = String.UTF8.encode(path);
  let errno = path_open(dir, lookup, changetype<usize>(p), p.byteLength, oflags, base, inheriting, 0, scratch);
  if (errno != 0) return -<i32>errno;
  return load<i32>(scratch);
}

function mustOpen(dir: u32, path: string, lookup: u32, oflags: u16, base: u64): u32 {
  let fd = open(dir, path, lookup, oflags, base, 0);
  if (fd < 0) die("path_open " + path + ": errno " + (-fd).toString());
  return <u32>fd;
}

function writeStr(fd: u32, s: string): void {
  let b = String.UTF8.encode(s);
  store<usize>(scratch, changetype<usize>(b));
  store<usize>(scratch, b.byteLength, 4);
  check("fd_write", fd_write(fd, scratch, 1, scratch + 8));
  if (load<u32>(scratch, 8) != <u32>b.byteLength) die("short write");
}

function readStr(fd: u32, n: i32): string {
  let b = new ArrayBuffer(n);
  store<usize>(scratch, changetype<usize>(b));
  store<usize>(scratch, n, 4);
  check("fd_read", fd_read(fd, scratch, 1, scratch + 8));
  return String.UTF8.decodeUnsafe(changetype<usize>(b), load<u32>(scratch, 8));
}

function preadStr(fd: u32, n: i32, offset: u64): string {
  let b = new ArrayBuffer(n);
  store<usize>(scratch, changetype<usize>(b));
  store<usize>(scratch, n, 4);
  check("fd_pread", fd_pread(fd, scratch, 1, offset, scratch + 8));
  return String.UTF8.decodeUnsafe(changetype<usize>(b), load<u32>(scratch, 8));
}

function seek(fd: u32, offset: i64, whence: u8): u64 {
  check("fd_seek", fd_seek(fd, offset, whence, scratch));
  return load<u64>(scratch);
}

// filestat: filetype at 16, size at 32 of a 64-byte filestat.
const stat = memory.data(64);

function pathStat(dir: u32, lookup: u32, path: string): u16 {
  let p = String.UTF8.encode(path);
  return path_filestat_get(dir, lookup, changetype<usize>(p), p.byteLength, stat);
}

function mkdir(dir: u32, path: string): u16 {
  let p = String.UTF8.encode(path);
  return path_create_directory(dir, changetype<usize>(p), p.byteLength);
}

function rmdir(dir: u32, path: string): u16 {
  let p = String.UTF8.encode(path);
  return path_remove_directory(dir, changetype<usize>(p), p.byteLength);
}

function unlink(dir: u32, path: string): u16 {
  let p = String.UTF8.encode(path);
  return path_unlink_file(dir, changetype<usize>(p), p.byteLength);
}

function rename(dir: u32, from: string, to: string): u16 {
  let f = String.UTF8.encode(from);
  let t = String.UTF8.encode(to);
  return path_rename(dir, changetype<usize>(f), f.byteLength, dir, changetype<usize>(t), t.byteLength);
}

function symlink(target: string, dir: u32, path: string): u16 {
  let o = String.UTF8.encode(target);
  let n = String.UTF8.encode(path);
  return path_symlink(changetype<usize>(o), o.byteLength, dir, changetype<usize>(n), n.byteLength);
}

function readlink(dir: u32, path: string): string {
  let p = String.UTF8.encode(path);
  let b = new ArrayBuffer(256);
  check("path_readlink", path_readlink(dir, changetype<usize>(p), p.byteLength, changetype<usize>(b), 256, scratch));
  return String.UTF8.decodeUnsafe(changetype<usize>(b), load<u32>(scratch));
}

// listDir reads every entry of the directory fd with fd_readdir, in pages
// of a small buffer so that cookies are used, and returns "name type"
// lines sorted by name, without "." and "..".
function listDir(fd: u32): string[] {
  const bufLen: i32 = 64; // smaller than three entries: forces several calls
  let buf = new ArrayBuffer(bufLen);
  let base = changetype<usize>(buf);
  let cookie: u64 = 0;
  let names = new Array<string>();
  for (;;) {
    check("fd_readdir", fd_readdir(fd, base, bufLen, cookie, scratch));
    let used = <i32>load<u32>(scratch);
    let pos = 0;
    let progressed = false;
    while (pos + 24 <= used) {
      let namlen = <i32>load<u32>(base + pos, 16);
      if (pos + 24 + namlen > used) break; // truncated: read it again from its cookie
      let next = load<u64>(base + pos);
      let type = load<u8>(base + pos, 20);
      let name = String.UTF8.decodeUnsafe(base + pos + 24, namlen);
      if (name != "." && name != "..") names.push(name + " " + typeName(type));
      cookie = next;
      progressed = true;
      pos += 24 + namlen;
    }
    if (used < bufLen) break;
    if (!progressed) die("fd_readdir: an entry larger than the buffer");
  }
  names.sort((a: string, b: string): i32 => a < b ? -1 : (a > b ? 1 : 0));
  return names;
}

function errnoOf(op: string, errno: u16): string {
  return op + " errno " + errno.toString();
}

// openResult describes how open ended: "<op> errno N", or "<op> opened"
// (and closes the fd).
function openResult(op: string, fd: i32): string {
  if (fd < 0) return errnoOf(op, <u16>-fd);
  check("fd_close", fd_close(<u32>fd));
  return op + " opened";
}

// ---- commands ---------------------------------------------------------

// fs DIR: create, write, seek, read, tell, truncate, pread, rename, mkdir,
// symlink, readlink, stat (following and not), readdir, unlink, rmdir, on
// the preopened directory DIR. Leaves kept.txt ("kept by as-probe\n").
function cmdFS(name: string): void {
  let dir = preopen(name);
  check("fd_fdstat_get", fd_fdstat_get(dir, scratch));
  out("preopen " + typeName(load<u8>(scratch)));

  let fd = mustOpen(dir, "f.txt", 0, OFLAG_CREAT | OFLAG_EXCL, FILE_RIGHTS);
  writeStr(fd, "hello world");
  let at = seek(fd, 6, WHENCE_SET);
  out("seek " + at.toString() + " read " + quote(readStr(fd, 5)));
  check("fd_tell", fd_tell(fd, scratch));
  let tell = load<u64>(scratch);
  out("tell " + tell.toString() + " end-5 " + seek(fd, -5, WHENCE_END).toString());
  check("fd_filestat_set_size", fd_filestat_set_size(fd, 5));
  check("fd_filestat_get", fd_filestat_get(fd, stat));
  out("truncated size " + load<u64>(stat, 32).toString() + " " + typeName(load<u8>(stat, 16)));
  out("pread " + quote(preadStr(fd, 10, 1)));
  check("fd_close", fd_close(fd));

  out(openResult("excl", open(dir, "f.txt", 0, OFLAG_CREAT | OFLAG_EXCL, FILE_RIGHTS, 0)));
  out(openResult("missing", open(dir, "nope.txt", 0, 0, FD_READ, 0)));
  let esc = open(dir, "../escape.txt", 0, OFLAG_CREAT, FILE_RIGHTS, 0);
  out("escape refused " + (esc == -<i32>ERRNO_PERM || esc == -<i32>ERRNO_NOTCAPABLE).toString());
  if (esc >= 0) check("fd_close", fd_close(<u32>esc));

  check("path_rename", rename(dir, "f.txt", "g.txt"));
  out(errnoOf("renamed: old", pathStat(dir, 0, "f.txt")));
  check("path_create_directory", mkdir(dir, "sub"));
  check("path_symlink", symlink("g.txt", dir, "link"));
  out("readlink " + quote(readlink(dir, "link")));
  check("path_filestat_get", pathStat(dir, 0, "link"));
  out("lstat " + typeName(load<u8>(stat, 16)));
  check("path_filestat_get", pathStat(dir, LOOKUP_FOLLOW, "link"));
  out("stat " + typeName(load<u8>(stat, 16)) + " size " + load<u64>(stat, 32).toString());
  fd = mustOpen(dir, "link", LOOKUP_FOLLOW, 0, FD_READ);
  out("through link " + quote(readStr(fd, 64)));
  check("fd_close", fd_close(fd));
  fd = mustOpen(dir, "sub/inner.txt", 0, OFLAG_CREAT | OFLAG_TRUNC, FILE_RIGHTS);
  check("fd_close", fd_close(fd));

  let d = mustOpen(dir, ".", 0, OFLAG_DIRECTORY, FD_READDIR);
  let names = listDir(d);
  out("readdir " + names.join(", "));
  check("fd_close", fd_close(d));

  out(errnoOf("rmdir nonempty", rmdir(dir, "sub")));
  out(errnoOf("unlink dir", unlink(dir, "sub")));
  check("path_unlink_file", unlink(dir, "sub/inner.txt"));
  check("path_remove_directory", rmdir(dir, "sub"));
  check("path_unlink_file", unlink(dir, "link"));
  check("path_unlink_file", unlink(dir, "g.txt"));
  d = mustOpen(dir, ".", 0, OFLAG_DIRECTORY, FD_READDIR);
  out("left " + listDir(d).length.toString());
  check("fd_close", fd_close(d));

  fd = mustOpen(dir, "kept.txt", 0, OFLAG_CREAT | OFLAG_TRUNC, FILE_RIGHTS);
  writeStr(fd, "kept by as-probe\n");
  check("fd_close", fd_close(fd));
}

// reopen DIR: reopens the preopen with the rights it reports, as Rust's
// std and wasi-libc do, and reads it; asking for FD_READ|FD_WRITE on a
// directory fails with EISDIR.
function cmdReopen(name: string): void {
  let dir = preopen(name);
  check("fd_fdstat_get", fd_fdstat_get(dir, scratch));
  let base = load<u64>(scratch, 8);
  let inheriting = load<u64>(scratch, 16);
  const dirRights = PATH_CREATE_FILE | PATH_OPEN | FD_READDIR | PATH_UNLINK_FILE;
  out("directory rights " + ((base & dirRights) == dirRights).toString() + " inheritable " + ((inheriting & FILE_RIGHTS) == FILE_RIGHTS).toString());
  let d = open(dir, ".", 0, OFLAG_DIRECTORY, base, inheriting);
  if (d < 0) {
    out(errnoOf("reopen", <u16>-d));
  } else {
    out("reopen ok, " + listDir(<u32>d).length.toString() + " entries");
    check("fd_close", fd_close(<u32>d));
  }
  out(openResult("reopen for writing", open(dir, ".", 0, OFLAG_DIRECTORY, FD_READ | FD_WRITE, 0)));
}

// nofollow DIR: path_open without LOOKUP_SYMLINK_FOLLOW does not follow
// a final symlink.
function cmdNoFollow(name: string): void {
  let dir = preopen(name);
  let fd = mustOpen(dir, "target", 0, OFLAG_CREAT, FILE_RIGHTS);
  writeStr(fd, "target");
  check("fd_close", fd_close(fd));
  check("path_symlink", symlink("target", dir, "symlink"));
  out(openResult("nofollow", open(dir, "symlink", 0, 0, FD_READ, 0)));
  fd = mustOpen(dir, "symlink", LOOKUP_FOLLOW, 0, FD_READ);
  out("follow " + quote(readStr(fd, 16)));
  check("fd_close", fd_close(fd));
  out(openResult("follow as directory", open(dir, "symlink", LOOKUP_FOLLOW, OFLAG_DIRECTORY, 0, 0)));
  check("path_unlink_file", unlink(dir, "symlink"));
  check("path_unlink_file", unlink(dir, "target"));
}

// show DIR NAME: copies the file NAME of the preopened directory DIR to
// stdout.
function cmdShow(name: string, file: string): void {
  let dir = preopen(name);
  let fd = mustOpen(dir, file, LOOKUP_FOLLOW, 0, FD_READ);
  let buf = new ArrayBuffer(4096);
  for (;;) {
    store<usize>(scratch, changetype<usize>(buf));
    store<usize>(scratch, buf.byteLength, 4);
    check("fd_read", fd_read(fd, scratch, 1, scratch + 8));
    let n = <i32>load<u32>(scratch, 8);
    if (n == 0) break;
    process.stdout.write(buf.slice(0, n));
  }
  check("fd_close", fd_close(fd));
}

// dirs DIR: a directory fd cannot seek and has no FD_SEEK right (EBADF,
// as wasmtime); fd_readdir gives "." the directory's inode and a file
// its own.
function cmdDirs(name: string): void {
  let dir = preopen(name);
  check("path_create_directory", mkdir(dir, "d"));
  let d = open(dir, "d", 0, OFLAG_DIRECTORY, FD_SEEK | FD_READDIR | FD_FILESTAT_GET | PATH_CREATE_FILE | PATH_OPEN, FILE_RIGHTS);
  if (d < 0) die("path_open d: errno " + (-d).toString());
  let errno = fd_seek(d, 0, WHENCE_CUR, scratch);
  check("fd_fdstat_get", fd_fdstat_get(d, scratch));
  out("dir seek errno " + errno.toString() + ", seek right " + ((load<u64>(scratch, 8) & FD_SEEK) != 0).toString());

  let f = mustOpen(d, "file", 0, OFLAG_CREAT, FILE_RIGHTS);
  check("fd_filestat_get", fd_filestat_get(f, stat));
  let fileIno = load<u64>(stat, 8);
  check("fd_close", fd_close(f));
  check("fd_filestat_get", fd_filestat_get(d, stat));
  let dirIno = load<u64>(stat, 8);
  let buf = new ArrayBuffer(1024);
  let base = changetype<usize>(buf);
  check("fd_readdir", fd_readdir(d, base, 1024, 0, scratch));
  let used = <i32>load<u32>(scratch);
  let dot = false, file = false;
  for (let pos = 0; pos + 24 <= used; ) {
    let namlen = <i32>load<u32>(base + pos, 16);
    let ino = load<u64>(base + pos, 8);
    let n = String.UTF8.decodeUnsafe(base + pos + 24, namlen);
    if (n == ".") dot = ino == dirIno && ino != 0;
    if (n == "file") file = ino == fileIno && ino != 0;
    pos += 24 + namlen;
  }
  out("readdir inodes: dot " + dot.toString() + ", file " + file.toString());
  check("fd_close", fd_close(d));
  check("path_unlink_file", unlink(dir, "d/file"));
  check("path_remove_directory", rmdir(dir, "d"));
}

// renamedir DIR: a directory renames onto an existing empty one (POSIX).
function cmdRenameDir(name: string): void {
  let dir = preopen(name);
  check("path_create_directory", mkdir(dir, "d"));
  check("path_create_directory", mkdir(dir, "e"));
  out(errnoOf("rename onto an empty directory", rename(dir, "d", "e")));
  let gone = pathStat(dir, 0, "d");
  let there = pathStat(dir, 0, "e");
  out(errnoOf("old", gone) + ", " + errnoOf("new", there) + " " + typeName(load<u8>(stat, 16)));
  rmdir(dir, "d");
  check("path_remove_directory", rmdir(dir, "e"));
}

// append DIR: fd_fdstat_set_flags(APPEND) makes later writes go to the
// end, whatever the offset; a file opened with APPEND reports it.
function cmdAppend(name: string): void {
  let dir = preopen(name);
  let fd = mustOpen(dir, "log", 0, OFLAG_CREAT | OFLAG_TRUNC, FILE_RIGHTS | FD_FDSTAT_SET_FLAGS);
  writeStr(fd, "abc");
  check("fd_fdstat_set_flags", fd_fdstat_set_flags(fd, FDFLAG_APPEND));
  check("fd_fdstat_get", fd_fdstat_get(fd, scratch));
  let flags = load<u16>(scratch, 2);
  seek(fd, 0, WHENCE_SET);
  writeStr(fd, "d");
  out("set_flags append " + (flags == FDFLAG_APPEND).toString() + " content " + quote(preadStr(fd, 16, 0)));
  check("fd_close", fd_close(fd));
  let p = String.UTF8.encode("log");
  check("path_open", path_open(dir, 0, changetype<usize>(p), p.byteLength, 0, FILE_RIGHTS, 0, FDFLAG_APPEND, scratch));
  fd = load<u32>(scratch);
  check("fd_fdstat_get", fd_fdstat_get(fd, scratch));
  flags = load<u16>(scratch, 2);
  writeStr(fd, "e");
  out("open append " + (flags == FDFLAG_APPEND).toString() + " content " + quote(preadStr(fd, 16, 0)));
  check("fd_close", fd_close(fd));
  check("path_unlink_file", unlink(dir, "log"));
}

function now(id: u32): u64 {
  check("clock_time_get", clock_time_get(id, 1, scratch));
  return load<u64>(scratch);
}

// sleepNs sleeps with poll_oneoff on a relative monotonic clock.
function sleepNs(ns: u64): void {
  const sub = memory.data(48);
  const ev = memory.data(32);
  memory.fill(sub, 0, 48);
  store<u64>(sub, 42); // userdata
  store<u8>(sub, 0, 8); // eventtype clock
  store<u32>(sub, CLOCK_MONOTONIC, 16);
  store<u64>(sub, ns, 24);
  check("poll_oneoff", poll_oneoff(sub, ev, 1, scratch));
  if (load<u32>(scratch) != 1 || load<u64>(ev) != 42 || load<u16>(ev, 8) != 0) die("poll_oneoff: bad event");
}

function cmdClocks(): void {
  out("realtime " + (Date.now() / 1000).toString());
  let wall = now(CLOCK_REALTIME) / 1000000000;
  out("realtime agrees " + (wall - <u64>(Date.now() / 1000) <= 1).toString());
  check("clock_res_get", clock_res_get(CLOCK_REALTIME, scratch));
  let resR = load<u64>(scratch);
  check("clock_res_get", clock_res_get(CLOCK_MONOTONIC, scratch));
  let resM = load<u64>(scratch);
  out("resolution ok " + (resR > 0 && resR <= 1000000000 && resM > 0 && resM <= 1000000000).toString());
  let t0 = process.hrtime();
  let p0 = performance.now();
  sleepNs(20000000);
  let t1 = process.hrtime();
  let p1 = performance.now();
  out("slept 20ms " + (t1 - t0 >= 20000000).toString() + " performance " + (p1 - p0 >= 20).toString());
}

function cmdRandom(): void {
  let a = new Uint8Array(32);
  let b = new Uint8Array(32);
  crypto.getRandomValues(a);
  crypto.getRandomValues(b);
  let same = true;
  let zero = true;
  for (let i = 0; i < 32; i++) {
    if (a[i] != b[i]) same = false;
    if (a[i] != 0) zero = false;
  }
  out("getRandomValues differ " + (!same && !zero).toString());
  let lo = 1.0, hi = 0.0;
  for (let i = 0; i < 1000; i++) {
    let r = Math.random();
    if (r < lo) lo = r;
    if (r > hi) hi = r;
  }
  out("Math.random in [0,1) " + (lo >= 0 && hi < 1 && hi - lo > 0.5).toString());
  out(errnoOf("random_get empty", random_get(changetype<usize>(a.buffer), 0)));
}

// readAll copies stdin to fd until EOF and returns the byte count.
function copyStdin(echo: bool): i32 {
  let buf = new ArrayBuffer(4096);
  let total = 0;
  for (;;) {
    let n = process.stdin.read(buf);
    if (n == 0) break;
    total += n;
    if (echo) process.stdout.write(buf.slice(0, n));
  }
  return total;
}

// ---- main -------------------------------------------------------------

let argv = process.argv;
let cmd = argv.length > 1 ? argv[1] : "";
if (cmd == "args") {
  for (let i = 0; i < argv.length; i++) out(i.toString() + " " + quote(argv[i]));
} else if (cmd == "env") {
  let keys = process.env.keys();
  for (let i = 0; i < keys.length; i++) out(keys[i] + "=" + process.env.get(keys[i]));
} else if (cmd == "hello") {
  console.log("hello from assemblyscript");
  process.stderr.write("oops\n");
} else if (cmd == "exit") {
  process.exit(I32.parseInt(argv[2]));
} else if (cmd == "cat") {
  copyStdin(true);
} else if (cmd == "waitterm") {
  // TERM reaches a guest as EOF on stdin: read to EOF, then exit.
  out("ready");
  let n = copyStdin(false);
  out("term after " + n.toString() + " bytes");
  process.exit(argv.length > 2 ? I32.parseInt(argv[2]) : 0);
} else if (cmd == "spin") {
  out("ready");
  let counter = memory.data(8);
  for (;;) store<u64>(counter, load<u64>(counter) + 1);
} else if (cmd == "clocks") {
  cmdClocks();
} else if (cmd == "random") {
  cmdRandom();
} else if (cmd == "fs") {
  cmdFS(argv[2]);
} else if (cmd == "show") {
  cmdShow(argv[2], argv[3]);
} else if (cmd == "dirs") {
  cmdDirs(argv[2]);
} else if (cmd == "renamedir") {
  cmdRenameDir(argv[2]);
} else if (cmd == "append") {
  cmdAppend(argv[2]);
} else if (cmd == "reopen") {
  cmdReopen(argv[2]);
} else if (cmd == "nofollow") {
  cmdNoFollow(argv[2]);
} else if (cmd == "trap") {
  out("trapping");
  unreachable();
} else if (cmd == "throw") {
  throw new Error("thrown by as-probe");
} else {
  die("usage: as-probe args|env|hello|exit N|cat|waitterm [N]|spin|clocks|random|fs DIR|show DIR FILE|dirs DIR|renamedir DIR|append DIR|reopen DIR|nofollow DIR|trap|throw");
}
