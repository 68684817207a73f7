//! Finds and reads a recipient's `.forward` files (`forward_path`) and expands
//! `:include:` files recursively into destinations, with a loop guard.
//!
//! Mirrors Postfix local/dotforward.c (the `forward_path` search: the first
//! existing file wins; unsafe files are ignored with a warning), local/include.c
//! (`:include:` files: absolute, regular, not world-writable, nesting limit,
//! each file expanded once) and local/token.c (one line at a time, `#` lines
//! skipped). Reads `forward_path` and
//! `forward_expansion_filter`.

use std::collections::HashSet;
use std::io;
use std::os::unix::fs::MetadataExt;
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

/// Nesting deeper than this bounces (include.c: "nesting limit exceeded").
pub const MAX_NESTING: usize = 100;

/// A destination together with the class it came from, for the
/// `allow_mail_to_commands`/`allow_mail_to_files` checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Routed {
    pub destination: Destination,
    pub origin: Origin,
    /// Owner of the `:include:` file that listed it. include.c runs commands and
    /// file deliveries from a root-owned alias with this user's rights.
    pub include_owner: Option<u32>,
}

/// What the `forward_path` search found (dotforward.c).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ForwardFile {
    /// No candidate exists: deliver to the mailbox.
    Absent,
    /// The first existing candidate may not be used (not a regular file, owned by
    /// someone else, world-writable, unreadable, or listing nothing). Postfix logs
    /// a warning and delivers to the mailbox.
    Ignored { path: PathBuf, reason: String },
    /// Forward to these destinations.
    Found {
        path: PathBuf,
        destinations: Vec<Destination>,
    },
}

/// Why a `.forward` or `:include:` file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ForwardError {
    #[error("cannot open include file {path}: {source}")]
    Include { path: PathBuf, source: io::Error },
    #[error(":include: file {path} is not a regular file")]
    NotRegular { path: PathBuf },
    #[error(":include: file {path} is world writable")]
    WorldWritable { path: PathBuf },
    #[error(":include:{path} uses a relative path")]
    NotAbsolute { path: PathBuf },
    #[error(":include: nesting limit exceeded for {path}")]
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
    /// RFC 3463 code. include.c bounces every unusable include file as a "mail
    /// system configuration error" (5.3.5) and too deep nesting as 5.4.6. A file
    /// that cannot be parsed is deferred (4.3.5) so that its owner can repair it
    /// without mail being returned; a bad `forward_path` defers as well.
    pub fn dsn(&self) -> &'static str {
        match self {
            ForwardError::Include { .. }
            | ForwardError::NotRegular { .. }
            | ForwardError::WorldWritable { .. }
            | ForwardError::NotAbsolute { .. } => "5.3.5",
            ForwardError::TooDeep { .. } => "5.4.6",
            ForwardError::Syntax { .. } | ForwardError::Expand(_) => "4.3.5",
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

/// Searches `paths` for the recipient's forward file as dotforward.c does: the
/// first name that exists (lstat) is the one, and it is used only when it is a
/// regular file (not a symlink) owned by `uid` or root, not world-writable, and
/// readable.
pub fn find_forward(paths: &[PathBuf], uid: u32) -> Result<ForwardFile, ForwardError> {
    let Some((path, meta)) = paths
        .iter()
        .find_map(|p| std::fs::symlink_metadata(p).ok().map(|m| (p.clone(), m)))
    else {
        return Ok(ForwardFile::Absent);
    };
    let ignore = |reason: String| {
        log::warn!("{reason}");
        Ok(ForwardFile::Ignored {
            path: path.clone(),
            reason,
        })
    };
    if !meta.file_type().is_file() {
        return ignore(format!("file {} is not a regular file", path.display()));
    }
    if meta.uid() != 0 && meta.uid() != uid {
        return ignore(format!(
            "file {} has bad owner uid {}",
            path.display(),
            meta.uid()
        ));
    }
    if meta.mode() & 0o002 != 0 {
        return ignore(format!("file {} is world writable", path.display()));
    }
    let text = match std::fs::read(&path) {
        Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        Err(e) => return ignore(format!("cannot open file {}: {e}", path.display())),
    };
    let destinations = parse_file(&path, &text)?;
    if destinations.is_empty() {
        // dotforward.c: a file without addresses does not count as forwarding.
        return Ok(ForwardFile::Ignored {
            path,
            reason: "no destinations".to_string(),
        });
    }
    Ok(ForwardFile::Found { path, destinations })
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

/// The lines of a `.forward` or `:include:` file that carry destinations:
/// deliver_token_stream() reads one line at a time and skips those that begin
/// with `#`; there are no continuation lines.
pub fn logical_lines(text: &str) -> Vec<String> {
    text.lines()
        .filter(|line| !line.starts_with('#') && !line.trim().is_empty())
        .map(|line| line.trim().to_string())
        .collect()
}

/// Replaces every `:include:` destination by the destinations in that file,
/// recursively. Everything read from an include file has origin
/// [`Origin::Include`] and carries the file's owner; the rest keeps `origin`. As
/// Postfix's duplicate filter does, a file already expanded once (a second
/// mention, or one that includes itself) is skipped, which ends include loops.
pub fn expand_includes(
    dests: Vec<Destination>,
    origin: Origin,
) -> Result<Vec<Routed>, ForwardError> {
    let mut out = Vec::new();
    let mut seen = HashSet::new();
    expand_level(dests, origin, None, 0, &mut seen, &mut out)?;
    Ok(out)
}

fn expand_level(
    dests: Vec<Destination>,
    origin: Origin,
    include_owner: Option<u32>,
    depth: usize,
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
                    include_owner,
                });
                continue;
            }
        };
        if depth >= MAX_NESTING {
            log::warn!(":include: nesting limit exceeded for {}", path.display());
            return Err(ForwardError::TooDeep { path });
        }
        if !path.is_absolute() {
            return Err(ForwardError::NotAbsolute { path });
        }
        let include_err = |source: io::Error| ForwardError::Include {
            path: path.clone(),
            source,
        };
        // Symlinked include files are allowed (include.c uses stat, not lstat).
        let canonical = std::fs::canonicalize(&path).map_err(include_err)?;
        if !seen.insert(canonical.clone()) {
            continue;
        }
        let meta = std::fs::metadata(&canonical).map_err(include_err)?;
        if !meta.is_file() {
            return Err(ForwardError::NotRegular { path });
        }
        if meta.mode() & 0o002 != 0 {
            return Err(ForwardError::WorldWritable { path });
        }
        let bytes = std::fs::read(&canonical).map_err(include_err)?;
        let inner = parse_file(&path, &String::from_utf8_lossy(&bytes))?;
        expand_level(
            inner,
            Origin::Include,
            Some(meta.uid()),
            depth + 1,
            seen,
            out,
        )?;
    }
    Ok(())
}
