//! The smtp client TLS context: our client certificate, trusted CAs, session
//! resumption, and the per-connection settings a TLS policy chooses
//! (protocols, ciphers, SNI, match patterns).
//!
//! Mirrors Postfix `tls_client.c` (`tls_client_init`, `tls_client_start`) and
//! the defaults of `smtp_tls_policy.c`. Parameters: `smtp_tls_security_level`,
//! `smtp_tls_cert_file`, `smtp_tls_key_file`, `smtp_tls_CAfile`,
//! `smtp_tls_CApath`, `smtp_tls_protocols`, `smtp_tls_mandatory_protocols`,
//! `smtp_tls_ciphers`, `smtp_tls_mandatory_ciphers`, `smtp_tls_exclude_ciphers`,
//! `smtp_tls_mandatory_exclude_ciphers`, `smtp_tls_servername`,
//! `smtp_tls_scert_verifydepth`, `smtp_tls_verify_cert_match`,
//! `smtp_tls_secure_cert_match`, `smtp_tls_fingerprint_cert_match`,
//! `smtp_tls_fingerprint_digest`, `smtp_tls_session_cache_timeout`,
//! `smtp_tls_loglevel` and the `tls_*` globals.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use openssl::ex_data::Index;
use openssl::ssl::{
    Ssl, SslContext, SslMethod, SslOptions, SslSession, SslSessionCacheMode, SslSessionRef,
    SslVerifyMode,
};

use super::certs::{self, FileParam};
use super::error::ConfigError;
use super::ffi;
use super::level::TlsLevel;
use super::options::{self, TlsGlobals};
use super::verify::{self, FingerprintDigest};

/// The smtp client TLS parameters, named as in main.cf, with Postfix 3.7's
/// defaults.
#[allow(non_snake_case)] // field names are the Postfix parameter names
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientSettings {
    /// Default level for destinations without a policy-table entry.
    pub smtp_tls_security_level: TlsLevel,
    /// Client certificate (leaf first, then chain), for servers that relay by
    /// certificate; empty: none.
    pub smtp_tls_cert_file: String,
    /// Its key; empty means "in smtp_tls_cert_file".
    pub smtp_tls_key_file: String,
    /// CAs that server certificates are verified against.
    pub smtp_tls_CAfile: String,
    /// Directory of hashed CA certificates.
    pub smtp_tls_CApath: String,
    /// Protocols for opportunistic TLS (`may`).
    pub smtp_tls_protocols: String,
    /// Protocols from `encrypt` up.
    pub smtp_tls_mandatory_protocols: String,
    /// Cipher grade for opportunistic TLS.
    pub smtp_tls_ciphers: String,
    /// Cipher grade from `encrypt` up.
    pub smtp_tls_mandatory_ciphers: String,
    /// Ciphers to exclude at every level.
    pub smtp_tls_exclude_ciphers: String,
    /// Ciphers to exclude in addition from `encrypt` up.
    pub smtp_tls_mandatory_exclude_ciphers: String,
    /// SNI to send: empty (none), `hostname`, `nexthop`, or a literal name.
    pub smtp_tls_servername: String,
    /// Maximal server chain depth.
    pub smtp_tls_scert_verifydepth: u32,
    /// Name patterns at `verify`.
    pub smtp_tls_verify_cert_match: String,
    /// Name patterns at `secure`.
    pub smtp_tls_secure_cert_match: String,
    /// Fingerprints at `fingerprint` when the policy has no match=.
    pub smtp_tls_fingerprint_cert_match: String,
    /// Digest for fingerprints.
    pub smtp_tls_fingerprint_digest: String,
    /// How long a cached session may be resumed; zero: no resumption.
    pub smtp_tls_session_cache_timeout: Duration,
    /// 0: no TLS logging; 1: summary line; 2: also the certificate line.
    pub smtp_tls_loglevel: u8,
    /// The `tls_*` parameters shared with the server.
    pub tls: TlsGlobals,
}

