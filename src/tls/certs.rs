//! Loads certificates, private keys and CA locations named by main.cf into an
//! OpenSSL context, with errors that name the parameter and the file.
//!
//! Mirrors Postfix `tls_certkey.c` (`tls_set_my_certificate_key_info`,
//! `tls_load_pem_chain`) and `tls_set_ca_certificate_info`. The parameters
//! (`smtpd_tls_cert_file`, `smtpd_tls_key_file`, `smtpd_tls_eccert_file`,
//! `smtpd_tls_eckey_file`, `smtpd_tls_chain_files`, `smtpd_tls_CAfile`,
//! `smtpd_tls_CApath` and their `smtp_tls_*` twins, and
//! `tls_append_default_CA`) arrive as `FileParam`s from
//! server.rs and client.rs.

use std::fs;
use std::path::{Path, PathBuf};

use openssl::pkey::{PKey, Private};
use openssl::ssl::SslContextBuilder;
use openssl::x509::X509;

use super::error::ConfigError;
use super::ffi;

/// A file named by a parameter, kept together so every error can name both.
#[derive(Debug, Clone, Copy)]
pub struct FileParam<'a> {
    pub param: &'static str,
    pub file: &'a str,
}

impl FileParam<'_> {
    fn path(&self) -> PathBuf {
        PathBuf::from(self.file)
    }

    fn read(&self) -> Result<Vec<u8>, ConfigError> {
        fs::read(self.file).map_err(|source| ConfigError::Unreadable {
            param: self.param,
            file: self.path(),
            source,
        })
    }
}

/// One PEM block: its label and the full text including the armour lines.
struct PemBlock {
    label: String,
    text: String,
}

fn pem_blocks(data: &[u8]) -> Vec<PemBlock> {
    let text = String::from_utf8_lossy(data);
    let mut blocks = Vec::new();
    let mut current: Option<PemBlock> = None;
    for line in text.lines() {
        let line = line.trim_end();
        if let Some(label) = line
            .strip_prefix("-----BEGIN ")
            .and_then(|l| l.strip_suffix("-----"))
        {
            current = Some(PemBlock {
                label: label.to_string(),
                text: format!("{line}\n"),
            });
        } else if let Some(block) = current.as_mut() {
            block.text.push_str(line);
            block.text.push('\n');
            if line.starts_with("-----END ") {
                if let Some(done) = current.take() {
                    blocks.push(done);
                }
            }
        }
    }
    blocks
}

fn is_key(label: &str) -> bool {
    label.ends_with("PRIVATE KEY")
}

fn is_cert(label: &str) -> bool {
    label == "CERTIFICATE" || label == "TRUSTED CERTIFICATE"
}

fn load_certs(fp: FileParam<'_>, blocks: &[&PemBlock]) -> Result<Vec<X509>, ConfigError> {
    blocks
        .iter()
        .map(|b| {
            X509::from_pem(b.text.as_bytes()).map_err(|source| ConfigError::BadPem {
                param: fp.param,
                file: fp.path(),
                what: "certificate",
                source,
            })
        })
        .collect()
}

fn load_key(fp: FileParam<'_>, block: &PemBlock) -> Result<PKey<Private>, ConfigError> {
    PKey::private_key_from_pem(block.text.as_bytes()).map_err(|source| ConfigError::BadPem {
        param: fp.param,
        file: fp.path(),
        what: "private key",
        source,
    })
}

/// Installs one leaf certificate with its chain and key, and checks that they
/// belong together. OpenSSL keeps one slot per key type, so an RSA and an EC
/// certificate can both be installed (Postfix `smtpd_tls_eccert_file`).
fn install(
    builder: &mut SslContextBuilder,
    cert_fp: FileParam<'_>,
    certs: Vec<X509>,
    key_fp: FileParam<'_>,
    key: &PKey<Private>,
) -> Result<(), ConfigError> {
    let mut certs = certs.into_iter();
    let Some(leaf) = certs.next() else {
        return Err(ConfigError::Missing {
            param: cert_fp.param,
            file: cert_fp.path(),
            what: "certificate",
        });
    };
    let rejected = |source| ConfigError::Rejected {
        param: cert_fp.param,
        value: cert_fp.file.to_string(),
        source,
    };
    builder.set_certificate(&leaf).map_err(rejected)?;
    let mismatch = || ConfigError::KeyMismatch {
        cert_param: cert_fp.param,
        cert_file: cert_fp.path(),
        key_param: key_fp.param,
        key_file: key_fp.path(),
    };
    // The key must match the leaf before OpenSSL is asked to use it: with a
    // mismatch SSL_CTX_use_PrivateKey fails with a less helpful error.
    let leaf_key = leaf.public_key().map_err(rejected)?;
    if !leaf_key.public_eq(key) {
        return Err(mismatch());
    }
    builder.set_private_key(key).map_err(|_| mismatch())?;
    builder.check_private_key().map_err(|_| mismatch())?;
    for chain_cert in certs {
        // SSL_CTX_add1_chain_cert: the chain belongs to the current slot only.
        ffi::add_chain_cert(builder, &chain_cert).map_err(rejected)?;
    }
    Ok(())
}

