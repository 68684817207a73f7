//! Test PKI for the integration tests: two certificate authorities (one the
//! tests trust, one they never trust), server and client certificates signed by
//! them, written as PEM, combined cert+key, PKCS#8 and PKCS#12 files into a
//! temporary directory, plus a hashed CApath directory and every certificate's
//! fingerprints in Postfix's notation (`AB:CD:...`, as `relay_clientcerts`,
//! `smtp_tls_fingerprint_cert_match` and the TLS log lines use them).
//!
//! Generated per test run with the `openssl` crate (the same OpenSSL the `openssl`
//! CLI, Postfix and Postern use); nothing is shipped in the repository.

use std::fs;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};

use openssl::asn1::Asn1Time;
use openssl::bn::{BigNum, MsbOption};
use openssl::hash::MessageDigest;
use openssl::pkcs12::Pkcs12;
use openssl::pkey::{PKey, Private};
use openssl::rsa::Rsa;
use openssl::x509::extension::{
    AuthorityKeyIdentifier, BasicConstraints, ExtendedKeyUsage, KeyUsage, SubjectAlternativeName,
    SubjectKeyIdentifier,
};
use openssl::x509::{X509Builder, X509NameBuilder, X509};

/// Password of every PKCS#12 file the PKI writes.
pub const PKCS12_PASSWORD: &str = "postern-test";

/// Certificate and public-key fingerprints in Postfix's format: upper-case hex
/// pairs joined by `:`. "Certificate" is the digest of the DER certificate
/// (`openssl x509 -fingerprint`), "public key" the digest of the DER
/// SubjectPublicKeyInfo (`openssl x509 -pubkey | openssl pkey -pubin -outform DER |
/// openssl dgst`), as Postfix's `tls_fprint.c` computes them.
#[derive(Debug, Clone)]
pub struct Fingerprints {
    pub cert_md5: String,
    pub cert_sha1: String,
    pub cert_sha256: String,
    pub pkey_md5: String,
    pub pkey_sha1: String,
    pub pkey_sha256: String,
}

impl Fingerprints {
    fn of(cert: &X509) -> Fingerprints {
        let der = cert
            .public_key()
            .and_then(|k| k.public_key_to_der())
            .expect("public key DER");
        let cert_fp = |md| postfix_hex(&cert.digest(md).expect("certificate digest"));
        let pkey_fp = |md| postfix_hex(&openssl::hash::hash(md, &der).expect("public key digest"));
        Fingerprints {
            cert_md5: cert_fp(MessageDigest::md5()),
            cert_sha1: cert_fp(MessageDigest::sha1()),
            cert_sha256: cert_fp(MessageDigest::sha256()),
            pkey_md5: pkey_fp(MessageDigest::md5()),
            pkey_sha1: pkey_fp(MessageDigest::sha1()),
            pkey_sha256: pkey_fp(MessageDigest::sha256()),
        }
    }

    /// Certificate fingerprint for a Postfix digest name (`md5`, `sha1`, `sha256`).
    pub fn cert(&self, digest: &str) -> &str {
        match digest {
            "md5" => &self.cert_md5,
            "sha1" => &self.cert_sha1,
            "sha256" => &self.cert_sha256,
            other => panic!("no fingerprint for digest {other:?}"),
        }
    }

    /// Public-key fingerprint for a Postfix digest name (`md5`, `sha1`, `sha256`).
    pub fn pkey(&self, digest: &str) -> &str {
        match digest {
            "md5" => &self.pkey_md5,
            "sha1" => &self.pkey_sha1,
            "sha256" => &self.pkey_sha256,
            other => panic!("no fingerprint for digest {other:?}"),
        }
    }
}

/// Upper-case hex pairs joined by `:`, as Postfix prints fingerprints.
pub fn postfix_hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// One certificate with its key, in every file form the tests need.
#[derive(Debug, Clone)]
pub struct Cert {
    /// Short name, also the file stem (`server`, `client`, ...).
    pub name: String,
    /// Subject common name.
    pub cn: String,
    /// The certificate alone, PEM (mode 0644).
    pub cert_pem: PathBuf,
    /// The private key, PKCS#8 PEM (mode 0600).
    pub key_pem: PathBuf,
    /// Certificate followed by its key in one file (mode 0600), as Postfix
    /// accepts in `smtpd_tls_cert_file` with `smtpd_tls_key_file = $smtpd_tls_cert_file`.
    pub combined_pem: PathBuf,
    /// Certificate followed by its issuer's certificate (mode 0644).
    pub chain_pem: PathBuf,
    /// PKCS#8 private key in PEM (`-----BEGIN PRIVATE KEY-----`, mode 0600), for
    /// `native_tls::Identity::from_pkcs8`.
    pub pkcs8_pem: PathBuf,
    /// PKCS#12 bundle with key, certificate and issuer (mode 0600), password
    /// [`PKCS12_PASSWORD`], for `native_tls::Identity::from_pkcs12`.
    pub p12: PathBuf,
    pub fingerprints: Fingerprints,
    pub x509: X509,
    pub key: PKey<Private>,
}