impl Default for ClientSettings {
    fn default() -> Self {
        ClientSettings {
            smtp_tls_security_level: TlsLevel::None,
            smtp_tls_cert_file: String::new(),
            smtp_tls_key_file: String::new(),
            smtp_tls_CAfile: String::new(),
            smtp_tls_CApath: String::new(),
            smtp_tls_protocols: ">=TLSv1".into(),
            smtp_tls_mandatory_protocols: ">=TLSv1".into(),
            smtp_tls_ciphers: "medium".into(),
            smtp_tls_mandatory_ciphers: "medium".into(),
            smtp_tls_exclude_ciphers: String::new(),
            smtp_tls_mandatory_exclude_ciphers: String::new(),
            smtp_tls_servername: String::new(),
            smtp_tls_scert_verifydepth: 9,
            smtp_tls_verify_cert_match: "hostname".into(),
            smtp_tls_secure_cert_match: "nexthop, dot-nexthop".into(),
            smtp_tls_fingerprint_cert_match: String::new(),
            smtp_tls_fingerprint_digest: "sha256".into(),
            smtp_tls_session_cache_timeout: Duration::from_secs(3600),
            smtp_tls_loglevel: 0,
            tls: TlsGlobals::default(),
        }
    }
}

/// The TLS policy of one delivery attempt: the level plus the optional
/// policy-table attributes (`ciphers=`, `protocols=`, `exclude=`, `match=`,
/// `servername=`). smtp/policy.rs builds it; `None` attributes fall back to
/// main.cf.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientPolicy {
    /// The security level for this destination.
    pub level: TlsLevel,
    /// `ciphers=` grade.
    pub ciphers: Option<String>,
    /// `protocols=` list.
    pub protocols: Option<String>,
    /// `exclude=` ciphers, added to the main.cf exclusions.
    pub exclude: Option<String>,
    /// `match=`: name patterns (verify/secure) or fingerprints (fingerprint).
    pub matches: Option<Vec<String>>,
    /// `servername=`.
    pub servername: Option<String>,
}

impl ClientPolicy {
    /// A policy with only a level (as from `smtp_tls_security_level`).
    pub fn level(level: TlsLevel) -> ClientPolicy {
        ClientPolicy {
            level,
            ..ClientPolicy::default()
        }
    }
}

/// The server being connected to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerPeer {
    /// Next-hop domain (for `nexthop`/`dot-nexthop` and the session cache).
    pub nexthop: String,
    /// Host name connected to (MX or relay host).
    pub hostname: String,
    /// Address connected to, printed.
    pub addr: String,
    /// TCP port.
    pub port: u16,
}

impl ServerPeer {
    /// Postfix's `namaddrport`: `host[addr]:port`, as in the client log lines.
    pub fn namaddrport(&self) -> String {
        format!("{}[{}]:{}", self.hostname, self.addr, self.port)
    }
}

/// Resumable client sessions, by session-cache key (Postfix `serverid`),
/// standing in for tlsmgr's smtp cache. In memory for now; a SQLite store
/// can replace it behind the same two calls.
///
/// The cache keeps its own copy of each session and hands out copies: OpenSSL
/// marks the session object a connection used not resumable after a resumed
/// TLS 1.3 handshake (it "encourages" one use per ticket) and when the
/// connection ends uncleanly, so a shared object would serve one connection
/// and send the next ones to a full handshake (DEPENDENCIES fact 7). tlsmgr
/// gets the same effect by storing sessions serialized.
#[derive(Default)]
pub struct SessionCache {
    entries: Mutex<HashMap<String, (SslSession, Instant)>>,
    lifetime: Duration,
}

impl std::fmt::Debug for SessionCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionCache")
            .field("entries", &self.len())
            .field("lifetime", &self.lifetime)
            .finish()
    }
}

impl SessionCache {
    fn new(lifetime: Duration) -> SessionCache {
        SessionCache {
            entries: Mutex::new(HashMap::new()),
            lifetime,
        }
    }

    fn store(&self, key: String, session: &SslSessionRef) {
        // Without a copy nothing is cached; the next connection makes a full
        // handshake.
        let Some(copy) = ffi::session_dup(session) else {
            return;
        };
        // A poisoned lock only means another thread panicked mid-insert; the
        // map itself is still consistent, so keep using it.
        let mut map = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        map.retain(|_, (_, at)| at.elapsed() < self.lifetime);
        map.insert(key, (copy, Instant::now()));
    }

