//! Tests of the harness's test PKI (tests/common/certs.rs) against the `openssl`
//! CLI: fingerprints in Postfix's format, chains that verify (and one that does
//! not), the CApath hash link, key file modes and the PKCS#12 bundle.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::process::Command;

use common::certs::{Pki, PKCS12_PASSWORD};
use common::tools::require_tool;

fn openssl(args: &[&str], stdin: Option<&[u8]>) -> (i32, String) {
    use std::io::Write;
    let bin = require_tool("/usr/bin/openssl", "openssl");
    let mut child = Command::new(bin)
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run openssl");
    let mut input = child.stdin.take().unwrap();
    if let Some(b) = stdin {
        input.write_all(b).unwrap();
    }
    drop(input);
    let o = child.wait_with_output().unwrap();
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr),
    )
}

#[test]
fn certificate_fingerprints_match_openssl_cli() {
    let pki = Pki::new();
    for cert in [&pki.server, &pki.client, &pki.client_untrusted] {
        let path = cert.cert_pem.to_str().unwrap();
        for digest in ["md5", "sha1", "sha256"] {
            let (code, out) = openssl(
                &[
                    "x509",
                    "-noout",
                    "-fingerprint",
                    &format!("-{digest}"),
                    "-in",
                    path,
                ],
                None,
            );
            assert_eq!(code, 0, "{out}");
            // "SHA256 Fingerprint=AB:CD:..."
            let cli = out.trim().rsplit('=').next().unwrap().to_string();
            assert_eq!(
                cert.fingerprints.cert(digest),
                cli,
                "{} {digest}",
                cert.name
            );
        }
    }
}

#[test]
fn public_key_fingerprints_match_openssl_cli() {
    let pki = Pki::new();
    let cert = &pki.client;
    let (code, pubkey) = openssl(
        &[
            "x509",
            "-noout",
            "-pubkey",
            "-in",
            cert.cert_pem.to_str().unwrap(),
        ],
        None,
    );
    assert_eq!(code, 0, "{pubkey}");
    let bin = require_tool("/usr/bin/openssl", "openssl");
    let der = {
        use std::io::Write;
        let mut c = Command::new(&bin)
            .args(["pkey", "-pubin", "-outform", "DER"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        c.stdin
            .take()
            .unwrap()
            .write_all(pubkey.as_bytes())
            .unwrap();
        c.wait_with_output().unwrap().stdout
    };
    assert!(!der.is_empty());
    for digest in ["md5", "sha1", "sha256"] {
        let (code, out) = openssl(&["dgst", &format!("-{digest}"), "-r"], Some(&der));
        assert_eq!(code, 0, "{out}");
        let hex = out.split_whitespace().next().unwrap().to_uppercase();
        let pairs: Vec<String> = hex
            .as_bytes()
            .chunks(2)
            .map(|p| String::from_utf8(p.to_vec()).unwrap())
            .collect();
        assert_eq!(cert.fingerprints.pkey(digest), pairs.join(":"), "{digest}");
    }
    assert_ne!(cert.fingerprints.pkey_sha256, cert.fingerprints.cert_sha256);
}

#[test]
fn chains_verify_against_the_right_ca_only() {
    let pki = Pki::new();
    let ca = pki.ca.cert_pem.to_str().unwrap();
    let capath = pki.capath.to_str().unwrap();
    for (cert, purpose) in [(&pki.server, "sslserver"), (&pki.client, "sslclient")] {
        let c = cert.cert_pem.to_str().unwrap();
        let (code, out) = openssl(&["verify", "-purpose", purpose, "-CAfile", ca, c], None);
        assert_eq!(code, 0, "{out}");
        let (code, out) = openssl(&["verify", "-purpose", purpose, "-CApath", capath, c], None);
        assert_eq!(code, 0, "CApath: {out}");
    }
    let (code, out) = openssl(
        &[
            "verify",
            "-verify_hostname",
            "mx.test.example",
            "-CAfile",
            ca,
            pki.server.cert_pem.to_str().unwrap(),
        ],
        None,
    );
    assert_eq!(code, 0, "{out}");
    let (code, _) = openssl(
        &[
            "verify",
            "-verify_hostname",
            "mx.test.example",
            "-CAfile",
            ca,
            pki.server_wrong_name.cert_pem.to_str().unwrap(),
        ],
        None,
    );
    assert_ne!(
        code, 0,
        "wrong-name certificate must not match mx.test.example"
    );
    for bad in [&pki.server_untrusted, &pki.client_untrusted] {
        let (code, _) = openssl(
            &["verify", "-CAfile", ca, bad.cert_pem.to_str().unwrap()],
            None,
        );
        assert_ne!(
            code, 0,
            "{} must not verify against the trusted CA",
            bad.name
        );
    }
}

#[test]
fn key_files_are_private_and_pkcs12_opens() {
    let pki = Pki::new();
    for c in [&pki.server, &pki.client] {
        for key in [&c.key_pem, &c.combined_pem, &c.pkcs8_pem, &c.p12] {
            let mode = std::fs::metadata(key).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{}", key.display());
        }
        let combined = std::fs::read_to_string(&c.combined_pem).unwrap();
        assert!(combined.contains("BEGIN CERTIFICATE") && combined.contains("BEGIN PRIVATE KEY"));
        let p12 = openssl::pkcs12::Pkcs12::from_der(&c.p12_bytes())
            .unwrap()
            .parse2(PKCS12_PASSWORD)
            .unwrap();
        assert_eq!(
            p12.cert.unwrap().to_der().unwrap(),
            c.x509.to_der().unwrap()
        );
        assert!(p12.pkey.unwrap().public_eq(&c.key));
    }
}
