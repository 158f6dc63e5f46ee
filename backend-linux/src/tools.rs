//! The programs the backend runs (`iptables-restore`, `iptables-save`), found by absolute
//! path in a fixed list of system directories, never through `$PATH`: what runs inside a
//! sandbox namespace as root must not depend on the caller's environment.

use std::path::PathBuf;

/// Where system programs live on the distributions this runs on, searched in order.
pub const SEARCH_DIRS: &[&str] = &["/usr/sbin", "/usr/bin", "/sbin", "/bin"];

/// The absolute path of a system program, if one of [`SEARCH_DIRS`] has it.
pub fn find(program: &str) -> Option<PathBuf> {
    SEARCH_DIRS.iter().map(|d| PathBuf::from(d).join(program)).find(|p| p.is_file())
}

/// [`find`], or the error a missing program gives when spawned.
pub fn path_of(program: &str) -> std::io::Result<PathBuf> {
    find(program).ok_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::NotFound,
            format!("{program} is not in {}", SEARCH_DIRS.join(", ")),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn programs_are_found_by_absolute_path_only() {
        assert!(find("sh").is_some_and(|p| p.is_absolute()));
        assert_eq!(find("no-such-program-nettwin"), None);
        assert!(path_of("no-such-program-nettwin").is_err());
    }
}
