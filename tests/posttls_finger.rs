//! posttls-finger: Postern's probe against Postfix's, both run on the same
//! real Postfix 3.7 receiver (TLS from the test PKI) with the same
//! arguments and the same main.cf (`MAIL_CONFIG`); their output must be the
//! same line for line: chat, verification outcome, certificate subject and
//! fingerprints, summary. Postfix's posttls-finger writes no pid, so nothing
//! but the port (equal for both) is run-dependent.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::certs::{Cert, Pki};
use common::postfix::{PostfixInstance, Role};
use common::tools::{posttls_finger, Output};

/// Postern's binary under the name `posttls-finger` (argv[0] dispatch).
fn postern_finger(dir: &Path) -> PathBuf {
    let link = dir.join("posttls-finger");
    if !link.exists() {
        std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_postern"), &link).expect("symlink");
    }
    link
}

fn run_postern(bin: &Path, config_dir: &Path, args: &[&str]) -> Output {
    let o = Command::new(bin)
        .args(args)
        .env("MAIL_CONFIG", config_dir)
        .stdin(Stdio::null())
        .output()
        .expect("run postern posttls-finger");
    Output {
        status: o.status,
        stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
    }
}

struct Bench {
    _tmp: tempfile::TempDir,
    bin: PathBuf,
    pki: Pki,
}

impl Bench {
    fn new() -> Bench {
        let tmp = tempfile::tempdir().expect("temp dir");
        let bin = postern_finger(tmp.path());
        Bench {
            _tmp: tmp,
            bin,
            pki: Pki::new(),
        }
    }

    /// A Postfix receiver presenting `cert` (None: no STARTTLS at all).
    fn receiver(&self, cert: Option<&Cert>) -> PostfixInstance {
        let mut rx = PostfixInstance::new(Role::Receiver);
        if let Some(cert) = cert {
            rx.receiver_tls(&self.pki);
            rx.set("smtpd_tls_cert_file", cert.cert_pem.to_str().unwrap());
            rx.set("smtpd_tls_key_file", cert.key_pem.to_str().unwrap());
        }
        rx.start();
        rx
    }

    /// Runs both probes and asserts the same exit status and output; returns
    /// the output.
    fn same(&self, rx: &PostfixInstance, args: &[&str]) -> String {
        let postfix = posttls_finger(&rx.config_dir(), args);
        let postern = run_postern(&self.bin, &rx.config_dir(), args);
        assert_eq!(
            postern.stdout, postfix.stdout,
            "posttls-finger {args:?}: Postern's output (left) differs from Postfix's (right)\n\
             Postern stderr: {}",
            postern.stderr
        );
        assert_eq!(postern.code(), postfix.code(), "exit status of {args:?}");
        postern.stdout
    }
}

