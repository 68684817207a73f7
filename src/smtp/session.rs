//! One SMTP session up to the point where mail can be sent: TCP connect,
//! wrapper-mode TLS, greeting, EHLO (HELO fallback), STARTTLS per the TLS
//! policy, EHLO again; and the TLS outcome the session reached.
//!
//! Mirrors Postfix smtp_connect.c (`smtp_connect_addr`) and smtp_proto.c
//! (`smtp_helo`, `smtp_start_tls`: "TLS is required, but was not offered by
//! host %s", "Cannot start TLS: handshake failure", the plaintext fallback of
//! `PLAINTEXT_FALLBACK_OK_AFTER_STARTTLS_FAILURE` decided by the caller) and
//! tls_client.c's summary log line. Reads nothing itself: `Settings`,
//! `ClientContext` and the `ClientPolicy` come from the caller.
//! RFCs: RFC 5321 sections 3.1-3.2 and 4.1.1.1, RFC 3207 (STARTTLS, EHLO again
//! after TLS, section 4.2), RFC 8314 section 3 (implicit TLS).

use std::net::{IpAddr, SocketAddr};

use super::conn::{self, Conn, Stream};
use super::reply::Features;
use super::settings::Settings;
use super::trouble::{self, Command, Failure, Stage};
use crate::mail::delivery::DeliveryTls;
use crate::tls::{self, ClientContext, ClientPolicy, ServerPeer, TlsError, TlsFacts, TlsLevel};

/// The server at the other end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Peer {
    pub host: String,
    pub addr: IpAddr,
    pub port: u16,
}

impl Peer {
    /// Postfix's `namaddr`: `host[addr]`.
    pub fn namaddr(&self) -> String {
        format!("{}[{}]", self.host, self.addr)
    }

    /// Postfix's `namaddrport`: `host[addr]:port` (the `relay=` value).
    pub fn namaddrport(&self) -> String {
        format!("{}[{}]:{}", self.host, self.addr, self.port)
    }
}

/// The TLS a session reached, for the log line and the queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsOutcome {
    /// The level in effect for the destination (`may`, `encrypt`, ...).
    pub policy: TlsLevel,
    /// Facts of the TLS session; `None` for plaintext.
    pub facts: Option<TlsFacts>,
}

impl TlsOutcome {
    /// `none`, `anonymous`, `untrusted`, `trusted` or `verified`.
    pub fn reached(&self) -> &'static str {
        match &self.facts {
            None => "none",
            Some(f) => match tls::summary::trust_word(f) {
                "Anonymous" => "anonymous",
                "Verified" => "verified",
                "Trusted" => "trusted",
                _ => "untrusted",
            },
        }
    }

    /// The `tls=POLICY:REACHED` value of the log line.
    pub fn feature(&self) -> String {
        format!("{}:{}", self.policy.name(), self.reached())
    }

    /// What the queue stores: the level actually met (`none` in plaintext; the
    /// policy level when its checks passed; `encrypt`/`may` for unauthenticated
    /// TLS), protocol, cipher, peer name and fingerprint.
    pub fn record(&self) -> DeliveryTls {
        let Some(f) = &self.facts else {
            return DeliveryTls {
                level: "none".into(),
                ..DeliveryTls::default()
            };
        };
        let level = if f.verified() {
            self.policy
        } else if self.policy >= TlsLevel::Encrypt {
            TlsLevel::Encrypt
        } else {
            TlsLevel::May
        };
        let some = |s: &str| (!s.is_empty()).then(|| s.to_string());
        DeliveryTls {
            level: level.name().to_string(),
            protocol: some(&f.protocol),
            cipher: some(&f.cipher),
            peer_name: some(&f.peer_cn),
            peer_fingerprint: some(&f.peer_cert_fingerprint),
            feature: String::new(),
        }
    }
}

