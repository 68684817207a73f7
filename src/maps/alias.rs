//! aliases(5) source syntax, as postalias(1) reads it.
//!
//! Mirrors Postfix `postalias/postalias.c` with `global/tok822_parse.c`:
//! `name: value, value, ...` on logical lines (see `source`: indented lines
//! continue the previous one); the name may be quoted (`"a b": x`) and is
//! folded by the builder; the value is re-written the way Postfix's RFC 822
//! tokenizer prints it, so `postalias -q`/`-s` show the same text as Postfix:
//! one space between words and before `<`, none around other specials (`a:b`,
//! `x;y`, `<a@b>c`, `x|y`), `, ` after each comma, quoted strings, comments and `[...]` literals kept,
//! a word with a backslash-escaped special quoted. `:include:file`, `|command`
//! and `/file` are values like any other. Unlike Postfix, a line without
//! `name:value` is an error naming the file and line (Postfix warns and skips).
//!
//! main.cf parameters read: none.

use std::path::Path;

use super::source::for_each_logical_line;
use super::MapError;

/// RFC 822 specials, plus the `!`, `%` and `|` that Postfix's tokenizer also
/// splits off as operators (UUCP and percent routing, pipes): checked with
/// Postfix 3.7, `(c)!b` and `"a"|b` print without a space, `x\ y|z` as `"x y"|z`.
const SPECIALS: &str = "()<>@,;:\\\".[]!%|";

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    /// A word; `quote` when it holds characters that must be quoted on output.
    Atom {
        text: String,
        quote: bool,
    },
    /// `"..."` as written, without the quotes.
    Quoted(String),
    /// `(...)` as written, without the parens; `closed` false at end of input.
    Comment {
        text: String,
        closed: bool,
    },
    /// `[...]` as written, with the brackets.
    Literal(String),
    Special(char),
}

impl Token {
    fn is_word(&self) -> bool {
        !matches!(self, Token::Special(_))
    }
}

fn tokenize(text: &str) -> Vec<Token> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c == '"' {
            let mut s = String::new();
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                if chars[i] == '\\' && i + 1 < chars.len() {
                    s.push(chars[i]);
                    i += 1;
                }
                s.push(chars[i]);
                i += 1;
            }
            i += 1;
            out.push(Token::Quoted(s));
        } else if c == '(' {
            let mut depth = 0usize;
            let mut s = String::new();
            let mut closed = false;
            while i < chars.len() {
                let ch = chars[i];
                if ch == '\\' && i + 1 < chars.len() {
                    s.push(ch);
                    s.push(chars[i + 1]);
                    i += 2;
                    continue;
                }
                i += 1;
                match ch {
                    '(' => {
                        depth += 1;
                        if depth == 1 {
                            continue;
                        }
                    }
                    ')' => {
                        depth -= 1;
                        if depth == 0 {
                            closed = true;
                            break;
                        }
                    }
                    _ => {}
                }
                s.push(ch);
            }
            out.push(Token::Comment { text: s, closed });
        } else if c == '[' {
            let mut s = String::from("[");
            i += 1;
            while i < chars.len() && chars[i] != ']' {
                s.push(chars[i]);
                i += 1;
            }
            if i < chars.len() {
                i += 1;
            }
            s.push(']');
            out.push(Token::Literal(s));
        } else if c != '\\' && SPECIALS.contains(c) {
            out.push(Token::Special(c));
            i += 1;
        } else {
            let mut s = String::new();
            let mut quote = false;
            while i < chars.len() {
                let ch = chars[i];
                if ch == '\\' {
                    if let Some(&n) = chars.get(i + 1) {
                        quote |= n.is_whitespace() || SPECIALS.contains(n);
                        s.push(n);
                    }
                    i += 2;
                    continue;
                }
                if ch.is_whitespace() || SPECIALS.contains(ch) {
                    break;
                }
                s.push(ch);
                i += 1;
            }
            out.push(Token::Atom { text: s, quote });
        }
    }
    out
}

/// Prints tokens as Postfix's tok822_externalize() does for alias values.
fn externalize(tokens: &[Token]) -> String {
    let mut out = String::new();
    for (n, t) in tokens.iter().enumerate() {
        match t {
            Token::Atom { text, quote: false } => out.push_str(text),
            Token::Atom { text, quote: true } => {
                out.push('"');
                for ch in text.chars() {
                    if ch == '"' || ch == '\\' {
                        out.push('\\');
                    }
                    out.push(ch);
                }
                out.push('"');
            }
            Token::Quoted(s) => {
                out.push('"');
                out.push_str(s);
                out.push('"');
            }
            Token::Comment { text, closed } => {
                out.push('(');
                out.push_str(text);
                if *closed {
                    out.push(')');
                }
            }
            Token::Literal(s) => out.push_str(s),
            Token::Special(c) => {
                out.push(*c);
                if *c == ',' {
                    out.push(' ');
                    continue;
                }
            }
        }
        // One space between words, and before every `<` (after the `, ` that a
        // comma already gives): `a <b>`, `x; <a>`, `<a> <b>`, but `<b>c`, `x;y`.
        if let Some(next) = tokens.get(n + 1) {
            if (t.is_word() && next.is_word()) || *next == Token::Special('<') {
                out.push(' ');
            }
        }
    }
    out
}

