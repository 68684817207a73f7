//! The `postconf` command: show main.cf parameters (all, `-n` set ones, `-d`
//! defaults, named ones), expand them (`-x`), edit main.cf (`-e`, `-X`, `-#`),
//! show master.cf (`-M`, `-F`, `-P`); Postern adds `--doc` and `--man`.
//!
//! Mirrors Postfix postconf(1) (postconf.c, postconf_main.c, postconf_master.c,
//! postconf_edit.c). Reads every parameter; `config_directory` via `-c`/`MAIL_CONFIG`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::config::edit::{self, Edit};
use crate::config::{self, defaults, manpage, params, Config, MainCf, MasterCf};

const USAGE: &str = "usage: postconf [-c config_dir] [-dhHnvx] [-o name=value] [name...]\n\
       postconf [-c config_dir] -e name=value... | -X name... | -# name...\n\
       postconf [-c config_dir] -M|-F|-P [-h] [service[/type]...]\n\
       postconf --doc [name...] | --man";

/// What a fatal error leaves behind: the text for `postconf: fatal:`.
struct Fatal(String);

impl<E: std::fmt::Display> From<E> for Fatal {
    fn from(e: E) -> Self {
        Fatal(e.to_string())
    }
}

/// The command-line switches that shape output.
struct Flags {
    defaults: bool,
    values_only: bool,
    names_only: bool,
    set_only: bool,
    expand: bool,
    overrides: Vec<(String, String)>,
    explicit_dir: bool,
}

/// Runs `postconf` with Postfix's options.
pub fn run(args: Vec<String>) -> ExitCode {
    let mut o = getopts::Options::new();
    o.optopt("c", "", "configuration directory", "DIR")
        .optflag("d", "", "show defaults")
        .optflag("e", "", "edit main.cf: name=value ...")
        .optflag("f", "", "fold long lines (accepted, no effect)")
        .optflag("F", "", "show master.cf fields")
        .optflag("h", "", "show values only")
        .optflag("H", "", "show names only")
        .optflag("M", "", "show master.cf entries")
        .optflag("n", "", "show parameters set in main.cf")
        .optmulti("o", "", "override a parameter", "NAME=VALUE")
        .optflag("P", "", "show master.cf -o parameters")
        .optflagmulti("v", "", "verbose")
        .optflag("x", "", "expand values")
        .optflag("X", "", "remove parameters from main.cf")
        .optflag("#", "", "comment out parameters in main.cf")
        .optflag("", "doc", "show parameter documentation")
        .optflag("", "man", "print postconf(5) in roff");
    // Options end at the first name, as in Postfix (`postconf name -h` asks for
    // a parameter called "-h").
    o.parsing_style(getopts::ParsingStyle::StopAtFirstFree);
    let m = match o.parse(&args[1..]) {
        Ok(m) => m,
        Err(e) => {
            crate::log::init("postconf", crate::log::Settings::command_line(false));
            crate::log::fatal(&format!("{e}\n{USAGE}"));
            return ExitCode::from(1);
        }
    };
    crate::log::init(
        "postconf",
        crate::log::Settings::command_line(m.opt_present("v")),
    );
    defaults::set_process_name("postconf");
    let dir_opt = m.opt_str("c");
    let dir = config::config_dir(dir_opt.as_deref());
    let result = (|| -> Result<(), Fatal> {
        let mut overrides = Vec::new();
        for a in m.opt_strs("o") {
            overrides.push(edit::parse_assignment(&a).map_err(Fatal)?);
        }
        let flags = Flags {
            defaults: m.opt_present("d"),
            values_only: m.opt_present("h"),
            names_only: m.opt_present("H"),
            set_only: m.opt_present("n"),
            expand: m.opt_present("x"),
            overrides,
            explicit_dir: config::config_dir_is_explicit(dir_opt.as_deref()),
        };
        let editing = ["e", "X", "#"].iter().filter(|f| m.opt_present(f)).count();
        let master = ["M", "F", "P"].iter().filter(|f| m.opt_present(f)).count();
        if editing > 1 {
            return Err(Fatal("specify one of -e, -X or -#".into()));
        }
        if m.opt_present("man") {
            print!("{}", manpage::postconf_5());
            Ok(())
        } else if m.opt_present("doc") {
            show_doc(&m.free)
        } else if editing == 1 && master > 0 {
            Err(Fatal(
                "editing master.cf (-M/-F/-P with -e, -X or -#) is not built yet in Postern".into(),
            ))
        } else if m.opt_present("e") {
            let mut edits = Vec::new();
            for a in &m.free {
                let (n, v) = edit::parse_assignment(a).map_err(Fatal)?;
                edits.push(Edit::Set(n, v));
            }
            edit_main(&dir, &edits)
        } else if m.opt_present("X") || m.opt_present("#") {
            let mut edits = Vec::new();
            for a in &m.free {
                if a.contains('=') {
                    return Err(Fatal(format!(
                        "specify a parameter name, not name=value: \"{a}\""
                    )));
                }
                edits.push(if m.opt_present("X") {
                    Edit::Remove(a.clone())
                } else {
                    Edit::Comment(a.clone())
                });
            }
            edit_main(&dir, &edits)
        } else if master > 1 {
            Err(Fatal("specify one of -F, -M or -P".into()))
        } else if master == 1 {
            let mode = if m.opt_present("M") {
                'M'
            } else if m.opt_present("F") {
                'F'
            } else {
                'P'
            };
            show_master(&dir, mode, &m.free, flags.values_only)
        } else {
            show_params(&dir, &flags, &m.free)
        }
    })();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Fatal(text)) => {
            crate::log::fatal(&text);
            ExitCode::from(1)
        }
    }
}

