//! Finds and reads a recipient's `.forward` files (`forward_path`) and expands
//! `:include:` files recursively into destinations, with a loop guard.
//!
//! Mirrors Postfix local/dotforward.c (the `forward_path` search: the first
//! existing file wins), local/include.c (`:include:` files, absolute paths only) and
//! util/readlline.c (comment lines, continuation lines). Reads `forward_path` and
//! `forward_expansion_filter`.

use std::collections::HashSet;
use std::io;
use std::path::{Path, PathBuf};

use super::alias_value::{self, AliasValueError, Destination};
use super::expand::{self, ExpandAttrs, ExpandError};
use super::{Origin, Severity};

/// `.forward` parameters, named after their `main.cf` keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForwardSettings {
    /// `forward_path` (default
    /// `$home/.forward${recipient_delimiter}${extension}, $home/.forward`).
    pub forward_path: String,
    /// `forward_expansion_filter`: characters kept from attribute values.
    pub forward_expansion_filter: String,
}

impl Default for ForwardSettings {
    fn default() -> Self {
        ForwardSettings {
            forward_path: "$home/.forward${recipient_delimiter}${extension}, $home/.forward"
                .to_string(),
            forward_expansion_filter: expand::DEFAULT_FILTER.to_string(),
        }
    }
}

/// Nesting depth at which expansion is taken for a loop (Postfix local(8) gives up
/// at a comparable alias/include level).
pub const MAX_NESTING: usize = 100;

/// A destination together with the class it came from, for the
/// `allow_mail_to_commands`/`allow_mail_to_files` checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Routed {
    pub destination: Destination,
    pub origin: Origin,
}

/// Why a `.forward` or `:include:` file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ForwardError {
    #[error("cannot open file {path}: {source}")]
    Read { path: PathBuf, source: io::Error },
    #[error("cannot open include file {path}: {source}")]
    Include { path: PathBuf, source: io::Error },
    #[error("{path} is not a regular file")]
    NotRegular { path: PathBuf },
    #[error(":include: file name is not absolute: {path}")]
    NotAbsolute { path: PathBuf },
    #[error("mail forwarding loop: {path} includes itself")]
    Loop { path: PathBuf },
    #[error("mail forwarding loop: :include: nesting deeper than {MAX_NESTING} at {path}")]
    TooDeep { path: PathBuf },
    #[error("{path}: {source}")]
    Syntax {
        path: PathBuf,
        source: AliasValueError,
    },
    #[error(transparent)]
    Expand(#[from] ExpandError),
}

impl ForwardError {
    /// RFC 3463 code: loops 5.4.6; a missing or unreadable include file bounces
    /// (5.3.0), other read errors defer; configuration errors defer (4.3.5).
    pub fn dsn(&self) -> &'static str {
        match self {
            ForwardError::Read { .. } => "4.3.0",
            ForwardError::Include { source, .. } => match source.kind() {
                io::ErrorKind::NotFound | io::ErrorKind::PermissionDenied => "5.3.0",
                _ => "4.3.0",
            },
            ForwardError::NotRegular { .. } | ForwardError::NotAbsolute { .. } => "5.3.0",
            ForwardError::Loop { .. } | ForwardError::TooDeep { .. } => "5.4.6",
            ForwardError::Syntax { .. } => "5.3.0",
            ForwardError::Expand(_) => "4.3.5",
        }
    }

    /// Defer or bounce.
    pub fn severity(&self) -> Severity {
        Severity::of_dsn(self.dsn())
    }
}

/// The `.forward` candidates for a recipient, in `forward_path` order; entries that
/// reference an undefined attribute (no extension, say) are left out.
pub fn forward_paths(
    settings: &ForwardSettings,
    attrs: &ExpandAttrs,
) -> Result<Vec<PathBuf>, ExpandError> {
    let mut paths = Vec::new();
    for template in settings
        .forward_path
        .split([',', ' ', '\t', '\r', '\n'])
        .filter(|t| !t.is_empty())
    {
        if let Some(path) = expand::expand(template, attrs, &settings.forward_expansion_filter)? {
            if !path.is_empty() {
                paths.push(PathBuf::from(path));
            }
        }
    }
    Ok(paths)
}

