//! The embedded CA against the real tools: CSRs made by the `openssl` CLI, every issued certificate
//! linted by pkilint (`lint_cabf_smime_cert`, the CA/Browser Forum S/MIME BR linter) and verified
//! by `openssl verify` with the CA's CRL; PKCS#12 files read back by `openssl pkcs12`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use backend::ca::{
    parse_csr, pkcs12, CertificateAuthority, CrlEntry, CrlRequest, CsrError, EmbeddedCa, Holder,
    IssueRequest, IssuedCertificate, KeyAlgorithm, PublicKey, ServerKey,
};
use backend::config::CaConfig;
use domain::address::EmailAddress;
use domain::certificate::{RevocationReason, Validity};
use tempfile::TempDir;

/// As in production: the portal itself is reached over HTTPS.
const BASE_URL: &str = "https://ra.example.org";
const DAY: i64 = 24 * 60 * 60;

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// Runs a command, returning its output whether it succeeded or not.
fn run(program: &str, args: &[&str], dir: &Path) -> Output {
    Command::new(program)
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"))
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Runs `openssl` and insists on success.
fn openssl(dir: &Path, args: &[&str]) -> String {
    let output = run("openssl", args, dir);
    assert!(
        output.status.success(),
        "openssl {} failed:\n{}",
        args.join(" "),
        text(&output)
    );
    text(&output)
}

/// Makes a key and a CSR for it with the openssl CLI (`kind`: `rsa:2048`, `P-256`, …) and returns
/// the CSR as PEM.
fn openssl_csr(dir: &Path, kind: &str) -> Vec<u8> {
    let name = kind.replace(':', "-");
    let key = format!("{name}.key");
    let csr = format!("{name}.csr");
    let mut args = vec!["req", "-new", "-nodes", "-keyout", &key, "-out", &csr];
    args.extend(["-subj", "/CN=Ignored by the portal/O=Not used"]);
    let ec_opt;
    if let Some(curve) = kind.strip_prefix("EC:") {
        ec_opt = format!("ec_paramgen_curve:{curve}");
        args.extend(["-newkey", "ec", "-pkeyopt", &ec_opt]);
    } else {
        args.extend(["-newkey", kind]);
    }
    openssl(dir, &args);
    std::fs::read(dir.join(csr)).unwrap()
}

/// Runs one of pkilint's linters over `documents` (DER); fails the test on any ERROR or FATAL
/// finding and prints the rest (warnings, notices).
fn lint(dir: &Path, command: &[&str], documents: &[&[u8]]) {
    let paths: Vec<PathBuf> = documents
        .iter()
        .enumerate()
        .map(|(i, der)| {
            let path = dir.join(format!("lint-{i}.der"));
            std::fs::write(&path, der).unwrap();
            path
        })
        .collect();
    let output = Command::new(command[0])
        .args(&command[1..])
        .args(["-s", "NOTICE", "--document-format", "DER"])
        .args(&paths)
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "pkilint ({}) cannot be run ({e}): run scripts/setup.sh, which installs it with \
                 `pip install pkilint`",
                command[0]
            )
        });
    let report = text(&output);
    println!("{} findings (NOTICE and above):\n{report}", command[0]);
    assert!(
        !report.contains("Traceback"),
        "{} crashed:\n{report}",
        command[0]
    );
    let severe: Vec<&str> = report
        .lines()
        .filter(|l| l.contains("(ERROR)") || l.contains("(FATAL)"))
        .collect();
    assert!(
        severe.is_empty(),
        "{} found errors:\n{}",
        command[0],
        severe.join("\n")
    );
}

/// Lints a subscriber certificate against the S/MIME Baseline Requirements, the type detected
/// from its policy OID.
fn pkilint(dir: &Path, cert_der: &[u8]) {
    lint(dir, &["lint_cabf_smime_cert", "lint", "-d"], &[cert_der]);
}

/// A CA in a fresh data folder, with the PEM of its certificate written next to it.
struct TestCa {
    dir: TempDir,
    ca: EmbeddedCa,
}

