//! Delivering one outbox mail: into a folder of `.eml` files (the embedded default) or to an SMTP
//! relay with lettre (STARTTLS, TLS or plain; AUTH; an extra CA; a connection pool).

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant, UNIX_EPOCH};

use lettre::address::Envelope;
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::{Credentials, DEFAULT_MECHANISMS};
use lettre::transport::smtp::client::{
    AsyncSmtpConnection, AsyncTokioStream, Certificate, TlsParameters,
};
use lettre::transport::smtp::extension::ClientId;
use lettre::Message;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName};
use tokio_rustls::rustls::{ClientConfig, RootCertStore};
use tokio_rustls::TlsConnector;

use crate::config::{Config, SmtpConfig, SmtpSecurity};
use crate::secret::ExposeSecret;
use crate::storage::outbox::OutboxMail;

/// How long connecting to the relay (TCP, TLS, greeting, EHLO, AUTH) may take.
const SMTP_CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
/// How long one mail's transaction (MAIL, RCPT, DATA) may take.
const SMTP_SEND_TIMEOUT: Duration = Duration::from_secs(60);
/// Most idle connections kept open to the relay (the worker sends 8 mails at once by default).
pub const SMTP_POOL_SIZE: usize = 8;
/// An idle connection older than this is closed rather than reused: relays drop idle clients
/// after a minute or more, and a dropped one would cost a failed attempt.
const SMTP_IDLE_REUSE: Duration = Duration::from_secs(50);

/// Why a mail was not delivered. The text is the relay's reply (or the local error) and goes into
/// the outbox and the address table; it never holds the mail's body.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeliveryError {
    /// Worth trying again later: an SMTP 4xx reply, a network or TLS problem, a refused login.
    #[error("{0}")]
    Temporary(String),
    /// Will never work: an SMTP 5xx reply about this mail, or an invalid recipient.
    #[error("{0}")]
    Permanent(String),
}

/// Something that delivers outbox mails; the outbox worker is generic over it so that its
/// bookkeeping can be tested with a scripted stand-in.
pub trait DeliverMail: Send + Sync + 'static {
    /// Delivers one mail.
    fn deliver(&self, mail: &OutboxMail) -> impl Future<Output = Result<(), DeliveryError>> + Send;
}

/// Why the mail settings cannot be used (at start, so that a typo is found before mail is due).
#[derive(Debug, thiserror::Error)]
#[error("invalid mail configuration: {0}")]
pub struct TransportConfigError(String);

/// Where mail goes, as configured.
pub enum MailTransport {
    /// Each mail becomes `<outbox id>-<message id>.eml` in this folder.
    Folder {
        /// The folder.
        folder: PathBuf,
        /// The `From` of every mail.
        from: Mailbox,
    },
    /// Each mail goes to this relay.
    Smtp(SmtpRelay),
}

impl std::fmt::Debug for MailTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe())
    }
}

impl MailTransport {
    /// The transport the configuration names: SMTP when `[mail.smtp]` is set, else the folder.
    pub fn from_config(config: &Config) -> Result<MailTransport, TransportConfigError> {
        let from: Mailbox = config.mail.from.parse().map_err(|e| {
            TransportConfigError(format!(
                "mail.from {:?} is not a mailbox: {e}",
                config.mail.from
            ))
        })?;
        match &config.mail.smtp {
            Some(smtp) => MailTransport::smtp(smtp, from, hello_name(config)),
            None => MailTransport::folder(config.mail_folder(), from),
        }
    }

    /// Mail into a folder (created if missing; private, 0700, like the data folder it is in by
    /// default: its mails hold live challenge links).
    pub fn folder(folder: PathBuf, from: Mailbox) -> Result<MailTransport, TransportConfigError> {
        crate::private_files::ensure_private_dir(&folder).map_err(|e| {
            TransportConfigError(format!(
                "cannot create mail folder {}: {e}",
                folder.display()
            ))
        })?;
        tracing::info!(folder = %folder.display(), "no SMTP relay configured: mail is written as .eml files into the folder");
        Ok(MailTransport::Folder { folder, from })
    }

    /// Mail to an SMTP relay.
    pub fn smtp(
        smtp: &SmtpConfig,
        from: Mailbox,
        hello: ClientId,
    ) -> Result<MailTransport, TransportConfigError> {
        SmtpRelay::new(smtp, from, hello).map(MailTransport::Smtp)
    }

    /// Where mail goes, for the log.
    pub fn describe(&self) -> String {
        match self {
            MailTransport::Folder { folder, .. } => format!("folder {}", folder.display()),
            MailTransport::Smtp(relay) => relay.description.clone(),
        }
    }

