//! The `postmap` command: build, query, list and change lookup tables.
//!
//! Mirrors Postfix `postmap/postmap.c` and postmap(1): `postmap [-NbfhimnoprsuUvw]
//! [-c config_dir] [-d key] [-q key] [type:]file...`. Builds `hash`, `btree` and
//! `lmdb` tables from their source (the old table stays if the source has an
//! error); `-q key` / `-q -` look keys up in each table in turn, `-s` lists, `-d`
//! deletes, `-i` adds from standard input. Exit status and messages are Postfix's
//! (`postmap: fatal: ...`, status 1; a query or delete that finds nothing exits 1).
//! The option parsing and query/list/delete driver here is shared with
//! `postalias` (see `postalias.rs`), which differs only in how a source is read,
//! in the `key:` output form and in its special entries.
//!
//! main.cf parameters read: `default_database_type` (the type of a table named
//! without `type:`), `smtputf8_enable` (whether non-ASCII letters in keys fold).

use std::io::{self, BufRead, BufWriter, Read, Write};
use std::process::ExitCode;

use crate::config::{self, Config};
use crate::maps::{self, source, Duplicates, Map, MapError, OpenFlags};

/// Which command is running: they share everything but a few details.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Tool {
    Postmap,
    Postalias,
}

impl Tool {
    pub(super) fn name(self) -> &'static str {
        match self {
            Tool::Postmap => "postmap",
            Tool::Postalias => "postalias",
        }
    }

    fn usage(self) -> &'static str {
        match self {
            Tool::Postmap => "usage: postmap [-bfFhimnNoprsuUvw] [-c config_dir] [-d key] [-q key] [map_type:]file...",
            Tool::Postalias => "usage: postalias [-Nfinoprsuvw] [-c config_dir] [-d key] [-q key] [map_type:]file...",
        }
    }

    /// Option letters: (flags without argument, flags with an argument).
    fn letters(self) -> (&'static str, &'static str) {
        match self {
            Tool::Postmap => ("NbfFhimnoprsuUvw", "cdq"),
            Tool::Postalias => ("NfinoprsuvwU", "cdq"),
        }
    }
}

/// The parsed command line.
#[derive(Debug, Default)]
pub(super) struct Options {
    pub fold: bool,
    pub duplicates: Duplicates,
    pub query: Option<String>,
    pub delete: Option<String>,
    pub dump: bool,
    pub incremental: bool,
    pub verbose: bool,
    /// `-o`: keep root privileges (new tables are not given to the source's owner).
    pub keep_root: bool,
    pub headers: bool,
    /// `smtputf8_enable = yes`: fold non-ASCII letters too.
    pub utf8: bool,
    pub body: bool,
    pub config_dir: Option<String>,
    pub maps: Vec<String>,
}

/// A fatal error: the text after `NAME: fatal: `.
pub(super) struct Fatal(pub String);

impl From<MapError> for Fatal {
    fn from(e: MapError) -> Self {
        Fatal(e.to_string())
    }
}

/// Parses getopt-style options (`-fq key`, `-qkey`, `--` ends options).
pub(super) fn parse_options(tool: Tool, args: &[String]) -> Result<Options, Fatal> {
    let (plain, with_arg) = tool.letters();
    let name = tool.name();
    let mut o = Options {
        fold: true,
        ..Options::default()
    };
    let mut i = 1;
    while i < args.len() {
        let arg = &args[i];
        if arg == "--" {
            i += 1;
            break;
        }
        if !arg.starts_with('-') || arg == "-" {
            break;
        }
        let letters: Vec<char> = arg[1..].chars().collect();
        let mut j = 0;
        while j < letters.len() {
            let c = letters[j];
            j += 1;
            if with_arg.contains(c) {
                let value = if j < letters.len() {
                    let v: String = letters[j..].iter().collect();
                    j = letters.len();
                    v
                } else {
                    i += 1;
                    match args.get(i) {
                        Some(v) => v.clone(),
                        None => {
                            eprintln!("{name}: option requires an argument -- '{c}'");
                            return Err(Fatal(tool.usage().into()));
                        }
                    }
                };
                match c {
                    'c' => o.config_dir = Some(value),
                    'd' => o.delete = Some(value),
                    _ => o.query = Some(value),
                }
                continue;
            }
            if !plain.contains(c) {
                eprintln!("{name}: invalid option -- '{c}'");
                return Err(Fatal(tool.usage().into()));
            }
            match c {
                'f' => o.fold = false,
                'i' => o.incremental = true,
                'r' => o.duplicates = Duplicates::Replace,
                'w' => o.duplicates = Duplicates::Ignore,
                's' => o.dump = true,
                'v' => o.verbose = true,
                'h' => o.headers = true,
                'b' => o.body = true,
                'o' => o.keep_root = true,
                'F' => {
                    return Err(Fatal(
                        "option -F (base64 values) is not supported by Postern".into(),
                    ))
                }
                // -N/-n (terminating null), -p (permissions), -u/-U (UTF-8
                // handling), -m (MIME): nothing to change for SQLite-stored,
                // UTF-8-only tables.
                _ => {}
            }
        }
        i += 1;
    }
    o.maps = args[i.min(args.len())..].to_vec();
    let modes = [o.dump, o.query.is_some(), o.delete.is_some()];
    if modes.iter().filter(|m| **m).count() > 1 {
        return Err(Fatal("specify only one of -s -q or -d".into()));
    }
    if o.maps.is_empty() {
        return Err(Fatal(tool.usage().into()));
    }
    Ok(o)
}

