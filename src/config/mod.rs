//! main.cf and master.cf with Postfix semantics (STUB: being built).
//!
//! Public API promised to the rest of the crate:
//! - `config_dir(option: Option<&str>) -> PathBuf`: `-c DIR`, else `$MAIL_CONFIG`, else `/etc/postfix`.
//! - `Config::load(dir: &Path) -> Result<Config, ConfigError>`: reads `dir/main.cf`.
//! - `Config::get(&self, name: &str) -> String`: the expanded value (main.cf, else default).

use std::path::{Path, PathBuf};

/// Why the configuration could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("open {path}: {source}")]
    Open {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// The configuration directory: `-c DIR`, else `$MAIL_CONFIG`, else `/etc/postfix`.
pub fn config_dir(option: Option<&str>) -> PathBuf {
    if let Some(d) = option {
        return PathBuf::from(d);
    }
    match std::env::var_os("MAIL_CONFIG") {
        Some(d) if !d.is_empty() => PathBuf::from(d),
        _ => PathBuf::from("/etc/postfix"),
    }
}

/// An immutable snapshot of main.cf (STUB).
#[derive(Debug, Clone, Default)]
pub struct Config {
    dir: PathBuf,
}

impl Config {
    /// Reads `dir/main.cf` (STUB: reads nothing yet).
    pub fn load(dir: &Path) -> Result<Config, ConfigError> {
        Ok(Config {
            dir: dir.to_path_buf(),
        })
    }

    /// The expanded value of `name` (STUB: a few defaults).
    pub fn get(&self, name: &str) -> String {
        match name {
            "default_database_type" => "hash".into(),
            "alias_database" => "hash:/etc/aliases".into(),
            "config_directory" => self.dir.to_string_lossy().into_owned(),
            _ => String::new(),
        }
    }
}
