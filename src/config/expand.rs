//! Parameter expansion: `$name`, `${name}`, `$(name)`, the conditional forms
//! `${name?value}` / `${name:value}` (plain or `{braced}`, with an `:{else}` part),
//! and relational expressions `${{a} == {b} ? {t} : {f}}`.
//!
//! Mirrors Postfix mac_expand.c and mac_parse.c (3.x syntax, including the
//! `<level`-style compatibility-level operators of Postfix 3.6 defaults). Reads no
//! parameters itself: the caller supplies the raw value of each name.

/// Why a value could not be expanded; the texts are Postfix's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExpandError {
    /// `${abc` without its closing bracket.
    #[error("truncated macro reference: \"{text}\"")]
    Truncated { text: String },
    /// `a = $b`, `b = $a`: `name` is reached again while it is being expanded.
    #[error("unreasonable macro call nesting: \"{name}\"")]
    Nesting { name: String },
    /// Anything else wrong inside `${...}`.
    #[error("{reason}: \"{text}\"")]
    Syntax { reason: &'static str, text: String },
}

/// Postfix gives up after this many nested expansions (mac_expand.c).
const MAX_DEPTH: usize = 100;

/// Expands `text`; `lookup(name)` gives the raw (unexpanded) value of a parameter,
/// `None` when it has none (which expands to the empty string, as in Postfix).
pub fn expand(text: &str, lookup: &dyn Fn(&str) -> Option<String>) -> Result<String, ExpandError> {
    let mut stack = Vec::new();
    Expander { lookup }.text(text, &mut stack)
}

/// Expands `text`, the value of parameter `name`: a reference back to `name`
/// is reported as nesting on `name`, as Postfix reports it.
pub fn expand_named(
    name: &str,
    text: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<String, ExpandError> {
    let mut stack = vec![name.to_string()];
    Expander { lookup }.text(text, &mut stack)
}

/// Checks the macro syntax of `text` without looking anything up (for main.cf load).
pub fn check_syntax(text: &str) -> Result<(), ExpandError> {
    expand(text, &|_| None).map(|_| ())
}

/// The `$name` references in `text`, for Postfix's "user-defined parameter" rule.
pub fn references(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let b = text.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'$' && b.get(i + 1) == Some(&b'$') {
            i += 2;
        } else if b[i] == b'$' && i + 1 < b.len() {
            let mut j = i + 1;
            if b[j] == b'{' || b[j] == b'(' {
                j += 1;
            }
            let start = j;
            while j < b.len() && is_name_byte(b[j]) {
                j += 1;
            }
            if j > start {
                out.push(text[start..j].to_string());
            }
            i = j.max(i + 1);
        } else {
            i += 1;
        }
    }
    out
}

fn is_name_byte(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

struct Expander<'a> {
    lookup: &'a dyn Fn(&str) -> Option<String>,
}

