//! Finding scenario files: paths given on the command line, directories searched
//! recursively for `*.yaml` and `*.yml`, in a stable (sorted) order.

use std::path::{Path, PathBuf};

/// Why a path could not be searched.
#[derive(Debug, thiserror::Error)]
#[error("cannot read {path}")]
pub struct DiscoverError {
    /// The path.
    pub path: PathBuf,
    /// Why.
    #[source]
    pub source: std::io::Error,
}

/// Every scenario file under `paths`: files as given, directories recursively (`*.yaml`,
/// `*.yml`, sorted by path; hidden entries skipped). Inside a directory only regular files
/// and real directories count: a link is never followed (a link loop cannot make the walk
/// endless) and a FIFO or a device is never opened.
pub fn scenario_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>, DiscoverError> {
    let mut out = Vec::new();
    for p in paths {
        let meta =
            std::fs::metadata(p).map_err(|source| DiscoverError { path: p.clone(), source })?;
        if meta.is_dir() {
            walk(p, &mut out)?;
        } else {
            out.push(p.clone());
        }
    }
    Ok(out)
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), DiscoverError> {
    let err = |source| DiscoverError { path: dir.to_owned(), source };
    let mut entries: Vec<(PathBuf, std::fs::FileType)> = std::fs::read_dir(dir)
        .map_err(err)?
        .map(|e| e.and_then(|e| Ok((e.path(), e.file_type()?))))
        .collect::<Result<_, _>>()
        .map_err(err)?;
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    for (path, kind) in entries {
        let hidden = path.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with('.'));
        if hidden {
            continue;
        }
        // `DirEntry::file_type` does not follow links: a link is neither.
        if kind.is_dir() {
            walk(&path, out)?;
        } else if kind.is_file()
            && matches!(path.extension().and_then(|e| e.to_str()), Some("yaml" | "yml"))
        {
            out.push(path);
        }
    }
    Ok(())
}
