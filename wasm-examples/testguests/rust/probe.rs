//! probe: the Rust test guest of wasmpod's conformance suite
//! (runtime/enginetest/guest_rust.go). It is built with Debian's rustc and
//! its wasm32-wasi standard library, from this one file, with no crates:
//!
//!     /usr/bin/rustc --edition 2021 --target wasm32-wasi -O -C debuginfo=0 probe.rs -o probe.wasm
//!
//! The first argument selects the behaviour:
//!
//!     hello               print "hello" to stdout and "oops" to stderr
//!     exit N              exit with code N
//!     args                print each argument after "args", one a line
//!     env                 print the environment, one KEY=VALUE a line
//!     fs DIR              create, write, seek, truncate, append, rename,
//!                         readdir, symlink and unlink in DIR; print each step
//!     ls DIR              print the names in DIR, sorted, one a line
//!     cat PATH            print the file's contents
//!     write PATH TEXT     write TEXT to PATH (create or truncate)
//!     readstdin           copy stdin to stdout
//!     clocks              print the realtime clock's seconds, then whether
//!                         the monotonic clock advanced across a 10 ms sleep
//!     random              read random bytes through WASI's random_get
//!     waitterm [CODE]     print "ready", read stdin to EOF (wasmpod's TERM),
//!                         print "term" and exit CODE (default 0)
//!     trap                execute `unreachable` (a wasm trap)
//!     abort               std::process::abort()
//!     panic               panic!("boom")
//!
//! A failing operation prints "probe: <what>: <error> (errno N)" to stderr
//! and exits 1.

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