    fn fetch(&self, key: &str) -> Option<SslSession> {
        let mut map = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        match map.get(key) {
            Some((session, at)) if at.elapsed() < self.lifetime => ffi::session_dup(session),
            Some(_) => {
                map.remove(key);
                None
            }
            None => None,
        }
    }

    /// Number of live entries (for posttls-finger and tests).
    pub fn len(&self) -> usize {
        let map = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        map.values()
            .filter(|(_, at)| at.elapsed() < self.lifetime)
            .count()
    }

    /// True when no live entry is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A ready smtp TLS context, shared by the client workers.
#[derive(Clone)]
pub struct ClientContext {
    ctx: SslContext,
    settings: Arc<ClientSettings>,
    digest: FingerprintDigest,
    cache: Arc<SessionCache>,
    cache_key: Index<Ssl, String>,
    /// The cipher list set on the context: that of an opportunistic
    /// connection under main.cf's settings (and, with the default settings,
    /// of `encrypt` too). A connection whose list is the same skips
    /// `SSL_set_cipher_list`, which OpenSSL 3 makes rebuild the whole list.
    context_ciphers: Option<String>,
}

impl std::fmt::Debug for ClientContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientContext")
            .field("digest", &self.digest.name())
            .field("cached_sessions", &self.cache.len())
            .finish()
    }
}

/// Everything a connection needs from the policy, resolved against main.cf.
#[derive(Debug)]
pub struct PreparedClient {
    /// The SSL object to connect with (SNI, protocols, ciphers, session set).
    pub ssl: Ssl,
    /// Level to enforce after the handshake.
    pub level: TlsLevel,
    /// Resolved match list (names or fingerprints).
    pub matches: Vec<String>,
}

impl ClientContext {
    /// Builds the context: client certificate (if any), CAs, options and the
    /// session-ticket capture.
    pub fn new(settings: &ClientSettings) -> Result<ClientContext, ConfigError> {
        let s = settings;
        let digest = FingerprintDigest::lookup(
            "smtp_tls_fingerprint_digest",
            &s.smtp_tls_fingerprint_digest,
        )?;
        let mut b = SslContext::builder(SslMethod::tls_client()).map_err(ConfigError::Library)?;
        if !s.smtp_tls_cert_file.is_empty() {
            certs::load_cert_and_key(
                &mut b,
                FileParam {
                    param: "smtp_tls_cert_file",
                    file: &s.smtp_tls_cert_file,
                },
                FileParam {
                    param: "smtp_tls_key_file",
                    file: &s.smtp_tls_key_file,
                },
            )?;
        }
        certs::load_ca(
            &mut b,
            FileParam {
                param: "smtp_tls_CAfile",
                file: &s.smtp_tls_CAfile,
            },
            FileParam {
                param: "smtp_tls_CApath",
                file: &s.smtp_tls_CApath,
            },
            s.tls.tls_append_default_CA,
        )?;
        let opts = SslOptions::ALL
            | options::parse_ssl_options(&s.tls.tls_ssl_options)?
            | SslOptions::IGNORE_UNEXPECTED_EOF;
        b.set_options(opts);
        // Complete the handshake whatever the chain: the level decides
        // afterwards, and `may`/`encrypt` must not fail on an untrusted server
        // (Postfix tls_client.c with tls_verify_certificate_callback).
        b.set_verify_callback(SslVerifyMode::PEER, |_preverify, _store| true);
        // OpenSSL then fails a longer chain with X509_V_ERR_CERT_CHAIN_TOO_LONG,
        // which verify_result() reports; the callback still lets the handshake on.
        b.set_verify_depth(s.smtp_tls_scert_verifydepth);
        // Read whatever has arrived, not one record header and then its body:
        // the server's handshake flight and a reply come in one read instead
        // of two per record. Nothing but TLS follows the handshake on this
        // socket, and the client never asks SSL_pending (which read-ahead
        // makes unreliable; smtpd, which asks, leaves it off).
        b.set_read_ahead(true);

        let cache = Arc::new(SessionCache::new(s.smtp_tls_session_cache_timeout));
        let cache_key = Ssl::new_ex_index::<String>().map_err(ConfigError::Library)?;
        let timeout = s.smtp_tls_session_cache_timeout.as_secs();
        if timeout > 0 {
            // TLS 1.3 tickets arrive after the handshake; OpenSSL hands each
            // one to this callback (DEPENDENCIES fact 3). As Postfix: client
            // mode, no internal store, and sessions outlive the cache entry.
            b.set_session_cache_mode(
                SslSessionCacheMode::CLIENT | SslSessionCacheMode::NO_INTERNAL_STORE,
            );
            let sink = Arc::clone(&cache);
            b.set_new_session_callback(move |ssl, session| {
                if let Some(key) = ssl.ex_data(cache_key) {
                    sink.store(key.clone(), &session);
                }
            });
            ffi::set_session_timeout(&mut b, timeout.saturating_mul(2));
        } else {
            b.set_session_cache_mode(SslSessionCacheMode::OFF);
        }
        let context_ciphers = Resolved::new(s, &ClientPolicy::level(TlsLevel::May))
            .cipher_list(s)
            .ok()
            .filter(|list| b.set_cipher_list(list).is_ok());
        Ok(ClientContext {
            ctx: b.build(),
            context_ciphers,
            settings: Arc::new(s.clone()),
            digest,
            cache,
            cache_key,
        })
    }

