//! main.cf and master.cf with Postfix semantics: raw entries with file:line, then
//! an immutable typed `Config` shared as `Arc<Config>`.
//!
//! Mirrors Postfix mail_conf.c, mail_conf_{bool,int,long,time}.c and
//! postconf_unused.c. Reads every main.cf parameter through the table in
//! `params`; `config_directory` from `-c`/`MAIL_CONFIG`.
//!
//! Public API (load once, wrap in `Arc`, hand clones to threads; reload = load anew):
//! - `config_dir(option: Option<&str>) -> PathBuf`: `-c DIR`, else `$MAIL_CONFIG`, else `/etc/postfix`.
//! - `Config::load(dir: &Path) -> Result<Config, ConfigError>`: reads `dir/main.cf` (required)
//!   and `dir/master.cf` (optional); every main.cf value is syntax- and recursion-checked here.
//! - `Config::get(&self, name) -> String`: expanded value (override, main.cf, else default;
//!   empty for an unknown name; `params::RAW` parameters come back unexpanded).
//! - `Config::try_get(&self, name) -> Result<String, ConfigError>`: the same, with the error.
//! - `Config::raw(&self, name) -> Option<&str>`: the main.cf value, unexpanded.
//! - `get_bool(name) -> Result<bool, _>`, `get_int -> i32`, `get_long -> i64`,
//!   `get_time -> Duration` (unit of the default when none is given), `get_list -> Vec<String>`.
//! - `warnings() -> &[String]` (log them with `log::warn!`), `unused() -> Vec<Unused>`.
//! - `Config::with_overrides(&self, &[(String, String)]) -> Result<Config, _>`: master.cf `-o`.
//! - `master_cf() -> Option<&MasterCf>`: services with their `-o` options (`Service::options`).
//! - `compat::{smtpd_tls_security_level, smtp_tls_security_level}(&Config) -> Result<String, _>`:
//!   the effective TLS level with the deprecated `*_use_tls`/`*_enforce_tls` switches mapped.
//! - `params::{lookup, all, names::*}`: the parameter table.

// The typed accessors and master.cf API serve daemons merged from other branches;
// until they land, parts of the API have no caller in this binary.
#![allow(dead_code)]

pub mod compat;
pub mod defaults;
pub mod edit;
pub mod expand;
pub mod maincf;
pub mod manpage;
pub mod master;
pub mod params;
mod typed;
pub mod unused;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

pub use expand::ExpandError;
pub use maincf::MainCf;
pub use master::MasterCf;
pub use unused::Unused;

/// Why the configuration could not be read or a value could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("open {path}: {}", io_text(.source))]
    Open {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("read {path}: {}", io_text(.source))]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}, line {line}: missing '=' after attribute name: \"{text}\"")]
    MissingEquals {
        path: PathBuf,
        line: usize,
        text: String,
    },
    #[error("{path}, line {line}: missing attribute name: \"{text}\"")]
    MissingName {
        path: PathBuf,
        line: usize,
        text: String,
    },
    #[error("{path}, line {line}: parameter {name}: text is not valid UTF-8")]
    NotUtf8 {
        path: PathBuf,
        line: usize,
        name: String,
    },
    #[error("{path}, line {line}: logical line is longer than {limit} bytes")]
    LineTooLong {
        path: PathBuf,
        line: usize,
        limit: usize,
    },
    #[error("{path}, line {line}: parameter {name}: {source}")]
    Expand {
        path: PathBuf,
        line: usize,
        name: String,
        source: ExpandError,
    },
    #[error("parameter {name}: {source}")]
    ExpandValue { name: String, source: ExpandError },
    #[error("file {path}: line {line}: {reason}")]
    Master {
        path: PathBuf,
        line: usize,
        reason: String,
    },
    #[error("bad boolean configuration: {name} = {value}")]
    BadBool { name: String, value: String },
    #[error("bad numerical configuration: {name} = {value}")]
    BadNumber { name: String, value: String },
    #[error("parameter {name}: bad time value or unit: {value}")]
    BadTime { name: String, value: String },
}