/// An open session ready for MAIL FROM.
pub struct Session {
    pub conn: Conn,
    pub peer: Peer,
    pub features: Features,
    pub tls: TlsOutcome,
    /// Nexthop this session was opened for (the connection-cache key).
    pub nexthop: String,
}

/// Why a session could not be opened.
#[derive(Debug)]
pub struct OpenFailure {
    pub failure: Failure,
    /// The server was reached (its `relay=` is logged), with this TLS.
    pub reached: Option<(Peer, TlsOutcome)>,
    /// STARTTLS failed at `may` and the caller allowed plaintext: try the same
    /// address again without TLS.
    pub retry_plain: bool,
}

/// How to open one session.
pub struct Attempt<'a> {
    pub settings: &'a Settings,
    pub tls: &'a ClientContext,
    pub policy: &'a ClientPolicy,
    pub nexthop: &'a str,
    pub peer: Peer,
    /// Postfix's PLAINTEXT_FALLBACK_OK_AFTER_STARTTLS_FAILURE.
    pub plaintext_fallback: bool,
    pub tls_loglevel: u8,
}

fn fail(failure: Failure, peer: &Peer, tls: &TlsOutcome) -> OpenFailure {
    OpenFailure {
        failure,
        reached: Some((peer.clone(), tls.clone())),
        retry_plain: false,
    }
}

