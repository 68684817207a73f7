//! Turns how a delivery command ended (exit status, signal, time limit) and what it
//! printed into Postfix's verdict: delivered, deferred or bounced, with the text a
//! bounce shows.
//!
//! Mirrors Postfix global/sys_exits.c (the sendmail exit code table) and the result
//! handling of global/pipe_command.c (output capture limits, "Command died with
//! ...", an RFC 3463 code at the start of the output overriding the exit status).
//! Reads no parameters.

use super::command::CommandError;

/// How much command output is kept for the bounce text (Postfix reads one
/// VSTREAM_BUFSIZE buffer).
pub const OUTPUT_LIMIT: usize = 4096;

/// How the command process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Termination {
    Exited(i32),
    Signaled(i32),
    TimedOut,
}

/// One row of sysexits.h as Postfix interprets it.
struct SysExit {
    code: i32,
    dsn: &'static str,
    text: &'static str,
}

/// sys_exits.c's table, EX_USAGE (64) to EX_CONFIG (78).
const SYS_EXITS: [SysExit; 15] = [
    SysExit {
        code: 64,
        dsn: "5.3.0",
        text: "command line usage error",
    },
    SysExit {
        code: 65,
        dsn: "5.6.0",
        text: "data format error",
    },
    SysExit {
        code: 66,
        dsn: "5.3.0",
        text: "cannot open input",
    },
    SysExit {
        code: 67,
        dsn: "5.1.1",
        text: "user unknown",
    },
    SysExit {
        code: 68,
        dsn: "5.1.2",
        text: "host name unknown",
    },
    SysExit {
        code: 69,
        dsn: "5.3.0",
        text: "service unavailable",
    },
    SysExit {
        code: 70,
        dsn: "5.3.0",
        text: "internal software error",
    },
    SysExit {
        code: 71,
        dsn: "4.3.0",
        text: "system resource problem",
    },
    SysExit {
        code: 72,
        dsn: "5.3.0",
        text: "critical OS file missing",
    },
    SysExit {
        code: 73,
        dsn: "5.2.0",
        text: "can't create user output file",
    },
    SysExit {
        code: 74,
        dsn: "5.3.0",
        text: "input/output error",
    },
    SysExit {
        code: 75,
        dsn: "4.3.0",
        text: "temporary failure",
    },
    SysExit {
        code: 76,
        dsn: "5.5.0",
        text: "remote error in protocol",
    },
    SysExit {
        code: 77,
        dsn: "5.7.0",
        text: "permission denied",
    },
    SysExit {
        code: 78,
        dsn: "5.3.5",
        text: "local configuration error",
    },
];

/// The sysexits.h text for `code`, if it is one (sys_exits_strerror()).
pub fn sys_exit_text(code: i32) -> Option<&'static str> {
    SYS_EXITS.iter().find(|e| e.code == code).map(|e| e.text)
}

/// Makes captured output fit for a one-line bounce reason: tabs and newlines become
/// spaces, other unprintable bytes underscores (translit() and printable()).
pub fn printable_output(raw: &[u8]) -> String {
    raw.iter()
        .take(OUTPUT_LIMIT)
        .map(|&b| match b {
            b'\t' | b'\n' => ' ',
            0x20..=0x7e => b as char,
            _ => '_',
        })
        .collect()
}

/// An RFC 3463 code (`4.x.y` or `5.x.y`) that starts the output, which a failing
/// command may use to choose its own status (local(8), "enhanced status codes").
fn leading_dsn(output: &str) -> Option<String> {
    let word = output.split(' ').next()?;
    let mut parts = word.split('.');
    let class = parts.next()?;
    let subject = parts.next()?;
    let detail = parts.next()?;
    let digits = |s: &str, max: usize| {
        !s.is_empty() && s.len() <= max && s.bytes().all(|b| b.is_ascii_digit())
    };
    let ok = (class == "4" || class == "5")
        && digits(subject, 3)
        && digits(detail, 3)
        && parts.next().is_none();
    ok.then(|| word.to_string())
}

/// The verdict on a finished command. `output` is already [`printable_output`].
pub fn verdict(command: &str, end: Termination, output: String) -> Result<(), CommandError> {
    let command = command.to_string();
    match end {
        Termination::Exited(0) => Ok(()),
        // pipe_command.c returns PIPE_STAT_BOUNCE with 5.3.0 on a time limit.
        Termination::TimedOut => Err(CommandError::TimeLimit { command, output }),
        Termination::Signaled(signal) => Err(CommandError::Signal {
            command,
            signal,
            output,
        }),
        Termination::Exited(status) => {
            let table = SYS_EXITS.iter().find(|e| e.code == status);
            let dsn = match (leading_dsn(&output), table) {
                (Some(own), _) => own,
                (None, Some(e)) => e.dsn.to_string(),
                // An unknown exit code is unrecoverable (sys_exits_softerror()).
                (None, None) => "5.3.0".to_string(),
            };
            Err(CommandError::Exit {
                command,
                status,
                dsn,
                output,
            })
        }
    }
}

/// The bounce text for a non-zero exit, worded as pipe_command.c words it.
pub fn exit_reason(command: &str, status: i32, output: &str) -> String {
    let tail = output_tail(output);
    match sys_exit_text(status) {
        Some(text) => format!("{text}{tail}"),
        None => format!("Command died with status {status}: \"{command}\"{tail}"),
    }
}

/// `". Command output: ..."` when there was output.
pub fn output_tail(output: &str) -> String {
    if output.is_empty() {
        String::new()
    } else {
        format!(". Command output: {output}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::local::Severity;

    #[test]
    fn tempfail_defers_and_others_bounce() {
        let e = verdict("x", Termination::Exited(75), String::new()).unwrap_err();
        assert_eq!(e.severity(), Severity::Temporary);
        assert_eq!(e.to_string(), "temporary failure");
        let e = verdict("x", Termination::Exited(1), "oops".into()).unwrap_err();
        assert_eq!(e.severity(), Severity::Permanent);
        assert_eq!(
            e.to_string(),
            "Command died with status 1: \"x\". Command output: oops"
        );
        let e = verdict("x", Termination::Exited(67), String::new()).unwrap_err();
        assert_eq!(e.dsn(), "5.1.1");
    }

    #[test]
    fn output_status_code_wins() {
        let e = verdict("x", Termination::Exited(1), "4.2.2 over quota".into()).unwrap_err();
        assert_eq!(e.dsn(), "4.2.2");
        assert_eq!(e.severity(), Severity::Temporary);
        assert_eq!(leading_dsn("4.2 x"), None);
        assert_eq!(leading_dsn("2.0.0 ok"), None);
    }

    #[test]
    fn output_is_made_printable_and_limited() {
        assert_eq!(printable_output(b"a\tb\nc\x01"), "a b c_");
        assert_eq!(printable_output(&[b'x'; 10_000]).len(), OUTPUT_LIMIT);
    }
}
