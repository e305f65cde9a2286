//! probe: the Rust test guest of wasmpod's conformance suite
//! (runtime/enginetest/guest_rust.go). It is built with Debian's rustc and
//! its wasm32-wasi standard library, from this one file, with no crates
//! (the tests use wasm32-wasip1 on a rustc whose std has that name):
//!
//!     /usr/bin/rustc --edition 2021 --target wasm32-wasi -O -C debuginfo=0 -C strip=debuginfo probe.rs -o probe.wasm
//!
//! The first argument selects the behaviour:
//!
//!     hello               print "hello" to stdout and "oops" to stderr
//!     exit N              exit with code N
//!     args                print each argument after "args", one a line
//!     env                 print the environment, one KEY=VALUE a line
//!     fs DIR              create, write, seek, truncate, append, rename,
//!                         readdir, symlink and unlink in DIR; print each step
//!     tree DIR            create_dir_all, nested files, fs::copy, a recursive
//!                         listing and remove_dir_all under DIR/t
//!     renamedir DIR       rename a directory to a new name, over an empty
//!                         directory, over a non-empty one and over a file
//!     dirfd DIR           open DIR as a File and read, seek and truncate it
//!                         (each must fail); print the errnos
//!     errors DIR          print the outcome of file operations that must fail
//!                         in DIR (each a WASI errno)
//!     stat PATH           print a file's size, type and modification time
//!     ls DIR              print the names in DIR, sorted, one a line
//!     cat PATH            print the file's contents
//!     write PATH TEXT     write TEXT to PATH (create or truncate)
//!     readstdin           copy stdin to stdout
//!     clocks              print the realtime clock's seconds, then whether
//!                         the monotonic clock advanced across a 10 ms sleep
//!     random              read random bytes through WASI's random_get
//!     waitterm [CODE]     print "ready", read stdin to EOF (wasmpod's TERM),
//!                         print "term" and exit CODE (default 0)
//!     spin                print "ready" and loop forever without a call
//!     sleep               print "ready" and sleep for an hour
//!     memhog              allocate and touch 1 MiB blocks until refused
//!     trap                execute `unreachable` (a wasm trap)
//!     abort               std::process::abort()
//!     panic               panic!("boom")
//!
//! A failing operation prints "probe: <what>: <error>" to stderr (an I/O
//! error ends with "(os error N)", N the WASI errno) and exits 1.

use std::env;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::wasi::io::AsRawFd;
use std::process;
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

#[link(wasm_import_module = "wasi_snapshot_preview1")]
extern "C" {
    // WASI preview 1's random_get(buf, buf_len) -> errno. std has no public
    // randomness, so the probe imports it itself.
    #[link_name = "random_get"]
    fn wasi_random_get(buf: *mut u8, len: usize) -> i32;
    // path_symlink(old_path, old_path_len, fd, new_path, new_path_len) ->
    // errno: std::os::wasi::fs::symlink_path is unstable in Rust 1.63.
    #[link_name = "path_symlink"]
    fn wasi_path_symlink(old: *const u8, old_len: usize, fd: i32, new: *const u8, new_len: usize) -> i32;
}