/// Reads the first existing file of `paths` (dotforward.c stops at the first one it
/// can open). `Ok(None)` when none exists.
pub fn read_first_forward(
    paths: &[PathBuf],
) -> Result<Option<(PathBuf, Vec<Destination>)>, ForwardError> {
    for path in paths {
        if let Some(dests) = read_forward(path)? {
            return Ok(Some((path.clone(), dests)));
        }
    }
    Ok(None)
}

/// Reads one `.forward` file. `Ok(None)` when it does not exist.
pub fn read_forward(path: &Path) -> Result<Option<Vec<Destination>>, ForwardError> {
    match std::fs::symlink_metadata(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(ForwardError::Read {
                path: path.to_path_buf(),
                source,
            })
        }
        Ok(meta) if !meta.file_type().is_file() && !meta.file_type().is_symlink() => {
            return Err(ForwardError::NotRegular {
                path: path.to_path_buf(),
            })
        }
        Ok(_) => {}
    }
    let text = match std::fs::read(path) {
        Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(ForwardError::Read {
                path: path.to_path_buf(),
                source,
            })
        }
    };
    parse_file(path, &text).map(Some)
}

/// Parses the text of a `.forward` or `:include:` file.
pub fn parse_file(path: &Path, text: &str) -> Result<Vec<Destination>, ForwardError> {
    let mut dests = Vec::new();
    for line in logical_lines(text) {
        let parsed = alias_value::parse_value(&line).map_err(|source| ForwardError::Syntax {
            path: path.to_path_buf(),
            source,
        })?;
        dests.extend(parsed);
    }
    Ok(dests)
}

/// readllines(): drops empty and `#` comment lines and joins a line that starts
/// with white space to the one before.
pub fn logical_lines(text: &str) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    let mut continuable = false;
    for raw in text.lines() {
        let trimmed = raw.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let continues = raw.starts_with([' ', '\t']);
        match lines.last_mut() {
            Some(last) if continues && continuable => {
                last.push(' ');
                last.push_str(trimmed);
            }
            _ => lines.push(trimmed.to_string()),
        }
        continuable = true;
    }
    lines
}

/// Replaces every `:include:` destination by the destinations in that file,
/// recursively. Everything read from an include file has origin
/// [`Origin::Include`]; the rest keeps `origin`. A file that includes itself
/// (directly or not) is a loop; a file included twice side by side is read once
/// (Postfix's duplicate filter).
pub fn expand_includes(
    dests: Vec<Destination>,
    origin: Origin,
) -> Result<Vec<Routed>, ForwardError> {
    let mut out = Vec::new();
    let mut chain = Vec::new();
    let mut seen = HashSet::new();
    expand_level(dests, origin, &mut chain, &mut seen, &mut out)?;
    Ok(out)
}

fn expand_level(
    dests: Vec<Destination>,
    origin: Origin,
    chain: &mut Vec<PathBuf>,
    seen: &mut HashSet<PathBuf>,
    out: &mut Vec<Routed>,
) -> Result<(), ForwardError> {
    for destination in dests {
        let path = match destination {
            Destination::Include(path) => path,
            other => {
                out.push(Routed {
                    destination: other,
                    origin,
                });
                continue;
            }
        };
        if !path.is_absolute() {
            return Err(ForwardError::NotAbsolute { path });
        }
        let include_err = |source: io::Error| ForwardError::Include {
            path: path.clone(),
            source,
        };
        let canonical = std::fs::canonicalize(&path).map_err(include_err)?;
        if chain.contains(&canonical) {
            return Err(ForwardError::Loop { path });
        }
        if chain.len() >= MAX_NESTING {
            return Err(ForwardError::TooDeep { path });
        }
        if !seen.insert(canonical.clone()) {
            continue;
        }
        let meta = std::fs::metadata(&canonical).map_err(include_err)?;
        if !meta.is_file() {
            return Err(ForwardError::NotRegular { path });
        }
        let bytes = std::fs::read(&canonical).map_err(include_err)?;
        let inner = parse_file(&path, &String::from_utf8_lossy(&bytes))?;
        chain.push(canonical);
        let result = expand_level(inner, Origin::Include, chain, seen, out);
        chain.pop();
        result?;
    }
    Ok(())
}
