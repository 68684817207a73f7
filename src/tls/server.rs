//! The smtpd TLS context: certificates, CAs, client-certificate requests,
//! protocols, ciphers, options and session resumption, built once from
//! `ServerSettings` and shared by every smtpd thread of one service.
//!
//! Mirrors Postfix `tls_server.c` (`tls_server_init`, `tls_server_start`) and
//! `tls_certkey.c`. Parameters: `smtpd_tls_security_level`,
//! `smtpd_tls_cert_file`, `smtpd_tls_key_file`, `smtpd_tls_chain_files`,
//! `smtpd_tls_eccert_file`, `smtpd_tls_eckey_file`, `smtpd_tls_CAfile`,
//! `smtpd_tls_CApath`, `smtpd_tls_ask_ccert`, `smtpd_tls_req_ccert`,
//! `smtpd_tls_ccert_verifydepth`, `smtpd_tls_protocols`,
//! `smtpd_tls_mandatory_protocols`, `smtpd_tls_ciphers`,
//! `smtpd_tls_mandatory_ciphers`, `smtpd_tls_exclude_ciphers`,
//! `smtpd_tls_mandatory_exclude_ciphers`, `smtpd_tls_session_cache_timeout`,
//! `smtpd_tls_session_cache_database`, `smtpd_tls_fingerprint_digest`,
//! `smtpd_tls_loglevel`, `smtpd_tls_received_header` and the `tls_*` globals.

use std::time::Duration;

use openssl::ssl::{
    SslContext, SslContextBuilder, SslMethod, SslOptions, SslSessionCacheMode, SslVerifyMode,
};
use openssl::x509::X509Name;

use super::certs::{self, FileParam};
use super::error::ConfigError;
use super::ffi;
use super::level::TlsLevel;
use super::options::{self, TlsGlobals};
use super::verify::FingerprintDigest;

/// The smtpd TLS parameters, named as in main.cf, with Postfix 3.7's defaults.
/// The daemon fills it from the configuration (and master.cf `-o` overrides).
#[allow(non_snake_case)] // field names are the Postfix parameter names
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerSettings {
    /// `none` (no STARTTLS), `may` (offer it) or `encrypt` (require it); picks
    /// the mandatory protocol and cipher settings at `encrypt`.
    pub smtpd_tls_security_level: TlsLevel,
    /// RSA (or other) server certificate, leaf first, then its chain.
    pub smtpd_tls_cert_file: String,
    /// Its private key; empty means "in smtpd_tls_cert_file" (`$smtpd_tls_cert_file`).
    pub smtpd_tls_key_file: String,
    /// Files each holding key + certificate chain(s) (Postfix 3.4+); used instead
    /// of the cert/key pairs when not empty.
    pub smtpd_tls_chain_files: Vec<String>,
    /// ECDSA server certificate, beside the RSA one.
    pub smtpd_tls_eccert_file: String,
    /// Its private key; empty means "in smtpd_tls_eccert_file".
    pub smtpd_tls_eckey_file: String,
    /// CA certificates for client-certificate verification (also sent as the
    /// list of acceptable CAs).
    pub smtpd_tls_CAfile: String,
    /// Directory of hashed CA certificates.
    pub smtpd_tls_CApath: String,
    /// Ask the client for a certificate without requiring one.
    pub smtpd_tls_ask_ccert: bool,
    /// Require a client certificate (the handshake fails without one); only
    /// in effect at `encrypt`, as in Postfix.
    pub smtpd_tls_req_ccert: bool,
    /// Maximal client-certificate chain depth.
    pub smtpd_tls_ccert_verifydepth: u32,
    /// Protocols for opportunistic TLS.
    pub smtpd_tls_protocols: String,
    /// Protocols at `encrypt`.
    pub smtpd_tls_mandatory_protocols: String,
    /// Cipher grade for opportunistic TLS.
    pub smtpd_tls_ciphers: String,
    /// Cipher grade at `encrypt`.
    pub smtpd_tls_mandatory_ciphers: String,
    /// Ciphers to exclude at every level.
    pub smtpd_tls_exclude_ciphers: String,
    /// Ciphers to exclude in addition at `encrypt`.
    pub smtpd_tls_mandatory_exclude_ciphers: String,
    /// Lifetime of resumable sessions and tickets; zero turns resumption off.
    pub smtpd_tls_session_cache_timeout: Duration,
    /// Postfix's external session cache; Postern, one process, keeps a
    /// stateful cache in memory when this is set (any value), else relies on
    /// tickets as Postfix does without a cache database.
    pub smtpd_tls_session_cache_database: String,
    /// Digest for client-certificate fingerprints (logs, relay_clientcerts).
    pub smtpd_tls_fingerprint_digest: String,
    /// 0: no TLS logging; 1: summary line; 2: also the certificate line.
    pub smtpd_tls_loglevel: u8,
    /// Add the TLS clauses to the Received header.
    pub smtpd_tls_received_header: bool,
    /// The `tls_*` parameters shared with the client.
    pub tls: TlsGlobals,
}

