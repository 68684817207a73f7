//! Atomic file replacement: write a temporary file beside the target, fsync it,
//! rename it over the target and fsync the directory, so a reader sees either the
//! old file or the new one, never half of either, even after a crash.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// The temporary name used while `target` is being rebuilt (`name.tmp.PID`).
pub fn temp_path(target: &Path) -> PathBuf {
    let mut name = target
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(format!(".tmp.{}", std::process::id()));
    target.with_file_name(name)
}

/// Makes `tmp` durable and moves it over `target`. On error the target is untouched
/// and the temporary file is removed.
pub fn commit(tmp: &Path, target: &Path) -> io::Result<()> {
    let result = (|| {
        File::open(tmp)?.sync_all()?;
        fs::rename(tmp, target)?;
        sync_dir(target)
    })();
    if result.is_err() {
        let _ = fs::remove_file(tmp);
    }
    result
}

/// fsyncs the directory holding `path`, making a rename in it durable.
pub fn sync_dir(path: &Path) -> io::Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    File::open(dir)?.sync_all()
}

/// Replaces `target` with `contents` atomically, keeping the old file's permissions
/// (or `mode` for a new file).
pub fn write_atomic(target: &Path, contents: &[u8], mode: u32) -> io::Result<()> {
    let mode = fs::metadata(target)
        .map(|m| m.permissions().mode() & 0o7777)
        .unwrap_or(mode);
    let tmp = temp_path(target);
    let mut f = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .open(&tmp)?;
    if let Err(e) = f.write_all(contents) {
        let _ = fs::remove_file(&tmp);
        return Err(e);
    }
    drop(f);
    commit(&tmp, target)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_and_keeps_mode() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("main.cf");
        fs::write(&p, "old\n").unwrap();
        fs::set_permissions(&p, fs::Permissions::from_mode(0o640)).unwrap();
        write_atomic(&p, b"new\n", 0o644).unwrap();
        assert_eq!(fs::read_to_string(&p).unwrap(), "new\n");
        assert_eq!(
            fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o640
        );
        assert!(!temp_path(&p).exists());
    }
}