#[test]
fn trusted_ca_untrusted_ca_and_fingerprints_as_postfix() {
    let b = Bench::new();
    let rx = b.receiver(Some(&b.pki.server));
    let dest = format!("[127.0.0.1]:{}", rx.port);
    let ca = b.pki.ca.cert_pem.to_str().unwrap();
    let np = format!("127.0.0.1[127.0.0.1]:{}", rx.port);

    // Trusted CA and a matching name: Verified, with the whole chat.
    let out = b.same(&rx, &["-F", ca, &dest, "mx.test.example"]);
    assert!(
        out.contains(&format!(
            "posttls-finger: {np}: matched peername: mx.test.example\n"
        )),
        "{out}"
    );
    let fp = &b.pki.server.fingerprints;
    assert!(
        out.contains(&format!(
            "posttls-finger: {np}: subject_CN=mx.test.example, issuer_CN=Postern Test CA, \
         fingerprint={}, pkey_fingerprint={}\n",
            fp.cert_sha256, fp.pkey_sha256
        )),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "posttls-finger: Verified TLS connection established to {np}: TLSv1.3"
        )),
        "{out}"
    );
    assert!(
        out.contains("posttls-finger: > STARTTLS\n")
            && out.contains("posttls-finger: < 221 2.0.0 Bye\n"),
        "{out}"
    );

    // CApath instead of CAfile, verify level, default match "hostname": the
    // address, matched against the certificate's IP subjectAltName.
    let capath = b.pki.capath.to_str().unwrap();
    let out = b.same(&rx, &["-c", "-l", "verify", "-P", capath, &dest]);
    assert!(out.contains("Verified TLS connection established"), "{out}");
    // A name that is not in the certificate, at secure.
    let out = b.same(&rx, &["-c", "-F", ca, &dest, "wrong.example"]);
    assert!(
        out.contains(&format!(
            "server certificate verification failed for {np}: num=62:hostname mismatch"
        )),
        "{out}"
    );
    assert!(
        out.contains("Untrusted TLS connection established"),
        "{out}"
    );
    // No CA at all.
    b.same(&rx, &["-c", &dest, "mx.test.example"]);

    // Fingerprint level with each digest, certificate and public-key digests.
    for (digest, cert_fp, pkey_fp) in [
        ("sha256", &fp.cert_sha256, &fp.pkey_sha256),
        ("sha1", &fp.cert_sha1, &fp.pkey_sha1),
        ("md5", &fp.cert_md5, &fp.pkey_md5),
    ] {
        let out = b.same(
            &rx,
            &["-c", "-l", "fingerprint", "-d", digest, &dest, cert_fp],
        );
        assert!(
            out.contains(&format!(
                "Matched fingerprint: {}\n",
                cert_fp.replace(':', "")
            )),
            "{out}"
        );
        assert!(out.contains("Verified TLS connection"), "{out}");
        b.same(
            &rx,
            &[
                "-c",
                "-l",
                "fingerprint",
                "-d",
                digest,
                &dest,
                "AA:BB:CC:DD",
                pkey_fp,
            ],
        );
    }
    // A wrong fingerprint of the right length.
    let wrong = &b.pki.server_untrusted.fingerprints.cert_sha256;
    let out = b.same(&rx, &["-c", "-l", "fingerprint", &dest, wrong]);
    assert!(
        out.contains("num=65:no matching DANE TLSA records"),
        "{out}"
    );

    // Levels that check nothing, peercert logging, the chain in PEM.
    b.same(&rx, &["-c", "-l", "encrypt", &dest]);
    b.same(
        &rx,
        &["-c", "-l", "may", "-L", "routine,peercert", "-C", &dest],
    );
    b.same(&rx, &["-c", "-L", "routine", "-F", ca, &dest]);
    b.same(&rx, &["-c", "-p", "TLSv1.2", "-l", "encrypt", &dest]);

    // Usage errors.
    b.same(&rx, &["-c", "-l", "bogus", &dest]);
    let out = run_postern(&b.bin, &rx.config_dir(), &["-c", "-Z", &dest]);
    assert_eq!(out.code(), 1);
    assert!(
        out.stderr
            .starts_with("posttls-finger: invalid option -- 'Z'\nusage: posttls-finger "),
        "{}",
        out.stderr
    );
    // An unknown -L word is warned about and ignored (Postfix repeats the
    // warning once per parse, three times; Postern says it once).
    let out = run_postern(
        &b.bin,
        &rx.config_dir(),
        &["-c", "-L", "loud", "-l", "may", &dest],
    );
    assert_eq!(
        (out.code(), out.stdout.as_str()),
        (
            0,
            "posttls-finger: warning: unknown -L option value \"loud\" in \"loud\"\n"
        )
    );
    b.same(&rx, &["-c", "[127.0.0.1]:nosuchservice"]);
    b.same(
        &rx,
        &[
            "-c",
            "-s",
            "sni.example",
            "-g",
            "high",
            "-T",
            "20",
            "-P",
            capath,
            &dest,
        ],
    );
    let out = b.same(&rx, &["-c", "-d", "sha3", &dest]);
    assert!(out.contains("disabling TLS support"), "{out}");

    // A server certificate from a CA we do not trust.
    let rx2 = b.receiver(Some(&b.pki.server_untrusted));
    let dest2 = format!("[127.0.0.1]:{}", rx2.port);
    let np2 = format!("127.0.0.1[127.0.0.1]:{}", rx2.port);
    let out = b.same(&rx2, &["-F", ca, &dest2, "mx.test.example"]);
    assert!(
        out.contains(&format!(
            "posttls-finger: certificate verification failed for {np2}: untrusted issuer \
         /O=Postern tests/CN=Untrusted Test CA\n"
        )),
        "{out}"
    );
    assert!(
        out.contains("Untrusted TLS connection established"),
        "{out}"
    );
    b.same(&rx2, &["-c", "-l", "verify", "-F", ca, &dest2]);
    let pk = &b.pki.server_untrusted.fingerprints.pkey_sha256;
    let out = b.same(&rx2, &["-c", "-l", "fingerprint", &dest2, pk]);
    assert!(out.contains("Verified TLS connection"), "{out}");
}