impl TestCa {
    fn new(config: CaConfig) -> TestCa {
        let dir = tempfile::tempdir().unwrap();
        let ca = EmbeddedCa::open(&config, dir.path(), BASE_URL).expect("CA opens");
        let test_ca = TestCa { dir, ca };
        test_ca.write_pem("ca.pem", "CERTIFICATE", &test_ca.ca.chain_der()[0]);
        test_ca
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn write_pem(&self, name: &str, label: &str, der: &[u8]) -> PathBuf {
        use base64::Engine;
        let b64 = base64::engine::general_purpose::STANDARD.encode(der);
        let mut pem = format!("-----BEGIN {label}-----\n");
        for chunk in b64.as_bytes().chunks(64) {
            pem.push_str(std::str::from_utf8(chunk).unwrap());
            pem.push('\n');
        }
        pem.push_str(&format!("-----END {label}-----\n"));
        let path = self.path().join(name);
        std::fs::write(&path, pem).unwrap();
        path
    }

    async fn issue(&self, key: PublicKey, holder: Holder, addresses: &[&str]) -> IssuedCertificate {
        let not_before = now();
        self.issue_for(
            key,
            holder,
            addresses,
            not_before,
            Validity::DEFAULT.not_after(not_before),
        )
        .await
    }

    async fn issue_for(
        &self,
        key: PublicKey,
        holder: Holder,
        addresses: &[&str],
        not_before: i64,
        not_after: i64,
    ) -> IssuedCertificate {
        let request = IssueRequest {
            key,
            holder,
            addresses: addresses
                .iter()
                .map(|a| EmailAddress::parse(a).unwrap())
                .collect(),
            not_before,
            not_after,
        };
        self.ca.issue(&request).await.expect("issued")
    }

    async fn crl(&self, number: u64, entries: Vec<CrlEntry>) -> Vec<u8> {
        let this_update = now();
        let request = CrlRequest {
            number,
            this_update,
            next_update: this_update + 7 * DAY,
            entries,
        };
        self.ca.sign_crl(&request).await.expect("CRL signed")
    }

    /// `openssl verify -x509_strict -purpose smimesign` with the CA and a CRL; returns the output
    /// and whether it succeeded.
    fn verify(&self, cert: &IssuedCertificate, crl_der: &[u8]) -> (bool, String) {
        let cert_path = self.write_pem(&format!("{}.pem", cert.serial), "CERTIFICATE", &cert.der);
        self.write_pem("crl.pem", "X509 CRL", crl_der);
        let output = run(
            "openssl",
            &[
                "verify",
                "-x509_strict",
                "-purpose",
                "smimesign",
                "-CAfile",
                "ca.pem",
                "-crl_check",
                "-CRLfile",
                "crl.pem",
                cert_path.to_str().unwrap(),
            ],
            self.path(),
        );
        (output.status.success(), text(&output))
    }

    /// The certificate as `openssl x509 -text` prints it.
    fn x509_text(&self, cert: &IssuedCertificate) -> String {
        let path = self.write_pem("show.pem", "CERTIFICATE", &cert.der);
        openssl(
            self.path(),
            &[
                "x509",
                "-noout",
                "-text",
                "-nameopt",
                "RFC2253",
                "-in",
                path.to_str().unwrap(),
            ],
        )
    }

    /// Lints and verifies (with an empty CRL) a freshly issued certificate.
    async fn assert_valid(&self, cert: &IssuedCertificate) {
        pkilint(self.path(), &cert.der);
        let issuer = &self.ca.chain_der()[0];
        lint(
            self.path(),
            &["lint_pkix_signer_signee_cert_chain", "lint"],
            &[issuer, &cert.der],
        );
        let crl = self.crl(1, Vec::new()).await;
        lint(
            self.path(),
            &["lint_crl", "lint", "-t", "CRL", "-p", "BR"],
            &[&crl],
        );
        let (ok, out) = self.verify(cert, &crl);
        assert!(ok, "openssl verify failed:\n{out}");
        assert!(out.contains(": OK"), "{out}");
    }
}

fn person(given_name: &str, surname: &str) -> Holder {
    Holder::Person {
        given_name: given_name.into(),
        surname: surname.into(),
    }
}

fn scratch() -> TempDir {
    tempfile::tempdir().unwrap()
}

// ---------------------------------------------------------------------------------------------
// R14: certificate requests

#[test]
fn r14_csr_with_rsa_2048_and_ec_p256_p384_keys_are_accepted() {
    let dir = scratch();
    for (kind, algorithm) in [
        ("rsa:2048", KeyAlgorithm::Rsa { bits: 2048 }),
        ("EC:P-256", KeyAlgorithm::EcP256),
        ("EC:P-384", KeyAlgorithm::EcP384),
    ] {
        let pem = openssl_csr(dir.path(), kind);
        let key = parse_csr(&pem).unwrap_or_else(|e| panic!("{kind}: {e}"));
        assert_eq!(key.algorithm, algorithm, "{kind}");
        // Only the public key is taken: it equals the one openssl derives from the private key.
        let name = kind.replace(':', "-");
        let spki = dir.path().join(format!("{name}.spki"));
        openssl(
            dir.path(),
            &[
                "pkey",
                "-in",
                &format!("{name}.key"),
                "-pubout",
                "-outform",
                "DER",
                "-out",
                spki.to_str().unwrap(),
            ],
        );
        assert_eq!(key.spki_der, std::fs::read(spki).unwrap(), "{kind}");
    }
}

#[test]
fn r14_csr_in_der_with_crlf_whitespace_or_the_old_label_is_accepted() {
    let dir = scratch();
    let pem = openssl_csr(dir.path(), "EC:P-256");
    let expected = parse_csr(&pem).unwrap();

    openssl(
        dir.path(),
        &[
            "req",
            "-in",
            "EC-P-256.csr",
            "-outform",
            "DER",
            "-out",
            "req.der",
        ],
    );
    let der = std::fs::read(dir.path().join("req.der")).unwrap();
    assert_eq!(parse_csr(&der).unwrap(), expected, "DER");

    let text = String::from_utf8(pem).unwrap();
    let pasted = format!("\r\n  \t{}\r\n\r\n", text.trim().replace('\n', "\r\n"));
    assert_eq!(
        parse_csr(pasted.as_bytes()).unwrap(),
        expected,
        "CRLF and whitespace"
    );

    let old_label = text.replace("CERTIFICATE REQUEST", "NEW CERTIFICATE REQUEST");
    assert_eq!(
        parse_csr(old_label.as_bytes()).unwrap(),
        expected,
        "NEW CERTIFICATE REQUEST"
    );

    let with_text = openssl(dir.path(), &["req", "-in", "EC-P-256.csr", "-text"]);
    assert_eq!(
        parse_csr(with_text.as_bytes()).unwrap(),
        expected,
        "openssl req -text output"
    );
}

#[test]
fn r14_csr_whose_signature_does_not_match_is_refused() {
    let dir = scratch();
    openssl_csr(dir.path(), "rsa:2048");
    openssl(
        dir.path(),
        &[
            "req",
            "-in",
            "rsa-2048.csr",
            "-outform",
            "DER",
            "-out",
            "req.der",
        ],
    );
    let der = std::fs::read(dir.path().join("req.der")).unwrap();

    // Altered: one letter of the (signed) subject changed.
    let mut altered = der.clone();
    let at = altered
        .windows(7)
        .position(|w| w == b"Ignored")
        .expect("subject in the request");
    altered[at] = b'X';
    let e = parse_csr(&altered).unwrap_err();
    assert_eq!(e, CsrError::BadSignature);
    assert!(
        e.to_string()
            .contains("the request's signature does not match its key"),
        "{e}"
    );

    // Damaged: the last byte of the signature flipped.
    let mut damaged = der;
    *damaged.last_mut().unwrap() ^= 0x01;
    assert_eq!(parse_csr(&damaged).unwrap_err(), CsrError::BadSignature);
}

#[test]
fn r14_csr_with_rsa_1024_is_refused_with_its_length() {
    let dir = scratch();
    let pem = openssl_csr(dir.path(), "rsa:1024");
    let e = parse_csr(&pem).unwrap_err();
    assert_eq!(e, CsrError::RsaTooShort { bits: 1024 });
    assert_eq!(
        e.to_string(),
        "RSA keys must have at least 2048 bits; this one has 1024"
    );
}

#[test]
fn r14_csr_with_other_curves_or_key_types_is_refused() {
    let dir = scratch();
    let e = parse_csr(&openssl_csr(dir.path(), "EC:P-521")).unwrap_err();
    assert_eq!(
        e.to_string(),
        "EC curve P-521 is not accepted: use P-256 or P-384"
    );

    let e = parse_csr(&openssl_csr(dir.path(), "ed25519")).unwrap_err();
    assert!(
        e.to_string().starts_with("Ed25519 keys are not accepted"),
        "{e}"
    );
}

#[test]
fn r14_garbage_a_certificate_or_a_private_key_is_not_a_request() {
    let dir = scratch();
    assert_eq!(
        parse_csr(b"Hello, I would like a certificate"),
        Err(CsrError::NotACsr)
    );
    assert_eq!(
        parse_csr(&[0x30, 0x03, 0x02, 0x01, 0x00]),
        Err(CsrError::NotACsr)
    );
    assert!(CsrError::NotACsr
        .to_string()
        .starts_with("this is not a certificate request (PKCS#10)"));

    openssl_csr(dir.path(), "EC:P-256");
    let key = std::fs::read(dir.path().join("EC-P-256.key")).unwrap();
    assert_eq!(parse_csr(&key), Err(CsrError::PrivateKey));

    openssl(
        dir.path(),
        &[
            "req",
            "-x509",
            "-key",
            "EC-P-256.key",
            "-subj",
            "/CN=x",
            "-days",
            "1",
            "-out",
            "self.pem",
        ],
    );
    let cert = std::fs::read(dir.path().join("self.pem")).unwrap();
    assert_eq!(parse_csr(&cert), Err(CsrError::NotACsr));
}

// ---------------------------------------------------------------------------------------------
// R13: issued certificates

#[tokio::test]
async fn r13_personal_certificate_without_organization_is_individual_validated_and_lint_clean() {
    let ca = TestCa::new(CaConfig::default());
    let key = parse_csr(&openssl_csr(ca.path(), "rsa:2048")).unwrap();
    let cert = ca
        .issue(
            key,
            person("Anna", "Schmidt"),
            &["anna.schmidt@example.org", "a.schmidt@example.org"],
        )
        .await;
    assert_eq!(cert.subject, "CN=Anna Schmidt,SN=Schmidt,givenName=Anna");
    ca.assert_valid(&cert).await;

    let text = ca.x509_text(&cert);
    assert!(
        text.contains("Subject: CN=Anna Schmidt,SN=Schmidt,GN=Anna"),
        "{text}"
    );
    assert!(
        text.contains("email:anna.schmidt@example.org, email:a.schmidt@example.org"),
        "{text}"
    );
    assert!(
        text.contains("Policy: 2.23.140.1.5.4.2"),
        "individual-validated: {text}"
    );
    assert!(
        text.contains(
            "X509v3 Key Usage: critical\n                Digital Signature, Key Encipherment"
        ),
        "{text}"
    );
    assert!(text.contains("E-mail Protection"), "{text}");
    // Plain HTTP although the portal is reached over HTTPS (S/MIME BR §7.1.2.3).
    assert!(
        text.contains("URI:http://ra.example.org/pki/ca.crl"),
        "{text}"
    );
    assert!(
        text.contains("CA Issuers - URI:http://ra.example.org/pki/ca.crt"),
        "{text}"
    );
    assert!(text.contains("X509v3 Authority Key Identifier"), "{text}");
    assert!(!text.contains("O="), "no organisation configured: {text}");
}

#[tokio::test]
async fn r13_personal_certificate_with_organization_is_sponsor_validated_and_lint_clean() {
    let ca = TestCa::new(CaConfig {
        organization: Some("Example Research e.V.".into()),
        organization_identifier: Some("NTRDE-DEF1103R.VR12345".into()),
        country: Some("DE".into()),
        ..CaConfig::default()
    });
    let key = parse_csr(&openssl_csr(ca.path(), "EC:P-256")).unwrap();
    let cert = ca
        .issue(
            key,
            person("Jörg", "Müller-Lüdenscheidt"),
            &["joerg@example.org"],
        )
        .await;
    assert_eq!(
        cert.subject,
        "CN=Jörg Müller-Lüdenscheidt,SN=Müller-Lüdenscheidt,givenName=Jörg,\
         organizationIdentifier=NTRDE-DEF1103R.VR12345,O=Example Research e.V.,C=DE"
    );
    ca.assert_valid(&cert).await;

    let text = ca.x509_text(&cert);
    assert!(
        text.contains("Policy: 2.23.140.1.5.3.2"),
        "sponsor-validated: {text}"
    );
    assert!(
        text.contains(
            "X509v3 Key Usage: critical\n                Digital Signature, Key Agreement"
        ),
        "EC key: {text}"
    );
}

#[tokio::test]
async fn r13_functional_certificate_has_only_the_email_address_and_825_days_are_lint_clean() {
    let ca = TestCa::new(CaConfig::default());
    let key = parse_csr(&openssl_csr(ca.path(), "EC:P-384")).unwrap();
    let not_before = now();
    // The longest validity: 825 days counted inclusively (S/MIME BR §6.3.2).
    let not_after = Validity::from_days(825).unwrap().not_after(not_before) - 1;
    let cert = ca
        .issue_for(
            key,
            Holder::Mailbox,
            &["info@example.org", "contact@example.org"],
            not_before,
            not_after,
        )
        .await;
    assert_eq!(cert.subject, "emailAddress=info@example.org");
    assert_eq!((cert.not_before, cert.not_after), (not_before, not_after));
    ca.assert_valid(&cert).await;

    let text = ca.x509_text(&cert);
    assert!(
        text.contains("Subject: emailAddress=info@example.org\n"),
        "{text}"
    );
    assert!(
        text.contains("Policy: 2.23.140.1.5.1.2"),
        "mailbox-validated: {text}"
    );
    assert!(
        text.contains("email:info@example.org, email:contact@example.org"),
        "{text}"
    );
}

#[tokio::test]
async fn r13_validity_and_serial_are_exactly_as_requested_and_random() {
    let ca = TestCa::new(CaConfig::default());
    let key = parse_csr(&openssl_csr(ca.path(), "EC:P-256")).unwrap();
    let not_before = 1_900_000_000;
    let not_after = not_before + 30 * DAY;
    let a = ca
        .issue_for(
            key.clone(),
            Holder::Mailbox,
            &["a@example.org"],
            not_before,
            not_after,
        )
        .await;
    let b = ca
        .issue_for(
            key,
            Holder::Mailbox,
            &["a@example.org"],
            not_before,
            not_after,
        )
        .await;
    assert_ne!(a.serial, b.serial);
    assert_eq!(
        a.serial.len(),
        32,
        "16 bytes, no leading zero: {}",
        a.serial
    );
    let text = ca.x509_text(&a);
    assert!(
        text.contains("Not Before: Mar 17 17:46:40 2030 GMT"),
        "{text}"
    );
    assert!(
        text.contains("Not After : Apr 16 17:46:40 2030 GMT"),
        "{text}"
    );
    let serial = openssl(ca.path(), &["x509", "-noout", "-serial", "-in", "show.pem"]);
    assert_eq!(serial.trim(), format!("serial={}", a.serial.to_uppercase()));
}

#[tokio::test]
async fn r13_requests_outside_the_profile_are_refused() {
    let ca = TestCa::new(CaConfig::default());
    let key = parse_csr(&openssl_csr(ca.path(), "EC:P-256")).unwrap();
    let request = |holder: Holder, not_after: i64| IssueRequest {
        key: key.clone(),
        holder,
        addresses: vec![EmailAddress::parse("a@example.org").unwrap()],
        not_before: now(),
        not_after,
    };
    let too_long = request(Holder::Mailbox, now() + 825 * DAY);
    let e = ca.ca.issue(&too_long).await.unwrap_err();
    assert!(e.to_string().contains("at most 825 days"), "{e}");

    let nameless = request(person(" ", ""), now() + DAY);
    let e = ca.ca.issue(&nameless).await.unwrap_err();
    assert!(e.to_string().contains("needs the holder's name"), "{e}");

    let long_name = request(person(&"A".repeat(40), &"B".repeat(40)), now() + DAY);
    let e = ca.ca.issue(&long_name).await.unwrap_err();
    assert!(e.to_string().contains("64 characters"), "{e}");

    let mut wrong_algorithm = request(Holder::Mailbox, now() + DAY);
    wrong_algorithm.key.algorithm = KeyAlgorithm::Rsa { bits: 2048 };
    let e = ca.ca.issue(&wrong_algorithm).await.unwrap_err();
    assert!(e.to_string().contains("not the RSA 2048 key"), "{e}");
}

// ---------------------------------------------------------------------------------------------
// R14: server-made keys

#[tokio::test]
async fn r14_server_made_key_gets_a_lint_clean_certificate_in_a_pkcs12_file() {
    let ca = TestCa::new(CaConfig::default());
    let started = std::time::Instant::now();
    let key = ServerKey::generate().unwrap();
    println!("RSA 3072 key generation: {:?}", started.elapsed());
    assert_eq!(key.public_key().algorithm, KeyAlgorithm::Rsa { bits: 3072 });
    let cert = ca
        .issue(
            key.public_key(),
            person("Anna", "Schmidt"),
            &["anna@example.org"],
        )
        .await;
    ca.assert_valid(&cert).await;

    let started = std::time::Instant::now();
    let p12 = pkcs12(
        &cert.der,
        &ca.ca.chain_der(),
        &key,
        "correct horse",
        "Anna Schmidt",
    )
    .unwrap();
    println!("PKCS#12: {:?}", started.elapsed());
    std::fs::write(ca.path().join("anna.p12"), &p12).unwrap();

    let info = openssl(
        ca.path(),
        &[
            "pkcs12",
            "-info",
            "-noout",
            "-in",
            "anna.p12",
            "-passin",
            "pass:correct horse",
        ],
    );
    assert!(info.contains("MAC: sha256"), "{info}");
    assert!(info.contains("PBES2, PBKDF2, AES-256-CBC"), "{info}");
    assert!(!info.contains("RC2") && !info.contains("3DES"), "{info}");

    // The key inside belongs to the certificate, and the CA certificate comes along.
    let dump = openssl(
        ca.path(),
        &[
            "pkcs12",
            "-in",
            "anna.p12",
            "-passin",
            "pass:correct horse",
            "-nodes",
        ],
    );
    assert!(dump.contains("friendlyName: Anna Schmidt"), "{dump}");
    assert!(
        dump.contains("subject=CN = RA Portal S/MIME CA"),
        "chain: {dump}"
    );
    std::fs::write(ca.path().join("dump.pem"), &dump).unwrap();
    let from_key = openssl(ca.path(), &["pkey", "-in", "dump.pem", "-pubout"]);
    let from_cert = openssl(
        ca.path(),
        &[
            "x509",
            "-in",
            &format!("{}.pem", cert.serial),
            "-noout",
            "-pubkey",
        ],
    );
    assert_eq!(from_key, from_cert);

    let wrong = run(
        "openssl",
        &[
            "pkcs12",
            "-info",
            "-noout",
            "-in",
            "anna.p12",
            "-passin",
            "pass:wrong",
        ],
        ca.path(),
    );
    assert!(!wrong.status.success(), "a wrong password opened the file");
    assert!(
        text(&wrong).contains("Mac verify error"),
        "{}",
        text(&wrong)
    );

    let e = pkcs12(&cert.der, &[], &key, "", "x").unwrap_err();
    assert!(e.to_string().contains("needs a password"), "{e}");
}

// ---------------------------------------------------------------------------------------------
// R15: the CRL

#[tokio::test]
async fn r15_revoked_certificates_fail_verification_and_unspecified_has_no_reason_code() {
    let ca = TestCa::new(CaConfig::default());
    let key = parse_csr(&openssl_csr(ca.path(), "EC:P-256")).unwrap();
    let compromised = ca
        .issue(key.clone(), Holder::Mailbox, &["a@example.org"])
        .await;
    let unspecified = ca
        .issue(key.clone(), Holder::Mailbox, &["b@example.org"])
        .await;
    let good = ca.issue(key, Holder::Mailbox, &["c@example.org"]).await;

    let this_update = now();
    let started = std::time::Instant::now();
    let crl = ca
        .ca
        .sign_crl(&CrlRequest {
            number: 42,
            this_update,
            next_update: this_update + 7 * DAY,
            entries: vec![
                CrlEntry {
                    serial: compromised.serial.clone(),
                    revoked_at: this_update - 60,
                    reason: RevocationReason::KeyCompromise,
                },
                CrlEntry {
                    serial: unspecified.serial.clone(),
                    revoked_at: this_update - 30,
                    reason: RevocationReason::Unspecified,
                },
            ],
        })
        .await
        .unwrap();
    println!("CRL signing: {:?}", started.elapsed());

    for revoked in [&compromised, &unspecified] {
        let (ok, out) = ca.verify(revoked, &crl);
        assert!(!ok, "a revoked certificate verified:\n{out}");
        assert!(out.contains("certificate revoked"), "{out}");
    }
    let (ok, out) = ca.verify(&good, &crl);
    assert!(ok, "{out}");

    let crl_text = openssl(ca.path(), &["crl", "-in", "crl.pem", "-noout", "-text"]);
    assert!(
        crl_text.contains("X509v3 CRL Number: \n                42"),
        "{crl_text}"
    );
    assert!(
        crl_text.contains("X509v3 Authority Key Identifier"),
        "{crl_text}"
    );
    assert_eq!(
        crl_text.matches("X509v3 CRL Reason Code").count(),
        1,
        "{crl_text}"
    );
    assert!(crl_text.contains("Key Compromise"), "{crl_text}");
    assert!(!crl_text.contains("Unspecified"), "{crl_text}");
    let unspecified_entry = crl_text
        .split("Serial Number: ")
        .find(|entry| entry.to_lowercase().starts_with(&unspecified.serial))
        .expect("entry of the unspecified revocation");
    assert!(!unspecified_entry.contains("Reason"), "{unspecified_entry}");
    let next_update = openssl(
        ca.path(),
        &[
            "crl",
            "-in",
            "crl.pem",
            "-noout",
            "-nextupdate",
            "-dateopt",
            "iso_8601",
        ],
    );
    let expected = time::OffsetDateTime::from_unix_timestamp(this_update + 7 * DAY).unwrap();
    let expected = format!(
        "nextUpdate={:04}-{:02}-{:02} {:02}:{:02}:{:02}Z",
        expected.year(),
        expected.month() as u8,
        expected.day(),
        expected.hour(),
        expected.minute(),
        expected.second()
    );
    assert_eq!(next_update.trim(), expected);
    // The CRL verifies under the CA and lints clean with its entries.
    openssl(
        ca.path(),
        &["crl", "-in", "crl.pem", "-noout", "-CAfile", "ca.pem"],
    );
    lint(
        ca.path(),
        &["lint_crl", "lint", "-t", "CRL", "-p", "BR"],
        &[&crl],
    );
}

#[tokio::test]
async fn r15_crl_that_would_outlive_ten_days_is_refused() {
    let ca = TestCa::new(CaConfig::default());
    let e = ca
        .ca
        .sign_crl(&CrlRequest {
            number: 1,
            this_update: now(),
            next_update: now() + 11 * DAY,
            entries: Vec::new(),
        })
        .await
        .unwrap_err();
    assert!(e.to_string().contains("at most 10 days"), "{e}");
}

// ---------------------------------------------------------------------------------------------
// SPEC §5: the embedded CA's own key and certificate

#[tokio::test]
async fn r13_own_ca_is_created_on_first_start_and_loaded_afterwards() {
    let data = scratch();
    let config = CaConfig {
        common_name: "Example S/MIME CA".into(),
        organization: Some("Example e.V.".into()),
        organization_identifier: Some("NTRDE-DEF1103R.VR12345".into()),
        country: Some("DE".into()),
        ..CaConfig::default()
    };
    let started = std::time::Instant::now();
    let first = EmbeddedCa::open(&config, data.path(), BASE_URL).unwrap();
    println!("first start (CA created): {:?}", started.elapsed());
    let second = EmbeddedCa::open(&config, data.path(), BASE_URL).unwrap();
    assert_eq!(
        first.chain_der(),
        second.chain_der(),
        "the same CA after a restart"
    );
    assert_eq!(first.chain_der().len(), 1);

    let key_file = data.path().join("ca/ca.key");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key_file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "CA key readable by others");
    }
    assert!(std::fs::read_to_string(&key_file)
        .unwrap()
        .contains("BEGIN PRIVATE KEY"));
    let leftovers: Vec<_> = std::fs::read_dir(data.path().join("ca"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");

    let text = openssl(
        data.path(),
        &[
            "x509",
            "-in",
            "ca/ca.crt",
            "-noout",
            "-text",
            "-nameopt",
            "RFC2253",
        ],
    );
    assert!(
        text.contains("Subject: CN=Example S/MIME CA,O=Example e.V.,C=DE"),
        "{text}"
    );
    assert!(
        text.contains("X509v3 Basic Constraints: critical\n                CA:TRUE"),
        "{text}"
    );
    assert!(
        text.contains("X509v3 Key Usage: critical\n                Certificate Sign, CRL Sign"),
        "{text}"
    );
    assert!(text.contains("X509v3 Subject Key Identifier"), "{text}");
    assert!(text.contains("ASN1 OID: secp384r1"), "{text}");
    lint(
        data.path(),
        &["lint_pkix_cert", "lint"],
        &[&first.chain_der()[0]],
    );
    assert!(text.contains("ecdsa-with-SHA384"), "{text}");
    let end = openssl(
        data.path(),
        &[
            "x509",
            "-in",
            "ca/ca.crt",
            "-noout",
            "-checkend",
            &(3652 * DAY).to_string(),
        ],
    );
    assert!(end.contains("will not expire"), "ten years: {end}");

    // A start interrupted after writing the key: the certificate is made for that key.
    std::fs::remove_file(data.path().join("ca/ca.crt")).unwrap();
    let third = EmbeddedCa::open(&config, data.path(), BASE_URL).unwrap();
    assert_ne!(third.chain_der(), first.chain_der());
    let key = parse_csr(&openssl_csr(data.path(), "EC:P-256")).unwrap();
    let request = IssueRequest {
        key,
        holder: Holder::Mailbox,
        addresses: vec![EmailAddress::parse("a@example.org").unwrap()],
        not_before: now(),
        not_after: now() + DAY,
    };
    let issued_before = first.issue(&request).await.unwrap();
    assert!(third.issue(&request).await.is_ok());
    // Same key and name: what the old certificate signed still verifies under the new one.
    let ca = TestCa {
        dir: data,
        ca: third,
    };
    ca.write_pem("ca.pem", "CERTIFICATE", &ca.ca.chain_der()[0]);
    let crl = ca.crl(1, Vec::new()).await;
    let (ok, out) = ca.verify(&issued_before, &crl);
    assert!(ok, "{out}");

    // A certificate without its key is never replaced.
    std::fs::remove_file(ca.path().join("ca/ca.key")).unwrap();
    let e = EmbeddedCa::open(&config, ca.path(), BASE_URL).unwrap_err();
    assert!(
        format!("{e:#}").contains("restore the key from a backup"),
        "{e:#}"
    );
}

#[tokio::test]
async fn r13_configured_ca_files_are_loaded_and_their_chain_is_handed_out() {
    let dir = scratch();
    let d = dir.path();
    // A root and an issuing CA made with openssl, RSA 3072 (not the embedded default's EC).
    openssl(
        d,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:3072",
            "-nodes",
            "-keyout",
            "root.key",
            "-out",
            "root.pem",
            "-subj",
            "/C=DE/O=Example e.V./CN=Example Root",
            "-days",
            "3650",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ],
    );
    openssl(
        d,
        &[
            "req",
            "-new",
            "-newkey",
            "rsa:3072",
            "-nodes",
            "-keyout",
            "issuing.key",
            "-out",
            "issuing.csr",
            "-subj",
            "/C=DE/O=Example e.V./CN=Example Issuing CA",
        ],
    );
    std::fs::write(
        d.join("issuing.ext"),
        "basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign\n\
         subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid:always\n",
    )
    .unwrap();
    openssl(
        d,
        &[
            "x509",
            "-req",
            "-in",
            "issuing.csr",
            "-CA",
            "root.pem",
            "-CAkey",
            "root.key",
            "-CAcreateserial",
            "-days",
            "1000",
            "-extfile",
            "issuing.ext",
            "-out",
            "issuing.pem",
        ],
    );
    let chain_pem = format!(
        "{}{}",
        std::fs::read_to_string(d.join("issuing.pem")).unwrap(),
        std::fs::read_to_string(d.join("root.pem")).unwrap()
    );
    std::fs::write(d.join("chain.pem"), chain_pem).unwrap();

    let config = CaConfig {
        certificate_file: Some(d.join("chain.pem")),
        key_file: Some(d.join("issuing.key")),
        organization: Some("Example e.V.".into()),
        organization_identifier: Some("NTRDE-DEF1103R.VR12345".into()),
        country: Some("DE".into()),
        ..CaConfig::default()
    };
    let data = scratch();
    let ca = EmbeddedCa::open(&config, data.path(), BASE_URL).unwrap();
    assert!(!data.path().join("ca").exists(), "no own CA is created");
    let chain = ca.chain_der();
    assert_eq!(chain.len(), 2, "issuing CA and root");
    let ca = TestCa { dir, ca };
    let issuing_der = ca.path().join("issuing.der");
    openssl(
        ca.path(),
        &[
            "x509",
            "-in",
            "issuing.pem",
            "-outform",
            "DER",
            "-out",
            issuing_der.to_str().unwrap(),
        ],
    );
    assert_eq!(chain[0], std::fs::read(issuing_der).unwrap());

    // ca.pem: the whole chain, so that openssl verify reaches the root.
    std::fs::copy(ca.path().join("chain.pem"), ca.path().join("ca.pem")).unwrap();
    let key = parse_csr(&openssl_csr(ca.path(), "rsa:3072")).unwrap();
    let cert = ca
        .issue(
            key.clone(),
            person("Anna", "Schmidt"),
            &["anna@example.org"],
        )
        .await;
    pkilint(ca.path(), &cert.der);
    let crl = ca.crl(1, Vec::new()).await;
    // The CRL names the issuing CA (openssl verify -crl_check checks only the leaf's CRL).
    let (ok, out) = ca.verify(&cert, &crl);
    assert!(ok, "{out}");

    // Nothing is signed to outlive the issuing CA (1000 days).
    let request = IssueRequest {
        key,
        holder: Holder::Mailbox,
        addresses: vec![EmailAddress::parse("a@example.org").unwrap()],
        not_before: now() + 900 * DAY,
        not_after: now() + 1100 * DAY,
    };
    let e = ca.ca.issue(&request).await.unwrap_err();
    assert!(e.to_string().contains("renew the CA"), "{e}");

    // A key that does not belong to the certificate is refused at start.
    let wrong = CaConfig {
        key_file: Some(ca.path().join("root.key")),
        ..config
    };
    let e = EmbeddedCa::open(&wrong, data.path(), BASE_URL).unwrap_err();
    assert!(
        format!("{e:#}").contains("the key does not belong to the CA certificate"),
        "{e:#}"
    );
}

