//! One master.cf smtpd entry, ready to serve connections: its settings, TLS
//! context, restrictions and queue handle, built once per start or reload and
//! shared by every connection thread of that entry.
//!
//! Mirrors Postfix smtpd.c `pre_jail_init`/`post_jail_init` (settings, TLS
//! server context, "no certificate" checks) and `smtpd_service` (one client).
//! Reads every parameter of `settings.rs`, plus `virtual_alias_maps` (opened once
//! here to fail early; each session opens its own copy, since a map is not
//! `Sync`). RFC 5321 section 3.1 (session initiation), RFC 8314 section 3.3
//! (implicit TLS, wrapper mode).

use super::restrictions::Restrictions;
use super::session::Session;
use super::settings::Settings;
use super::SmtpdError;
use crate::config::Config;
use crate::maps::{MapList, OpenFlags};
use crate::queue::QueueHandle;
use crate::tls::ServerContext;
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;

/// Everything one smtpd entry needs; `Send + Sync`, shared by its threads.
pub struct SmtpdService {
    pub(super) settings: Settings,
    pub(super) tls: Option<ServerContext>,
    pub(super) restrictions: Restrictions,
    pub(super) queue: QueueHandle,
    pub(super) service_name: String,
    pub(super) cfg: Arc<Config>,
}

impl SmtpdService {
    /// Built at start and at each reload; `cfg` already has the entry's -o
    /// overrides applied. `service_name` is the master.cf service field
    /// ("smtp", "submission", "127.0.0.1:2525").
    pub fn new(
        cfg: Arc<Config>,
        queue: QueueHandle,
        service_name: &str,
    ) -> Result<SmtpdService, SmtpdError> {
        let settings = Settings::read(&cfg)?;
        let tls = tls_context(&settings, service_name)?;
        let restrictions = Restrictions::new(&cfg)?;
        if settings.sasl_auth_enable {
            // Postern has no SASL server: AUTH stays "503 5.5.1 Error:
            // authentication not enabled", as Postfix built without SASL.
            ::log::warn!("smtpd_sasl_auth_enable = yes is not supported: AUTH is not offered");
        }
        if !settings.virtual_alias_maps.trim().is_empty() {
            MapList::open(&settings.virtual_alias_maps, map_flags(&settings))?;
        }
        Ok(SmtpdService {
            settings,
            tls,
            restrictions,
            queue,
            service_name: service_name.to_string(),
            cfg,
        })
    }

    /// Serves one client connection until QUIT, timeout or disconnect. Never
    /// panics on client input.
    pub fn serve(&self, stream: TcpStream, peer: SocketAddr, local: SocketAddr) {
        crate::log::set_thread_tag(&self.settings.syslog_name, "smtpd");
        Session::run(self, stream, peer, local);
    }

    /// The flags for opening virtual_alias_maps.
    pub(super) fn alias_flags(&self) -> OpenFlags {
        map_flags(&self.settings)
    }
}

fn map_flags(settings: &Settings) -> OpenFlags {
    OpenFlags {
        utf8: settings.smtputf8,
        ..OpenFlags::default()
    }
}

/// The TLS context, with Postfix's start-up rules: TLS required (level encrypt
/// or wrapper mode) without a certificate is fatal; TLS offered (may) without
/// one is a warning and no STARTTLS.
fn tls_context(
    settings: &Settings,
    service_name: &str,
) -> Result<Option<ServerContext>, SmtpdError> {
    if !settings.tls_wanted() {
        return Ok(None);
    }
    let required = settings.wrappermode || settings.tls_level.must_encrypt();
    if !settings.has_certificate() {
        if required {
            return Err(SmtpdError::NoCertificate {
                level: settings.tls_level.name().to_string(),
            });
        }
        // Postfix smtpd.c: "warning: No server certs available. TLS won't be enabled".
        ::log::warn!("No server certs available. TLS won't be enabled");
        return Ok(None);
    }
    Ok(Some(ServerContext::new(&settings.tls, service_name)?))
}