/// `--doc [name...]`: `name = default  # doc` from the table.
fn show_doc(names: &[String]) -> Result<(), Fatal> {
    if names.is_empty() {
        for p in params::all() {
            println!("{}", manpage::doc_line(p));
        }
    }
    for n in names {
        match params::lookup(n) {
            Some(p) => println!("{}", manpage::doc_line(p)),
            None => ::log::warn!("{n}: unknown parameter"),
        }
    }
    Ok(())
}

/// A Config for `-d`: no main.cf, only the table's defaults.
fn defaults_only(dir: &Path) -> Result<Config, Fatal> {
    let main = MainCf::parse(&dir.join("main.cf"), std::io::empty())?;
    Ok(Config::from_main(Path::new("/etc/postfix"), main)?)
}

/// The parameter listings: all, `-n`, `-d`, or the named ones.
fn show_params(dir: &Path, f: &Flags, names: &[String]) -> Result<(), Fatal> {
    let base = if f.defaults {
        defaults_only(dir)?
    } else {
        let c = Config::load(dir)?;
        for w in c.warnings() {
            ::log::warn!("{w}");
        }
        c
    };
    let cfg = base.with_overrides(&f.overrides)?;
    let extra = config::unused::extra_known(&cfg);
    let is_known = |n: &str| params::lookup(n).is_some() || extra.contains(n);
    let mut shown: Vec<String> = Vec::new();
    if !names.is_empty() {
        for n in names {
            if is_known(n) {
                shown.push(n.clone());
            } else {
                ::log::warn!("{n}: unknown parameter");
            }
        }
    } else {
        let mut set: BTreeSet<String> = BTreeSet::new();
        if !f.defaults {
            set.extend(
                cfg.main_cf()
                    .effective()
                    .iter()
                    .map(|e| e.name.clone())
                    .filter(|n| is_known(n)),
            );
            set.extend(
                f.overrides
                    .iter()
                    .map(|(n, _)| n.clone())
                    .filter(|n| is_known(n)),
            );
            if f.explicit_dir {
                set.insert(params::names::CONFIG_DIRECTORY.into());
            }
        }
        if !f.set_only {
            set.extend(params::all().iter().map(|p| p.name.to_string()));
        }
        shown.extend(set);
    }
    for n in &shown {
        let raw = if f.defaults {
            cfg.default_value(n)
        } else {
            cfg.raw_value(n)
        }
        .unwrap_or_default();
        let value = if f.expand && !params::is_raw(n) {
            config::expand::expand_named(n, &raw, &|x| {
                if f.defaults {
                    cfg.default_value(x)
                } else {
                    cfg.raw_value(x)
                }
            })
            .map_err(|e| {
                ::log::warn!("{n}: {e}");
                Fatal("macro processing error".into())
            })?
        } else {
            raw
        };
        print_pair(n, &value, f.values_only, f.names_only);
    }
    if !f.defaults {
        for u in cfg.unused() {
            ::log::warn!("{u}");
        }
        // Postfix reports an unknown -o name as if main.cf had set it.
        for (n, v) in f.overrides.iter().filter(|(n, _)| !is_known(n)) {
            let path = cfg.main_cf().path.display();
            ::log::warn!("{path}: unused parameter: {n}={v}");
        }
    }
    Ok(())
}

