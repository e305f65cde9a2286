//! hello-rust: a wasmpod guest written in Rust, using only its standard
//! library, built for WASI preview 1 by build.sh (Debian's rustc with its
//! wasm32-wasi std: `apt-get install rustc libstd-rust-dev-wasm32`).
//!
//! It greets with its pod's name and namespace (POD_NAME and POD_NAMESPACE,
//! which pod.yaml fills in through the downward API), prints its arguments,
//! writes a file in its emptyDir volume (DATA_DIR) and lists the volume.
//! Then it waits for TERM, which wasmpod delivers to a WASI guest as EOF on
//! its stdin: it reads stdin to the end, removes its file and exits 0.

use std::env;
use std::fs;
use std::io::{self, Read};
use std::process;
use std::time::{SystemTime, UNIX_EPOCH};

fn main() {
    if let Err(e) = run() {
        eprintln!("hello-rust: {}", e);
        process::exit(1);
    }
}

fn run() -> io::Result<()> {
    let name = env::var("POD_NAME").unwrap_or_else(|_| "an unnamed pod".to_string());
    let namespace = env::var("POD_NAMESPACE").unwrap_or_else(|_| "no namespace".to_string());
    println!("hello from {} in {}, a Rust program", name, namespace);
    let args: Vec<String> = env::args().skip(1).collect();
    println!("args: {}", args.join(" "));

    // A file in the emptyDir volume: written, then read back.
    let dir = env::var("DATA_DIR").unwrap_or_else(|_| "/data".to_string());
    let path = format!("{}/greeting.txt", dir);
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    fs::write(&path, format!("{} was here at {}\n", name, now)).map_err(|e| at(&path, e))?;
    let text = fs::read_to_string(&path).map_err(|e| at(&path, e))?;
    println!("{}: {} bytes, {}", path, text.len(), if text.starts_with(&name) { "read back" } else { "changed!" });
    let mut names = Vec::new();
    for entry in fs::read_dir(&dir).map_err(|e| at(&dir, e))? {
        names.push(entry?.file_name().to_string_lossy().into_owned());
    }
    names.sort();
    println!("{} holds: {}", dir, names.join(", "));

    // TERM is EOF on stdin: any data before it is counted, not acted on.
    println!("waiting for TERM (EOF on stdin)");
    let mut input = Vec::new();
    io::stdin().read_to_end(&mut input)?;
    println!("TERM received after {} bytes of stdin, cleaning up", input.len());
    fs::remove_file(&path).map_err(|e| at(&path, e))?;
    println!("clean exit");
    Ok(())
}

fn at(path: &str, e: io::Error) -> io::Error {
    io::Error::new(e.kind(), format!("{}: {}", path, e))
}
