//! Reading table source files the way Postfix's readllines(3) does.
//!
//! Mirrors Postfix `util/readlline.c` as used by postmap(1), texthash and the
//! pattern tables: `#` comment lines and blank lines are skipped; a line that
//! starts with whitespace continues the previous logical line (joined as written,
//! without the newline, and comment/blank lines in between do not end it); a
//! logical line may not itself start with whitespace (warned and skipped, as
//! Postfix does). Unlike Postfix, bytes that are not UTF-8 are an error naming the
//! file and line: Postern keys and values are text.
//!
//! main.cf parameters read: none.

use std::path::{Path, PathBuf};

use super::indexed::FileStamp;
use super::MapError;

/// A table's source file and its identity when it was read, for `Map::changed`.
#[derive(Debug, Clone)]
pub struct SourceFile {
    path: PathBuf,
    stamp: Option<FileStamp>,
}

impl SourceFile {
    /// Notes the identity of `name` now (call before reading it).
    pub fn new(name: &str) -> SourceFile {
        let path = PathBuf::from(name);
        let stamp = FileStamp::of(&path);
        SourceFile { path, stamp }
    }

    /// Whether the file was replaced or modified since `new`.
    pub fn changed(&self) -> bool {
        self.stamp.is_some_and(|s| s.changed(&self.path))
    }
}

/// Reads `path` whole; the error names the file as Postfix's `open` does.
pub fn read_file(path: &Path) -> Result<Vec<u8>, MapError> {
    std::fs::read(path).map_err(|source| MapError::Open {
        what: "",
        path: path.to_path_buf(),
        source,
    })
}

fn is_blank_or_comment(line: &[u8]) -> bool {
    match line.iter().position(|b| !b.is_ascii_whitespace()) {
        None => true,
        Some(i) => line[i] == b'#',
    }
}

/// Calls `f(line_number, text)` for every logical line of `bytes`, the number
/// being that of the line's first physical line. `place` names the file in
/// messages (`/etc/postfix/access`, or `regexp map /etc/postfix/checks`).
pub fn for_each_logical_line(
    bytes: &[u8],
    file: &Path,
    place: &str,
    mut f: impl FnMut(usize, &str) -> Result<(), MapError>,
) -> Result<(), MapError> {
    let mut buf = String::new();
    let mut start = 0usize;
    let mut skipping = false;
    for (idx, raw) in bytes.split(|&b| b == b'\n').enumerate() {
        let number = idx + 1;
        if is_blank_or_comment(raw) {
            continue;
        }
        let text = std::str::from_utf8(raw).map_err(|e| MapError::Syntax {
            place: place.to_string(),
            file: file.to_path_buf(),
            line: number,
            reason: format!(
                "invalid UTF-8 byte sequence at column {}",
                e.valid_up_to() + 1
            ),
        })?;
        if buf.len().saturating_add(text.len()) > crate::util::MAX_LOGICAL_LINE {
            return Err(MapError::Syntax {
                place: place.to_string(),
                file: file.to_path_buf(),
                line: if raw[0].is_ascii_whitespace() && start != 0 {
                    start
                } else {
                    number
                },
                reason: format!(
                    "logical line longer than {} bytes",
                    crate::util::MAX_LOGICAL_LINE
                ),
            });
        }
        if raw[0].is_ascii_whitespace() {
            if start == 0 {
                if !skipping {
                    log::warn!(
                        "{place}: logical line must not start with whitespace: \"{}\"",
                        text
                    );
                    skipping = true;
                }
            } else {
                buf.push_str(text);
            }
            continue;
        }
        skipping = false;
        if start != 0 {
            f(start, &buf)?;
        }
        buf.clear();
        buf.push_str(text);
        start = number;
    }
    if start != 0 {
        f(start, &buf)?;
    }
    Ok(())
}

/// Splits `key whitespace value`; `None` when there is no value. The value's
/// trailing whitespace is dropped, as postmap(1) does.
pub fn split_key_value(text: &str) -> Option<(&str, &str)> {
    let text = text.trim_end();
    let end = text.find(|c: char| c.is_ascii_whitespace())?;
    let (key, rest) = text.split_at(end);
    let value = rest.trim_start();
    if value.is_empty() {
        None
    } else {
        Some((key, value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(src: &str) -> Vec<(usize, String)> {
        let mut out = Vec::new();
        for_each_logical_line(src.as_bytes(), Path::new("t"), "t", |n, t| {
            out.push((n, t.to_string()));
            Ok(())
        })
        .unwrap();
        out
    }

    #[test]
    fn continuation_comments_and_blank_lines() {
        // Checked against Postfix 3.7 `postmap -s texthash:`.
        let got = lines("  lead v\na b\n# comment\n c\nd e\n\n f\ng h # not comment\n");
        assert_eq!(
            got,
            vec![
                (2, "a b c".to_string()),
                (5, "d e f".to_string()),
                (8, "g h # not comment".to_string())
            ]
        );
    }

    #[test]
    fn key_value_split() {
        assert_eq!(split_key_value("k  v w \t"), Some(("k", "v w")));
        assert_eq!(split_key_value("k\tv"), Some(("k", "v")));
        assert_eq!(split_key_value("k   "), None);
        assert_eq!(split_key_value("k"), None);
    }

    #[test]
    fn bad_utf8_names_line() {
        let err = for_each_logical_line(b"a b\nc \xff\n", Path::new("t"), "t", |_, _| Ok(()))
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "t, line 2: invalid UTF-8 byte sequence at column 3"
        );
    }
}