impl Expander<'_> {
    fn text(&self, text: &str, stack: &mut Vec<String>) -> Result<String, ExpandError> {
        let mut out = String::new();
        let b = text.as_bytes();
        let mut i = 0;
        while let Some(off) = text[i..].find('$') {
            out.push_str(&text[i..i + off]);
            i += off;
            match b.get(i + 1) {
                Some(b'$') => {
                    out.push('$');
                    i += 2;
                }
                Some(&open @ (b'{' | b'(')) => {
                    let close = if open == b'{' { b'}' } else { b')' };
                    let end =
                        matching(b, i + 1, open, close).ok_or_else(|| ExpandError::Truncated {
                            text: text[i..].to_string(),
                        })?;
                    out.push_str(&self.body(&text[i + 2..end], &text[i..=end], stack)?);
                    i = end + 1;
                }
                Some(c) if is_name_byte(*c) => {
                    let mut j = i + 1;
                    while j < b.len() && is_name_byte(b[j]) {
                        j += 1;
                    }
                    out.push_str(&self.name(&text[i + 1..j], stack)?);
                    i = j;
                }
                _ => {
                    // A `$` before a non-name character stays literal, as in mac_parse.
                    out.push('$');
                    i += 1;
                }
            }
        }
        out.push_str(&text[i..]);
        Ok(out)
    }

    /// The expanded value of parameter `name`.
    fn name(&self, name: &str, stack: &mut Vec<String>) -> Result<String, ExpandError> {
        if stack.iter().any(|n| n == name) || stack.len() >= MAX_DEPTH {
            return Err(ExpandError::Nesting { name: name.into() });
        }
        let Some(raw) = (self.lookup)(name) else {
            return Ok(String::new());
        };
        stack.push(name.to_string());
        let v = self.text(&raw, stack);
        stack.pop();
        v
    }

    /// The inside of `${...}`; `whole` is the full reference for error messages.
    fn body(
        &self,
        body: &str,
        whole: &str,
        stack: &mut Vec<String>,
    ) -> Result<String, ExpandError> {
        let syntax = |reason| ExpandError::Syntax {
            reason,
            text: whole.to_string(),
        };
        let trimmed = body.trim_start();
        let (cond, rest) = if trimmed.starts_with('{') {
            let (lhs, rest) =
                braced(trimmed).ok_or_else(|| syntax("unbalanced {} in relational expression"))?;
            let rest = rest.trim_start();
            let (op, rest) =
                Op::parse(rest).ok_or_else(|| syntax("unknown relational operator"))?;
            let rest = rest.trim_start();
            if rest.starts_with(['<', '>', '=', '!']) {
                return Err(syntax("unknown relational operator"));
            }
            let (rhs, rest) =
                braced(rest).ok_or_else(|| syntax("missing {value} after relational operator"))?;
            let lhs = self.text(lhs.trim(), stack)?;
            let rhs = self.text(rhs.trim(), stack)?;
            let cond = op
                .eval(&lhs, &rhs)
                .ok_or_else(|| syntax("bad compatibility level in relational expression"))?;
            let rest = rest.trim_start();
            if rest.is_empty() {
                return Err(syntax("missing '?' or ':' after relational expression"));
            }
            (cond, rest)
        } else {
            let len = body.bytes().take_while(|c| is_name_byte(*c)).count();
            if len == 0 {
                return Err(syntax("macro name syntax error"));
            }
            let (name, rest) = body.split_at(len);
            if rest.is_empty() {
                return self.name(name, stack);
            }
            let set = (self.lookup)(name).is_some_and(|v| !v.is_empty());
            (set, rest)
        };
        let (want, tail) = match rest.as_bytes()[0] {
            b'?' => (true, &rest[1..]),
            b':' => (false, &rest[1..]),
            _ => return Err(syntax("unexpected text after macro name")),
        };
        let ts = tail.trim_start();
        if !ts.starts_with('{') {
            // Plain `${name?value}`: the rest is the value (Postfix 2.2 form).
            return if cond == want {
                self.text(tail, stack)
            } else {
                Ok(String::new())
            };
        }
        let (first, after) =
            braced(ts).ok_or_else(|| syntax("unbalanced {} in conditional value"))?;
        let after = after.trim_start();
        if after.is_empty() {
            return if cond == want {
                self.text(first.trim(), stack)
            } else {
                Ok(String::new())
            };
        }
        if !want || !after.starts_with(':') {
            return Err(syntax("unexpected text after {value}"));
        }
        let other = after[1..].trim_start();
        let other = if other.starts_with('{') {
            match braced(other) {
                Some((v, end)) if end.trim().is_empty() => v.trim(),
                _ => return Err(syntax("unexpected text after {value}")),
            }
        } else {
            other
        };
        if cond {
            self.text(first.trim(), stack)
        } else {
            self.text(other, stack)
        }
    }
}

/// The index of the bracket closing the one at `open_at`, counting nested pairs.
fn matching(b: &[u8], open_at: usize, open: u8, close: u8) -> Option<usize> {
    let mut depth = 0usize;
    for (k, &c) in b.iter().enumerate().skip(open_at) {
        if c == open {
            depth += 1;
        } else if c == close {
            depth -= 1;
            if depth == 0 {
                return Some(k);
            }
        }
    }
    None
}