fn main() {
    let args: Vec<String> = env::args().collect();
    if args.len() < 2 {
        fail("usage", "probe MODE [ARGS...]");
    }
    let rest = &args[2..];
    match args[1].as_str() {
        "hello" => {
            println!("hello");
            eprintln!("oops");
        }
        "exit" => {
            let code: i32 = arg(rest, 0).parse().unwrap_or_else(|e| fail("exit", e));
            process::exit(code);
        }
        "args" => {
            for a in rest {
                println!("{}", a);
            }
        }
        "env" => {
            for (k, v) in env::vars() {
                println!("{}={}", k, v);
            }
        }
        "fs" => fsops(arg(rest, 0)),
        "tree" => tree(arg(rest, 0)),
        "renamedir" => renamedir(arg(rest, 0)),
        "dirfd" => dirfd(arg(rest, 0)),
        "errors" => errors(arg(rest, 0)),
        "stat" => {
            let path = arg(rest, 0);
            let md = fs::metadata(path).unwrap_or_else(|e| fail(path, e));
            let mtime = md.modified().unwrap_or_else(|e| fail("mtime", e));
            let secs = mtime.duration_since(UNIX_EPOCH).unwrap_or_else(|e| fail("mtime", e)).as_secs();
            println!("size {} dir {} file {} mtime {}", md.len(), md.is_dir(), md.is_file(), secs);
        }
        "ls" => {
            for name in list(arg(rest, 0)) {
                println!("{}", name);
            }
        }
        "cat" => {
            let path = arg(rest, 0);
            let b = fs::read(path).unwrap_or_else(|e| fail(path, e));
            io::stdout().write_all(&b).unwrap_or_else(|e| fail("stdout", e));
        }
        "write" => {
            let path = arg(rest, 0);
            fs::write(path, arg(rest, 1)).unwrap_or_else(|e| fail(path, e));
        }
        "readstdin" => {
            let stdin = io::stdin();
            let stdout = io::stdout();
            io::copy(&mut stdin.lock(), &mut stdout.lock()).unwrap_or_else(|e| fail("copy", e));
        }
        "clocks" => {
            let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_else(|e| fail("realtime", e));
            println!("{}", now.as_secs());
            let t0 = Instant::now();
            thread::sleep(Duration::from_millis(10));
            let d = t0.elapsed();
            println!("monotonic {}", if d >= Duration::from_millis(10) { "ok" } else { "went back" });
        }
        "random" => {
            let (mut a, mut b) = ([0u8; 32], [0u8; 32]);
            for buf in [&mut a, &mut b] {
                let errno = unsafe { wasi_random_get(buf.as_mut_ptr(), buf.len()) };
                if errno != 0 {
                    fail("random_get", format!("errno {}", errno));
                }
            }
            let ok = a != b && a != [0u8; 32] && b != [0u8; 32];
            println!("random {}", if ok { "ok" } else { "repeats" });
        }
        "waitterm" => {
            let code: i32 = rest.get(0).map_or(Ok(0), |c| c.parse()).unwrap_or_else(|e| fail("waitterm", e));
            println!("ready");
            let mut sink = Vec::new();
            io::stdin().read_to_end(&mut sink).unwrap_or_else(|e| fail("stdin", e));
            println!("term");
            process::exit(code);
        }
        "spin" => {
            println!("ready");
            let mut n: u64 = 0;
            loop {
                // Volatile, so that the optimizer keeps a loop with a
                // memory access and no call.
                unsafe { std::ptr::write_volatile(&mut n, std::ptr::read_volatile(&n).wrapping_add(1)) };
            }
        }
        "sleep" => {
            println!("ready");
            thread::sleep(Duration::from_secs(3600));
            println!("woke");
        }
        "memhog" => {
            let mut blocks: Vec<Vec<u8>> = Vec::new();
            for i in 1.. {
                let mut b = vec![0u8; 1 << 20];
                for j in (0..b.len()).step_by(4096) {
                    b[j] = j as u8;
                }
                blocks.push(b);
                if i % 16 == 0 {
                    eprintln!("allocated {} MiB", i);
                }
            }
        }
        "trap" => {
            println!("trapping");
            core::arch::wasm32::unreachable()
        }
        "abort" => {
            println!("aborting");
            process::abort();
        }
        "panic" => panic!("boom"),
        mode => fail("unknown mode", mode),
    }
}