impl Default for ServerSettings {
    fn default() -> Self {
        ServerSettings {
            smtpd_tls_security_level: TlsLevel::None,
            smtpd_tls_cert_file: String::new(),
            smtpd_tls_key_file: String::new(),
            smtpd_tls_chain_files: Vec::new(),
            smtpd_tls_eccert_file: String::new(),
            smtpd_tls_eckey_file: String::new(),
            smtpd_tls_CAfile: String::new(),
            smtpd_tls_CApath: String::new(),
            smtpd_tls_ask_ccert: false,
            smtpd_tls_req_ccert: false,
            smtpd_tls_ccert_verifydepth: 9,
            smtpd_tls_protocols: ">=TLSv1".into(),
            smtpd_tls_mandatory_protocols: ">=TLSv1".into(),
            smtpd_tls_ciphers: "medium".into(),
            smtpd_tls_mandatory_ciphers: "medium".into(),
            smtpd_tls_exclude_ciphers: String::new(),
            smtpd_tls_mandatory_exclude_ciphers: String::new(),
            smtpd_tls_session_cache_timeout: Duration::from_secs(3600),
            smtpd_tls_session_cache_database: String::new(),
            smtpd_tls_fingerprint_digest: "sha256".into(),
            smtpd_tls_loglevel: 0,
            smtpd_tls_received_header: false,
            tls: TlsGlobals::default(),
        }
    }
}

/// A ready smtpd TLS context. Cheap to clone (reference counted) and safe to
/// share between threads.
#[derive(Clone)]
pub struct ServerContext {
    ctx: SslContext,
    digest: FingerprintDigest,
    ask_ccert: bool,
    require_ccert: bool,
}

impl std::fmt::Debug for ServerContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerContext")
            .field("digest", &self.digest.name())
            .field("ask_ccert", &self.ask_ccert)
            .finish()
    }
}