/// Prints `name = value`; like Postfix, runs of whitespace in the value print as one space.
fn print_pair(name: &str, value: &str, values_only: bool, names_only: bool) {
    let value = value.split_whitespace().collect::<Vec<_>>().join(" ");
    if names_only {
        println!("{name}");
    } else if values_only {
        println!("{value}");
    } else if value.is_empty() {
        println!("{name} =");
    } else {
        println!("{name} = {value}");
    }
}

/// `-M`, `-F`, `-P` with optional `service` or `service/type` requests.
fn show_master(
    dir: &Path,
    mode: char,
    requests: &[String],
    values_only: bool,
) -> Result<(), Fatal> {
    let master = MasterCf::read(&dir.join("master.cf"))?;
    for w in &master.warnings {
        ::log::warn!("{w}");
    }
    for r in requests {
        if master.select(r).next().is_none() {
            ::log::warn!("unmatched request: \"{r}\"");
        }
    }
    // Like Postfix, report -o parameters that nothing would use.
    if let Ok(cfg) = Config::load(dir) {
        for u in cfg.unused().iter().filter(|u| u.path == master.path) {
            ::log::warn!("{u}");
        }
    }
    let selected = master
        .services
        .iter()
        .filter(|s| requests.is_empty() || requests.iter().any(|r| s.matches(r)));
    for s in selected {
        match mode {
            'M' => println!("{}", s.format_line()),
            'F' => {
                for (field, value) in s.fields() {
                    print_pair(&format!("{}/{field}", s.id()), &value, values_only, false);
                }
            }
            _ => {
                let mut opts: std::collections::BTreeMap<&str, &str> = Default::default();
                for (n, v) in &s.options {
                    opts.insert(n, v);
                }
                for (n, v) in opts {
                    print_pair(&format!("{}/{n}", s.id()), v, values_only, false);
                }
            }
        }
    }
    Ok(())
}

/// `-e`, `-X`, `-#`: rewrite main.cf atomically, only when both the old and the
/// new file load cleanly (a bad main.cf is left exactly as it was).
fn edit_main(dir: &Path, edits: &[Edit]) -> Result<(), Fatal> {
    let path: PathBuf = dir.join("main.cf");
    let old = MainCf::read(&path)?;
    Config::from_main(dir, old)?;
    let text = std::fs::read_to_string(&path)
        .map_err(|e| Fatal(format!("read {}: {}", path.display(), config::io_text(&e))))?;
    let (new, warnings) = edit::apply(&text, edits, &path.display().to_string());
    for w in warnings {
        ::log::warn!("{w}");
    }
    let parsed = MainCf::parse(&path, new.as_bytes()).map_err(|e| {
        Fatal(format!(
            "not changing {}: the result would not load: {e}",
            path.display()
        ))
    })?;
    Config::from_main(dir, parsed).map_err(|e| {
        Fatal(format!(
            "not changing {}: the result would not load: {e}",
            path.display()
        ))
    })?;
    if new != text {
        crate::util::safe_file::write_atomic(&path, new.as_bytes(), 0o644)
            .map_err(|e| Fatal(format!("write {}: {}", path.display(), config::io_text(&e))))?;
    }
    Ok(())
}