// fsops runs the volume behaviours in dir, which it leaves as it found it
// (empty), and prints one line a step.
fn fsops(dir: &str) {
    let p = |name: &str| format!("{}/{}", dir, name);
    let a = p("a.txt");

    let mut f = File::create(&a).unwrap_or_else(|e| fail("create", e));
    f.write_all(b"hello world").unwrap_or_else(|e| fail("write", e));
    f.sync_data().unwrap_or_else(|e| fail("fd_datasync", e));
    f.sync_all().unwrap_or_else(|e| fail("fd_sync", e));
    drop(f);
    println!("created {} bytes", fs::metadata(&a).unwrap_or_else(|e| fail("stat", e)).len());

    let mut f = OpenOptions::new().read(true).write(true).open(&a).unwrap_or_else(|e| fail("open rw", e));
    let pos = f.seek(SeekFrom::Start(6)).unwrap_or_else(|e| fail("seek", e));
    let mut word = [0u8; 5];
    f.read_exact(&mut word).unwrap_or_else(|e| fail("read", e));
    println!("seek {} read {:?}", pos, String::from_utf8_lossy(&word));
    let end = f.seek(SeekFrom::End(-5)).unwrap_or_else(|e| fail("seek end", e));
    let cur = f.seek(SeekFrom::Current(0)).unwrap_or_else(|e| fail("tell", e));
    println!("end-5 {} tell {}", end, cur);

    f.set_len(5).unwrap_or_else(|e| fail("truncate", e));
    let md = f.metadata().unwrap_or_else(|e| fail("fstat", e));
    println!("truncated size {} file {}", md.len(), md.is_file());
    drop(f);

    let mut f = OpenOptions::new().append(true).open(&a).unwrap_or_else(|e| fail("open append", e));
    f.write_all(b"+tail").unwrap_or_else(|e| fail("append", e));
    drop(f);
    println!("content {:?}", fs::read_to_string(&a).unwrap_or_else(|e| fail("read", e)));

    fs::create_dir(p("sub")).unwrap_or_else(|e| fail("mkdir", e));
    fs::rename(&a, p("sub/b.txt")).unwrap_or_else(|e| fail("rename", e));
    println!("renamed old exists {} new exists {}", exists(&a), exists(&p("sub/b.txt")));

    symlink(dir, "sub/b.txt", "link");
    let target = fs::read_link(p("link")).unwrap_or_else(|e| fail("readlink", e));
    let lmd = fs::symlink_metadata(p("link")).unwrap_or_else(|e| fail("lstat", e));
    let through = fs::read_to_string(p("link")).unwrap_or_else(|e| fail("read link", e));
    println!("symlink -> {} symlink {} reads {:?}", target.display(), lmd.file_type().is_symlink(), through);

    for name in list(dir) {
        let ft = fs::symlink_metadata(p(&name)).unwrap_or_else(|e| fail("lstat", e)).file_type();
        let kind = if ft.is_dir() { "dir" } else if ft.is_symlink() { "symlink" } else { "file" };
        println!("entry {} {}", name, kind);
    }

    fs::remove_file(p("link")).unwrap_or_else(|e| fail("unlink link", e));
    fs::remove_file(p("sub/b.txt")).unwrap_or_else(|e| fail("unlink", e));
    fs::remove_dir(p("sub")).unwrap_or_else(|e| fail("rmdir", e));
    match fs::metadata(p("sub/b.txt")) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => println!("gone"),
        other => fail("stat after unlink", format!("{:?}", other)),
    }
    println!("left {}", list(dir).len());
}

// tree works on a directory tree under dir/t with the std calls that open
// directories relative to other directory descriptors (remove_dir_all),
// and leaves dir as it found it.
fn tree(dir: &str) {
    let t = format!("{}/t", dir);
    fs::create_dir_all(format!("{}/a/b/c", t)).unwrap_or_else(|e| fail("create_dir_all", e));
    fs::create_dir_all(format!("{}/a/b", t)).unwrap_or_else(|e| fail("create_dir_all again", e));
    for (i, f) in ["a/1.txt", "a/b/2.txt", "a/b/c/3.txt"].iter().enumerate() {
        fs::write(format!("{}/{}", t, f), "x".repeat(i + 1)).unwrap_or_else(|e| fail(f, e));
    }
    let n = fs::copy(format!("{}/a/b/c/3.txt", t), format!("{}/copy.txt", t)).unwrap_or_else(|e| fail("copy", e));
    println!("copied {} bytes", n);
    walk(&t, "");
    fs::remove_dir_all(&t).unwrap_or_else(|e| fail("remove_dir_all", e));
    println!("removed {}", !exists(&t));
    println!("left {}", list(dir).len());
}

fn walk(root: &str, rel: &str) {
    let here = if rel.is_empty() { root.to_string() } else { format!("{}/{}", root, rel) };
    for name in list(&here) {
        let r = if rel.is_empty() { name.clone() } else { format!("{}/{}", rel, name) };
        let md = fs::symlink_metadata(format!("{}/{}", root, r)).unwrap_or_else(|e| fail("lstat", e));
        if md.is_dir() {
            println!("{}/", r);
            walk(root, &r);
        } else {
            println!("{} {}", r, md.len());
        }
    }
}

// renamedir prints what renaming a directory does in each case ("ok", or
// the WASI errno of the failure) and leaves dir empty.
fn renamedir(dir: &str) {
    let p = |name: &str| format!("{}/{}", dir, name);
    fs::create_dir(p("src")).unwrap_or_else(|e| fail("mkdir", e));
    fs::write(p("src/f"), "f").unwrap_or_else(|e| fail("write", e));
    println!("to a new name: {}", outcome(fs::rename(p("src"), p("new"))));
    fs::create_dir(p("empty")).unwrap_or_else(|e| fail("mkdir", e));
    println!("over an empty dir: {}", outcome(fs::rename(p("new"), p("empty"))));
    println!("moved file: {}", outcome(fs::read_to_string(p("empty/f"))));
    fs::create_dir(p("full")).unwrap_or_else(|e| fail("mkdir", e));
    fs::write(p("full/g"), "g").unwrap_or_else(|e| fail("write", e));
    println!("over a non-empty dir: {}", outcome(fs::rename(p("empty"), p("full"))));
    println!("over a file: {}", outcome(fs::rename(p("empty"), p("full/g"))));
    println!("file over a dir: {}", outcome(fs::rename(p("full/g"), p("empty"))));
    for d in ["empty", "full"] {
        fs::remove_dir_all(p(d)).unwrap_or_else(|e| fail("remove_dir_all", e));
    }
    println!("left {}", list(dir).len());
}