thread_local! {
    /// Set while the `mydomain` default is being worked out from `myhostname`.
    static COMPUTING_MYDOMAIN: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// An I/O error as C's strerror() words it (no "(os error N)"), as Postfix prints it.
pub fn io_text(e: &std::io::Error) -> String {
    match e.raw_os_error() {
        Some(code) => nix::errno::Errno::from_raw(code).desc().to_string(),
        None => e.to_string(),
    }
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

/// Was the directory chosen explicitly (`-c` or `MAIL_CONFIG`)? Postfix then
/// counts `config_directory` as set (`postconf -n` shows it).
pub fn config_dir_is_explicit(option: Option<&str>) -> bool {
    option.is_some() || std::env::var_os("MAIL_CONFIG").is_some_and(|d| !d.is_empty())
}

/// An immutable snapshot of main.cf (and master.cf's service list).
#[derive(Debug, Clone)]
pub struct Config {
    dir: PathBuf,
    main: MainCf,
    master: Option<MasterCf>,
    /// Effective main.cf values.
    values: BTreeMap<String, String>,
    /// master.cf `-o` (or command-line) overrides, above main.cf.
    overrides: BTreeMap<String, String>,
    warnings: Vec<String>,
    mynetworks: OnceLock<String>,
}

impl Config {
    /// Reads `dir/main.cf` (which must exist) and `dir/master.cf` (optional). Every
    /// main.cf value is checked for macro syntax and recursion here, so later
    /// look-ups cannot fail on them.
    pub fn load(dir: &Path) -> Result<Config, ConfigError> {
        ::log::debug!("reading {}", dir.join("main.cf").display());
        let main = MainCf::read(&dir.join("main.cf"))?;
        let master_path = dir.join("master.cf");
        let mut warnings = main.warnings.clone();
        let master = match MasterCf::read(&master_path) {
            Ok(m) => {
                warnings.extend(m.warnings.iter().cloned());
                Some(m)
            }
            Err(ConfigError::Open { path, source }) => {
                warnings.push(format!("open {}: {}", path.display(), io_text(&source)));
                None
            }
            Err(e) => return Err(e),
        };
        let cfg = Config::from_parts(dir, main, master, warnings);
        cfg.validate()?;
        Ok(cfg)
    }

    /// Builds a Config from an already parsed main.cf (no master.cf).
    pub fn from_main(dir: &Path, main: MainCf) -> Result<Config, ConfigError> {
        let warnings = main.warnings.clone();
        let cfg = Config::from_parts(dir, main, None, warnings);
        cfg.validate()?;
        Ok(cfg)
    }

    fn from_parts(
        dir: &Path,
        main: MainCf,
        master: Option<MasterCf>,
        warnings: Vec<String>,
    ) -> Config {
        let values = main
            .effective()
            .into_iter()
            .map(|e| (e.name.clone(), e.value.clone()))
            .collect();
        let mut cfg = Config {
            dir: dir.to_path_buf(),
            main,
            master,
            values,
            overrides: BTreeMap::new(),
            warnings,
            mynetworks: OnceLock::new(),
        };
        let more = unused::load_warnings(&cfg);
        cfg.warnings.extend(more);
        cfg
    }

    fn validate(&self) -> Result<(), ConfigError> {
        for e in self.main.effective() {
            if params::is_raw(&e.name) {
                continue;
            }
            expand::expand_named(&e.name, &e.value, &|n| self.raw_value(n)).map_err(|source| {
                ConfigError::Expand {
                    path: self.main.path.clone(),
                    line: e.line,
                    name: e.name.clone(),
                    source,
                }
            })?;
        }
        Ok(())
    }

    /// A new snapshot with master.cf `-o name=value` overrides applied on top.
    pub fn with_overrides(&self, options: &[(String, String)]) -> Result<Config, ConfigError> {
        let mut cfg = self.clone();
        for (n, v) in options {
            cfg.overrides.insert(n.clone(), v.clone());
        }
        cfg.mynetworks = OnceLock::new();
        for (n, v) in options {
            expand::expand_named(n, v, &|x| cfg.raw_value(x)).map_err(|source| {
                ConfigError::ExpandValue {
                    name: n.clone(),
                    source,
                }
            })?;
        }
        Ok(cfg)
    }

    /// The configuration directory this snapshot was read from.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The parsed main.cf.
    pub fn main_cf(&self) -> &MainCf {
        &self.main
    }

    /// The parsed master.cf, when it exists.
    pub fn master_cf(&self) -> Option<&MasterCf> {
        self.master.as_ref()
    }

    /// The main.cf value of `name`, unexpanded; `None` when main.cf does not set it.
    pub fn raw(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str)
    }

    /// The unexpanded value in effect: override, else main.cf, else the default.
    pub fn raw_value(&self, name: &str) -> Option<String> {
        if let Some(v) = self.overrides.get(name).or_else(|| self.values.get(name)) {
            return Some(v.clone());
        }
        if name == params::names::CONFIG_DIRECTORY {
            return Some(self.dir.to_string_lossy().into_owned());
        }
        self.default_value(name)
    }

    /// The default of `name` as `postconf -d` prints it (computed tokens resolved).
    /// A per-transport name outside the table (`foo_recipient_limit`) defaults to
    /// the global parameter it overrides.
    pub fn default_value(&self, name: &str) -> Option<String> {
        let Some(p) = params::lookup(name) else {
            return unused::per_transport_default(name);
        };
        if !p.default.starts_with('@') {
            return Some(p.default.to_string());
        }
        if p.default == "@mynetworks" {
            return Some(
                self.mynetworks
                    .get_or_init(|| {
                        let style = self.get(params::names::MYNETWORKS_STYLE);
                        let protocols = self.get(params::names::INET_PROTOCOLS);
                        defaults::mynetworks(&style, &protocols)
                    })
                    .clone(),
            );
        }
        if p.default == "@mydomain" {
            // `myhostname = mx.$mydomain` with mydomain unset: Postfix expands the
            // inner $mydomain as empty (giving "mx." and an empty mydomain) rather
            // than failing; the guard does the same.
            if COMPUTING_MYDOMAIN.with(|c| c.replace(true)) {
                return None;
            }
            let host = self.get(params::names::MYHOSTNAME);
            COMPUTING_MYDOMAIN.with(|c| c.set(false));
            return Some(defaults::mydomain_of(&host));
        }
        defaults::computed(p.default, "", "").or_else(|| Some(p.default.to_string()))
    }

    /// Expands `text` against this configuration.
    pub fn expand_text(&self, text: &str) -> Result<String, ExpandError> {
        expand::expand(text, &|n| self.raw_value(n))
    }

    /// The expanded value of `name`, or an error naming the parameter.
    /// Raw parameters (`params::RAW`) come back unexpanded, as Postfix leaves them.
    pub fn try_get(&self, name: &str) -> Result<String, ConfigError> {
        let Some(raw) = self.raw_value(name) else {
            return Ok(String::new());
        };
        if params::is_raw(name) {
            return Ok(raw);
        }
        expand::expand_named(name, &raw, &|n| self.raw_value(n)).map_err(|source| {
            ConfigError::ExpandValue {
                name: name.to_string(),
                source,
            }
        })
    }

    /// The expanded value of `name` (empty for an unknown name, as in Postfix).
    /// main.cf values were checked at load; a broken default or override is logged
    /// and its raw text returned.
    pub fn get(&self, name: &str) -> String {
        match self.try_get(name) {
            Ok(v) => v,
            Err(e) => {
                ::log::warn!("{e}");
                self.raw_value(name).unwrap_or_default()
            }
        }
    }

    /// Warnings met while reading (overridden entries, misplaced whitespace, no master.cf).
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// Parameters set in main.cf or master.cf `-o` that Postfix would not use.
    pub fn unused(&self) -> Vec<Unused> {
        unused::find(self)
    }
}

#[cfg(test)]
mod tests;
