//! A server reply as the smtp client reads it: the code, the enhanced status
//! code, the EHLO keywords, and the one-line text Postfix puts in log lines and
//! bounces ("550-5.1.1 first 550 5.1.1 second").
//!
//! Mirrors Postfix smtp_chat.c `smtp_chat_resp()` (lines kept with their code
//! prefix, joined by newline and printed with newlines turned into spaces; the
//! enhanced code taken from the first line, else `X.0.0` from the reply class)
//! and smtp_proto.c's EHLO keyword parsing. Reads no parameters.
//! RFCs: RFC 5321 section 4.2 (reply syntax), RFC 2034 (enhanced codes in
//! replies), RFC 1869 / 5321 section 4.1.1.1 (EHLO keywords).

use crate::mail::dsn::StatusCode;

/// One reply, possibly multi-line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// The three-digit code of the last line.
    pub code: u16,
    /// Every line as received, without CRLF ("250-PIPELINING").
    pub lines: Vec<String>,
}

/// A line that is not `DDD`, `DDD text` or `DDD-text`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed reply: {0:?}")]
pub struct Malformed(pub String);

/// One parsed reply line: code, "more lines follow", text after the separator.
pub fn parse_line(line: &str) -> Result<(u16, bool, &str), Malformed> {
    let bad = || Malformed(line.to_string());
    let digits = line.get(..3).ok_or_else(bad)?;
    if !digits.bytes().all(|b| b.is_ascii_digit()) || !(b'2'..=b'5').contains(&digits.as_bytes()[0])
    {
        return Err(bad());
    }
    let code: u16 = digits.parse().map_err(|_| bad())?;
    match line.as_bytes().get(3) {
        None => Ok((code, false, "")),
        Some(b' ') => Ok((code, false, &line[4..])),
        Some(b'-') => Ok((code, true, &line[4..])),
        // Postfix accepts "250text" too (smtp_chat.c only looks for '-').
        Some(_) => Ok((code, false, &line[3..])),
    }
}

impl Reply {
    /// 1 for 2xx/3xx... as `code / 100`.
    pub fn class(&self) -> u16 {
        self.code / 100
    }

    pub fn is_positive(&self) -> bool {
        self.class() == 2
    }

    /// The text Postfix logs: lines joined by spaces.
    pub fn text(&self) -> String {
        self.lines.join(" ")
    }

    /// The enhanced status code: the one the server gave on the first line when
    /// its class matches the reply's, else `X.0.0` (Postfix `smtp_chat_resp`).
    pub fn status(&self) -> StatusCode {
        let class = u8::try_from(self.class()).unwrap_or(4);
        let fallback = match class {
            2 => StatusCode::new(2, 0, 0),
            5 => StatusCode::new(5, 0, 0),
            _ => StatusCode::new(4, 0, 0),
        };
        let Some(first) = self.lines.first() else {
            return fallback;
        };
        let text = first.get(4..).unwrap_or("");
        let word = text.split_whitespace().next().unwrap_or("");
        match StatusCode::parse(word) {
            Ok(code) if code.class() == class => code,
            _ => fallback,
        }
    }

    /// EHLO keywords, upper case, with their parameters ("SIZE", ["10240000"]).
    pub fn ehlo_keywords(&self) -> Vec<(String, Vec<String>)> {
        self.lines
            .iter()
            .skip(1)
            .filter_map(|l| l.get(4..))
            .filter_map(|text| {
                let mut words = text.split_whitespace();
                let key = words.next()?.to_ascii_uppercase();
                Some((key, words.map(str::to_string).collect()))
            })
            .collect()
    }
}

/// What the server's EHLO reply offered that the client uses.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Features {
    pub esmtp: bool,
    pub pipelining: bool,
    pub starttls: bool,
    pub eightbitmime: bool,
    pub dsn: bool,
    pub smtputf8: bool,
    /// SIZE with a limit; `Some(0)` is SIZE without a limit.
    pub size: Option<u64>,
}

impl Features {
    pub fn from_ehlo(reply: &Reply) -> Features {
        let mut f = Features {
            esmtp: true,
            ..Features::default()
        };
        for (key, params) in reply.ehlo_keywords() {
            match key.as_str() {
                "PIPELINING" => f.pipelining = true,
                "STARTTLS" => f.starttls = true,
                "8BITMIME" => f.eightbitmime = true,
                "DSN" => f.dsn = true,
                "SMTPUTF8" => f.smtputf8 = true,
                "SIZE" => f.size = Some(params.first().and_then(|p| p.parse().ok()).unwrap_or(0)),
                _ => {}
            }
        }
        f
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(lines: &[&str]) -> Reply {
        let code = parse_line(lines[lines.len() - 1]).unwrap().0;
        Reply {
            code,
            lines: lines.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn lines() {
        assert_eq!(parse_line("250 ok").unwrap(), (250, false, "ok"));
        assert_eq!(
            parse_line("250-SIZE 1000").unwrap(),
            (250, true, "SIZE 1000")
        );
        assert_eq!(parse_line("354").unwrap(), (354, false, ""));
        assert!(parse_line("25").is_err());
        assert!(parse_line("abc ok").is_err());
        assert!(parse_line("650 x").is_err());
    }

    #[test]
    fn text_and_status_as_postfix() {
        let r = reply(&["550-5.1.1 The account", "550 5.1.1 does not exist"]);
        assert_eq!(r.text(), "550-5.1.1 The account 550 5.1.1 does not exist");
        assert_eq!(r.status(), StatusCode::new(5, 1, 1));
        assert_eq!(reply(&["250 Ok"]).status(), StatusCode::new(2, 0, 0));
        assert_eq!(reply(&["451 later"]).status(), StatusCode::new(4, 0, 0));
        // A code of the wrong class is not believed.
        assert_eq!(reply(&["550 2.1.5 odd"]).status(), StatusCode::new(5, 0, 0));
    }

    #[test]
    fn ehlo_features() {
        let r = reply(&[
            "250-mx.example.com",
            "250-PIPELINING",
            "250-SIZE 10240000",
            "250-starttls",
            "250-8BITMIME",
            "250 DSN",
        ]);
        let f = Features::from_ehlo(&r);
        assert!(f.pipelining && f.starttls && f.eightbitmime && f.dsn && !f.smtputf8);
        assert_eq!(f.size, Some(10240000));
    }
}