// dirfd opens a directory as a File (path_open without O_DIRECTORY, as
// std's File::open does) and prints the outcome of each operation that
// must fail on it: read, seek, set_len.
fn dirfd(dir: &str) {
    let mut f = File::open(dir).unwrap_or_else(|e| fail("open dir", e));
    let mut buf = [0u8; 16];
    println!("read {}", outcome(f.read(&mut buf)));
    println!("seek {}", outcome(f.seek(SeekFrom::Current(0))));
    println!("set_len {}", outcome(f.set_len(0)));
    println!("is_dir {}", f.metadata().unwrap_or_else(|e| fail("fstat", e)).is_dir());
}

// errors prints the outcome of operations that must fail, one a line, and
// leaves dir empty.
fn errors(dir: &str) {
    let p = |name: &str| format!("{}/{}", dir, name);
    fs::write(p("f"), "data").unwrap_or_else(|e| fail("write", e));
    fs::create_dir(p("d")).unwrap_or_else(|e| fail("mkdir", e));
    fs::write(p("d/g"), "").unwrap_or_else(|e| fail("write", e));
    println!("create_new existing: {}", outcome(OpenOptions::new().write(true).create_new(true).open(p("f")).map(|_| ())));
    println!("open missing: {}", outcome(File::open(p("missing")).map(|_| ())));
    println!("open missing dir: {}", outcome(File::open(p("nodir/f")).map(|_| ())));
    println!("open through a file: {}", outcome(File::open(p("f/x")).map(|_| ())));
    let mut ro = File::open(p("f")).unwrap_or_else(|e| fail("open", e));
    println!("write to read-only: {}", outcome(ro.write(b"x")));
    let mut wo = OpenOptions::new().write(true).open(p("f")).unwrap_or_else(|e| fail("open", e));
    println!("read from write-only: {}", outcome(wo.read(&mut [0u8; 4])));
    drop((ro, wo));
    println!("mkdir existing: {}", outcome(fs::create_dir(p("d"))));
    println!("rmdir non-empty: {}", outcome(fs::remove_dir(p("d"))));
    println!("rmdir a file: {}", outcome(fs::remove_dir(p("f"))));
    println!("unlink a dir: {}", outcome(fs::remove_file(p("d"))));
    println!("readdir a file: {}", outcome(fs::read_dir(p("f")).map(|_| ())));
    println!("content kept: {}", outcome(fs::read_to_string(p("f"))));
    fs::remove_file(p("f")).unwrap_or_else(|e| fail("unlink", e));
    fs::remove_dir_all(p("d")).unwrap_or_else(|e| fail("remove_dir_all", e));
    println!("left {}", list(dir).len());
}

// outcome is "ok VALUE" for a success and "errno N" (WASI's) for a failure.
fn outcome<T: std::fmt::Debug>(r: io::Result<T>) -> String {
    match r {
        Ok(v) => format!("ok {:?}", v),
        Err(e) => match e.raw_os_error() {
            Some(n) => format!("errno {}", n),
            None => format!("error {}", e),
        },
    }
}

fn list(dir: &str) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap_or_else(|e| fail(dir, e))
        .map(|e| e.unwrap_or_else(|e| fail("readdir", e)).file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

// symlink makes dir/link point at target with WASI's path_symlink, relative
// to a descriptor of dir opened by std (as symlink_path would).
fn symlink(dir: &str, target: &str, link: &str) {
    let d = File::open(dir).unwrap_or_else(|e| fail("open dir", e));
    let errno = unsafe { wasi_path_symlink(target.as_ptr(), target.len(), d.as_raw_fd(), link.as_ptr(), link.len()) };
    if errno != 0 {
        fail("symlink", io::Error::from_raw_os_error(errno));
    }
}

fn exists(path: &str) -> bool {
    fs::symlink_metadata(path).is_ok()
}

fn arg(args: &[String], i: usize) -> &str {
    match args.get(i) {
        Some(a) => a,
        None => fail("usage", format!("missing argument {}", i + 1)),
    }
}

fn fail(what: &str, err: impl std::fmt::Display) -> ! {
    eprintln!("probe: {}: {}", what, err);
    process::exit(1);
}
