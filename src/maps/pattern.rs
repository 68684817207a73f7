//! The rule-file syntax shared by `regexp:` and `pcre:` tables.
//!
//! Mirrors Postfix `util/dict_regexp.c` and `util/dict_pcre.c` as documented in
//! regexp_table(5) and pcre_table(5): `/pattern/flags result`, `!/pattern/flags
//! result`, `if /pattern/flags` ... `endif` (nested), any non-space delimiter in
//! place of `/` (a backslash lets it appear in the pattern), source lines joined
//! as `source` does, first matching rule wins, `$n` / `${n}` in the result
//! replaced by capture group n and `$$` by `$`. Differences from Postfix: a bad
//! rule (bad pattern, bad flag, out-of-range `$n`, unbalanced `if`/`endif`) is an
//! error naming the file and line, where Postfix warns and skips the rule.
//!
//! main.cf parameters read: none.

use std::path::Path;

use super::source::{for_each_logical_line, read_file, SourceFile};
use super::{Map, MapError};

/// Capture-group spans of one match; index 0 is the whole match.
pub type Groups = Vec<Option<(usize, usize)>>;

/// A compiled pattern of one engine.
pub trait Pattern: Sized + Send {
    /// Compiles `pattern` with the table's `flags` letters; `utf8` matches by
    /// character (Postfix with `smtputf8_enable = yes`), else by byte.
    fn compile(pattern: &str, flags: &str, utf8: bool) -> Result<Self, String>;
    /// Warnings about accepted but meaningless `flags` (logged with file:line).
    fn flag_warnings(_flags: &str) -> Vec<String> {
        Vec::new()
    }
    /// The number of capture groups, for checking `$n` at load time.
    fn groups(&self) -> usize;
    /// Whether `key` matches.
    fn is_match(&self, key: &str) -> Result<bool, String>;
    /// The capture groups of the first match (index 0 = whole match).
    fn captures(&self, key: &str) -> Result<Option<Groups>, String>;
}

/// A piece of a result template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part {
    Text(String),
    Group(usize),
}

/// Parses `$n`, `${n}` and `$$` in a result (regexp_table(5) "TEXT SUBSTITUTION").
pub fn parse_template(result: &str) -> Result<Vec<Part>, String> {
    let mut parts = Vec::new();
    let mut text = String::new();
    let mut chars = result.char_indices().peekable();
    while let Some((_, c)) = chars.next() {
        if c != '$' {
            text.push(c);
            continue;
        }
        let digits: String = match chars.peek() {
            Some((_, '$')) => {
                chars.next();
                text.push('$');
                continue;
            }
            Some((_, '{')) => {
                chars.next();
                let mut d = String::new();
                loop {
                    match chars.next() {
                        Some((_, '}')) => break,
                        Some((_, ch)) => d.push(ch),
                        None => return Err(format!("missing '}}' after \"${{{d}\"")),
                    }
                }
                d
            }
            Some((_, ch)) if ch.is_ascii_digit() => {
                let mut d = String::new();
                while let Some((_, ch)) = chars.peek() {
                    if ch.is_ascii_digit() {
                        d.push(*ch);
                        chars.next();
                    } else {
                        break;
                    }
                }
                d
            }
            // Postfix's mac_parse() rejects `$` not followed by a name.
            _ => return Err("bad replacement syntax".into()),
        };
        let n: usize = digits
            .parse()
            .map_err(|_| format!("bad replacement index \"{digits}\""))?;
        if !text.is_empty() {
            parts.push(Part::Text(std::mem::take(&mut text)));
        }
        parts.push(Part::Group(n));
    }
    if !text.is_empty() {
        parts.push(Part::Text(text));
    }
    Ok(parts)
}

