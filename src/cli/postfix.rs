//! The `postfix` command: `start`, `start-fg`, `stop`, `abort`, `reload` and
//! `status` control the master (in `control`); `postfix check` reads main.cf and
//! master.cf and reports what Postern would do differently from what the files
//! ask, and files with the wrong permissions or owner (in `files`).
//!
//! Mirrors Postfix postfix(1) and postfix-script. Reads every parameter set in
//! main.cf, and `smtpd_tls_security_level`/`smtp_tls_security_level` with the
//! deprecated switches they replace.

mod control;
mod files;

use std::process::ExitCode;

use crate::config::{self, compat, maincf, params, Config, ConfigError, MasterCf};

const USAGE: &str = "usage: postfix [-c config_dir] [-Dv] command";

/// Subcommands Postfix has that Postern does not run yet.
const NOT_BUILT: &[&str] = &["flush", "set-permissions", "upgrade-configuration", "tls"];

/// Runs `postfix` with Postfix's options.
pub fn run(args: Vec<String>) -> ExitCode {
    let mut o = getopts::Options::new();
    o.optopt("c", "", "configuration directory", "DIR")
        .optflag("D", "", "debug (accepted, no effect)")
        .optflagmulti("v", "", "verbose")
        // Internal: the background master `postfix start` runs (master -w).
        .optflag("w", "", "");
    o.parsing_style(getopts::ParsingStyle::StopAtFirstFree);
    let m = match o.parse(&args[1..]) {
        Ok(m) => m,
        Err(e) => {
            crate::log::init("postfix", crate::log::Settings::command_line(false));
            crate::log::fatal(&format!("{e}; {USAGE}"));
            return ExitCode::from(1);
        }
    };
    crate::log::init(
        "postfix",
        crate::log::Settings::command_line(m.opt_present("v")),
    );
    config::defaults::set_process_name("postfix");
    let dir = config::config_dir(m.opt_str("c").as_deref());
    match m.free.first().map(String::as_str) {
        Some("check") => check(&dir),
        Some(cmd @ ("start" | "start-fg" | "stop" | "abort" | "reload" | "status")) => {
            control::run(
                cmd,
                control::Invocation {
                    dir,
                    verbose: m.opt_present("v"),
                    background: m.opt_present("w"),
                },
            )
        }
        Some(cmd) if NOT_BUILT.contains(&cmd) => {
            crate::log::fatal(&format!(
                "\"postfix {cmd}\" is not built yet in postern {}",
                env!("CARGO_PKG_VERSION")
            ));
            ExitCode::from(69)
        }
        Some(cmd) => {
            crate::log::fatal(&format!("unknown command: '{cmd}'. {USAGE}"));
            ExitCode::from(1)
        }
        None => {
            crate::log::fatal(&format!("missing command; {USAGE}"));
            ExitCode::from(1)
        }
    }
}

/// `postfix check`: warnings for what Postern ignores, errors (exit 1) for what
/// would stop it.
fn check(dir: &std::path::Path) -> ExitCode {
    crate::log::set_service("postfix-script");
    let cfg = match Config::load(dir) {
        Ok(c) => c,
        Err(e) => {
            crate::log::fatal(&e.to_string());
            return ExitCode::from(1);
        }
    };
    if let Err(e) = MasterCf::read(&dir.join("master.cf")) {
        crate::log::fatal(&e.to_string());
        return ExitCode::from(1);
    }
    for w in cfg.warnings() {
        ::log::warn!("{w}");
    }
    for u in cfg.unused() {
        ::log::warn!("{u}");
    }
    let mut errors = findings(&cfg);
    errors.extend(files::findings(&cfg));
    for (is_error, text) in &errors {
        if *is_error {
            ::log::error!("{text}");
        } else {
            ::log::warn!("{text}");
        }
    }
    if errors.iter().any(|(e, _)| *e) {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

/// Per-entry findings: `(true, text)` for values that would stop Postfix or
/// Postern, `(false, text)` for warnings.
pub fn findings(cfg: &Config) -> Vec<(bool, String)> {
    let mut out = Vec::new();
    let path = cfg.main_cf().path.display().to_string();
    for e in cfg.main_cf().effective() {
        let at = format!("{path}, line {}", e.line);
        let Some(p) = params::lookup(&e.name) else {
            continue;
        };
        if maincf::has_inline_comment(&e.value) {
            out.push((
                false,
                format!(
                    "{at}: {}: \"#\" does not start a comment inside a value; the value is \"{}\"",
                    e.name, e.value
                ),
            ));
        }
        match p.status {
            params::Status::Later => out.push((
                false,
                format!("{at}: {}: not implemented yet in Postern", e.name),
            )),
            params::Status::No => {
                out.push((false, format!("{at}: {}: has no effect in Postern", e.name)))
            }
            params::Status::Yes => {}
        }
        if let Err(err) = typed_check(cfg, p) {
            out.push((true, format!("{at}: {err}")));
        }
    }
    for (name, level, valid) in [
        (
            params::names::SMTPD_TLS_SECURITY_LEVEL,
            compat::smtpd_tls_security_level(cfg),
            &["none", "may", "encrypt"][..],
        ),
        (
            params::names::SMTP_TLS_SECURITY_LEVEL,
            compat::smtp_tls_security_level(cfg),
            &[
                "none",
                "may",
                "encrypt",
                "dane",
                "dane-only",
                "fingerprint",
                "verify",
                "secure",
            ][..],
        ),
    ] {
        match level {
            Ok(l) if !valid.contains(&l.as_str()) => {
                out.push((true, format!("{name}: invalid TLS security level: \"{l}\"")))
            }
            Ok(_) => {}
            Err(e) => out.push((true, e.to_string())),
        }
    }
    out
}

/// Reads a set parameter through its typed accessor.
fn typed_check(cfg: &Config, p: &params::Param) -> Result<(), String> {
    // A compatibility level is `major[.minor[.patch]]` (Postfix compat_level.c),
    // whatever type the table gives it.
    if p.name == params::names::COMPATIBILITY_LEVEL {
        let v = cfg.try_get(p.name).map_err(|e| e.to_string())?;
        return match config::expand::compat_level(&v) {
            Some(_) => Ok(()),
            None => Err(format!("bad compatibility level: {} = {v}", p.name)),
        };
    }
    let r: Result<(), ConfigError> = match p.kind {
        params::ParamType::Bool => cfg.get_bool(p.name).map(|_| ()),
        params::ParamType::Int => cfg.get_int(p.name).map(|_| ()),
        params::ParamType::Long => cfg.get_long(p.name).map(|_| ()),
        params::ParamType::Time => cfg.get_time(p.name).map(|_| ()),
        params::ParamType::Str => cfg.try_get(p.name).map(|_| ()),
    };
    r.map_err(|e| e.to_string())
}
