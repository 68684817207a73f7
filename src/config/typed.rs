//! Typed accessors of `Config`: booleans, numbers, times and lists, with
//! Postfix's error texts.
//!
//! Mirrors Postfix mail_conf_bool.c, mail_conf_int.c, mail_conf_long.c,
//! mail_conf_time.c (conv_time) and the list splitting of mystrtok() on
//! `CHARS_COMMA_SP`. Reads whichever parameter the caller names.

use std::time::Duration;

use super::params::names;
use super::{params, Config, ConfigError};
use crate::mail::extension::Splitter;

impl Config {
    /// `yes`/`no` (any case), else "bad boolean configuration: name = value".
    pub fn get_bool(&self, name: &str) -> Result<bool, ConfigError> {
        let v = self.try_get(name)?;
        if v.eq_ignore_ascii_case("yes") {
            Ok(true)
        } else if v.eq_ignore_ascii_case("no") {
            Ok(false)
        } else {
            Err(ConfigError::BadBool {
                name: name.into(),
                value: v,
            })
        }
    }

    /// A 32-bit integer, else "bad numerical configuration: name = value".
    pub fn get_int(&self, name: &str) -> Result<i32, ConfigError> {
        let v = self.try_get(name)?;
        v.trim().parse().map_err(|_| ConfigError::BadNumber {
            name: name.into(),
            value: v,
        })
    }

    /// A 64-bit integer, else "bad numerical configuration: name = value".
    pub fn get_long(&self, name: &str) -> Result<i64, ConfigError> {
        let v = self.try_get(name)?;
        v.trim().parse().map_err(|_| ConfigError::BadNumber {
            name: name.into(),
            value: v,
        })
    }

    /// A time: a number with an optional unit `s m h d w`; without a unit, the unit
    /// of the parameter's default (`maximal_queue_lifetime = 5` is 5 days).
    pub fn get_time(&self, name: &str) -> Result<Duration, ConfigError> {
        let v = self.try_get(name)?;
        parse_time(&v, default_unit(name)).ok_or(ConfigError::BadTime {
            name: name.into(),
            value: v,
        })
    }

    /// The value split on whitespace and commas, as Postfix splits lists; a
    /// `{ ... }` group stays one element.
    pub fn get_list(&self, name: &str) -> Vec<String> {
        split_list(&self.get(name))
    }

    /// Where local parts split into user and extension (Postfix
    /// split_addr.c): `recipient_delimiter`, `owner_request_special`,
    /// `double_bounce_sender`.
    pub fn address_splitter(&self) -> Result<Splitter, ConfigError> {
        Ok(Splitter::new(
            &self.try_get(names::RECIPIENT_DELIMITER)?,
            self.get_bool(names::OWNER_REQUEST_SPECIAL)?,
            &self.try_get(names::DOUBLE_BOUNCE_SENDER)?,
        ))
    }

    /// Does `propagate_unmatched_extensions` name `lookup` (`canonical`,
    /// `virtual`, `alias`, `forward`, `include`, `generic`)?
    pub fn propagates_extension(&self, lookup: &str) -> bool {
        self.get_list(names::PROPAGATE_UNMATCHED_EXTENSIONS)
            .iter()
            .any(|w| w.eq_ignore_ascii_case(lookup))
    }
}

/// The unit letter of `name`'s default (`5d` -> `d`), following a default that
/// is just another parameter (`$default_destination_rate_delay`); `s` otherwise.
pub fn default_unit(name: &str) -> char {
    let mut default = params::lookup(name)
        .map(|p| p.default.to_string())
        .or_else(|| super::unused::per_transport_default(name))
        .unwrap_or_default();
    for _ in 0..5 {
        let Some(other) = default.strip_prefix('$') else {
            break;
        };
        match params::lookup(other) {
            Some(p) => default = p.default.to_string(),
            None => break,
        }
    }
    default
        .chars()
        .last()
        .filter(|c| matches!(c, 's' | 'm' | 'h' | 'd' | 'w'))
        .unwrap_or('s')
}

/// Postfix conv_time(): digits, then at most one unit letter.
pub fn parse_time(value: &str, unit: char) -> Option<Duration> {
    let v = value.trim();
    let digits = v.bytes().take_while(|c| c.is_ascii_digit()).count();
    if digits == 0 {
        return None;
    }
    let n: u64 = v[..digits].parse().ok()?;
    let mut rest = v[digits..].chars();
    let unit = match (rest.next(), rest.next()) {
        (None, _) => unit,
        (Some(u), None) => u,
        _ => return None,
    };
    let secs = match unit {
        's' => 1,
        'm' => 60,
        'h' => 3600,
        'd' => 86_400,
        'w' => 604_800,
        _ => return None,
    };
    Some(Duration::from_secs(n.checked_mul(secs)?))
}

pub use crate::util::split_list;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times() {
        assert_eq!(parse_time("5", 'd'), Some(Duration::from_secs(5 * 86_400)));
        assert_eq!(parse_time("300s", 'd'), Some(Duration::from_secs(300)));
        assert_eq!(parse_time("2w", 's'), Some(Duration::from_secs(1_209_600)));
        assert_eq!(parse_time("1h30m", 's'), None);
        assert_eq!(parse_time("60s # x", 's'), None);
        assert_eq!(parse_time("x", 's'), None);
        assert_eq!(default_unit("maximal_queue_lifetime"), 'd');
        assert_eq!(default_unit("smtp_connect_timeout"), 's');
        assert_eq!(default_unit("no_such_thing"), 's');
        assert_eq!(default_unit("relay_destination_rate_delay"), 's');
        assert_eq!(default_unit("foo_time_limit"), 's');
    }

    #[test]
    fn lists() {
        assert_eq!(split_list("a, b,c\td  "), ["a", "b", "c", "d"]);
        assert_eq!(
            split_list("CONNECT GET regexp:{{/^[^A-Z]/ Bogus}}"),
            ["CONNECT", "GET", "regexp:{{/^[^A-Z]/ Bogus}}"]
        );
        assert!(split_list(" , ").is_empty());
    }
}
