//! TEMPORARY stand-in until the smtpd session lands (lead replaces it at merge).
//!
//! Mirrors the interface of Postfix smtpd(8) as the master calls it: one
//! `SmtpdService` per master.cf smtpd entry, `serve` per connection. Reads
//! `myhostname` and `mail_name` (the banner) and `smtpd_banner`.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::Duration;

use crate::config::Config;
use crate::queue::QueueHandle;

/// Why a service could not be built.
#[derive(Debug, thiserror::Error)]
pub enum SmtpdError {
    #[error("service {service}: {source}")]
    Config {
        service: String,
        source: crate::config::ConfigError,
    },
}

/// Everything one master.cf smtpd entry needs.
pub struct SmtpdService {
    banner: String,
    _queue: QueueHandle,
}

impl SmtpdService {
    /// Built at start and at each reload; `cfg` already has the entry's -o overrides applied.
    pub fn new(
        cfg: Arc<Config>,
        queue: QueueHandle,
        service_name: &str,
    ) -> Result<SmtpdService, SmtpdError> {
        let banner = cfg
            .try_get("smtpd_banner")
            .map_err(|source| SmtpdError::Config {
                service: service_name.to_string(),
                source,
            })?;
        Ok(SmtpdService {
            banner,
            _queue: queue,
        })
    }

    /// Serves one client connection until QUIT, timeout or disconnect.
    pub fn serve(&self, stream: TcpStream, _peer: SocketAddr, _local: SocketAddr) {
        let _ = stream.set_read_timeout(Some(Duration::from_secs(300)));
        let Ok(read_half) = stream.try_clone() else {
            return;
        };
        let mut reader = BufReader::new(read_half);
        let mut out = stream;
        if out
            .write_all(format!("220 {}\r\n", self.banner).as_bytes())
            .is_err()
        {
            return;
        }
        let mut line = String::new();
        loop {
            line.clear();
            match reader.read_line(&mut line) {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
            if line.trim_end().eq_ignore_ascii_case("QUIT") {
                let _ = out.write_all(b"221 2.0.0 Bye\r\n");
                return;
            }
            if out.write_all(b"250 2.0.0 Ok\r\n").is_err() {
                return;
            }
        }
    }
}