#[tokio::test]
async fn r15_crl_and_ca_certificate_urls_can_point_elsewhere() {
    let ca = TestCa::new(CaConfig {
        publication_url: Some("http://pki.example.org/ra/".into()),
        ..CaConfig::default()
    });
    let key = parse_csr(&openssl_csr(ca.path(), "EC:P-256")).unwrap();
    let cert = ca.issue(key, Holder::Mailbox, &["a@example.org"]).await;
    let text = ca.x509_text(&cert);
    assert!(
        text.contains("URI:http://pki.example.org/ra/pki/ca.crl"),
        "{text}"
    );
    assert!(
        text.contains("CA Issuers - URI:http://pki.example.org/ra/pki/ca.crt"),
        "{text}"
    );
    pkilint(ca.path(), &cert.der);
}

#[tokio::test]
async fn r13_the_ca_does_not_print_its_key() {
    let ca = TestCa::new(CaConfig::default());
    let printed = format!("{:?}", ca.ca);
    let key_pem = std::fs::read_to_string(ca.path().join("ca/ca.key")).unwrap();
    let key_body = key_pem.lines().nth(1).unwrap();
    assert!(!printed.contains(key_body), "{printed}");
    assert!(printed.contains("RA Portal S/MIME CA"), "{printed}");
}
