//! Helpers with no mail knowledge: atomic file replacement and the like.

pub mod safe_file;

/// Longest logical line accepted in main.cf, master.cf and table sources.
/// Postfix has no limit; Postern stops a runaway line (a corrupt or binary
/// file) with one error naming file and line instead of eating memory.
pub const MAX_LOGICAL_LINE: usize = 1 << 20;