/// Reads main.cf from `-c DIR`, `$MAIL_CONFIG` or /etc/postfix, and takes the
/// key-folding mode from `smtputf8_enable`.
pub(super) fn load_config(o: &mut Options, tool: Tool) -> Result<Config, Fatal> {
    let dir = config::config_dir(o.config_dir.as_deref());
    let cfg = Config::load(&dir).map_err(|e| Fatal(e.to_string()))?;
    super::logging::from_config(tool.name(), &cfg, o.verbose);
    o.utf8 = cfg.get("smtputf8_enable") == "yes";
    Ok(cfg)
}

/// `type:name`, with `default_database_type` for a bare name.
pub(super) fn full_spec(arg: &str, default_type: &str) -> String {
    if maps::split_spec(arg).is_some() {
        arg.to_string()
    } else {
        format!("{default_type}:{arg}")
    }
}

impl Options {
    pub(super) fn flags(&self) -> OpenFlags {
        OpenFlags {
            fold: self.fold,
            duplicates: self.duplicates,
            utf8: self.utf8,
        }
    }
}

/// The tables of one run and what to do with them besides building.
pub(super) struct Driver<'a> {
    pub tool: Tool,
    pub options: &'a Options,
    pub specs: Vec<String>,
}

fn out_err(e: io::Error) -> Fatal {
    Fatal(format!("write to standard output: {e}"))
}