impl Cert {
    /// The certificate PEM text.
    pub fn cert_pem_bytes(&self) -> Vec<u8> {
        self.x509.to_pem().expect("certificate PEM")
    }

    /// The PKCS#8 key PEM text.
    pub fn pkcs8_pem_bytes(&self) -> Vec<u8> {
        self.key.private_key_to_pem_pkcs8().expect("PKCS#8 PEM")
    }

    /// The PKCS#12 bundle bytes.
    pub fn p12_bytes(&self) -> Vec<u8> {
        fs::read(&self.p12).expect("read PKCS#12 file")
    }
}

/// The whole test PKI, living in a temporary directory removed on drop.
pub struct Pki {
    dir: tempfile::TempDir,
    /// The CA every test trusts (`smtpd_tls_CAfile`, `smtp_tls_CAfile`, `-CAfile`).
    pub ca: Cert,
    /// A second CA nobody trusts.
    pub untrusted_ca: Cert,
    /// Server certificate from `ca` for `mx.test.example` and `localhost`
    /// (subjectAltName DNS entries, plus IP 127.0.0.1 and ::1).
    pub server: Cert,
    /// Server certificate from `ca` whose only name is `wrong.test.example`.
    pub server_wrong_name: Cert,
    /// Server certificate for `mx.test.example`/`localhost` from `untrusted_ca`.
    pub server_untrusted: Cert,
    /// Client certificate (`client.test.example`) from `ca`.
    pub client: Cert,
    /// Client certificate (`rogue.test.example`) from `untrusted_ca`.
    pub client_untrusted: Cert,
    /// Directory holding `ca`'s certificate under its subject-hash name
    /// (`XXXXXXXX.0`, as `openssl rehash` makes), for `*_tls_CApath`.
    pub capath: PathBuf,
}

/// Names in the server certificate.
pub const SERVER_NAMES: &[&str] = &["mx.test.example", "localhost"];

impl Pki {
    /// Generates the PKI in a fresh temporary directory (mode 0755 so that
    /// Postfix daemons running as `postfix` can read CApath and certificates).
    pub fn new() -> Pki {
        let dir = tempfile::Builder::new()
            .prefix("postern-pki.")
            .tempdir()
            .expect("create PKI temp dir");
        set_mode(dir.path(), 0o755);
        let d = dir.path();
        let ca = make(d, "ca", "Postern Test CA", &[], None, Kind::Ca);
        let untrusted_ca = make(d, "untrusted-ca", "Untrusted Test CA", &[], None, Kind::Ca);
        let server = make(
            d,
            "server",
            SERVER_NAMES[0],
            SERVER_NAMES,
            Some(&ca),
            Kind::Server,
        );
        let server_wrong_name = make(
            d,
            "server-wrong-name",
            "wrong.test.example",
            &["wrong.test.example"],
            Some(&ca),
            Kind::Server,
        );
        let server_untrusted = make(
            d,
            "server-untrusted",
            SERVER_NAMES[0],
            SERVER_NAMES,
            Some(&untrusted_ca),
            Kind::Server,
        );
        let client = make(
            d,
            "client",
            "client.test.example",
            &["client.test.example"],
            Some(&ca),
            Kind::Client,
        );
        let client_untrusted = make(
            d,
            "client-untrusted",
            "rogue.test.example",
            &["rogue.test.example"],
            Some(&untrusted_ca),
            Kind::Client,
        );
        let capath = d.join("capath");
        fs::create_dir(&capath).expect("create CApath");
        set_mode(&capath, 0o755);
        let hash_name = format!("{:08x}.0", ca.x509.subject_name_hash());
        symlink(&ca.cert_pem, capath.join(hash_name)).expect("CApath hash link");
        Pki {
            dir,
            ca,
            untrusted_ca,
            server,
            server_wrong_name,
            server_untrusted,
            client,
            client_untrusted,
            capath,
        }
    }

    /// The directory holding every file.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Ca,
    Server,
    Client,
}