/// Splits `{inside}rest` into (`inside`, `rest`).
fn braced(s: &str) -> Option<(&str, &str)> {
    if !s.starts_with('{') {
        return None;
    }
    let end = matching(s.as_bytes(), 0, b'{', b'}')?;
    Some((&s[1..end], &s[end + 1..]))
}

/// A relational operator of Postfix 3.0 (`==` ...) or 3.6 (`<level` ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    LevelLt,
    LevelLe,
    LevelGt,
    LevelGe,
}

impl Op {
    fn parse(s: &str) -> Option<(Op, &str)> {
        // Longest first: `<=level` before `<=` before `<`.
        const OPS: &[(&str, Op)] = &[
            ("<=level", Op::LevelLe),
            (">=level", Op::LevelGe),
            ("<level", Op::LevelLt),
            (">level", Op::LevelGt),
            ("==", Op::Eq),
            ("!=", Op::Ne),
            ("<=", Op::Le),
            (">=", Op::Ge),
            ("<", Op::Lt),
            (">", Op::Gt),
        ];
        OPS.iter()
            .find(|(t, _)| s.starts_with(t))
            .map(|(t, op)| (*op, &s[t.len()..]))
    }

    /// `None` when a `level` operand is not a compatibility level.
    fn eval(self, a: &str, b: &str) -> Option<bool> {
        use std::cmp::Ordering;
        let ord = match self {
            Op::LevelLt | Op::LevelLe | Op::LevelGt | Op::LevelGe => {
                compat_level(a)?.cmp(&compat_level(b)?)
            }
            _ => {
                let numeric = |s: &str| !s.is_empty() && s.bytes().all(|c| c.is_ascii_digit());
                if numeric(a) && numeric(b) {
                    let (x, y) = (a.trim_start_matches('0'), b.trim_start_matches('0'));
                    x.len().cmp(&y.len()).then(x.cmp(y))
                } else {
                    a.cmp(b)
                }
            }
        };
        Some(match self {
            Op::Eq => ord == Ordering::Equal,
            Op::Ne => ord != Ordering::Equal,
            Op::Lt | Op::LevelLt => ord == Ordering::Less,
            Op::Le | Op::LevelLe => ord != Ordering::Greater,
            Op::Gt | Op::LevelGt => ord == Ordering::Greater,
            Op::Ge | Op::LevelGe => ord != Ordering::Less,
        })
    }
}