    /// Delivers one outbox mail.
    pub async fn deliver(&self, mail: &OutboxMail) -> Result<(), DeliveryError> {
        match self {
            MailTransport::Folder { folder, from } => {
                let message = build_message(mail, from)?;
                write_eml(folder, mail, &message.formatted())
                    .await
                    .map_err(|e| {
                        DeliveryError::Temporary(format!(
                            "cannot write into the mail folder {}: {e}",
                            folder.display()
                        ))
                    })
            }
            MailTransport::Smtp(relay) => {
                let message = build_message(mail, &relay.from)?;
                relay.send(message.envelope(), &message.formatted()).await
            }
        }
    }
}

impl DeliverMail for MailTransport {
    fn deliver(&self, mail: &OutboxMail) -> impl Future<Output = Result<(), DeliveryError>> + Send {
        MailTransport::deliver(self, mail)
    }
}

/// How the connection to the relay is secured.
enum RelayTls {
    /// STARTTLS after the greeting (lettre upgrades the connection).
    Starttls(TlsParameters),
    /// TLS from the first byte.
    Implicit(TlsConnector, ServerName<'static>),
    /// None (a relay on the same host).
    None,
}

/// An SMTP relay with a small pool of open connections.
///
/// The connections are opened here rather than by lettre's pooled transport so that they can
/// have `TCP_NODELAY`: lettre writes a mail's body and its final `.` line separately, and with
/// Nagle's algorithm on, that last small write waits for the relay's delayed ACK — 40 ms per
/// mail on Linux, which caps one connection at ~25 mails/s (SPEC P3 asks for 500/s). lettre still
/// speaks SMTP on them (`AsyncSmtpConnection`).
pub struct SmtpRelay {
    host: String,
    port: u16,
    tls: RelayTls,
    credentials: Option<Credentials>,
    hello: ClientId,
    from: Mailbox,
    idle: Mutex<Vec<(AsyncSmtpConnection, Instant)>>,
    description: String,
}

impl SmtpRelay {
    fn new(
        smtp: &SmtpConfig,
        from: Mailbox,
        hello: ClientId,
    ) -> Result<SmtpRelay, TransportConfigError> {
        let port = smtp.port.unwrap_or(match smtp.security {
            SmtpSecurity::Starttls => 587,
            SmtpSecurity::Tls => 465,
            SmtpSecurity::None => 25,
        });
        let extra_ca = match &smtp.ca_file {
            Some(path) => Some(std::fs::read(path).map_err(|e| {
                TransportConfigError(format!(
                    "cannot read mail.smtp.ca_file {}: {e}",
                    path.display()
                ))
            })?),
            None => None,
        };
        let bad_ca = |e: &dyn std::fmt::Display| {
            TransportConfigError(format!(
                "mail.smtp.ca_file {} holds no usable PEM certificate: {e}",
                smtp.ca_file.as_deref().unwrap_or(Path::new("")).display()
            ))
        };
        let tls = match smtp.security {
            SmtpSecurity::Starttls => {
                let mut builder = TlsParameters::builder(smtp.host.clone());
                if let Some(pem) = &extra_ca {
                    builder = builder
                        .add_root_certificate(Certificate::from_pem(pem).map_err(|e| bad_ca(&e))?);
                }
                RelayTls::Starttls(builder.build_rustls().map_err(|e| {
                    TransportConfigError(format!("TLS settings for the relay: {e}"))
                })?)
            }
            SmtpSecurity::Tls => {
                // The same trust as for STARTTLS: the public web PKI roots plus the extra CA.
                let mut roots = RootCertStore::empty();
                roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
                if let Some(pem) = &extra_ca {
                    for cert in CertificateDer::pem_slice_iter(pem) {
                        roots
                            .add(cert.map_err(|e| bad_ca(&e))?)
                            .map_err(|e| bad_ca(&e))?;
                    }
                }
                let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
                let config = ClientConfig::builder_with_provider(provider)
                    .with_safe_default_protocol_versions()
                    .map_err(|e| TransportConfigError(format!("TLS settings for the relay: {e}")))?
                    .with_root_certificates(roots)
                    .with_no_client_auth();
                let name = ServerName::try_from(smtp.host.clone()).map_err(|e| {
                    TransportConfigError(format!("mail.smtp.host {:?}: {e}", smtp.host))
                })?;
                RelayTls::Implicit(TlsConnector::from(Arc::new(config)), name)
            }
            SmtpSecurity::None => RelayTls::None,
        };
        let credentials = match (&smtp.username, &smtp.password) {
            (Some(user), password) => Some(Credentials::new(
                user.clone(),
                password
                    .as_ref()
                    .map(|p| p.expose_secret().to_owned())
                    .unwrap_or_default(),
            )),
            (None, Some(_)) => {
                return Err(TransportConfigError(
                    "mail.smtp.password is set but mail.smtp.username is not".into(),
                ))
            }
            (None, None) => None,
        };
        let security = match smtp.security {
            SmtpSecurity::Starttls => "STARTTLS",
            SmtpSecurity::Tls => "TLS",
            SmtpSecurity::None => "unencrypted",
        };
        let description = format!("SMTP relay {}:{port} ({security})", smtp.host);
        tracing::info!(relay = %description, "mail is sent through the SMTP relay");
        Ok(SmtpRelay {
            host: smtp.host.clone(),
            port,
            tls,
            credentials,
            hello,
            from,
            idle: Mutex::new(Vec::new()),
            description,
        })
    }

