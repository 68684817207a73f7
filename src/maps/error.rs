//! Why a table could not be opened, built, read or changed.
//!
//! Mirrors the texts of Postfix's dict(3) and postmap(1) errors, so an
//! administrator sees what Postfix would have said; every variant names the table
//! and, where there is one, the file and line.

use std::path::PathBuf;

/// A lookup-table failure, naming the table, file and line at fault.
#[derive(Debug, thiserror::Error)]
pub enum MapError {
    /// A type Postern does not implement (Postfix's own text).
    #[error("unsupported dictionary type: {kind}")]
    UnsupportedType { kind: String },

    /// A known type with an unknown table name (Postfix's own text).
    #[error("unknown table: {table}")]
    UnknownTable { table: String },

    /// `name` without `type:` where a type is required.
    #[error("table \"{spec}\" has no type: expected type:name")]
    NoType { spec: String },

    /// A type that postmap cannot build (Postfix's own text).
    #[error("unsupported dictionary type: {kind} does not support bulk-mode creation.")]
    NoBulkCreate { kind: String },

    /// An operation the type does not have (e.g. `-s` on `regexp:`).
    #[error("table {table}: {operation} operation is not supported")]
    Unsupported {
        table: String,
        operation: &'static str,
    },

    /// `insert`/`delete` on a read-only type (Postfix's own text).
    #[error("{table} map requires O_RDONLY access mode")]
    ReadOnly { table: String },

    /// The source or database file cannot be opened or read.
    #[error("open {what}{}: {}", path.display(), os_text(source))]
    Open {
        what: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },

    /// A bad line in a table source. `place` is the file as Postfix names it in
    /// messages (`regexp map /etc/postfix/header_checks` or just the path).
    #[error("{place}, line {line}: {reason}")]
    Syntax {
        place: String,
        file: PathBuf,
        line: usize,
        reason: String,
    },

    /// A bad `inline:{...}` or `static:{...}` specification.
    #[error("{reason}: \"{spec}\"; need \"{need}\"")]
    Inline {
        spec: String,
        reason: String,
        need: &'static str,
    },

    /// A Berkeley DB or LMDB file written by real Postfix.
    #[error(
        "{table}: {} was built by Postfix ({format}), which Postern does not read; \
         run \"postmap {table}\" (\"postalias {table}\" for an alias table) to rebuild it for Postern",
        path.display()
    )]
    BuiltByPostfix {
        table: String,
        path: PathBuf,
        format: &'static str,
    },

    /// A file that is neither a Postern table nor a known Postfix format.
    #[error("{table}: {} is not a Postern lookup table", path.display())]
    NotATable { table: String, path: PathBuf },

    /// SQLite failed on an indexed table.
    #[error("{table}: database {}: {source}", path.display())]
    Database {
        table: String,
        path: PathBuf,
        source: rusqlite::Error,
    },

    /// Writing or replacing the table file failed.
    #[error("{table}: write {}: {}", path.display(), os_text(source))]
    Write {
        table: String,
        path: PathBuf,
        source: std::io::Error,
    },

    /// A regular expression failed while matching (PCRE resource limits).
    #[error("{table}: match of key \"{key}\" failed: {reason}")]
    Match {
        table: String,
        key: String,
        reason: String,
    },
}

/// An I/O error as C's strerror(3) prints it, as in Postfix's messages
/// ("No such file or directory", without Rust's " (os error 2)").
pub(crate) fn os_text(e: &std::io::Error) -> String {
    let text = e.to_string();
    match text.rfind(" (os error ") {
        Some(i) if text.ends_with(')') => text[..i].to_string(),
        _ => text,
    }
}