/// A compatibility level `major[.minor[.patch]]` as a comparable triple
/// (Postfix compat_level.c: `3.6` > `2`, `3.10` > `3.9`).
pub fn compat_level(s: &str) -> Option<(u64, u64, u64)> {
    let mut parts = s.split('.');
    let mut next = |required: bool| -> Option<u64> {
        match parts.next() {
            Some(p) if !p.is_empty() && p.bytes().all(|c| c.is_ascii_digit()) => p.parse().ok(),
            None if !required => Some(0),
            _ => None,
        }
    };
    let major = next(true)?;
    let minor = next(false)?;
    let patch = next(false)?;
    if parts.next().is_some() {
        return None;
    }
    Some((major, minor, patch))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn with(pairs: &[(&str, &str)], text: &str) -> Result<String, ExpandError> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect();
        expand(text, &|n| map.get(n).cloned())
    }

    #[test]
    fn plain_references() {
        let p = [("a", "A"), ("b", "<$a>"), ("empty", "")];
        assert_eq!(with(&p, "$a ${a} $(a) $b").unwrap(), "A A A <A>");
        assert_eq!(with(&p, "x$unknown.y").unwrap(), "x.y");
        assert_eq!(with(&p, "$$a $ a 5$").unwrap(), "$a $ a 5$");
        assert_eq!(with(&p, "${a}_x $a_x").unwrap(), "A_x ");
    }

    #[test]
    fn conditionals() {
        let p = [("a", "A"), ("empty", "")];
        assert_eq!(with(&p, "${a?yes}").unwrap(), "yes");
        assert_eq!(with(&p, "${a:yes}").unwrap(), "");
        assert_eq!(with(&p, "${empty:dflt}").unwrap(), "dflt");
        assert_eq!(with(&p, "${nope?x}${nope:y}").unwrap(), "y");
        assert_eq!(with(&p, "${a?{x $a}}").unwrap(), "x A");
        assert_eq!(with(&p, "${empty:{z}}").unwrap(), "z");
        assert_eq!(with(&p, "${a?{1}:{3}}").unwrap(), "1");
        assert_eq!(with(&p, "${empty?{1}:{3}}").unwrap(), "3");
        assert_eq!(with(&p, "${empty?{1}:3}").unwrap(), "3");
        assert_eq!(with(&p, "${x?{$a}:{${empty?{yes}:{no}}}}").unwrap(), "no");
    }

    #[test]
    fn relational() {
        let p = [("lvl", "3.6"), ("zero", "0"), ("s", "dane")];
        assert_eq!(
            with(&p, "${{$s} == {dane} ? {dane} : {may}}").unwrap(),
            "dane"
        );
        assert_eq!(with(&p, "${{$s} != {dane} ? {x} : {y}}").unwrap(), "y");
        assert_eq!(with(&p, "${{10} > {9} ? {t} : {f}}").unwrap(), "t");
        assert_eq!(with(&p, "${{10} < {9} ? {t} : {f}}").unwrap(), "f");
        assert_eq!(with(&p, "${{10} <= {10} ? {t}}").unwrap(), "t");
        assert_eq!(with(&p, "${{b} >= {a} ? {t}}").unwrap(), "t");
        assert_eq!(with(&p, "${{b} < {a} : {f}}").unwrap(), "f");
    }

    #[test]
    fn compatibility_levels() {
        let relay = "${{$compatibility_level} <level {2} ? {$mydestination} : {}}";
        let p0 = [("compatibility_level", "0"), ("mydestination", "here")];
        assert_eq!(with(&p0, relay).unwrap(), "here");
        let p36 = [("compatibility_level", "3.6"), ("mydestination", "here")];
        assert_eq!(with(&p36, relay).unwrap(), "");
        let digest = "${{$compatibility_level} <level {3.6} ? {md5} : {sha256}}";
        assert_eq!(with(&p0, digest).unwrap(), "md5");
        assert_eq!(with(&p36, digest).unwrap(), "sha256");
        let p310 = [("compatibility_level", "3.10")];
        assert_eq!(with(&p310, digest).unwrap(), "sha256");
        assert_eq!(with(&p0, "${{2} >=level {2.0.0} ? {y}}").unwrap(), "y");
        assert_eq!(with(&p0, "${{3.6} >level {2} ? {y}}").unwrap(), "y");
        assert_eq!(
            with(&p0, "${{3.6} <=level {3.5} ? {y} : {n}}").unwrap(),
            "n"
        );
        assert!(matches!(
            with(&p0, "${{x} <level {2} ? {y}}"),
            Err(ExpandError::Syntax { .. })
        ));
    }

    #[test]
    fn errors() {
        assert_eq!(
            with(&[], "a ${abc").unwrap_err().to_string(),
            "truncated macro reference: \"${abc\""
        );
        assert_eq!(
            with(&[], "$(abc").unwrap_err(),
            ExpandError::Truncated {
                text: "$(abc".into()
            }
        );
        let loop_ = [("a", "$b"), ("b", "x $a")];
        assert_eq!(
            with(&loop_, "$a").unwrap_err().to_string(),
            "unreasonable macro call nesting: \"a\""
        );
        let selfref = [("a", "${a}")];
        assert!(matches!(
            with(&selfref, "$a"),
            Err(ExpandError::Nesting { .. })
        ));
        assert!(matches!(with(&[], "${}"), Err(ExpandError::Syntax { .. })));
        assert!(matches!(
            with(&[], "${a;b}"),
            Err(ExpandError::Syntax { .. })
        ));
    }

    #[test]
    fn finds_references() {
        assert_eq!(references("$a ${b_c} $(d) $$x y"), vec!["a", "b_c", "d"]);
    }
}