#[test]
fn server_without_starttls_and_connection_refused() {
    let b = Bench::new();
    let rx = b.receiver(None);
    let dest = format!("[127.0.0.1]:{}", rx.port);
    let out = b.same(&rx, &[&dest]);
    assert!(!out.contains("STARTTLS") && out.contains("> QUIT"), "{out}");
    let closed = common::tools::free_port();
    let out = b.same(&rx, &[&format!("[127.0.0.1]:{closed}")]);
    assert!(out.contains("Connection refused"), "{out}");
    // A server that never greets: -t bounds the wait for the banner.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").expect("listener");
    let port = silent.local_addr().unwrap().port();
    let out = run_postern(
        &b.bin,
        &rx.config_dir(),
        &["-t", "1", &format!("[127.0.0.1]:{port}")],
    );
    assert_eq!(out.code(), 0);
    assert_eq!(
        out.stdout,
        format!(
            "posttls-finger: Connected to 127.0.0.1[127.0.0.1]:{port}\n\
             posttls-finger: 127.0.0.1[127.0.0.1]:{port}: timeout while reading the server greeting\n"
        )
    );
    drop(silent);
}

/// A bare domain goes through MX (dnsmasq, reached through the Postern
/// parameter `dns_nameservers`): the preferred MX host that refuses the
/// connection is reported as Postfix 3.7 reports it and the next one is
/// probed; at `secure` its certificate matches `dot-nexthop`. Postfix's
/// posttls-finger cannot be pointed at this DNS server, so only Postern runs.
#[test]
fn domain_destination_uses_mx_in_preference_order() {
    use common::tools::{DnsRecords, Dnsmasq};
    let b = Bench::new();
    let rx = b.receiver(Some(&b.pki.server));
    let dns = Dnsmasq::start(
        &DnsRecords::new()
            .mx("test.example", "mx1.test.example", 10)
            .mx("test.example", "mx.test.example", 20)
            .addr("mx1.test.example", "127.0.0.2")
            .addr("mx.test.example", "127.0.0.1"),
    );
    let ca = b.pki.ca.cert_pem.to_str().unwrap();
    let ns = format!("dns_nameservers=[127.0.0.1]:{}", dns.port);
    let dest = format!("test.example:{}", rx.port);
    let out = run_postern(&b.bin, &rx.config_dir(), &["-o", &ns, "-F", ca, &dest]);
    assert_eq!(out.code(), 0, "{out:?}");
    let port = rx.port;
    let expected_start = format!(
        "posttls-finger: Failed to establish session to {dest} via mx1.test.example: \
         connect to mx1.test.example[127.0.0.2]:{port}: Connection refused\n\
         posttls-finger: Connected to mx.test.example[127.0.0.1]:{port}\n\
         posttls-finger: < 220 mx.test.example ESMTP Postfix\n"
    );
    assert!(out.stdout.starts_with(&expected_start), "{}", out.stdout);
    assert!(
        out.stdout.contains(&format!(
            "posttls-finger: mx.test.example[127.0.0.1]:{port}: matched peername: mx.test.example\n"
        )),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains(&format!(
            "posttls-finger: Verified TLS connection established to mx.test.example[127.0.0.1]:{port}: "
        )),
        "{}",
        out.stdout
    );
    // `secure` with the nexthop as the only match name: mx.test.example is
    // not test.example.
    let out = run_postern(
        &b.bin,
        &rx.config_dir(),
        &["-c", "-o", &ns, "-F", ca, &dest, "nexthop"],
    );
    assert!(
        out.stdout.contains(&format!(
            "server certificate verification failed for mx.test.example[127.0.0.1]:{port}: \
             num=62:hostname mismatch"
        )),
        "{}",
        out.stdout
    );
    // A domain without any record.
    let out = run_postern(&b.bin, &rx.config_dir(), &["-c", "-o", &ns, "nosuch.test"]);
    assert_eq!(out.code(), 0);
    assert!(
        out.stdout
            .starts_with("posttls-finger: Destination address lookup failed: "),
        "{}",
        out.stdout
    );
}