    /// Digest for server fingerprints.
    pub fn fingerprint_digest(&self) -> FingerprintDigest {
        self.digest
    }

    /// The session cache (for inspection).
    pub fn session_cache(&self) -> &SessionCache {
        &self.cache
    }

    /// `tls_wildcard_matches_multiple_labels`.
    pub fn wildcard_multi_label(&self) -> bool {
        self.settings.tls.tls_wildcard_matches_multiple_labels
    }

    /// Prepares one connection: resolves the policy's attributes against
    /// main.cf, sets SNI, protocols and ciphers on a new SSL object, and offers
    /// a cached session for the same server and settings.
    pub fn prepare(
        &self,
        policy: &ClientPolicy,
        peer: &ServerPeer,
    ) -> Result<PreparedClient, ConfigError> {
        let s = &*self.settings;
        let r = Resolved::new(s, policy);
        let range = options::parse_protocols(r.proto_param, r.proto_value)?;
        let list = r.cipher_list(s)?;

        let mut ssl = Ssl::new(&self.ctx).map_err(ConfigError::Library)?;
        let rejected = |param: &'static str, value: &str| {
            let value = value.to_string();
            move |source| ConfigError::Rejected {
                param,
                value,
                source,
            }
        };
        ssl.set_min_proto_version(range.min)
            .map_err(rejected(r.proto_param, r.proto_value))?;
        ssl.set_max_proto_version(range.max)
            .map_err(rejected(r.proto_param, r.proto_value))?;
        if !range.holes.is_empty() {
            ffi::set_ssl_options(&mut ssl, range.holes);
        }
        if self.context_ciphers.as_deref() != Some(list.as_str()) {
            ssl.set_cipher_list(&list)
                .map_err(rejected(r.grade_param, &list))?;
        }

        let sni = sni_name(s, policy, peer);
        if let Some(name) = sni.filter(|n| !n.is_empty()) {
            ssl.set_hostname(name)
                .map_err(rejected("smtp_tls_servername", name))?;
        }

        let matches = match_list(s, policy);

        // Postfix's serverid: the server plus every setting that changes what
        // a session is good for, so a session is only resumed under the same
        // policy.
        let key = format!(
            "{}[{}]:{}&l={}&p={}&c={}&x={}&sni={}",
            peer.hostname,
            peer.addr,
            peer.port,
            policy.level,
            r.proto_value,
            r.grade,
            r.exclusions.join(","),
            sni.unwrap_or("")
        );
        if let Some(session) = self.cache.fetch(&key) {
            // SAFETY: every cached session was produced by this very context
            // (the new-session callback above, copied), as SSL_set_session
            // requires.
            unsafe {
                ssl.set_session(&session)
                    .map_err(rejected("smtp_tls_session_cache_timeout", "cached session"))?;
            }
        }
        ssl.set_ex_data(self.cache_key, key);
        Ok(PreparedClient {
            ssl,
            level: policy.level,
            matches,
        })
    }
}