impl Attempt<'_> {
    fn server_peer(&self) -> ServerPeer {
        ServerPeer {
            nexthop: self.nexthop.to_string(),
            hostname: self.peer.host.clone(),
            addr: self.peer.addr.to_string(),
            port: self.peer.port,
        }
    }

    /// The TLS handshake on `tcp`, logging the summary as tls_client.c does.
    fn handshake(
        &self,
        tcp: std::net::TcpStream,
        level: TlsLevel,
        outcome: &mut TlsOutcome,
    ) -> Result<Stream, OpenFailure> {
        let mut policy = self.policy.clone();
        policy.level = level;
        let name = self.peer.namaddrport();
        match tls::stream::connect(
            self.tls,
            tcp,
            &policy,
            &self.server_peer(),
            self.settings.starttls_timeout,
        ) {
            Ok(session) => {
                if self.tls_loglevel >= 1 {
                    let summary = tls::summary::log_summary(&session.facts, tls::Usage::New, &name);
                    ::log::info!("{summary}");
                }
                if self.tls_loglevel >= 2 {
                    if let Some(line) = tls::summary::peer_certificate_line(&session.facts, &name) {
                        ::log::info!("{line}");
                    }
                }
                outcome.facts = Some(session.facts);
                Ok(Stream::Tls(Box::new(session.stream)))
            }
            Err(TlsError::NotVerified { reason, facts, .. }) => {
                if self.tls_loglevel >= 1 {
                    ::log::info!(
                        "{}",
                        tls::summary::log_summary(&facts, tls::Usage::New, &name)
                    );
                }
                ::log::warn!("server certificate verification failed for {name}: {reason}");
                outcome.facts = Some(*facts);
                Err(fail(trouble::not_verified(), &self.peer, outcome))
            }
            Err(e) => {
                ::log::warn!("TLS handshake with {name} failed: {e}");
                let mut f = fail(trouble::tls_handshake(), &self.peer, outcome);
                f.retry_plain = level == TlsLevel::May && self.plaintext_fallback;
                Err(f)
            }
        }
    }

    /// Connects and runs the dialogue up to MAIL FROM. `level` is the policy's
    /// level, or `none` for the plaintext retry after a failed STARTTLS.
    pub fn open(&self, level: TlsLevel) -> Result<Session, OpenFailure> {
        let s = self.settings;
        let peer = self.peer.clone();
        let addr = SocketAddr::new(peer.addr, peer.port);
        let bind = if peer.addr.is_ipv4() {
            s.bind_address
        } else {
            s.bind_address6
        };
        let tcp = conn::connect_tcp(addr, bind, s.connect_timeout).map_err(|e| OpenFailure {
            failure: trouble::connect(&peer.namaddrport(), &conn::connect_error_text(&e)),
            reached: None,
            retry_plain: false,
        })?;
        let mut outcome = TlsOutcome {
            policy: self.policy.level,
            facts: None,
        };
        let namaddr = peer.namaddr();
        // Wrapper mode means TLS whatever the level says (Postfix requires at
        // least encrypt with it).
        let mut conn = if s.wrappermode {
            Conn::new(self.handshake(tcp, level.max(TlsLevel::Encrypt), &mut outcome)?)
        } else {
            Conn::new(Stream::Plain(tcp))
        };
        let io = |t: &conn::IoTrouble, stage: Stage, o: &TlsOutcome| {
            fail(trouble::io(&namaddr, t, stage), &peer, o)
        };
        let greeting = conn
            .read_reply(s.helo_timeout)
            .map_err(|t| io(&t, Stage::Greeting, &outcome))?;
        if !greeting.is_positive() {
            let f = trouble::greeting(&namaddr, &greeting, s.skip_5xx_greeting);
            return Err(fail(f, &peer, &outcome));
        }
        let mut features = self.hello(&mut conn, &namaddr, &outcome)?;
        if !conn.is_tls() && level.tls_enabled() {
            if features.starttls {
                let reply = conn
                    .command("STARTTLS", s.starttls_timeout)
                    .map_err(|t| io(&t, Stage::Starttls, &outcome))?;
                if reply.code == 220 {
                    let Some(tcp) = conn.take_plain() else {
                        return Err(io(&conn::IoTrouble::Lost, Stage::Starttls, &outcome));
                    };
                    conn.set_stream(self.handshake(tcp, level, &mut outcome)?);
                    features = self.hello(&mut conn, &namaddr, &outcome)?;
                } else if level.must_encrypt() {
                    return Err(fail(
                        trouble::tls_refused(&namaddr, &reply),
                        &peer,
                        &outcome,
                    ));
                }
            } else if level.must_encrypt() {
                return Err(fail(trouble::tls_not_offered(&namaddr), &peer, &outcome));
            }
        }
        Ok(Session {
            conn,
            peer,
            features,
            tls: outcome,
            nexthop: self.nexthop.to_string(),
        })
    }

    /// EHLO, or HELO when EHLO is refused or `smtp_never_send_ehlo` is set.
    fn hello(
        &self,
        conn: &mut Conn,
        namaddr: &str,
        o: &TlsOutcome,
    ) -> Result<Features, OpenFailure> {
        let s = self.settings;
        let io =
            |t: &conn::IoTrouble, stage: Stage| fail(trouble::io(namaddr, t, stage), &self.peer, o);
        if !s.never_send_ehlo {
            let reply = conn
                .command(&format!("EHLO {}", s.helo_name), s.helo_timeout)
                .map_err(|t| io(&t, Stage::Ehlo))?;
            if reply.is_positive() {
                return Ok(Features::from_ehlo(&reply));
            }
        }
        let reply = conn
            .command(&format!("HELO {}", s.helo_name), s.helo_timeout)
            .map_err(|t| io(&t, Stage::Helo))?;
        if !reply.is_positive() {
            return Err(fail(
                trouble::said(namaddr, &reply, Command::Helo),
                &self.peer,
                o,
            ));
        }
        Ok(Features::default())
    }
}

impl Session {
    /// RSET before reuse; false when the server did not take it.
    pub fn reset(&mut self, settings: &Settings) -> bool {
        matches!(self.conn.command("RSET", settings.rset_timeout), Ok(r) if r.is_positive())
    }

    /// QUIT and close. As `smtp_skip_quit_response = yes`, the reply is not
    /// awaited.
    pub fn quit(mut self, settings: &Settings) {
        let _ = self.conn.write_all(b"QUIT\r\n", settings.quit_timeout);
        let _ = self.conn.flush();
        self.conn.close();
    }
}