/// Loads a certificate file (leaf first, then its chain) and its key file, as
/// `smtpd_tls_cert_file` + `smtpd_tls_key_file`. An empty key file means "the
/// key is in the certificate file" (the Postfix default `$smtpd_tls_cert_file`).
pub fn load_cert_and_key(
    builder: &mut SslContextBuilder,
    cert_fp: FileParam<'_>,
    key_fp: FileParam<'_>,
) -> Result<(), ConfigError> {
    let key_fp = if key_fp.file.is_empty() {
        FileParam {
            param: key_fp.param,
            file: cert_fp.file,
        }
    } else {
        key_fp
    };
    let cert_data = cert_fp.read()?;
    let cert_blocks = pem_blocks(&cert_data);
    let cert_refs: Vec<&PemBlock> = cert_blocks.iter().filter(|b| is_cert(&b.label)).collect();
    let certs = load_certs(cert_fp, &cert_refs)?;
    let key_data = if key_fp.file == cert_fp.file {
        cert_data.clone()
    } else {
        key_fp.read()?
    };
    let key_blocks = pem_blocks(&key_data);
    let Some(key_block) = key_blocks.iter().find(|b| is_key(&b.label)) else {
        return Err(ConfigError::Missing {
            param: key_fp.param,
            file: key_fp.path(),
            what: "private key",
        });
    };
    let key = load_key(key_fp, key_block)?;
    install(builder, cert_fp, certs, key_fp, &key)
}

/// Loads `*_tls_chain_files` (Postfix 3.4+): each file holds one or more chains,
/// each chain a private key followed by its leaf certificate and the
/// intermediates (a single chain may also put the leaf first).
pub fn load_chain_files(
    builder: &mut SslContextBuilder,
    param: &'static str,
    files: &[String],
) -> Result<(), ConfigError> {
    for file in files {
        let fp = FileParam { param, file };
        let data = fp.read()?;
        let blocks = pem_blocks(&data);
        // Split into chains: every key after the first starts the next chain.
        let mut chains: Vec<(Option<&PemBlock>, Vec<&PemBlock>)> = vec![(None, Vec::new())];
        for block in &blocks {
            let Some(last) = chains.last_mut() else {
                continue;
            };
            if is_key(&block.label) {
                if last.0.is_some() {
                    chains.push((Some(block), Vec::new()));
                } else {
                    last.0 = Some(block);
                }
            } else if is_cert(&block.label) {
                last.1.push(block);
            }
        }
        for (key, certs) in chains {
            let Some(key) = key else {
                return Err(ConfigError::Missing {
                    param,
                    file: fp.path(),
                    what: "private key",
                });
            };
            let key = load_key(fp, key)?;
            let certs = load_certs(fp, &certs)?;
            install(builder, fp, certs, fp, &key)?;
        }
    }
    Ok(())
}

/// Sets the trusted CAs from `*_tls_CAfile` and `*_tls_CApath`. As Postfix,
/// OpenSSL's default paths are added only with `tls_append_default_CA = yes`.
pub fn load_ca(
    builder: &mut SslContextBuilder,
    ca_file: FileParam<'_>,
    ca_path: FileParam<'_>,
    append_default_ca: bool,
) -> Result<(), ConfigError> {
    if append_default_ca {
        // tls_append_default_CA = yes: OpenSSL's system store as well.
        builder
            .set_default_verify_paths()
            .map_err(|source| ConfigError::Rejected {
                param: "tls_append_default_CA",
                value: "yes".into(),
                source,
            })?;
    }
    if !ca_file.file.is_empty() {
        // Read it ourselves first, so an unreadable file is reported as such.
        ca_file.read()?;
        builder
            .set_ca_file(ca_file.file)
            .map_err(|source| ConfigError::BadPem {
                param: ca_file.param,
                file: ca_file.path(),
                what: "CA certificates",
                source,
            })?;
    }
    if !ca_path.file.is_empty() {
        if !Path::new(ca_path.file).is_dir() {
            return Err(ConfigError::Unreadable {
                param: ca_path.param,
                file: ca_path.path(),
                source: std::io::Error::new(std::io::ErrorKind::NotFound, "not a directory"),
            });
        }
        builder
            .load_verify_locations(None, Some(Path::new(ca_path.file)))
            .map_err(|source| ConfigError::Rejected {
                param: ca_path.param,
                value: ca_path.file.to_string(),
                source,
            })?;
    }
    Ok(())
}