/// The protocol and cipher settings of one attempt: the policy's attributes
/// where given, else main.cf's, mandatory from `encrypt` up (smtp_tls_policy.c).
struct Resolved<'a> {
    proto_param: &'static str,
    proto_value: &'a str,
    grade_param: &'static str,
    grade: &'a str,
    exclusions: Vec<&'a str>,
}

impl<'a> Resolved<'a> {
    fn new(s: &'a ClientSettings, policy: &'a ClientPolicy) -> Resolved<'a> {
        let mandatory = policy.level.uses_mandatory_settings();
        let (proto_param, proto_value) = match &policy.protocols {
            Some(p) => ("smtp_tls_policy_maps protocols", p.as_str()),
            None if mandatory => (
                "smtp_tls_mandatory_protocols",
                s.smtp_tls_mandatory_protocols.as_str(),
            ),
            None => ("smtp_tls_protocols", s.smtp_tls_protocols.as_str()),
        };
        let (grade_param, grade) = match &policy.ciphers {
            Some(c) => ("smtp_tls_policy_maps ciphers", c.as_str()),
            None if mandatory => (
                "smtp_tls_mandatory_ciphers",
                s.smtp_tls_mandatory_ciphers.as_str(),
            ),
            None => ("smtp_tls_ciphers", s.smtp_tls_ciphers.as_str()),
        };
        let mut exclusions = vec![s.smtp_tls_exclude_ciphers.as_str()];
        if mandatory {
            exclusions.push(s.smtp_tls_mandatory_exclude_ciphers.as_str());
        }
        if let Some(extra) = &policy.exclude {
            exclusions.push(extra.as_str());
        }
        // As Postfix smtp_proto.c: "If we're authenticating suppress
        // anonymous ciphersuites, otherwise at least encrypt".
        exclusions.push(if policy.level.must_match() {
            "aNULL"
        } else {
            "eNULL"
        });
        Resolved {
            proto_param,
            proto_value,
            grade_param,
            grade,
            exclusions,
        }
    }

    /// The OpenSSL cipher list of the grade minus the exclusions.
    fn cipher_list(&self, s: &ClientSettings) -> Result<String, ConfigError> {
        options::cipher_list(
            &s.tls,
            self.grade_param,
            self.grade,
            "smtp_tls_exclude_ciphers",
            &self.exclusions,
        )
    }
}

/// The SNI name to send: `servername=` or `smtp_tls_servername`; `hostname`
/// and `nexthop` stand for the peer's names, empty sends none.
fn sni_name<'a>(
    s: &'a ClientSettings,
    policy: &'a ClientPolicy,
    peer: &'a ServerPeer,
) -> Option<&'a str> {
    let servername = policy
        .servername
        .as_deref()
        .unwrap_or(s.smtp_tls_servername.as_str());
    match servername {
        "" => None,
        "hostname" => Some(peer.hostname.as_str()),
        "nexthop" => Some(peer.nexthop.as_str()),
        literal => Some(literal),
    }
}

/// The match list: `match=` from the policy, else the main.cf list of the
/// level (`smtp_tls_fingerprint_cert_match`, `smtp_tls_verify_cert_match`,
/// `smtp_tls_secure_cert_match`).
fn match_list(s: &ClientSettings, policy: &ClientPolicy) -> Vec<String> {
    match &policy.matches {
        Some(m) => m.clone(),
        None => match policy.level {
            TlsLevel::Fingerprint => verify::split_fingerprints(&s.smtp_tls_fingerprint_cert_match),
            TlsLevel::Verify => verify::split_name_patterns(&s.smtp_tls_verify_cert_match),
            TlsLevel::Secure => verify::split_name_patterns(&s.smtp_tls_secure_cert_match),
            _ => Vec::new(),
        },
    }
}
