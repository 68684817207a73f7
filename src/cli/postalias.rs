//! The `postalias` and `newaliases` commands: build, query and change alias tables.
//!
//! Mirrors Postfix `postalias/postalias.c`, postalias(1) and newaliases(1)
//! (`sendmail -bi`). Options, messages and exit statuses are postmap's (shared in
//! `postmap.rs`); the source is aliases(5) syntax (`maps::alias`), output is
//! `key:\tvalue`, and every table written gets the entries Postfix adds: `@` =
//! `@` (Sendmail's "the table is complete" marker), `YP_LAST_MODIFIED` (build
//! time) and `YP_MASTER_NAME` (`myhostname`), unfolded.
//!
//! main.cf parameters read: `default_database_type`, `alias_database`
//! (newaliases), `myhostname`, `smtputf8_enable`.

use std::path::Path;
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use super::postmap::{finish, full_spec, load_config, read_stdin, run_tool, Fatal, Options, Tool};
use crate::config::Config;
use crate::maps::{self, alias, indexed::IndexedMap, source, MapError};

/// The entries Postfix's postalias adds to every table it writes.
fn special_entries(cfg: &Config) -> Vec<(&'static str, String)> {
    let mut host = cfg.get("myhostname");
    if host.is_empty() {
        // Postfix's default: the system name, made fully qualified.
        host = nix::unistd::gethostname()
            .ok()
            .and_then(|h| h.into_string().ok())
            .unwrap_or_else(|| "localhost".into());
        if !host.contains('.') {
            host.push_str(".localdomain");
        }
    }
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    vec![
        ("@", "@".to_string()),
        ("YP_LAST_MODIFIED", now.to_string()),
        ("YP_MASTER_NAME", host),
    ]
}

/// Builds (or with `-i` extends) one alias table.
fn build(spec: &str, o: &Options, cfg: &Config, stdin: &mut Option<Vec<u8>>) -> Result<(), Fatal> {
    let (kind, name) = maps::split_spec(spec).unwrap_or(("", spec));
    if o.incremental {
        // Only indexed types take changes; others get Postfix's bulk-mode text.
        drop(maps::create(spec, o.flags())?);
        if stdin.is_none() {
            *stdin = Some(read_stdin()?);
        }
        let bytes = stdin.as_deref().unwrap_or_default();
        let mut map = IndexedMap::open_update(kind, name, o.flags())?;
        alias::for_each_alias(bytes, Path::new("stdin"), |_, k, v| {
            maps::Map::insert(&mut map, k, v)?;
            Ok(())
        })?;
        for (k, v) in special_entries(cfg) {
            map.put_raw(k, &v)?;
        }
        maps::Map::commit(&mut map)?;
        return Ok(());
    }
    let mut builder = maps::create(spec, o.flags())?;
    let path = Path::new(name);
    builder.inherit_from(path, o.keep_root);
    let bytes = source::read_file(path)?;
    alias::for_each_alias(&bytes, path, |line, k, v| {
        builder.add(k, v, line);
        Ok::<(), MapError>(())
    })?;
    for (k, v) in special_entries(cfg) {
        builder.add_raw(k, &v);
    }
    builder.finish()?;
    Ok(())
}

/// Runs `postalias` with Postfix's options.
pub fn run(args: Vec<String>) -> ExitCode {
    crate::log::init("postalias", crate::log::Settings::command_line(false));
    finish(main(&args))
}

fn main(args: &[String]) -> Result<bool, Fatal> {
    run_tool(Tool::Postalias, args, build)
}

/// The tables named in `alias_database` (comma or space separated).
fn alias_tables(value: &str, default_type: &str) -> Vec<String> {
    value
        .split(|c: char| c == ',' || c.is_ascii_whitespace())
        .filter(|s| !s.is_empty())
        .map(|s| full_spec(s, default_type))
        .collect()
}

/// Runs `newaliases`: `postalias` on every table in `$alias_database`. Accepts
/// sendmail's `-C config` (a main.cf file or its directory) and `-v`; other
/// sendmail options are ignored, as Postfix's sendmail ignores them for `-bi`.
pub fn run_newaliases(args: Vec<String>) -> ExitCode {
    let verbose = args.iter().skip(1).any(|a| a == "-v");
    crate::log::init("newaliases", crate::log::Settings::command_line(verbose));
    let mut o = Options {
        fold: true,
        verbose,
        ..Options::default()
    };
    let mut it = args.iter().skip(1);
    while let Some(a) = it.next() {
        let conf = if a == "-C" {
            it.next().cloned()
        } else {
            a.strip_prefix("-C").map(String::from)
        };
        if let Some(c) = conf.filter(|c| !c.is_empty()) {
            let p = Path::new(&c);
            let dir = if p.is_dir() {
                p
            } else {
                p.parent().unwrap_or(Path::new("."))
            };
            o.config_dir = Some(dir.to_string_lossy().into_owned());
        }
    }
    finish((|| {
        let cfg = load_config(&mut o, Tool::Postalias)?;
        let default_type = cfg.get("default_database_type");
        let mut stdin = None;
        for spec in alias_tables(&cfg.get("alias_database"), &default_type) {
            build(&spec, &o, &cfg, &mut stdin)?;
        }
        Ok(true)
    })())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alias_database_list() {
        assert_eq!(
            alias_tables("hash:/etc/aliases, btree:/etc/more /etc/third", "hash"),
            vec!["hash:/etc/aliases", "btree:/etc/more", "hash:/etc/third"]
        );
    }
}