impl Driver<'_> {
    /// `key<sep>value` as the tool prints it (`key:\tvalue` for postalias).
    fn print(&self, out: &mut impl Write, key: &str, value: &str) -> io::Result<()> {
        match self.tool {
            Tool::Postmap => writeln!(out, "{key}\t{value}"),
            Tool::Postalias => writeln!(out, "{key}:\t{value}"),
        }
    }

    /// Runs `-q`, `-s` or `-d` when asked; `None` when the command is a build.
    pub(super) fn run_non_build(&self) -> Option<Result<bool, Fatal>> {
        let o = self.options;
        if let Some(key) = &o.query {
            return Some(if key == "-" {
                self.query_stdin()
            } else {
                self.query_one(key)
            });
        }
        if o.dump {
            return Some(self.dump().map(|_| true));
        }
        if let Some(key) = &o.delete {
            return Some(self.delete(key));
        }
        None
    }

    fn query_one(&self, key: &str) -> Result<bool, Fatal> {
        for spec in &self.specs {
            let map = maps::open(spec, self.options.flags())?;
            if let Some(v) = map.lookup(key)? {
                let stdout = io::stdout();
                let mut out = stdout.lock();
                writeln!(out, "{v}").map_err(out_err)?;
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// The keys to look up from standard input: one per line, or with `-h`/`-b`
    /// a message's (unfolded) header lines and/or body lines, as postmap(1) says.
    fn stdin_keys(&self) -> Result<Vec<String>, Fatal> {
        // Keys that are not UTF-8 cannot be in a table; they are looked up
        // with U+FFFD in place of the bad bytes rather than stopping the run.
        let bytes = read_stdin()?;
        let text = String::from_utf8_lossy(&bytes);
        let o = self.options;
        if !o.headers && !o.body {
            return Ok(text
                .lines()
                .filter(|l| !l.is_empty())
                .map(String::from)
                .collect());
        }
        let mut keys = Vec::new();
        let mut lines = text.lines();
        let mut header: Option<String> = None;
        let mut separator = None;
        for line in lines.by_ref() {
            if line.is_empty() {
                separator = Some(line);
                break;
            }
            if line.starts_with([' ', '\t']) {
                if let Some(h) = header.as_mut() {
                    h.push('\n');
                    h.push_str(line);
                    continue;
                }
            }
            if let Some(h) = header.take() {
                if o.headers {
                    keys.push(h);
                }
            }
            header = Some(line.to_string());
        }
        if let Some(h) = header {
            if o.headers {
                keys.push(h);
            }
        }
        if o.body {
            // The empty line that ends the headers is the first body line, as
            // Postfix's body_checks see it (checked with postmap -b).
            keys.extend(separator.into_iter().chain(lines).map(String::from));
        }
        Ok(keys)
    }

    fn query_stdin(&self) -> Result<bool, Fatal> {
        let maps = self.open_all()?;
        let keys = self.stdin_keys()?;
        let stdout = io::stdout();
        let mut out = BufWriter::with_capacity(1 << 16, stdout.lock());
        let mut found = false;
        for key in &keys {
            for map in &maps {
                if let Some(v) = map.lookup(key)? {
                    self.print(&mut out, key, &v).map_err(out_err)?;
                    found = true;
                    break;
                }
            }
        }
        out.flush().map_err(out_err)?;
        Ok(found)
    }

    fn open_all(&self) -> Result<Vec<Box<dyn Map>>, Fatal> {
        let mut maps = Vec::new();
        for spec in &self.specs {
            maps.push(maps::open(spec, self.options.flags())?);
        }
        Ok(maps)
    }

    fn dump(&self) -> Result<(), Fatal> {
        let stdout = io::stdout();
        let mut out = BufWriter::with_capacity(1 << 16, stdout.lock());
        for map in self.open_all()? {
            let mut failed = None;
            map.for_each(&mut |k, v| {
                if failed.is_none() {
                    if let Err(e) = self.print(&mut out, k, v) {
                        failed = Some(e);
                    }
                }
            })?;
            if let Some(e) = failed {
                return Err(out_err(e));
            }
        }
        out.flush().map_err(out_err)
    }

    fn delete(&self, key: &str) -> Result<bool, Fatal> {
        let keys: Vec<String> = if key == "-" {
            let mut v = Vec::new();
            for line in io::stdin().lock().lines() {
                let line = line.map_err(|e| Fatal(format!("read standard input: {e}")))?;
                if !line.is_empty() {
                    v.push(line);
                }
            }
            v
        } else {
            vec![key.to_string()]
        };
        let mut found = false;
        for spec in &self.specs {
            let mut map = maps::open_for_update(spec, self.options.flags())?;
            for k in &keys {
                found |= map.delete(k)?;
            }
            map.commit()?;
        }
        Ok(found)
    }
}

/// Reads all of standard input once (for `-i` on several tables).
pub(super) fn read_stdin() -> Result<Vec<u8>, Fatal> {
    let mut bytes = Vec::new();
    io::stdin()
        .lock()
        .read_to_end(&mut bytes)
        .map_err(|e| Fatal(format!("read standard input: {e}")))?;
    Ok(bytes)
}

/// Builds or extends one `postmap` table.
fn build(spec: &str, o: &Options, stdin: &mut Option<Vec<u8>>) -> Result<(), Fatal> {
    let (_, name) = maps::split_spec(spec).unwrap_or(("", spec));
    let expected = "expected format: key whitespace value";
    if o.incremental {
        // Only indexed types take changes; others get Postfix's bulk-mode text.
        drop(maps::create(spec, o.flags())?);
        if stdin.is_none() {
            *stdin = Some(read_stdin()?);
        }
        let bytes = stdin.as_deref().unwrap_or_default();
        let mut map = maps::open_for_update(spec, o.flags())?;
        let file = std::path::Path::new("stdin");
        source::for_each_logical_line(bytes, file, "stdin", |line, text| {
            let (k, v) = source::split_key_value(text).ok_or_else(|| MapError::Syntax {
                place: "stdin".into(),
                file: file.to_path_buf(),
                line,
                reason: expected.into(),
            })?;
            map.insert(k, v)?;
            Ok(())
        })?;
        map.commit()?;
        return Ok(());
    }
    let mut builder = maps::create(spec, o.flags())?;
    let path = std::path::Path::new(name);
    builder.inherit_from(path, o.keep_root);
    let bytes = source::read_file(path)?;
    source::for_each_logical_line(&bytes, path, name, |line, text| {
        let (k, v) = source::split_key_value(text).ok_or_else(|| MapError::Syntax {
            place: name.to_string(),
            file: path.to_path_buf(),
            line,
            reason: expected.into(),
        })?;
        builder.add(k, v, line);
        Ok(())
    })?;
    builder.finish()?;
    Ok(())
}

/// Reports `r` in Postfix's form and turns it into the exit status.
pub(super) fn finish(r: Result<bool, Fatal>) -> ExitCode {
    match r {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(Fatal(text)) => {
            crate::log::fatal(&text);
            ExitCode::from(1)
        }
    }
}

/// Runs `postmap` with Postfix's options.
pub fn run(args: Vec<String>) -> ExitCode {
    crate::log::init("postmap", crate::log::Settings::command_line(false));
    finish(main(&args))
}

fn main(args: &[String]) -> Result<bool, Fatal> {
    run_tool(Tool::Postmap, args, |spec, o, _cfg, stdin| {
        build(spec, o, stdin)
    })
}

/// The body shared by postmap and postalias: options, main.cf, then either a
/// query/dump/delete or a build of every named table with `build`.
pub(super) fn run_tool(
    tool: Tool,
    args: &[String],
    build: impl Fn(&str, &Options, &Config, &mut Option<Vec<u8>>) -> Result<(), Fatal>,
) -> Result<bool, Fatal> {
    let mut o = parse_options(tool, args)?;
    if o.verbose {
        crate::log::init(tool.name(), crate::log::Settings::command_line(true));
    }
    let cfg = load_config(&mut o, tool)?;
    let default_type = cfg.get("default_database_type");
    let driver = Driver {
        tool,
        options: &o,
        specs: o.maps.iter().map(|m| full_spec(m, &default_type)).collect(),
    };
    if let Some(r) = driver.run_non_build() {
        return r;
    }
    let mut stdin = None;
    for spec in &driver.specs {
        build(spec, &o, &cfg, &mut stdin)?;
    }
    Ok(true)
}
