//! `pcre:` tables: Perl-compatible regular expressions through the PCRE2 library.
//!
//! Mirrors Postfix `util/dict_pcre.c` and pcre_table(5). Flags: `i` toggles
//! case-insensitive matching (on by default), `m` multi-line, `s` dot-all, `x`
//! extended, `A` anchored at the start, `E` dollar-end-only, `U` ungreedy, `X`
//! (PCRE1 "extra": ignored with a warning, as Postfix built with PCRE2 does).
//! Patterns are compiled in UTF mode when `smtputf8_enable = yes`, as Postfix
//! does; otherwise they match bytes.
//!
//! main.cf parameters read: none (the caller passes `smtputf8_enable`).

use pcre2::bytes::{Regex, RegexBuilder};

use super::pattern::{Groups, Pattern};

/// One compiled PCRE pattern.
pub struct PcrePattern {
    re: Regex,
}

impl Pattern for PcrePattern {
    fn compile(pattern: &str, flags: &str, utf8: bool) -> Result<Self, String> {
        let mut icase = true;
        let (mut multi, mut dotall, mut ext, mut anchored, mut dollar, mut ungreedy) =
            (false, false, false, false, false, false);
        for f in flags.chars() {
            match f {
                'i' => icase = !icase,
                'm' => multi = true,
                's' => dotall = true,
                'x' => ext = true,
                'A' => anchored = true,
                'E' => dollar = true,
                'U' => ungreedy = true,
                'X' => {}
                other => return Err(format!("unknown regexp option \"{other}\"")),
            }
        }
        // The pcre2 crate has no builder switch for these three; PCRE2's
        // leading option settings and \A/\z give the same matching.
        let mut full = String::new();
        if ungreedy {
            full.push_str("(?U)");
        }
        if anchored {
            full.push_str(r"\A(?:");
        }
        if dollar && !multi {
            // PCRE2_DOLLAR_ENDONLY: `$` matches only at the very end; done by
            // rewriting the pattern's unescaped `$` outside classes to \z.
            full.push_str(&dollar_end_only(pattern));
        } else {
            full.push_str(pattern);
        }
        if anchored {
            // A newline ends an `x`-mode comment that the pattern may leave open.
            full.push_str(if ext { "\n)" } else { ")" });
        }
        let re = RegexBuilder::new()
            .caseless(icase)
            .multi_line(multi)
            .dotall(dotall)
            .extended(ext)
            .utf(utf8)
            .jit_if_available(true)
            .build(&full)
            .map_err(|e| {
                // The crate's text is "PCRE2: error compiling pattern at offset N: MSG";
                // Postfix says "error in regex at offset N: MSG".
                let text = e.to_string();
                let msg = text
                    .split_once("pattern")
                    .and_then(|(_, rest)| rest.split_once(": "))
                    .map(|(_, m)| m.to_string())
                    .unwrap_or(text.clone());
                format!(
                    "error in regex at offset {}: {msg}",
                    e.offset().unwrap_or(0)
                )
            })?;
        Ok(PcrePattern { re })
    }

    fn flag_warnings(flags: &str) -> Vec<String> {
        // Postfix 3.7 with PCRE2 says so for the PCRE1-only X flag.
        if flags.contains('X') {
            vec!["ignoring obsolete regexp option \"X\"".to_string()]
        } else {
            Vec::new()
        }
    }

    fn groups(&self) -> usize {
        self.re.captures_len() - 1
    }

    fn is_match(&self, key: &str) -> Result<bool, String> {
        self.re.is_match(key.as_bytes()).map_err(|e| e.to_string())
    }

    fn captures(&self, key: &str) -> Result<Option<Groups>, String> {
        let caps = self
            .re
            .captures(key.as_bytes())
            .map_err(|e| e.to_string())?;
        Ok(caps.map(|c| {
            (0..c.len())
                .map(|i| c.get(i).map(|m| (m.start(), m.end())))
                .collect()
        }))
    }
}

/// Rewrites unescaped `$` outside character classes to `\z`.
fn dollar_end_only(pattern: &str) -> String {
    let mut out = String::new();
    let mut escaped = false;
    let mut in_class = false;
    for c in pattern.chars() {
        if escaped {
            escaped = false;
            out.push(c);
            continue;
        }
        match c {
            '\\' => {
                escaped = true;
                out.push(c);
            }
            '[' if !in_class => {
                in_class = true;
                out.push(c);
            }
            ']' if in_class => {
                in_class = false;
                out.push(c);
            }
            '$' if !in_class => out.push_str(r"\z"),
            _ => out.push(c),
        }
    }
    out
}

/// A `pcre:` table.
pub type PcreMap = super::pattern::PatternMap<PcrePattern>;

#[cfg(test)]
mod tests {
    use super::*;

    fn m(pat: &str, flags: &str, key: &str) -> bool {
        PcrePattern::compile(pat, flags, true)
            .unwrap()
            .is_match(key)
            .unwrap()
    }

    #[test]
    fn pcre_flags() {
        assert!(m("^abc$", "", "ABC"));
        assert!(!m("^abc$", "i", "ABC"));
        assert!(m("(?<=a)b", "", "ab"));
        assert!(!m("b|c", "A", "ab"));
        assert!(m("a b # comment", "x", "ab"));
        assert!(m("b", "Ax", "b"));
        assert!(!m("a$", "E", "a\n"));
        assert!(m("a$", "", "a\n"));
        assert!(m("a.b", "s", "a\nb"));
        let e = PcrePattern::compile("x(", "", true).err().unwrap();
        assert_eq!(e, "error in regex at offset 2: missing closing parenthesis");
    }
}