    /// Opens a connection: TCP without Nagle, TLS, greeting, EHLO, AUTH.
    async fn connect(&self) -> Result<AsyncSmtpConnection, DeliveryError> {
        let tcp = TcpStream::connect((self.host.as_str(), self.port))
            .await
            .map_err(|e| {
                DeliveryError::Temporary(format!(
                    "cannot connect to the relay {}:{}: {e}",
                    self.host, self.port
                ))
            })?;
        tcp.set_nodelay(true)
            .map_err(|e| DeliveryError::Temporary(format!("network error: {e}")))?;
        let mut conn = match &self.tls {
            RelayTls::Implicit(connector, name) => {
                let tls = connector.connect(name.clone(), tcp).await.map_err(|e| {
                    DeliveryError::Temporary(format!(
                        "TLS with the relay failed: {e} (check mail.smtp.host, security and ca_file)"
                    ))
                })?;
                AsyncSmtpConnection::connect_with_transport(Box::new(ImplicitTls(tls)), &self.hello)
                    .await
                    .map_err(classify)?
            }
            RelayTls::Starttls(parameters) => {
                let mut conn =
                    AsyncSmtpConnection::connect_with_transport(Box::new(tcp), &self.hello)
                        .await
                        .map_err(classify)?;
                if !conn.can_starttls() {
                    // Never fall back to plain text: that is what a man in the middle would want.
                    return Err(DeliveryError::Temporary(
                        "the relay does not offer STARTTLS (check mail.smtp.security)".into(),
                    ));
                }
                conn.starttls(parameters.clone(), &self.hello)
                    .await
                    .map_err(classify)?;
                conn
            }
            RelayTls::None => {
                AsyncSmtpConnection::connect_with_transport(Box::new(tcp), &self.hello)
                    .await
                    .map_err(classify)?
            }
        };
        if let Some(credentials) = &self.credentials {
            conn.auth(DEFAULT_MECHANISMS, credentials)
                .await
                .map_err(classify)?;
        }
        Ok(conn)
    }

    fn take_idle(&self) -> Option<AsyncSmtpConnection> {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        while let Some((conn, since)) = idle.pop() {
            if since.elapsed() < SMTP_IDLE_REUSE && !conn.has_broken() {
                return Some(conn);
            }
        }
        None
    }

    fn put_idle(&self, conn: AsyncSmtpConnection) {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        if idle.len() < SMTP_POOL_SIZE && !conn.has_broken() {
            idle.push((conn, Instant::now()));
        }
    }