/// The alias name before the colon: a quoted name loses its quotes.
fn alias_name(raw: &str) -> String {
    let raw = raw.trim();
    match raw.strip_prefix('"').and_then(|r| r.strip_suffix('"')) {
        Some(inner) => {
            let mut s = String::new();
            let mut chars = inner.chars();
            while let Some(c) = chars.next() {
                if c == '\\' {
                    if let Some(n) = chars.next() {
                        s.push(n);
                    }
                } else {
                    s.push(c);
                }
            }
            s
        }
        None => raw.split_whitespace().collect::<Vec<_>>().join(" "),
    }
}

/// Finds the first `:` outside quotes.
fn name_colon(text: &str) -> Option<usize> {
    let mut in_quote = false;
    let mut escaped = false;
    for (i, c) in text.char_indices() {
        if escaped {
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if c == '"' {
            in_quote = !in_quote;
        } else if c == ':' && !in_quote {
            return Some(i);
        }
    }
    None
}

/// Parses one logical line into (name, value); `None` when it is not `name: value`.
pub fn parse_alias_line(text: &str) -> Option<(String, String)> {
    let colon = name_colon(text)?;
    let name = alias_name(&text[..colon]);
    let tokens = tokenize(&text[colon + 1..]);
    if name.is_empty() || tokens.is_empty() {
        return None;
    }
    Some((name, externalize(&tokens)))
}

/// Calls `f(line, name, value)` for every alias in `bytes` (the file `file`).
pub fn for_each_alias(
    bytes: &[u8],
    file: &Path,
    mut f: impl FnMut(usize, &str, &str) -> Result<(), MapError>,
) -> Result<(), MapError> {
    let place = file.display().to_string();
    for_each_logical_line(bytes, file, &place, |line, text| {
        let (name, value) = parse_alias_line(text).ok_or_else(|| MapError::Syntax {
            place: place.clone(),
            file: file.to_path_buf(),
            line,
            reason: "need name:value pair".into(),
        })?;
        f(line, &name, &value)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(v: &str) -> String {
        parse_alias_line(&format!("x: {v}")).unwrap().1
    }

    #[test]
    fn values_print_as_postfix_postalias() {
        // Each pair checked against Postfix 3.7 `postalias -s`.
        let cases = [
            ("x,y", "x, y"),
            ("x ,   y", "x, y"),
            ("Name  <x@y>", "Name <x@y>"),
            ("a@B.COM", "a@B.COM"),
            ("x (comment)", "x (comment)"),
            ("foo   bar", "foo bar"),
            ("\"|cmd  a,b\"", "\"|cmd  a,b\""),
            ("x,,y", "x, , y"),
            ("x@[1.2.3.4] , z", "x@[1.2.3.4], z"),
            (":include:/x/y, /tmp/f", ":include:/x/y, /tmp/f"),
            ("x; y", "x;y"),
            ("x\\,y", "\"x,y\""),
            ("a<b>", "a <b>"),
            ("<b> c", "<b>c"),
            ("(c)x", "(c) x"),
            ("a . b", "a.b"),
            ("a: b", "a:b"),
            ("a  ,  b  ,", "a, b, "),
            ("|/usr/bin/x arg", "|/usr/bin/x arg"),
            ("x\\ y", "\"x y\""),
            ("\"x\\\"y\"", "\"x\\\"y\""),
            ("(unterminated", "(unterminated"),
            ("x\\ y|z", "\"x y\"|z"),
            ("a\\ b|c\\ d", "\"a b\"|\"c d\""),
            ("<a><b>", "<a> <b>"),
            ("x;<a>", "x; <a>"),
            ("x@<a>", "x@ <a>"),
            ("(c)!bang", "(c)!bang"),
            ("\"a\"%b", "\"a\"%b"),
            ("(c) #b", "(c) #b"),
            ("\"unterminated", "\"unterminated\""),
        ];
        for (input, want) in cases {
            assert_eq!(value(input), want, "value {input:?}");
        }
    }

    #[test]
    fn names() {
        assert_eq!(
            parse_alias_line("\"quoted name\": x"),
            Some(("quoted name".into(), "x".into()))
        );
        assert_eq!(
            parse_alias_line("a10 :spacebefore"),
            Some(("a10".into(), "spacebefore".into()))
        );
        assert_eq!(parse_alias_line("nocolon value"), None);
        assert_eq!(parse_alias_line("empty:"), None);
    }
}
