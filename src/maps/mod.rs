//! Lookup tables behind one trait, opened by `type:name` (STUB: being built).
