//! Test certificates made fresh for each test with OpenSSL: a test CA, a
//! server certificate, a client certificate, and an untrusted CA with its own
//! client and server certificates, written as PEM into a temporary directory.
//! No Postfix counterpart (Postfix's own tests use `mkcert.sh`); reads no parameter.

use std::fs;
use std::path::{Path, PathBuf};

use openssl::asn1::Asn1Time;
use openssl::bn::{BigNum, MsbOption};
use openssl::ec::{EcGroup, EcKey};
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{PKey, PKeyRef, Private};
use openssl::rsa::Rsa;
use openssl::x509::extension::{
    BasicConstraints, ExtendedKeyUsage, KeyUsage, SubjectAlternativeName,
};
use openssl::x509::{X509Name, X509NameBuilder, X509Ref, X509};
use tempfile::TempDir;

pub struct Issued {
    pub cert: X509,
    pub key: PKey<Private>,
    pub cert_file: String,
    pub key_file: String,
}

pub struct Pki {
    pub dir: TempDir,
    pub ca: Issued,
    pub server: Issued,
    pub server_ec: Issued,
    pub client: Issued,
    pub rogue_ca: Issued,
    pub rogue_client: Issued,
    pub rogue_server: Issued,
}

fn rsa_key() -> PKey<Private> {
    PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap()
}

fn ec_key() -> PKey<Private> {
    let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap();
    PKey::from_ec_key(EcKey::generate(&group).unwrap()).unwrap()
}

fn name(cn: &str) -> X509Name {
    let mut b = X509NameBuilder::new().unwrap();
    b.append_entry_by_text("O", "Postern tests").unwrap();
    b.append_entry_by_text("CN", cn).unwrap();
    b.build()
}

fn write(dir: &Path, stem: &str, cert: &X509, key: &PKeyRef<Private>) -> (String, String) {
    let cert_path: PathBuf = dir.join(format!("{stem}-cert.pem"));
    let key_path: PathBuf = dir.join(format!("{stem}-key.pem"));
    fs::write(&cert_path, cert.to_pem().unwrap()).unwrap();
    fs::write(&key_path, key.private_key_to_pem_pkcs8().unwrap()).unwrap();
    (
        cert_path.to_string_lossy().into_owned(),
        key_path.to_string_lossy().into_owned(),
    )
}

fn build(
    dir: &Path,
    stem: &str,
    cn: &str,
    key: PKey<Private>,
    issuer: Option<(&X509Ref, &PKeyRef<Private>)>,
    sans: &[&str],
    server: bool,
) -> Issued {
    let mut b = X509::builder().unwrap();
    b.set_version(2).unwrap();
    let mut serial = BigNum::new().unwrap();
    serial.rand(64, MsbOption::MAYBE_ZERO, false).unwrap();
    b.set_serial_number(&serial.to_asn1_integer().unwrap())
        .unwrap();
    let subject = name(cn);
    b.set_subject_name(&subject).unwrap();
    b.set_issuer_name(issuer.map(|(c, _)| c.subject_name()).unwrap_or(&subject))
        .unwrap();
    b.set_pubkey(&key).unwrap();
    b.set_not_before(&Asn1Time::days_from_now(0).unwrap())
        .unwrap();
    b.set_not_after(&Asn1Time::days_from_now(30).unwrap())
        .unwrap();
    if issuer.is_none() {
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
    } else {
        b.append_extension(BasicConstraints::new().build().unwrap())
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
        if server {
            eku.server_auth();
        } else {
            eku.client_auth();
        }
        b.append_extension(eku.build().unwrap()).unwrap();
        if !sans.is_empty() {
            let mut san = SubjectAlternativeName::new();
            for s in sans {
                san.dns(s);
            }
            let ext = san
                .build(&b.x509v3_context(issuer.map(|(c, _)| c), None))
                .unwrap();
            b.append_extension(ext).unwrap();
        }
    }
    let signer = issuer.map(|(_, k)| k).unwrap_or(&key);
    b.sign(signer, MessageDigest::sha256()).unwrap();
    let cert = b.build();
    let (cert_file, key_file) = write(dir, stem, &cert, &key);
    Issued {
        cert,
        key,
        cert_file,
        key_file,
    }
}

impl Pki {
    pub fn new() -> Pki {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let ca = build(d, "ca", "Postern Test CA", rsa_key(), None, &[], false);
        let server = build(
            d,
            "server",
            "mx.example.com",
            rsa_key(),
            Some((&ca.cert, &ca.key)),
            &["mx.example.com", "*.relay.example.net"],
            true,
        );
        let server_ec = build(
            d,
            "server-ec",
            "mx.example.com",
            ec_key(),
            Some((&ca.cert, &ca.key)),
            &["mx.example.com"],
            true,
        );
        let client = build(
            d,
            "client",
            "client.example.com",
            ec_key(),
            Some((&ca.cert, &ca.key)),
            &[],
            false,
        );
        let rogue_ca = build(d, "rogue-ca", "Rogue CA", rsa_key(), None, &[], false);
        let rogue_client = build(
            d,
            "rogue-client",
            "rogue.example.com",
            ec_key(),
            Some((&rogue_ca.cert, &rogue_ca.key)),
            &[],
            false,
        );
        let rogue_server = build(
            d,
            "rogue-server",
            "mx.example.com",
            rsa_key(),
            Some((&rogue_ca.cert, &rogue_ca.key)),
            &["mx.example.com"],
            true,
        );
        Pki {
            dir,
            ca,
            server,
            server_ec,
            client,
            rogue_ca,
            rogue_client,
            rogue_server,
        }
    }

    /// A path inside the temporary directory.
    pub fn path(&self, name: &str) -> String {
        self.dir.path().join(name).to_string_lossy().into_owned()
    }
}
