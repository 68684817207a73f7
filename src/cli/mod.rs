//! The command table: every name Postern answers to, and the dispatch from
//! `argv[0]` or the first argument to the command's module.
//!
//! This is the only layer that turns errors into exit statuses; commands report
//! failures in Postfix's form (`postmap: fatal: ...`) and return an `ExitCode`.

mod logging;
mod postalias;
mod postcat;
mod postconf;
mod postfix;
mod postmap;
mod postqueue;
mod postsuper;
mod posttls_finger;
mod queue_cmd;
mod sendmail;
mod sendmail_headers;
mod sendmail_smtp;

use std::path::Path;
use std::process::ExitCode;

/// A command's entry point: the full argument vector, `args[0]` being the command name.
type Run = fn(Vec<String>) -> ExitCode;

/// One command Postern answers to.
struct Command {
    name: &'static str,
    summary: &'static str,
    /// `None` while the command is not built yet.
    run: Option<Run>,
}

/// Every command, in the order `postern --help` lists them.
const COMMANDS: &[Command] = &[
    Command {
        name: "postfix",
        summary: "start, stop, reload and check the mail system",
        run: Some(postfix::run),
    },
    Command {
        name: "postconf",
        summary: "show or edit main.cf and master.cf parameters",
        run: Some(postconf::run),
    },
    Command {
        name: "postmap",
        summary: "build, query and change lookup tables",
        run: Some(postmap::run),
    },
    Command {
        name: "postalias",
        summary: "build, query and change alias tables",
        run: Some(postalias::run),
    },
    Command {
        name: "newaliases",
        summary: "rebuild the alias databases (postalias on $alias_database)",
        run: Some(postalias::run_newaliases),
    },
    Command {
        name: "postqueue",
        summary: "list and flush the mail queue",
        run: Some(postqueue::run),
    },
    Command {
        name: "mailq",
        summary: "list the mail queue (postqueue -p)",
        run: Some(postqueue::run_mailq),
    },
    Command {
        name: "postsuper",
        summary: "delete, hold, release and requeue queued mail",
        run: Some(postsuper::run),
    },
    Command {
        name: "postcat",
        summary: "show a queued message",
        run: Some(postcat::run),
    },
    Command {
        name: "sendmail",
        summary: "submit mail from the command line (Sendmail compatible)",
        run: Some(sendmail::run),
    },
    Command {
        name: "posttls-finger",
        summary: "probe the TLS of a remote SMTP server",
        run: Some(posttls_finger::run),
    },
];

/// Runs the command named by `argv[0]`, or by the first argument when called as `postern`.
pub fn dispatch(mut args: Vec<String>) -> ExitCode {
    let invoked = args
        .first()
        .map(|a| {
            Path::new(a)
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default()
        })
        .unwrap_or_default();
    if let Some(cmd) = find(&invoked) {
        return run(cmd, args);
    }
    args.remove(0);
    match args.first().map(String::as_str) {
        None | Some("--help") | Some("-h") | Some("help") => {
            print_help();
            if args.is_empty() {
                ExitCode::from(64)
            } else {
                ExitCode::SUCCESS
            }
        }
        Some("--version") | Some("-V") => {
            println!("postern {}", env!("CARGO_PKG_VERSION"));
            ExitCode::SUCCESS
        }
        Some(name) => match find(name) {
            Some(cmd) => run(cmd, args),
            None => {
                eprintln!("postern: unknown command \"{name}\"; postern --help lists them");
                ExitCode::from(64)
            }
        },
    }
}

fn find(name: &str) -> Option<&'static Command> {
    COMMANDS.iter().find(|c| c.name == name)
}

fn run(cmd: &Command, mut args: Vec<String>) -> ExitCode {
    if let Some(first) = args.first_mut() {
        *first = cmd.name.to_string();
    }
    match cmd.run {
        Some(f) => f(args),
        None => {
            eprintln!(
                "{}: fatal: this command is not built yet in postern {}",
                cmd.name,
                env!("CARGO_PKG_VERSION")
            );
            ExitCode::from(69)
        }
    }
}

fn print_help() {
    println!("usage: postern COMMAND [ARGS...]   (or call the binary by the command's name)\n");
    println!("commands:");
    for c in COMMANDS {
        let note = if c.run.is_none() {
            " (not built yet)"
        } else {
            ""
        };
        println!("  {:<15} {}{}", c.name, c.summary, note);
    }
}
