//! The main.cf reader: raw `name = value` entries with their file and line,
//! before any expansion or typing.
//!
//! Mirrors Postfix readlline.c and dict_load_fp() as used for main.cf: `#` lines and
//! blank lines are skipped, a line starting with whitespace continues the logical
//! line, whitespace around `=` and at the end is dropped, and a `#` inside a value
//! is part of the value. A later entry overrides an earlier one, with Postfix's
//! "overriding earlier entry" warning. Reads no parameters.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use super::ConfigError;

/// Longest logical line accepted (shared with table sources).
pub const MAX_LINE: usize = crate::util::MAX_LOGICAL_LINE;

/// One `name = value` line of main.cf.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub name: String,
    pub value: String,
    /// The line the logical line starts on (1-based).
    pub line: usize,
}

/// The parsed main.cf: every entry in file order (overridden ones included) and
/// the warnings met while reading.
#[derive(Debug, Clone, Default)]
pub struct MainCf {
    pub path: PathBuf,
    pub entries: Vec<Entry>,
    pub warnings: Vec<String>,
}

impl MainCf {
    /// Reads and parses `path`.
    pub fn read(path: &Path) -> Result<MainCf, ConfigError> {
        let file = std::fs::File::open(path).map_err(|source| ConfigError::Open {
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse(path, file)
    }

    /// Parses main.cf text from `input`; `path` names it in messages.
    pub fn parse(path: &Path, input: impl Read) -> Result<MainCf, ConfigError> {
        let mut cf = MainCf {
            path: path.to_path_buf(),
            ..MainCf::default()
        };
        for logical in LogicalLines::new(path, input) {
            let (line, bytes) = logical?;
            cf.add(line, &bytes)?;
        }
        Ok(cf)
    }

    fn add(&mut self, line: usize, bytes: &[u8]) -> Result<(), ConfigError> {
        let path = &self.path;
        if bytes.first().is_some_and(|c| c.is_ascii_whitespace()) {
            self.warnings.push(format!(
                "{}, line {line}: logical line must not start with whitespace: \"{}\"",
                path.display(),
                String::from_utf8_lossy(bytes)
            ));
            return Ok(());
        }
        let eq = bytes.iter().position(|&c| c == b'=');
        let name_part = &bytes[..eq.unwrap_or(bytes.len())];
        let name_lossy = String::from_utf8_lossy(name_part).trim().to_string();
        let text = std::str::from_utf8(bytes).map_err(|_| ConfigError::NotUtf8 {
            path: path.clone(),
            line,
            name: name_lossy.clone(),
        })?;
        let Some(eq) = eq else {
            return Err(ConfigError::MissingEquals {
                path: path.clone(),
                line,
                text: text.to_string(),
            });
        };
        let name = text[..eq].trim_end();
        if name.is_empty() {
            return Err(ConfigError::MissingName {
                path: path.clone(),
                line,
                text: text.to_string(),
            });
        }
        if name.contains(|c: char| c.is_ascii_whitespace()) {
            return Err(ConfigError::MissingEquals {
                path: path.clone(),
                line,
                text: text.to_string(),
            });
        }
        let value = text[eq + 1..].trim();
        if let Some(old) = self.entries.iter().rev().find(|e| e.name == name) {
            self.warnings.push(format!(
                "{}, line {line}: overriding earlier entry: {}={}",
                path.display(),
                old.name,
                old.value
            ));
        }
        self.entries.push(Entry {
            name: name.to_string(),
            value: value.to_string(),
            line,
        });
        Ok(())
    }

    /// The effective (last) entry for `name`.
    pub fn get(&self, name: &str) -> Option<&Entry> {
        self.entries.iter().rev().find(|e| e.name == name)
    }

    /// The effective entries, one per name, in file order of their last definition.
    pub fn effective(&self) -> Vec<&Entry> {
        let mut out: Vec<&Entry> = Vec::new();
        for (i, e) in self.entries.iter().enumerate() {
            if !self.entries[i + 1..].iter().any(|l| l.name == e.name) {
                out.push(e);
            }
        }
        out
    }
}

/// Does `value` hold what looks like a trailing comment (`may # text`)? Postfix
/// keeps it as part of the value, which is rarely what the writer meant.
pub fn has_inline_comment(value: &str) -> bool {
    value.contains(" #") || value.contains("\t#")
}

/// Iterator over logical lines `(first line number, bytes)`, reading with a bound.
pub(super) struct LogicalLines<R: Read> {
    path: PathBuf,
    input: BufReader<R>,
    lineno: usize,
    /// A physical line read ahead that starts the next logical line.
    pending: Option<(usize, Vec<u8>)>,
    done: bool,
}

impl<R: Read> LogicalLines<R> {
    pub(super) fn new(path: &Path, input: R) -> Self {
        LogicalLines {
            path: path.to_path_buf(),
            input: BufReader::new(input),
            lineno: 0,
            pending: None,
            done: false,
        }
    }

    /// The next physical line without its newline, at most `room` bytes long.
    fn physical(&mut self, room: usize) -> Result<Option<Vec<u8>>, ConfigError> {
        let mut buf = Vec::new();
        let limit = (room as u64).saturating_add(2);
        let n = (&mut self.input)
            .take(limit)
            .read_until(b'\n', &mut buf)
            .map_err(|source| ConfigError::Read {
                path: self.path.clone(),
                source,
            })?;
        if n == 0 {
            return Ok(None);
        }
        self.lineno += 1;
        if buf.last() == Some(&b'\n') {
            buf.pop();
        } else if n as u64 == limit {
            return Err(ConfigError::LineTooLong {
                path: self.path.clone(),
                line: self.lineno,
                limit: MAX_LINE,
            });
        }
        if buf.len() > room {
            return Err(ConfigError::LineTooLong {
                path: self.path.clone(),
                line: self.lineno,
                limit: MAX_LINE,
            });
        }
        Ok(Some(buf))
    }

    fn next_logical(&mut self) -> Result<Option<(usize, Vec<u8>)>, ConfigError> {
        let (start, mut text) = match self.pending.take() {
            Some(p) => p,
            None => loop {
                let Some(l) = self.physical(MAX_LINE)? else {
                    return Ok(None);
                };
                if !is_skipped(&l) {
                    break (self.lineno, l);
                }
            },
        };
        // A line that is too long by itself is reported on its own line; one
        // that makes this logical line too long, on the line it started.
        while let Some(l) = self.physical(MAX_LINE)? {
            if is_skipped(&l) {
                continue;
            }
            if l[0].is_ascii_whitespace() {
                if text.len() + l.len() > MAX_LINE {
                    return Err(ConfigError::LineTooLong {
                        path: self.path.clone(),
                        line: start,
                        limit: MAX_LINE,
                    });
                }
                text.extend_from_slice(&l);
            } else {
                self.pending = Some((self.lineno, l));
                break;
            }
        }
        while text.last().is_some_and(|c| c.is_ascii_whitespace()) {
            text.pop();
        }
        Ok(Some((start, text)))
    }
}

/// Blank, whitespace-only and `#` comment lines are not part of any logical line.
fn is_skipped(line: &[u8]) -> bool {
    match line.iter().position(|c| !c.is_ascii_whitespace()) {
        None => true,
        Some(i) => line[i] == b'#',
    }
}

impl<R: Read> Iterator for LogicalLines<R> {
    type Item = Result<(usize, Vec<u8>), ConfigError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let r = self.next_logical();
        if !matches!(r, Ok(Some(_))) {
            self.done = true;
        }
        r.transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &[u8]) -> Result<MainCf, ConfigError> {
        MainCf::parse(Path::new("/x/main.cf"), text)
    }

    #[test]
    fn lines_comments_continuations() {
        let cf = parse(b"# c\n\nmyhostname = 1\n# inside\n  2\n\t3  \nmydomain\t=  b c  \r\nx=\n")
            .unwrap();
        let v: Vec<(&str, &str, usize)> = cf
            .entries
            .iter()
            .map(|e| (e.name.as_str(), e.value.as_str(), e.line))
            .collect();
        assert_eq!(
            v,
            [
                ("myhostname", "1  2\t3", 3),
                ("mydomain", "b c", 7),
                ("x", "", 8)
            ]
        );
        assert!(cf.warnings.is_empty());
    }

    #[test]
    fn hash_inside_value_is_value() {
        let cf = parse(b"smtpd_tls_security_level = may # could also be secure\n").unwrap();
        assert_eq!(cf.entries[0].value, "may # could also be secure");
        assert!(has_inline_comment(&cf.entries[0].value));
    }

    #[test]
    fn override_warns_like_postfix() {
        let cf = parse(b"myhostname = a\nmyhostname = b\n").unwrap();
        assert_eq!(cf.get("myhostname").unwrap().value, "b");
        assert_eq!(
            cf.warnings,
            ["/x/main.cf, line 2: overriding earlier entry: myhostname=a"]
        );
        assert_eq!(cf.effective().len(), 1);
    }

    #[test]
    fn leading_whitespace_warns() {
        let cf = parse(b" x = 1\n").unwrap();
        assert!(cf.entries.is_empty());
        assert_eq!(
            cf.warnings,
            ["/x/main.cf, line 1: logical line must not start with whitespace: \" x = 1\""]
        );
    }

    #[test]
    fn errors_name_file_and_line() {
        let e = parse(b"a = 1\nbadline\n").unwrap_err().to_string();
        assert_eq!(
            e,
            "/x/main.cf, line 2: missing '=' after attribute name: \"badline\""
        );
        let e = parse(b"= v\n").unwrap_err().to_string();
        assert_eq!(e, "/x/main.cf, line 1: missing attribute name: \"= v\"");
        let e = parse(b"a = 1\nmyhostname = \xff\n")
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("/x/main.cf, line 2: parameter myhostname:"),
            "{e}"
        );
    }

    #[test]
    fn long_line_is_one_error() {
        let mut big = b"x = ".to_vec();
        big.resize(MAX_LINE + 100, b'a');
        big.extend_from_slice(b"\ny = 1\n");
        let e = parse(&big).unwrap_err();
        assert!(matches!(e, ConfigError::LineTooLong { line: 1, .. }), "{e}");
        let mut cont = b"x = a\n".to_vec();
        for _ in 0..(MAX_LINE / 1000 + 2) {
            cont.extend_from_slice(&[b' '; 1]);
            cont.extend_from_slice(&[b'b'; 999]);
            cont.push(b'\n');
        }
        let e = parse(&cont).unwrap_err();
        assert!(matches!(e, ConfigError::LineTooLong { line: 1, .. }), "{e}");
    }
}
