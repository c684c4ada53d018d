//! Shared helpers of the benchmark binaries: percentiles and report writing.

use std::time::Duration;

/// The allocator of the `pinit` binary, so that the benchmarks measure what ships.
#[global_allocator]
static GLOBAL: pinit_kernel::allocator::Allocator = pinit_kernel::allocator::Allocator;

/// Sets the allocator up as `pinit`'s `main` does; every benchmark binary calls it first.
pub fn allocator_as_shipped() {
    pinit_kernel::allocator::return_freed_memory();
}

/// Percentile `p` (0–100) of sorted samples.
pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Writes a generated report `block` into the markdown file at `path`, between the lines
/// `<!-- {name}:begin -->` and `<!-- {name}:end -->`; the rest of the file (hand-written notes) is kept.
/// A file without the markers gets `section` (a heading) and the block appended; a missing file is created.
pub fn write_between_markers(
    path: &std::path::Path,
    name: &str,
    section: &str,
    block: &str,
) -> std::io::Result<()> {
    let begin = format!("<!-- {name}:begin -->");
    let end = format!("<!-- {name}:end -->");
    let generated = format!("{begin}\n{}\n{end}\n", block.trim());
    let text = match std::fs::read_to_string(path) {
        Ok(old) => match (old.find(&begin), old.find(&end)) {
            (Some(b), Some(e)) if b < e => {
                let rest = old[e + end.len()..].trim_start_matches('\n');
                let gap = if rest.is_empty() { "" } else { "\n" };
                format!("{}{generated}{gap}{rest}", &old[..b])
            }
            _ => format!("{}\n\n{section}\n\n{generated}", old.trim_end()),
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            format!("# Benchmarks\n\n{section}\n\n{generated}")
        }
        Err(e) => return Err(e),
    };
    std::fs::write(path, text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_report_replaces_only_its_block_and_keeps_the_notes_apart() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("b.md");
        std::fs::write(
            &path,
            "# B\n\nintro\n\n<!-- x:begin -->\nold\n<!-- x:end -->\n\nnotes\n",
        )
        .unwrap();
        write_between_markers(&path, "x", "## X", "new\n").unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "# B\n\nintro\n\n<!-- x:begin -->\nnew\n<!-- x:end -->\n\nnotes\n"
        );
        write_between_markers(&path, "y", "## Y", "first").unwrap();
        assert!(
            std::fs::read_to_string(&path)
                .unwrap()
                .ends_with("notes\n\n## Y\n\n<!-- y:begin -->\nfirst\n<!-- y:end -->\n")
        );
    }

    #[test]
    fn a_missing_file_is_created_with_the_section() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("new.md");
        write_between_markers(&path, "x", "## X", "r").unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "# Benchmarks\n\n## X\n\n<!-- x:begin -->\nr\n<!-- x:end -->\n"
        );
    }
}
