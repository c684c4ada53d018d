//! Embeds the web client (`<repo>/web`, without `web/tests`) into the gateway binary.
//!
//! Writes `$OUT_DIR/web_assets.rs`: a `BUILD_ID` (a hash of every embedded file's path and bytes) and a table
//! of `Asset { path, body: include_bytes!(..), etag }` sorted by path. Two files are rewritten on the way:
//! in `index.html` and `sw.js` the placeholder `__PINIT_BUILD_ID__` becomes the build id, and in `sw.js` the
//! array `["__PINIT_SHELL__"]` becomes the list of app-shell URLs to precache. No runtime file reads, no
//! dependencies.

use std::env;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

/// Top-level entries of `web/` that are not served.
const SKIPPED: &[&str] = &["tests", "node_modules"];

fn main() {
    let manifest = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("OUT_DIR"));
    let web = manifest.join("../../web");
    println!("cargo:rerun-if-changed=build.rs");
    // Not `web/` itself: Cargo would scan it recursively, `web/tests/node_modules` included. Each served
    // directory and file is watched instead (a new top-level file needs a touch of build.rs).
    if !web.is_dir() {
        panic!(
            "the web client is missing: expected {} (the gateway embeds it)",
            web.display()
        );
    }

    let mut files = Vec::new();
    collect(&web, &web, &mut files);
    files.sort();

    // The build id: every path and every byte, in path order.
    let mut hash = Fnv::new();
    for (rel, abs) in &files {
        hash.write(rel.as_bytes());
        hash.write(&[0]);
        hash.write(&fs::read(abs).expect("read web file"));
        hash.write(&[0]);
    }
    let build_id = format!("{:016x}", hash.finish());

    // What the service worker precaches: the versioned assets plus the shell document.
    let mut shell = vec![
        "/index.html".to_string(),
        "/manifest.webmanifest".to_string(),
    ];
    shell.extend(
        files
            .iter()
            .filter(|(rel, _)| is_versioned(rel))
            .map(|(rel, _)| format!("/static/{build_id}/{rel}")),
    );
    let shell_json = format!(
        "[{}]",
        shell
            .iter()
            .map(|u| format!("{u:?}"))
            .collect::<Vec<_>>()
            .join(", ")
    );

    let mut table = String::new();
    writeln!(
        table,
        "/// A hash of every embedded file of the web client."
    )
    .unwrap();
    writeln!(table, "pub const BUILD_ID: &str = {build_id:?};").unwrap();
    writeln!(table, "/// The embedded files, sorted by path.").unwrap();
    writeln!(table, "pub static ASSETS: &[Asset] = &[").unwrap();
    for (rel, abs) in &files {
        let mut bytes = fs::read(abs).expect("read web file");
        let mut source = abs.clone();
        if rel == "index.html" || rel == "sw.js" {
            let text = String::from_utf8(bytes).expect("index.html and sw.js are UTF-8");
            let text = text
                .replace("__PINIT_BUILD_ID__", &build_id)
                .replace("[\"__PINIT_SHELL__\"]", &shell_json);
            bytes = text.into_bytes();
            source = out.join(format!("web-{}", rel.replace('/', "_")));
            fs::write(&source, &bytes).expect("write processed web file");
        }
        let mut etag = Fnv::new();
        etag.write(&bytes);
        let source = source.canonicalize().expect("canonical path of a web file");
        writeln!(
            table,
            "    Asset {{ path: {rel:?}, body: include_bytes!({:?}), etag: \"\\\"{:016x}\\\"\" }},",
            source.to_str().expect("UTF-8 path"),
            etag.finish()
        )
        .unwrap();
    }
    writeln!(table, "];").unwrap();
    fs::write(out.join("web_assets.rs"), table).expect("write web_assets.rs");
}

/// Files under `dir` as (path relative to `web/` with `/` separators, absolute path). Hidden files and the
/// [`SKIPPED`] top-level entries are left out. Every served directory is watched, so added files rebuild.
fn collect(root: &Path, dir: &Path, files: &mut Vec<(String, PathBuf)>) {
    let mut entries: Vec<_> = fs::read_dir(dir)
        .expect("read web directory")
        .map(|e| e.expect("web directory entry").path())
        .collect();
    entries.sort();
    for path in entries {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if name.starts_with('.') || (dir == root && SKIPPED.contains(&name)) {
            continue;
        }
        if path.is_dir() {
            println!("cargo:rerun-if-changed={}", path.display());
            collect(root, &path, files);
        } else {
            println!("cargo:rerun-if-changed={}", path.display());
            let rel = path
                .strip_prefix(root)
                .expect("under web/")
                .components()
                .map(|c| c.as_os_str().to_str().expect("UTF-8 file name"))
                .collect::<Vec<_>>()
                .join("/");
            files.push((rel, path));
        }
    }
}

/// Files the page loads under `/static/<build id>/` (and the service worker precaches).
fn is_versioned(rel: &str) -> bool {
    !matches!(rel, "index.html" | "sw.js" | "manifest.webmanifest")
}

/// FNV-1a, 64 bits: enough to tell builds and file versions apart.
struct Fnv(u64);

impl Fnv {
    fn new() -> Self {
        Self(0xcbf2_9ce4_8422_2325)
    }

    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 ^= u64::from(*b);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }

    fn finish(&self) -> u64 {
        self.0
    }
}