    /// Sends one mail, on an idle connection if there is one. A reused connection that fails
    /// other than by an SMTP reply was most likely closed by the relay meanwhile: the mail is
    /// tried once more on a new one.
    async fn send(&self, envelope: &Envelope, bytes: &[u8]) -> Result<(), DeliveryError> {
        if let Some(mut conn) = self.take_idle() {
            match tokio::time::timeout(SMTP_SEND_TIMEOUT, conn.send(envelope, bytes)).await {
                Ok(Ok(_)) => {
                    self.put_idle(conn);
                    return Ok(());
                }
                Ok(Err(e)) if e.is_permanent() || e.is_transient() => return Err(classify(e)),
                _ => {}
            }
        }
        let mut conn = tokio::time::timeout(SMTP_CONNECT_TIMEOUT, self.connect())
            .await
            .map_err(|_| {
                DeliveryError::Temporary(format!(
                    "connecting to the relay {}:{} timed out",
                    self.host, self.port
                ))
            })??;
        match tokio::time::timeout(SMTP_SEND_TIMEOUT, conn.send(envelope, bytes)).await {
            Ok(Ok(_)) => {
                self.put_idle(conn);
                Ok(())
            }
            Ok(Err(e)) => Err(classify(e)),
            Err(_) => Err(DeliveryError::Temporary(
                "the relay did not finish the mail within 60 s".into(),
            )),
        }
    }
}

/// A TLS stream as lettre's connection takes it (implicit TLS, opened here with `TCP_NODELAY`).
#[derive(Debug)]
struct ImplicitTls(TlsStream<TcpStream>);

impl AsyncRead for ImplicitTls {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl AsyncWrite for ImplicitTls {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

impl AsyncTokioStream for ImplicitTls {
    fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.0.get_ref().0.peer_addr()
    }
}

/// The EHLO name: the host of the portal's public URL, which is the name it is known by.
fn hello_name(config: &Config) -> ClientId {
    let host = config
        .base_url()
        .split_once("://")
        .map(|(_, rest)| rest)
        .unwrap_or_default()
        .split(['/', ':'])
        .next()
        .unwrap_or_default();
    if host.is_empty() || host.starts_with('[') {
        ClientId::default()
    } else if host.parse::<std::net::Ipv4Addr>().is_ok() {
        ClientId::Ipv4(host.parse().expect("checked"))
    } else {
        ClientId::Domain(host.to_owned())
    }
}

/// The MIME message of an outbox mail: multipart/alternative, text then HTML. `Date` is the time
/// it was queued and `Message-ID` was fixed then, so a repeated delivery is the same mail.
fn build_message(mail: &OutboxMail, from: &Mailbox) -> Result<Message, DeliveryError> {
    let to: Mailbox = mail.recipient.parse().map_err(|e| {
        DeliveryError::Permanent(format!(
            "invalid recipient address {:?}: {e}",
            mail.recipient
        ))
    })?;
    let date = UNIX_EPOCH + Duration::from_secs(u64::try_from(mail.created_at).unwrap_or(0));
    Message::builder()
        .from(from.clone())
        .to(to)
        .subject(mail.subject.clone())
        .message_id(Some(mail.message_id.clone()))
        .date(date)
        .multipart(MultiPart::alternative_plain_html(
            mail.body_text.clone(),
            mail.body_html.clone(),
        ))
        .map_err(|e| DeliveryError::Permanent(format!("cannot build the message: {e}")))
}

/// Writes the mail atomically: a reader of the folder sees a whole file or none.
async fn write_eml(folder: &Path, mail: &OutboxMail, bytes: &[u8]) -> std::io::Result<()> {
    let name = eml_file_name(mail);
    let tmp = folder.join(format!(".{name}.tmp"));
    // 0600: the mail holds a live challenge link (Q8). `truncate`: a leftover of a crash.
    let mut options = tokio::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    options.mode(crate::private_files::PRIVATE_FILE_MODE);
    let mut file = options.open(&tmp).await?;
    tokio::io::AsyncWriteExt::write_all(&mut file, bytes).await?;
    // tokio writes on a blocking thread: the whole mail is in the file before it gets its name.
    tokio::io::AsyncWriteExt::flush(&mut file).await?;
    drop(file);
    tokio::fs::rename(&tmp, folder.join(&name)).await
}

/// `<outbox id>-<Message-ID without brackets>.eml`, with anything unusual in the id replaced.
pub fn eml_file_name(mail: &OutboxMail) -> String {
    let id: String = mail
        .message_id
        .trim_matches(['<', '>'])
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '@' | '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("{}-{id}.eml", mail.id)
}

/// An SMTP error as a delivery outcome: 4xx replies, network, TLS and timeouts are temporary;
/// 5xx replies are permanent — except a refused login (530, 534, 535, 538), which is the portal's
/// configuration, not the recipient: those mails wait for the fix instead of failing for good.
fn classify(err: lettre::transport::smtp::Error) -> DeliveryError {
    let code = err.status().map(|c| c.to_string());
    let text = err.to_string();
    if err.is_permanent() {
        if matches!(code.as_deref(), Some("530" | "534" | "535" | "538")) {
            return DeliveryError::Temporary(format!(
                "{text} (the relay refused the portal's login: check mail.smtp.username, password and security)"
            ));
        }
        return DeliveryError::Permanent(text);
    }
    if err.is_tls() {
        return DeliveryError::Temporary(format!(
            "{text} (check mail.smtp.host, security and ca_file)"
        ));
    }
    DeliveryError::Temporary(text)
}
