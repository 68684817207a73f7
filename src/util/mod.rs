//! Helpers with no mail knowledge: atomic file replacement and the like.

pub mod safe_file;

/// Longest logical line accepted in main.cf, master.cf and table sources.
/// Postfix has no limit; Postern stops a runaway line (a corrupt or binary
/// file) with one error naming file and line instead of eating memory.
pub const MAX_LOGICAL_LINE: usize = 1 << 20;

/// Splits a Postfix list value at commas and whitespace outside `{}` groups
/// (as Postfix's mystrtok with CHARS_COMMA_SP and brace grouping), the form of
/// every list parameter and table list in main.cf.
pub fn split_list(value: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut depth = 0usize;
    for c in value.chars() {
        match c {
            '{' => {
                depth += 1;
                cur.push(c);
            }
            '}' => {
                depth = depth.saturating_sub(1);
                cur.push(c);
            }
            ',' | ' ' | '\t' | '\r' | '\n' if depth == 0 => {
                if !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
            }
            _ => cur.push(c),
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}
