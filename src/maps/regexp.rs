//! `regexp:` tables: POSIX regular expressions, on the `regex` crate.
//!
//! Mirrors Postfix `util/dict_regexp.c` and regexp_table(5). Flags: `i` toggles
//! case-insensitive matching (on by default), `x` toggles extended syntax (on by
//! default; off means POSIX basic syntax, `\(...\)`), `m` toggles multi-line mode
//! (REG_NEWLINE: `.` stops at newline, `^`/`$` match at line ends).
//!
//! Postfix hands the pattern to the C library's regcomp(3); Postern translates it
//! to the `regex` crate, which differs from POSIX in ways that matter here:
//! - no back-references (`\1` in a pattern is an error);
//! - alternation is leftmost-first, not POSIX leftmost-longest, so with
//!   `/(a|ab)(c|bcd)/` the groups can differ from glibc's;
//! - `\<`, `\>`, `\w`, `\W`, `\s`, `\S`, `\b`, `\B`, `` \` ``, `\'` keep their GNU
//!   meanings; a backslash before any other letter (`\d`, `\n`, ...) is an
//!   error: POSIX leaves it undefined, and glibc, with the case-insensitive
//!   default, compiles it into a rule that never matches (checked with Postfix
//!   3.7: `/^\d$/` matches neither `1` nor `d`); use `[0-9]` or a `pcre:` table.
//!   A backslash before a non-letter is that character, as in glibc;
//! - inside brackets a backslash is an ordinary character, as POSIX says.
//!
//! Without `smtputf8_enable` the pattern matches bytes and only ASCII letters
//! fold, as regcomp(3) in Postfix's C locale does.
//!
//! main.cf parameters read: none (the caller passes `smtputf8_enable`).

use regex::bytes::{Regex, RegexBuilder};

use super::pattern::{Groups, Pattern};

/// One compiled POSIX pattern.
pub struct PosixPattern {
    re: Regex,
}

/// Appends `c` to a regex-crate pattern as a literal.
fn push_literal(out: &mut String, c: char) {
    let mut buf = [0u8; 4];
    out.push_str(&regex::escape(c.encode_utf8(&mut buf)));
}

/// Translates a POSIX bracket expression starting after `[`; returns the
/// regex-crate class and the index just past the closing `]`.
fn bracket(chars: &[char], mut i: usize) -> Result<(String, usize), String> {
    let mut out = String::from("[");
    if chars.get(i) == Some(&'^') {
        out.push('^');
        i += 1;
    }
    let mut first = true;
    loop {
        let c = *chars.get(i).ok_or("brackets ([ ]) not balanced")?;
        if c == ']' && !first {
            out.push(']');
            return Ok((out, i + 1));
        }
        first = false;
        if c == '[' && matches!(chars.get(i + 1), Some(':') | Some('.') | Some('=')) {
            let kind = chars[i + 1];
            let start = i + 2;
            let mut j = start;
            while j + 1 < chars.len() && !(chars[j] == kind && chars[j + 1] == ']') {
                j += 1;
            }
            if j + 1 >= chars.len() {
                return Err("brackets ([ ]) not balanced".into());
            }
            let name: String = chars[start..j].iter().collect();
            match kind {
                ':' => out.push_str(&format!("[:{name}:]")),
                _ => {
                    // Collating elements and equivalence classes: single characters only.
                    let mut it = name.chars();
                    match (it.next(), it.next()) {
                        (Some(ch), None) => push_literal(&mut out, ch),
                        _ => return Err(format!("invalid collating element \"{name}\"")),
                    }
                }
            }
            i = j + 2;
            continue;
        }
        // A range `a-c`; glibc rejects a second `-` after a range end
        // (`[a-c-e]`: "Invalid range end"), and so does Postern. A `-` first
        // or last is literal.
        if chars.get(i + 1) == Some(&'-') && chars.get(i + 2).is_some_and(|n| *n != ']') {
            let end = chars[i + 2];
            push_literal(&mut out, c);
            out.push('-');
            push_literal(&mut out, end);
            i += 3;
            if chars.get(i) == Some(&'-') && chars.get(i + 1).is_some_and(|n| *n != ']') {
                return Err("Invalid range end".into());
            }
            continue;
        }
        push_literal(&mut out, c);
        i += 1;
    }
}

/// In basic syntax `$` anchors only at the end of the pattern or before `\)`/`\|`.
fn basic_dollar_anchors(chars: &[char], i: usize) -> bool {
    i + 1 == chars.len()
        || (chars.get(i + 1) == Some(&'\\') && matches!(chars.get(i + 2), Some(')') | Some('|')))
}