impl ServerContext {
    /// Builds the context. `service` is the master.cf service name (`smtp`,
    /// `submission`, ...): it becomes the session id context, so a session made
    /// under one service's policy is never resumed under another's.
    pub fn new(settings: &ServerSettings, service: &str) -> Result<ServerContext, ConfigError> {
        let s = settings;
        let digest = FingerprintDigest::lookup(
            "smtpd_tls_fingerprint_digest",
            &s.smtpd_tls_fingerprint_digest,
        )?;
        let mut b = SslContext::builder(SslMethod::tls_server()).map_err(ConfigError::Library)?;
        load_identity(&mut b, s)?;
        certs::load_ca(
            &mut b,
            FileParam {
                param: "smtpd_tls_CAfile",
                file: &s.smtpd_tls_CAfile,
            },
            FileParam {
                param: "smtpd_tls_CApath",
                file: &s.smtpd_tls_CApath,
            },
            s.tls.tls_append_default_CA,
        )?;
        let mandatory = s.smtpd_tls_security_level.uses_mandatory_settings();
        // As Postfix smtpd.c: a client certificate can only be required when
        // TLS itself is ("Can't require client certs unless TLS is required");
        // requiring implies asking.
        let require = s.smtpd_tls_req_ccert && s.smtpd_tls_security_level.must_encrypt();
        let ask = s.smtpd_tls_ask_ccert || require;
        apply_protocols_and_ciphers(&mut b, s, mandatory, ask)?;
        let mut opts = SslOptions::ALL | options::parse_ssl_options(&s.tls.tls_ssl_options)?;
        if s.tls.tls_preempt_cipherlist {
            opts |= SslOptions::CIPHER_SERVER_PREFERENCE;
        }
        // SMTP has its own end-of-data marker, so a missing close_notify is no
        // truncation attack (tls.h: SSL_OP_IGNORE_UNEXPECTED_EOF "always used").
        opts |= SslOptions::IGNORE_UNEXPECTED_EOF;
        let timeout = s.smtpd_tls_session_cache_timeout.as_secs();
        if timeout == 0 {
            // Postfix: a zero timeout disables tickets and the cache.
            opts |= SslOptions::NO_TICKET;
        }
        b.set_options(opts);

        if ask {
            let mut mode = SslVerifyMode::PEER | SslVerifyMode::CLIENT_ONCE;
            if require {
                mode |= SslVerifyMode::FAIL_IF_NO_PEER_CERT;
            }
            // Ask without requiring trust: the handshake goes on with an
            // untrusted certificate, verify_result() keeps the verdict, and the
            // fingerprint still counts for relay_clientcerts (Postfix
            // tls_verify_certificate_callback returns 1; DEPENDENCIES fact 4).
            b.set_verify_callback(mode, |_preverify, _store| true);
            // OpenSSL then fails a longer chain with X509_V_ERR_CERT_CHAIN_TOO_LONG,
            // which verify_result() reports; the callback still lets the handshake on.
            b.set_verify_depth(s.smtpd_tls_ccert_verifydepth);
            if !s.smtpd_tls_CAfile.is_empty() {
                // Tell the client which CAs we accept (SSL_load_client_CA_file).
                let names =
                    X509Name::load_client_ca_file(&s.smtpd_tls_CAfile).map_err(|source| {
                        ConfigError::BadPem {
                            param: "smtpd_tls_CAfile",
                            file: s.smtpd_tls_CAfile.clone().into(),
                            what: "CA names",
                            source,
                        }
                    })?;
                b.set_client_ca_list(names);
            }
        } else {
            b.set_verify(SslVerifyMode::NONE);
        }
        // Required whenever a session may be resumed while peers are verified,
        // else OpenSSL fails the handshake with "session id context
        // uninitialized" (DEPENDENCIES fact 1). Set it always; it is cheap.
        let sid_ctx = format!("postern-smtpd-{service}");
        let sid = &sid_ctx.as_bytes()[..sid_ctx.len().min(32)];
        b.set_session_id_context(sid)
            .map_err(ConfigError::Library)?;
        if timeout > 0 && !s.smtpd_tls_session_cache_database.is_empty() {
            b.set_session_cache_mode(SslSessionCacheMode::SERVER);
        } else {
            // As Postfix without a cache database: no server-side session store;
            // TLS tickets (unless NO_TICKET) still allow resumption.
            b.set_session_cache_mode(SslSessionCacheMode::OFF);
        }
        ffi::set_session_timeout(&mut b, timeout);
        Ok(ServerContext {
            ctx: b.build(),
            digest,
            ask_ccert: ask,
            require_ccert: require,
        })
    }

    /// The OpenSSL context, for `stream::accept`.
    pub fn ssl_context(&self) -> &SslContext {
        &self.ctx
    }

    /// Digest for client-certificate fingerprints.
    pub fn fingerprint_digest(&self) -> FingerprintDigest {
        self.digest
    }