/// Fills a template from the captures of a match on `key` (byte spans, which
/// a byte-mode match may put inside a character: such text is kept lossily).
pub fn expand(parts: &[Part], key: &str, caps: &[Option<(usize, usize)>]) -> String {
    let mut out: Vec<u8> = Vec::new();
    for p in parts {
        match p {
            Part::Text(t) => out.extend_from_slice(t.as_bytes()),
            Part::Group(n) => {
                if let Some(Some((s, e))) = caps.get(*n) {
                    out.extend_from_slice(key.as_bytes().get(*s..*e).unwrap_or_default());
                }
            }
        }
    }
    String::from_utf8(out).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// One rule of a table.
enum Rule<P> {
    Match {
        pat: P,
        negate: bool,
        result: Vec<Part>,
    },
    /// `if`; `end` is the index of the matching `endif`.
    If {
        pat: P,
        negate: bool,
        end: usize,
    },
    Endif,
}

/// A pattern table (`regexp:` or `pcre:`): its rules and its source file, so a
/// daemon can notice the file changed.
pub struct PatternMap<P> {
    spec: String,
    file: SourceFile,
    rules: RuleSet<P>,
}

impl<P: Pattern> PatternMap<P> {
    /// Reads and compiles `name` as a `kind` table (`regexp` or `pcre`).
    pub fn open_kind(kind: &str, name: &str, utf8: bool) -> Result<PatternMap<P>, MapError> {
        Ok(PatternMap {
            spec: format!("{kind}:{name}"),
            file: SourceFile::new(name),
            rules: RuleSet::load(kind, name, utf8)?,
        })
    }
}

impl<P: Pattern> Map for PatternMap<P> {
    fn spec(&self) -> &str {
        &self.spec
    }

    fn changed(&self) -> bool {
        self.file.changed()
    }

    fn is_pattern(&self) -> bool {
        true
    }

    fn lookup(&self, key: &str) -> Result<Option<String>, MapError> {
        self.rules.lookup(key).map_err(|reason| MapError::Match {
            table: self.spec.clone(),
            key: key.to_string(),
            reason,
        })
    }
}

/// A loaded `regexp:` or `pcre:` table.
pub struct RuleSet<P> {
    rules: Vec<Rule<P>>,
}

/// Splits `[!]/pattern/flags rest` into (negate, pattern, flags, rest).
fn split_pattern(text: &str) -> Result<(bool, &str, &str, &str), String> {
    let (negate, text) = match text.strip_prefix('!') {
        Some(t) => (true, t.trim_start()),
        None => (false, text),
    };
    let delim = text
        .chars()
        .next()
        .filter(|c| !c.is_whitespace())
        .ok_or("ignoring unrecognized request")?;
    let body = &text[delim.len_utf8()..];
    let mut end = None;
    let mut escaped = false;
    for (i, c) in body.char_indices() {
        if escaped {
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if c == delim {
            end = Some(i);
            break;
        }
    }
    let end = end.ok_or_else(|| format!("no closing regexp delimiter \"{delim}\""))?;
    let pattern = &body[..end];
    let after = &body[end + delim.len_utf8()..];
    let flags_end = after
        .find(|c: char| c.is_ascii_whitespace())
        .unwrap_or(after.len());
    Ok((
        negate,
        pattern,
        &after[..flags_end],
        after[flags_end..].trim(),
    ))
}

impl<P: Pattern> RuleSet<P> {
    /// Reads and compiles the table `name`; `kind` is `regexp` or `pcre`.
    pub fn load(kind: &str, name: &str, utf8: bool) -> Result<RuleSet<P>, MapError> {
        let path = Path::new(name);
        let bytes = read_file(path)?;
        let place = format!("{kind} map {name}");
        let mut rules: Vec<Rule<P>> = Vec::new();
        let mut open_ifs: Vec<(usize, usize)> = Vec::new();
        let syntax = |line: usize, reason: String| MapError::Syntax {
            place: place.clone(),
            file: path.to_path_buf(),
            line,
            reason,
        };
        for_each_logical_line(&bytes, path, &place, |line, text| {
            let word_end = text
                .find(|c: char| c.is_ascii_whitespace())
                .unwrap_or(text.len());
            let word = &text[..word_end];
            if word.eq_ignore_ascii_case("endif") {
                let (idx, _) = open_ifs
                    .pop()
                    .ok_or_else(|| syntax(line, "ignoring ENDIF without matching IF".into()))?;
                let end = rules.len();
                if let Some(Rule::If { end: e, .. }) = rules.get_mut(idx) {
                    *e = end;
                }
                rules.push(Rule::Endif);
                return Ok(());
            }
            let is_if = word.eq_ignore_ascii_case("if");
            let rest = if is_if {
                text[word_end..].trim_start()
            } else {
                text
            };
            let (negate, pattern, flags, result) =
                split_pattern(rest).map_err(|r| syntax(line, r))?;
            let pat = P::compile(pattern, flags, utf8).map_err(|r| syntax(line, r))?;
            for w in P::flag_warnings(flags) {
                log::warn!("{place}, line {line}: {w}");
            }
            if is_if {
                if !result.is_empty() {
                    return Err(syntax(line, "garbage after IF pattern".into()));
                }
                open_ifs.push((rules.len(), line));
                rules.push(Rule::If {
                    pat,
                    negate,
                    end: 0,
                });
                return Ok(());
            }
            if result.is_empty() {
                return Err(syntax(line, "no replacement text".into()));
            }
            let parts = parse_template(result).map_err(|r| syntax(line, r))?;
            // Postfix names the highest index used when it is out of range.
            let highest = parts
                .iter()
                .filter_map(|p| match p {
                    Part::Group(n) => Some(*n),
                    Part::Text(_) => None,
                })
                .max();
            if let Some(n) = highest {
                if negate {
                    return Err(syntax(
                        line,
                        format!("${n} in negated pattern has no match to refer to"),
                    ));
                }
                if n > pat.groups() {
                    return Err(syntax(
                        line,
                        format!("out of range replacement index \"{n}\""),
                    ));
                }
            }
            rules.push(Rule::Match {
                pat,
                negate,
                result: parts,
            });
            Ok(())
        })?;
        if let Some((_, line)) = open_ifs.pop() {
            return Err(syntax(line, "IF has no matching ENDIF".into()));
        }
        Ok(RuleSet { rules })
    }

    /// The result of the first rule that matches `key`. `Err` carries the
    /// engine's reason (PCRE match limits).
    pub fn lookup(&self, key: &str) -> Result<Option<String>, String> {
        let mut i = 0;
        while i < self.rules.len() {
            match &self.rules[i] {
                Rule::If { pat, negate, end } => {
                    if pat.is_match(key)? == *negate {
                        i = *end;
                    }
                }
                Rule::Endif => {}
                Rule::Match {
                    pat,
                    negate,
                    result,
                } => {
                    if *negate {
                        if !pat.is_match(key)? {
                            return Ok(Some(expand(result, key, &[])));
                        }
                    } else if result.iter().all(|p| matches!(p, Part::Text(_))) {
                        if pat.is_match(key)? {
                            return Ok(Some(expand(result, key, &[])));
                        }
                    } else if let Some(caps) = pat.captures(key)? {
                        return Ok(Some(expand(result, key, &caps)));
                    }
                }
            }
            i += 1;
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates() {
        assert_eq!(
            parse_template("a $1 ${2}b $$ $$").unwrap(),
            vec![
                Part::Text("a ".into()),
                Part::Group(1),
                Part::Text(" ".into()),
                Part::Group(2),
                Part::Text("b $ $".into()),
            ]
        );
        assert!(parse_template("${1").is_err());
        assert!(parse_template("x $").is_err());
        let parts = parse_template("<$1|$2>").unwrap();
        assert_eq!(
            expand(&parts, "abc", &[Some((0, 3)), Some((1, 2)), None]),
            "<b|>"
        );
    }

    #[test]
    fn pattern_split() {
        assert_eq!(
            split_pattern("/a\\/b/ix  REJECT  x").unwrap(),
            (false, "a\\/b", "ix", "REJECT  x")
        );
        assert_eq!(split_pattern("!#x#  OK").unwrap(), (true, "x", "", "OK"));
        assert!(split_pattern("/abc").is_err());
    }
}