fn make(
    dir: &Path,
    name: &str,
    cn: &str,
    dns_names: &[&str],
    issuer: Option<&Cert>,
    kind: Kind,
) -> Cert {
    let key = PKey::from_rsa(Rsa::generate(2048).expect("RSA key")).expect("PKey");
    let mut subject = X509NameBuilder::new().expect("name builder");
    subject
        .append_entry_by_text("O", "Postern tests")
        .expect("O");
    subject.append_entry_by_text("CN", cn).expect("CN");
    let subject = subject.build();

    let mut b = X509Builder::new().expect("x509 builder");
    b.set_version(2).expect("version");
    let mut serial = BigNum::new().expect("bignum");
    serial
        .rand(127, MsbOption::MAYBE_ZERO, false)
        .expect("serial");
    b.set_serial_number(&serial.to_asn1_integer().expect("serial"))
        .expect("serial");
    b.set_subject_name(&subject).expect("subject");
    b.set_issuer_name(issuer.map_or(&subject, |i| i.x509.subject_name()))
        .expect("issuer");
    b.set_pubkey(&key).expect("pubkey");
    b.set_not_before(&Asn1Time::days_from_now(0).expect("time"))
        .expect("not before");
    b.set_not_after(&Asn1Time::days_from_now(30).expect("time"))
        .expect("not after");

    let ctx_issuer = issuer.map(|i| &i.x509);
    match kind {
        Kind::Ca => {
            b.append_extension(BasicConstraints::new().critical().ca().build().unwrap())
                .unwrap();
            b.append_extension(
                KeyUsage::new()
                    .critical()
                    .key_cert_sign()
                    .crl_sign()
                    .build()
                    .unwrap(),
            )
            .unwrap();
        }
        Kind::Server | Kind::Client => {
            b.append_extension(BasicConstraints::new().critical().build().unwrap())
                .unwrap();
            b.append_extension(
                KeyUsage::new()
                    .critical()
                    .digital_signature()
                    .key_encipherment()
                    .build()
                    .unwrap(),
            )
            .unwrap();
            let mut eku = ExtendedKeyUsage::new();
            if kind == Kind::Server {
                eku.server_auth();
            } else {
                eku.client_auth();
            }
            b.append_extension(eku.build().unwrap()).unwrap();
            let mut san = SubjectAlternativeName::new();
            for n in dns_names {
                san.dns(n);
            }
            if kind == Kind::Server {
                san.ip("127.0.0.1").ip("::1");
            }
            let ext = san
                .build(&b.x509v3_context(ctx_issuer.map(|c| c.as_ref()), None))
                .unwrap();
            b.append_extension(ext).unwrap();
        }
    }
    let ski = SubjectKeyIdentifier::new()
        .build(&b.x509v3_context(ctx_issuer.map(|c| c.as_ref()), None))
        .unwrap();
    b.append_extension(ski).unwrap();
    if issuer.is_some() {
        let aki = AuthorityKeyIdentifier::new()
            .keyid(true)
            .build(&b.x509v3_context(ctx_issuer.map(|c| c.as_ref()), None))
            .unwrap();
        b.append_extension(aki).unwrap();
    }
    let signer = issuer.map_or(&key, |i| &i.key);
    b.sign(signer, MessageDigest::sha256()).expect("sign");
    let x509 = b.build();

    let cert_pem_text = x509.to_pem().unwrap();
    let key_pem_text = key.private_key_to_pem_pkcs8().unwrap();
    let cert_pem = dir.join(format!("{name}.crt"));
    let key_pem = dir.join(format!("{name}.key"));
    let combined_pem = dir.join(format!("{name}.pem"));
    let chain_pem = dir.join(format!("{name}-chain.crt"));
    let pkcs8_pem = dir.join(format!("{name}.p8.pem"));
    let p12 = dir.join(format!("{name}.p12"));
    write(&cert_pem, &cert_pem_text, 0o644);
    write(&key_pem, &key_pem_text, 0o600);
    write(&pkcs8_pem, &key_pem_text, 0o600);
    write(
        &combined_pem,
        &[&cert_pem_text[..], &key_pem_text[..]].concat(),
        0o600,
    );
    let issuer_pem = issuer.map(|i| i.x509.to_pem().unwrap()).unwrap_or_default();
    write(
        &chain_pem,
        &[&cert_pem_text[..], &issuer_pem[..]].concat(),
        0o644,
    );

    let mut p12b = Pkcs12::builder();
    p12b.name(name).pkey(&key).cert(&x509);
    if let Some(i) = issuer {
        let mut stack = openssl::stack::Stack::new().unwrap();
        stack.push(i.x509.clone()).unwrap();
        p12b.ca(stack);
    }
    let p12_der = p12b
        .build2(PKCS12_PASSWORD)
        .and_then(|p| p.to_der())
        .expect("PKCS#12");
    write(&p12, &p12_der, 0o600);

    Cert {
        name: name.to_string(),
        cn: cn.to_string(),
        cert_pem,
        key_pem,
        combined_pem,
        chain_pem,
        pkcs8_pem,
        p12,
        fingerprints: Fingerprints::of(&x509),
        x509,
        key,
    }
}

fn write(path: &Path, bytes: &[u8], mode: u32) {
    fs::write(path, bytes).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    set_mode(path, mode);
}

fn set_mode(path: &Path, mode: u32) {
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
        .unwrap_or_else(|e| panic!("chmod {}: {e}", path.display()));
}