/// `-w`: TLS at connect on a Postfix smtps-style service
/// (`smtpd_tls_wrappermode = yes`), same output as Postfix's.
#[test]
fn wrapper_mode_as_postfix() {
    let b = Bench::new();
    let mut rx = PostfixInstance::new(Role::Receiver);
    rx.receiver_tls(&b.pki);
    let smtps = common::tools::free_port();
    rx.append_master_cf(&format!(
        "127.0.0.1:{smtps} inet n - n - - smtpd\n  -o smtpd_tls_wrappermode=yes\n"
    ));
    rx.start();
    assert!(common::tools::wait_port(
        smtps,
        std::time::Duration::from_secs(20)
    ));
    let ca = b.pki.ca.cert_pem.to_str().unwrap();
    let dest = format!("[127.0.0.1]:{smtps}");
    let out = b.same(&rx, &["-w", "-F", ca, &dest, "mx.test.example"]);
    assert!(out.contains("Verified TLS connection established"), "{out}");
    assert!(!out.contains("STARTTLS"), "{out}");
}

/// `-k`/`-K`: the client certificate is presented; the Postfix receiver,
/// which asks for one and trusts the test CA, logs a Trusted TLS session from
/// Postern's probe. The probe's own output is the same as Postfix's.
#[test]
fn client_certificate_is_presented() {
    let b = Bench::new();
    let rx = b.receiver(Some(&b.pki.server));
    let dest = format!("[127.0.0.1]:{}", rx.port);
    let ca = b.pki.ca.cert_pem.to_str().unwrap();
    let cert = b.pki.client.cert_pem.to_str().unwrap();
    let key = b.pki.client.key_pem.to_str().unwrap();
    let before = rx
        .log()
        .matches("Trusted TLS connection established from")
        .count();
    b.same(
        &rx,
        &[
            "-c",
            "-k",
            cert,
            "-K",
            key,
            "-F",
            ca,
            &dest,
            "mx.test.example",
        ],
    );
    let found = common::tools::wait_for(std::time::Duration::from_secs(20), || {
        rx.log()
            .matches("Trusted TLS connection established from")
            .count()
            >= before + 2
    });
    assert!(
        found,
        "Postfix saw no client certificate from both probes:\n{}",
        rx.log()
    );
    // Without -k the session is anonymous on the client side.
    let anon_before = rx
        .log()
        .matches("Anonymous TLS connection established from")
        .count();
    run_postern(&b.bin, &rx.config_dir(), &["-c", "-F", ca, &dest]);
    let found = common::tools::wait_for(std::time::Duration::from_secs(20), || {
        rx.log()
            .matches("Anonymous TLS connection established from")
            .count()
            > anon_before
    });
    assert!(found, "{}", rx.log());
}