/// Translates a POSIX pattern (extended when `extended`, else basic) to the
/// `regex` crate's syntax.
pub fn translate(pattern: &str, extended: bool) -> Result<String, String> {
    let chars: Vec<char> = pattern.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        // In basic syntax `^` anchors only at the start (or after `\(`), `*` is
        // literal there, and `$` anchors only at the end (or before `\)`).
        let at_start = i == 0
            || (!extended && i >= 2 && chars[i - 2] == '\\' && matches!(chars[i - 1], '(' | '|'));
        match c {
            '\\' => {
                let n = *chars.get(i + 1).ok_or("trailing backslash (\\)")?;
                i += 2;
                match n {
                    '1'..='9' => return Err("back-references are not supported".into()),
                    '<' => out.push_str(r"\b{start}"),
                    '>' => out.push_str(r"\b{end}"),
                    '`' => out.push_str(r"\A"),
                    '\'' => out.push_str(r"\z"),
                    'w' | 'W' | 's' | 'S' | 'b' | 'B' => {
                        out.push('\\');
                        out.push(n);
                    }
                    '(' | ')' | '{' | '}' | '|' | '+' | '?' if !extended => out.push(n),
                    c if c.is_ascii_alphabetic() => {
                        return Err(format!(
                            "unsupported escape \"\\{c}\": not POSIX (Postfix on glibc never \
                             matches it); use a bracket expression or a pcre: table"
                        ))
                    }
                    _ => push_literal(&mut out, n),
                }
                continue;
            }
            '[' => {
                let (class, next) = bracket(&chars, i + 1)?;
                out.push_str(&class);
                i = next;
                continue;
            }
            '(' | ')' | '{' | '}' | '|' | '+' | '?' if !extended => push_literal(&mut out, c),
            '^' if !extended && !at_start => push_literal(&mut out, c),
            '*' if !extended && (at_start || (i == 1 && chars[0] == '^')) => {
                push_literal(&mut out, c)
            }
            '$' if !extended && !basic_dollar_anchors(&chars, i) => push_literal(&mut out, c),
            // glibc reads `{,n}` as `{0,n}`; the regex crate needs the 0.
            '{' if extended && chars.get(i + 1) == Some(&',') => out.push_str("{0"),
            '*' if extended && (i == 0 || matches!(chars[i - 1], '(' | '|')) => {
                push_literal(&mut out, c)
            }
            _ => out.push(c),
        }
        i += 1;
    }
    Ok(out)
}

impl Pattern for PosixPattern {
    fn compile(pattern: &str, flags: &str, utf8: bool) -> Result<Self, String> {
        let (mut icase, mut extended, mut newline) = (true, true, false);
        for f in flags.chars() {
            match f {
                'i' => icase = !icase,
                'x' => extended = !extended,
                'm' => newline = !newline,
                other => return Err(format!("unknown regexp option \"{other}\"")),
            }
        }
        let translated = translate(pattern, extended)?;
        let re = RegexBuilder::new(&translated)
            .case_insensitive(icase)
            .multi_line(newline)
            .dot_matches_new_line(!newline)
            .unicode(utf8)
            .build()
            .map_err(|e| match e {
                regex::Error::Syntax(s) => s
                    .lines()
                    .last()
                    .unwrap_or("syntax error")
                    .trim_start_matches("error: ")
                    .to_string(),
                other => other.to_string(),
            })?;
        Ok(PosixPattern { re })
    }

    fn groups(&self) -> usize {
        self.re.captures_len() - 1
    }

    fn is_match(&self, key: &str) -> Result<bool, String> {
        Ok(self.re.is_match(key.as_bytes()))
    }

    fn captures(&self, key: &str) -> Result<Option<Groups>, String> {
        Ok(self
            .re
            .captures(key.as_bytes())
            .map(|c| c.iter().map(|m| m.map(|m| (m.start(), m.end()))).collect()))
    }
}

/// A `regexp:` table.
pub type RegexpMap = super::pattern::PatternMap<PosixPattern>;

#[cfg(test)]
mod tests {
    use super::*;

    fn m(pat: &str, flags: &str, key: &str) -> bool {
        PosixPattern::compile(pat, flags, true)
            .unwrap()
            .is_match(key)
            .unwrap()
    }

    #[test]
    fn posix_translation() {
        assert_eq!(translate(r"a\.b", true).unwrap(), r"a\.b");
        // A backslash inside brackets is literal in POSIX.
        assert!(m(r"^[\.]$", "", "\\"));
        assert!(m(r"^[]a]$", "", "]"));
        assert!(m(r"^[[:digit:]]+$", "", "123"));
        assert!(m(r"\<foo\>", "", "a foo b"));
        assert!(!m(r"\<foo\>", "", "afoob"));
        // An escaped letter is undefined in POSIX; glibc never matches it.
        assert!(translate(r"^\d$", true).is_err());
        assert!(m(r"^a\.b$", "", "a.b"));
        assert!(translate(r"(a)\1", true).is_err());
    }

    #[test]
    fn brackets_and_intervals_as_glibc() {
        assert!(m(r"^[a-c]+$", "", "abc"));
        assert!(m(r"^[a-]+$", "", "a-"));
        assert!(m(r"^[]-]+$", "", "]-"));
        assert!(translate(r"[a-c-e]", true).is_err());
        assert!(m(r"^x{,3}$", "", "xx"));
        assert!(!m(r"^x{,3}$", "", "xxxx"));
    }

    #[test]
    fn basic_syntax_with_x_flag() {
        assert!(m(r"^\(ab\)*c$", "x", "ababc"));
        assert!(m(r"^a+b$", "x", "a+b"));
        assert!(!m(r"^a+b$", "x", "aab"));
        assert!(m(r"^a\{2\}$", "x", "aa"));
    }

    #[test]
    fn flags() {
        // Case-insensitive by default; `i` toggles it (regexp_table(5)).
        assert!(m("^abc$", "", "ABC"));
        assert!(!m("^abc$", "i", "ABC"));
        assert!(m("^b$", "m", "a\nb"));
        assert!(!m("^b$", "", "a\nb"));
        assert!(PosixPattern::compile("a", "q", true).is_err());
    }
}
