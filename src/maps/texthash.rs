//! `texthash:` tables: a postmap(1) source file read into memory at open.
//!
//! Mirrors Postfix `util/dict_thash.c`: same source syntax as `hash:` (see
//! `source`), keys folded unless `-f`, duplicates warned with the source line,
//! a line without a value an error naming file and line (Postfix skips it),
//! read-only, no `postmap` build step.
//!
//! main.cf parameters read: none.

use std::collections::HashMap;
use std::path::Path;

use super::source::{for_each_logical_line, read_file, split_key_value, SourceFile};
use super::{Duplicates, Map, MapError, OpenFlags};

/// A text table held in memory.
pub struct TexthashMap {
    spec: String,
    file: SourceFile,
    flags: OpenFlags,
    /// Entries in source order, for `-s`.
    entries: Vec<(String, String)>,
    index: HashMap<String, usize>,
}

impl TexthashMap {
    /// Reads `name` now; later changes to the file are not seen.
    pub fn open(name: &str, flags: OpenFlags) -> Result<TexthashMap, MapError> {
        let file = SourceFile::new(name);
        let path = Path::new(name);
        let bytes = read_file(path)?;
        let mut map = TexthashMap {
            spec: format!("texthash:{name}"),
            file,
            flags,
            entries: Vec::new(),
            index: HashMap::new(),
        };
        for_each_logical_line(&bytes, path, name, |line, text| {
            // As for hash: a line without a value is an error (Postfix warns
            // and ignores the line).
            let (key, value) = split_key_value(text).ok_or_else(|| MapError::Syntax {
                place: name.to_string(),
                file: path.to_path_buf(),
                line,
                reason: "expected format: key whitespace value".into(),
            })?;
            let key = flags.fold_key(key).into_owned();
            match map.index.get(&key) {
                Some(&i) => match flags.duplicates {
                    Duplicates::Warn => {
                        log::warn!("{name}, line {line}: duplicate entry: \"{key}\"")
                    }
                    Duplicates::Ignore => {}
                    Duplicates::Replace => map.entries[i].1 = value.to_string(),
                },
                None => {
                    map.index.insert(key.clone(), map.entries.len());
                    map.entries.push((key, value.to_string()));
                }
            }
            Ok(())
        })?;
        Ok(map)
    }
}

impl Map for TexthashMap {
    fn spec(&self) -> &str {
        &self.spec
    }

    fn changed(&self) -> bool {
        self.file.changed()
    }

    fn lookup(&self, key: &str) -> Result<Option<String>, MapError> {
        let key = self.flags.fold_key(key);
        Ok(self
            .index
            .get(key.as_ref())
            .map(|&i| self.entries[i].1.clone()))
    }

    fn for_each(&self, f: &mut dyn FnMut(&str, &str)) -> Result<(), MapError> {
        for (k, v) in &self.entries {
            f(k, v);
        }
        Ok(())
    }
}