    /// Whether client certificates are requested (for the Received clause).
    pub fn asks_client_certificate(&self) -> bool {
        self.ask_ccert
    }

    /// Whether a client certificate is required (`smtpd_tls_req_ccert` at
    /// level `encrypt`). The handshake already fails without one; smtpd must
    /// still refuse an untrusted one, as Postfix smtpd does with "421 4.7.1
    /// ... Client certificate not trusted" (not done here: it is a reply).
    pub fn requires_client_certificate(&self) -> bool {
        self.require_ccert
    }
}

/// Server certificates: chain files when set, else the RSA and/or EC
/// cert/key pairs. At least one identity is required (Postfix: "no server
/// certificate" disables TLS with a warning; Postern refuses the config).
fn load_identity(b: &mut SslContextBuilder, s: &ServerSettings) -> Result<(), ConfigError> {
    if !s.smtpd_tls_chain_files.is_empty() {
        return certs::load_chain_files(b, "smtpd_tls_chain_files", &s.smtpd_tls_chain_files);
    }
    let mut loaded = false;
    if !s.smtpd_tls_cert_file.is_empty() {
        certs::load_cert_and_key(
            b,
            FileParam {
                param: "smtpd_tls_cert_file",
                file: &s.smtpd_tls_cert_file,
            },
            FileParam {
                param: "smtpd_tls_key_file",
                file: &s.smtpd_tls_key_file,
            },
        )?;
        loaded = true;
    }
    if !s.smtpd_tls_eccert_file.is_empty() {
        certs::load_cert_and_key(
            b,
            FileParam {
                param: "smtpd_tls_eccert_file",
                file: &s.smtpd_tls_eccert_file,
            },
            FileParam {
                param: "smtpd_tls_eckey_file",
                file: &s.smtpd_tls_eckey_file,
            },
        )?;
        loaded = true;
    }
    if !loaded {
        return Err(ConfigError::BadValue {
            param: "smtpd_tls_cert_file",
            value: String::new(),
            why: "TLS needs a server certificate (or smtpd_tls_chain_files)".into(),
        });
    }
    Ok(())
}

fn apply_protocols_and_ciphers(
    b: &mut SslContextBuilder,
    s: &ServerSettings,
    mandatory: bool,
    ask_ccert: bool,
) -> Result<(), ConfigError> {
    let (proto_param, proto_value) = if mandatory {
        (
            "smtpd_tls_mandatory_protocols",
            &s.smtpd_tls_mandatory_protocols,
        )
    } else {
        ("smtpd_tls_protocols", &s.smtpd_tls_protocols)
    };
    let range = options::parse_protocols(proto_param, proto_value)?;
    let rejected = |source| ConfigError::Rejected {
        param: proto_param,
        value: proto_value.clone(),
        source,
    };
    b.set_min_proto_version(range.min).map_err(rejected)?;
    b.set_max_proto_version(range.max).map_err(rejected)?;
    b.set_options(range.holes);

    let (grade_param, grade) = if mandatory {
        (
            "smtpd_tls_mandatory_ciphers",
            &s.smtpd_tls_mandatory_ciphers,
        )
    } else {
        ("smtpd_tls_ciphers", &s.smtpd_tls_ciphers)
    };
    let mut exclusions = vec![s.smtpd_tls_exclude_ciphers.as_str()];
    if mandatory {
        exclusions.push(s.smtpd_tls_mandatory_exclude_ciphers.as_str());
    }
    if ask_ccert {
        // A client cannot send a certificate over an anonymous cipher, so
        // Postfix drops them when it asks (smtpd.c, tlsproxy.c).
        exclusions.push("aNULL");
    }
    let list = options::cipher_list(
        &s.tls,
        grade_param,
        grade,
        "smtpd_tls_exclude_ciphers",
        &exclusions,
    )?;
    b.set_cipher_list(&list)
        .map_err(|source| ConfigError::Rejected {
            param: grade_param,
            value: list.clone(),
            source,
        })?;
    Ok(())
}
