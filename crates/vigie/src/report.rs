//! Markdown reports made of sections that separate commands own: each
//! section sits between `<!-- NAME:start -->` and `<!-- NAME:end -->` and is
//! replaced in place, the rest of the file kept.

use std::path::Path;

use anyhow::Context as _;

pub const EVALUATION_HEADER: &str = "# Evaluation\n\nAccuracy of Vigie's text understanding, measured on public labelled \
     data (`../shared/data`; see each folder's SOURCE.md) by commands anyone can rerun.\n\n";

pub const BENCHMARKS_HEADER: &str = "# Benchmarks\n\nSpeed and memory, measured by `vigie bench` commands anyone can \
     rerun; each section says its command.\n\n";

/// Replaces (or appends) the `name` section of the Markdown file at `path`.
pub fn write_section(path: &Path, name: &str, section: &str, header: &str) -> anyhow::Result<()> {
    let start = format!("<!-- {name}:start -->");
    let end = format!("<!-- {name}:end -->");
    let block = format!("{start}\n{section}{end}\n");
    let current = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => header.to_string(),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    let updated = match (current.find(&start), current.find(&end)) {
        (Some(a), Some(b)) if b > a => {
            format!("{}{block}{}", &current[..a], current[b + end.len()..].trim_start_matches('\n'))
        }
        _ => format!("{}{}{block}", current, if current.ends_with("\n\n") { "" } else { "\n" }),
    };
    std::fs::write(path, updated).with_context(|| format!("cannot write {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_section_is_replaced_in_place_and_the_rest_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("EVALUATION.md");
        let header = EVALUATION_HEADER;
        write_section(&path, "lang", "## Language\nv1\n", header).unwrap();
        write_section(&path, "other", "## Other\nkept\n", header).unwrap();
        write_section(&path, "lang", "## Language\nv2\n", header).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.starts_with("# Evaluation\n"));
        assert!(text.contains("v2") && !text.contains("v1"), "{text}");
        assert!(text.contains("## Other\nkept"));
        assert!(text.find("## Language").unwrap() < text.find("## Other").unwrap(), "{text}");
    }
}
