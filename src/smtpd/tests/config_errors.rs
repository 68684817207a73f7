//! Bad smtpd settings, each with the error text it must produce (chasquid's
//! directory of bad configs, as a table).

use super::Server;

#[test]
fn bad_values_name_the_parameter() {
    let cases = [
        (
            "smtpd_forbid_bare_newline = maybe",
            "bad parameter value: smtpd_forbid_bare_newline = maybe",
        ),
        (
            "smtpd_forbid_bare_newline_reject_code = 250",
            "bad parameter value: smtpd_forbid_bare_newline_reject_code = 250",
        ),
        (
            "smtpd_timeout = soon",
            "parameter smtpd_timeout: bad time value or unit: soon",
        ),
        (
            "smtpd_recipient_limit = many",
            "bad numerical configuration: smtpd_recipient_limit = many",
        ),
        (
            "smtpd_helo_required = perhaps",
            "bad boolean configuration: smtpd_helo_required = perhaps",
        ),
        (
            "smtpd_tls_security_level = verify",
            "bad parameter value: smtpd_tls_security_level = verify",
        ),
        (
            "smtpd_tls_security_level = encrypt",
            "no certificate: smtpd_tls_security_level = encrypt",
        ),
        (
            "smtpd_tls_security_level = may\nsmtpd_tls_cert_file = /nonexistent/cert.pem",
            "/nonexistent/cert.pem",
        ),
        (
            "virtual_alias_maps = nosuchtype:/etc/x",
            "virtual_alias_maps: ",
        ),
    ];
    for (config, want) in cases {
        let err = match Server::try_start(config) {
            Ok(_) => panic!("{config:?} was accepted"),
            Err(e) => e.to_string(),
        };
        assert!(err.contains(want), "{config:?}: {err:?} lacks {want:?}");
    }
}
