//! Test certificates made with the `openssl` command line: a CA the tests trust, and leaf
//! certificates for the cases an edge can present (valid, expiring soon, already expired,
//! for the wrong name, from a CA nobody trusts). Dates are set explicitly with `openssl ca
//! -startdate/-enddate`, so an expired certificate is really expired, not back-dated clock
//! trickery.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, SystemTime};

use tempfile::TempDir;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CertCase {
    /// 90 days left, for the right name, from the trusted CA.
    Valid,
    /// 5 days left.
    ExpiringSoon,
    /// Expired 3 days ago (valid for the month before).
    Expired,
    /// Valid, but for `other.example` only.
    WrongName,
    /// Valid and for the right name, signed by a CA the probe does not trust.
    Untrusted,
}

pub const DAY: u64 = 86_400;

/// A CA plus one key and certificate per [`CertCase`], all in one temp dir.
pub struct Certs {
    dir: TempDir,
    pub hostname: String,
}

impl Certs {
    /// Certificates for `hostname` (SNI and Host in the tests).
    pub fn generate(hostname: &str) -> Certs {
        let dir = tempfile::Builder::new()
            .prefix("mastop-certs-")
            .tempdir()
            .expect("create a temp dir for certificates");
        let certs = Certs {
            dir,
            hostname: hostname.to_string(),
        };
        certs.make_ca("trusted", "mastop test CA");
        certs.make_ca("rogue", "nobody trusts this CA");
        let now = SystemTime::now();
        for case in [
            CertCase::Valid,
            CertCase::ExpiringSoon,
            CertCase::Expired,
            CertCase::WrongName,
            CertCase::Untrusted,
        ] {
            let (start, end) = match case {
                CertCase::ExpiringSoon => (now - secs(DAY), now + secs(5 * DAY)),
                CertCase::Expired => (now - secs(33 * DAY), now - secs(3 * DAY)),
                _ => (now - secs(DAY), now + secs(90 * DAY)),
            };
            let name = match case {
                CertCase::WrongName => "other.example".to_string(),
                _ => hostname.to_string(),
            };
            let ca = if case == CertCase::Untrusted {
                "rogue"
            } else {
                "trusted"
            };
            certs.make_leaf(case, ca, &name, &format!("DNS:{name}"), start, end);
        }
        certs
    }

    /// Certificates for a server on this machine, reached as `localhost`, `127.0.0.1` or
    /// `[::1]`: the `Valid` case from the trusted CA and the `Untrusted` one from the rogue.
    pub fn loopback() -> Certs {
        let dir = tempfile::Builder::new()
            .prefix("mastop-certs-")
            .tempdir()
            .expect("create a temp dir for certificates");
        let certs = Certs {
            dir,
            hostname: "localhost".to_string(),
        };
        certs.make_ca("trusted", "mastop test CA");
        certs.make_ca("rogue", "nobody trusts this CA");
        let now = SystemTime::now();
        let san = "DNS:localhost,IP:127.0.0.1,IP:::1";
        for (case, ca) in [(CertCase::Valid, "trusted"), (CertCase::Untrusted, "rogue")] {
            certs.make_leaf(
                case,
                ca,
                "localhost",
                san,
                now - secs(DAY),
                now + secs(90 * DAY),
            );
        }
        certs
    }

    /// The trusted CA's certificate, for `tls_ca`.
    pub fn ca(&self) -> PathBuf {
        self.dir.path().join("trusted/ca.pem")
    }

    /// The CA nobody trusts, to give as a wrong `tls_ca`.
    pub fn rogue_ca(&self) -> PathBuf {
        self.dir.path().join("rogue/ca.pem")
    }

    pub fn cert(&self, case: CertCase) -> PathBuf {
        self.dir.path().join(format!("{case:?}.pem"))
    }

    pub fn key(&self, case: CertCase) -> PathBuf {
        self.dir.path().join(format!("{case:?}.key"))
    }

    fn make_ca(&self, name: &str, subject: &str) {
        let ca = self.dir.path().join(name);
        std::fs::create_dir_all(ca.join("newcerts")).expect("create CA dirs");
        std::fs::write(ca.join("index.txt"), "").expect("create CA index");
        std::fs::write(ca.join("serial"), "1000\n").expect("create CA serial");
        std::fs::write(ca.join("ca.cnf"), ca_config(&ca)).expect("write CA config");
        openssl(
            &[
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:prime256v1",
                "-nodes",
                "-keyout",
                path(&ca.join("ca.key")),
                "-out",
                path(&ca.join("ca.pem")),
                "-days",
                "3650",
                "-subj",
                &format!("/CN={subject}"),
                "-addext",
                "basicConstraints=critical,CA:TRUE",
                "-addext",
                "keyUsage=critical,keyCertSign,cRLSign",
            ],
            &[],
        );
    }

    fn make_leaf(
        &self,
        case: CertCase,
        ca: &str,
        name: &str,
        san: &str,
        start: SystemTime,
        end: SystemTime,
    ) {
        let dir = self.dir.path();
        let ca = dir.join(ca);
        let key = self.key(case);
        let csr = dir.join(format!("{case:?}.csr"));
        openssl(
            &[
                "req",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:prime256v1",
                "-nodes",
                "-keyout",
                path(&key),
                "-out",
                path(&csr),
                "-subj",
                &format!("/CN={name}"),
            ],
            &[],
        );
        openssl(
            &[
                "ca",
                "-batch",
                "-notext",
                "-config",
                path(&ca.join("ca.cnf")),
                "-extensions",
                "leaf",
                "-in",
                path(&csr),
                "-out",
                path(&self.cert(case)),
                "-startdate",
                &asn1_time(start),
                "-enddate",
                &asn1_time(end),
            ],
            &[("LEAF_SAN", san)],
        );
    }
}

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

fn path(p: &Path) -> &str {
    p.to_str().expect("temp paths are UTF-8")
}

/// `YYMMDDHHMMSSZ`, as `openssl ca -startdate` wants it.
fn asn1_time(t: SystemTime) -> String {
    let unix = t
        .duration_since(SystemTime::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs();
    let text = mastop::demo::clock::rfc3339(unix as f64);
    // 2026-11-26T10:00:00Z → 261126100000Z
    let digits: String = text.chars().filter(char::is_ascii_digit).collect();
    format!("{}Z", &digits[2..])
}

fn ca_config(dir: &Path) -> String {
    format!(
        "[ca]\ndefault_ca = test_ca\n\
         [test_ca]\ndir = {d}\ndatabase = {d}/index.txt\nnew_certs_dir = {d}/newcerts\n\
         certificate = {d}/ca.pem\nprivate_key = {d}/ca.key\nserial = {d}/serial\n\
         default_md = sha256\npolicy = any_name\nunique_subject = no\ncopy_extensions = none\n\
         [any_name]\ncommonName = supplied\n\
         [leaf]\nbasicConstraints = critical,CA:FALSE\nkeyUsage = critical,digitalSignature\n\
         extendedKeyUsage = serverAuth\nsubjectAltName = $ENV::LEAF_SAN\n",
        d = dir.display()
    )
}

fn openssl(args: &[&str], env: &[(&str, &str)]) {
    let output = Command::new("openssl")
        .args(args)
        .envs(env.iter().copied())
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run `openssl` ({e}): install the Debian package `openssl`")
        });
    assert!(
        output.status.success(),
        "openssl {} failed: {}",
        args.join(" "),
        String::from_utf8_lossy(&output.stderr)
    );
}
