//! Typed, layered configuration: built-in defaults (the embedded default: SQLite file, local accounts,
//! mail into a folder), then a TOML file, then environment variables `RA_PORTAL_*` (nested keys with
//! `__`, e.g. `RA_PORTAL_MAIL__SMTP__HOST`). Secrets are `SecretString` so they never reach a log.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::providers::{Env, Format, Toml};
use figment::Figment;
use serde::Deserialize;

use domain::certificate::{RenewalWindow, Validity};

use crate::secret::SecretString;

/// Environment variable prefix of every setting.
pub const ENV_PREFIX: &str = "RA_PORTAL_";

/// The whole configuration of one portal instance.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// The public URL people reach the portal at. Challenge links, the CRL URL and the OIDC redirect are
    /// built from it (never from a request's Host header); `https` makes the session cookie `Secure`.
    pub base_url: String,
    /// Address and port the HTTP server listens on.
    pub listen: SocketAddr,
    /// Folder for the SQLite file, the embedded CA and the mail folder, unless set otherwise.
    pub data_dir: PathBuf,
    /// The SQLite database file (default `<data_dir>/portal.sqlite3`), or a `postgres://` URL to
    /// run on PostgreSQL 15 or newer.
    pub database: Option<DatabaseSetting>,
    /// Members of this IdM group are operators: they register domains and set contact groups.
    pub operator_group: String,
    /// How long a challenge link stays valid, in hours (default 7 days; 24 h matches the S/MIME BR).
    pub challenge_lifetime_hours: u32,
    /// Session settings (Q2).
    pub session: SessionConfig,
    /// Where mail goes.
    pub mail: MailConfig,
    /// OpenID Connect; when absent, local accounts are used (the embedded default).
    pub oidc: Option<OidcConfig>,
    /// The certification authority and the certificates it issues (SPEC §5).
    pub ca: CaConfig,
    /// Throttling of local-account sign-in (Q7).
    pub sign_in: SignInConfig,
    /// Reverse proxies whose `X-Forwarded-For` names the client (for sign-in throttling); none
    /// by default, so a client cannot pick the address it is throttled under.
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// Expiry reminders to certificate holders (R23).
    pub reminders: RemindersConfig,
    /// The NAPs' digest per domain (R23).
    pub digest: DigestConfig,
    /// The SCIM 2.0 endpoint the IdM provisions users through (R22).
    pub scim: ScimConfig,
    /// IdM deprovisioning (R22): the circuit breaker and the NAPs' mail per sync run.
    pub deprovisioning: DeprovisioningConfig,
    /// The REST API at `/api/v1` (R21).
    pub api: ApiConfig,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            base_url: "http://127.0.0.1:3000".into(),
            listen: SocketAddr::from(([127, 0, 0, 1], 3000)),
            data_dir: PathBuf::from("data"),
            database: None,
            operator_group: "ra-operators".into(),
            challenge_lifetime_hours: 7 * 24,
            session: SessionConfig::default(),
            mail: MailConfig::default(),
            oidc: None,
            ca: CaConfig::default(),
            sign_in: SignInConfig::default(),
            trusted_proxies: Vec::new(),
            reminders: RemindersConfig::default(),
            digest: DigestConfig::default(),
            scim: ScimConfig::default(),
            deprovisioning: DeprovisioningConfig::default(),
            api: ApiConfig::default(),
        }
    }
}

/// Session timeouts (Q2).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SessionConfig {
    /// A session unused for this long ends.
    pub idle_minutes: u32,
    /// A session ends this long after login, used or not.
    pub absolute_hours: u32,
}

impl Default for SessionConfig {
    fn default() -> Self {
        SessionConfig {
            idle_minutes: 60,
            absolute_hours: 12,
        }
    }
}

/// Mail delivery: the `From` address and the transport.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MailConfig {
    /// Sender of every mail the portal writes.
    pub from: String,
    /// SMTP relay; when absent, mail is written as `.eml` files into `folder` (the embedded default).
    pub smtp: Option<SmtpConfig>,
    /// Folder for `.eml` files when no SMTP relay is configured; default `<data_dir>/mail`.
    pub folder: Option<PathBuf>,
    /// With several portal instances on one database: after this many seconds without a sign of
    /// life, an instance counts as gone and the mail it had claimed is sent by another (default
    /// 60). Each instance shows one four times as often.
    pub instance_timeout_secs: u64,
}

impl Default for MailConfig {
    fn default() -> Self {
        MailConfig {
            from: "RA Portal <ra-portal@localhost>".into(),
            smtp: None,
            folder: None,
            instance_timeout_secs: 60,
        }
    }
}

/// How the connection to the SMTP relay is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpSecurity {
    /// Plain connection upgraded with STARTTLS (required).
    Starttls,
    /// TLS from the first byte (SMTPS, usually port 465).
    Tls,
    /// No encryption: only for a relay on the same host.
    None,
}

/// An SMTP relay.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpConfig {
    /// Host name of the relay (also the name its certificate must carry).
    pub host: String,
    /// Port; default 587 for STARTTLS, 465 for TLS, 25 for none.
    pub port: Option<u16>,
    /// Connection security; default STARTTLS.
    #[serde(default = "default_smtp_security")]
    pub security: SmtpSecurity,
    /// User name for SMTP AUTH, if the relay wants it.
    pub username: Option<String>,
    /// Password for SMTP AUTH.
    pub password: Option<SecretString>,
    /// PEM file with extra CA certificates to trust for the relay (e.g. an internal CA).
    pub ca_file: Option<PathBuf>,
}

fn default_smtp_security() -> SmtpSecurity {
    SmtpSecurity::Starttls
}

/// An OpenID Connect identity provider.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OidcConfig {
    /// Issuer URL; its discovery document is read at start.
    pub issuer: String,
    /// Client ID registered at the provider.
    pub client_id: String,
    /// Client secret registered at the provider.
    pub client_secret: SecretString,
    /// Scopes to ask for besides `openid`.
    #[serde(default = "default_scopes")]
    pub scopes: Vec<String>,
    /// Name of the claim that lists the user's groups.
    #[serde(default = "default_groups_claim")]
    pub groups_claim: String,
    /// Name of the claim whose value is the user ID (default `sub`; `oid` for Entra ID when it
    /// provisions users by SCIM, since its `sub` differs per application). Changing it changes
    /// every user's ID: set it before people link addresses.
    #[serde(default = "default_user_id_claim")]
    pub user_id_claim: String,
}

fn default_user_id_claim() -> String {
    "sub".into()
}

fn default_scopes() -> Vec<String> {
    vec!["profile".into(), "email".into(), "groups".into()]
}

fn default_groups_claim() -> String {
    "groups".into()
}

/// The embedded CA (SPEC §5): where its issuing certificate and key come from, the names it puts
/// into certificates, and how long certificates are valid.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CaConfig {
    /// PEM file with the issuing CA certificate (followed by any intermediates up to the root).
    /// With `key_file`; when both are absent, the portal creates its own CA in `<data_dir>/ca/`.
    pub certificate_file: Option<PathBuf>,
    /// PEM file with the CA's private key (PKCS#8, `BEGIN PRIVATE KEY`).
    pub key_file: Option<PathBuf>,
    /// The common name of a CA the portal creates itself.
    pub common_name: String,
    /// The organisation named in a created CA and in personal certificates, which are then
    /// sponsor-validated under the S/MIME Baseline Requirements; none: they are
    /// individual-validated. Needs `organization_identifier`.
    pub organization: Option<String>,
    /// The organisation's registration identifier as S/MIME BR §7.1.4.2.2(d) spells it: scheme,
    /// country, `-`, reference, e.g. `NTRDE-DEK1101R.HRB116737` (a German register, in EUID
    /// form), `VATDE-123456789`, `LEIXG-5493001KJTIIGC8Y1R12`. Sponsor-validated certificates
    /// must carry it.
    pub organization_identifier: Option<String>,
    /// Two-letter ISO 3166 country of `organization`.
    pub country: Option<String>,
    /// Validity of an issued certificate in days (default 365, at most 825, R13).
    pub validity_days: u32,
    /// How many days before expiry the next certificate for a row may be requested (R13).
    pub renewal_window_days: u32,
    /// The plain-HTTP URL the CRL (`/pki/ca.crl`) and the CA certificate (`/pki/ca.crt`) are
    /// published under, as every certificate names them. S/MIME BR §7.1.2.3 requires `http://`
    /// there (a mail client must check revocation without first trusting a TLS server). Default:
    /// `base_url` with `http://`, so the web server in front of the portal must serve `/pki/`
    /// over plain HTTP without redirecting to HTTPS.
    pub publication_url: Option<String>,
}

impl Default for CaConfig {
    fn default() -> Self {
        CaConfig {
            certificate_file: None,
            key_file: None,
            common_name: "RA Portal S/MIME CA".into(),
            organization: None,
            organization_identifier: None,
            country: None,
            validity_days: Validity::DEFAULT.days(),
            renewal_window_days: RenewalWindow::DEFAULT.days(),
            publication_url: None,
        }
    }
}

impl CaConfig {
    /// The validity of issued certificates (checked when the configuration is loaded).
    pub fn validity(&self) -> Validity {
        Validity::from_days(self.validity_days).unwrap_or_default()
    }

    /// The renewal window of R13.
    pub fn renewal_window(&self) -> RenewalWindow {
        RenewalWindow::from_days(self.renewal_window_days)
    }

    /// The `http://` URL, without a trailing slash, that the CRL and CA certificate paths are
    /// appended to: `publication_url`, or else the portal's `base_url` made plain HTTP.
    pub fn publication_url(&self, base_url: &str) -> String {
        let url = match &self.publication_url {
            Some(url) => url.as_str(),
            None => base_url,
        };
        let url = url.trim_end_matches('/');
        match url.strip_prefix("https://") {
            Some(rest) => format!("http://{rest}"),
            None => url.to_owned(),
        }
    }

    fn validate(&self) -> Result<(), ConfigError> {
        if self.certificate_file.is_some() != self.key_file.is_some() {
            return Err(ConfigError(
                "ca.certificate_file and ca.key_file go together: set both (to use your own CA) \
                 or neither (the portal creates one)"
                    .into(),
            ));
        }
        Validity::from_days(self.validity_days)
            .map_err(|e| ConfigError(format!("ca.validity_days: {e}")))?;
        if self.common_name.trim().is_empty() || self.common_name.chars().count() > 64 {
            return Err(ConfigError(
                "ca.common_name must have 1 to 64 characters".into(),
            ));
        }
        if let Some(o) = &self.organization {
            if o.trim().is_empty() || o.chars().count() > 64 {
                return Err(ConfigError(
                    "ca.organization must have 1 to 64 characters (leave it out for none)".into(),
                ));
            }
        }
        match (&self.organization, &self.organization_identifier) {
            (Some(_), None) | (None, Some(_)) => {
                return Err(ConfigError(
                    "ca.organization and ca.organization_identifier go together: personal \
                     certificates naming an organisation must carry its registration identifier \
                     (S/MIME BR 7.1.4.2.2)"
                        .into(),
                ))
            }
            (Some(_), Some(id)) if !is_organization_identifier(id) => {
                return Err(ConfigError(format!(
                    "ca.organization_identifier must be scheme, country, '-', reference, such as \
                     \"NTRDE-DEK1101R.HRB116737\" or \"VATDE-123456789\", got {id:?}"
                )))
            }
            _ => {}
        }
        if let Some(url) = &self.publication_url {
            if !url.starts_with("http://") {
                return Err(ConfigError(format!(
                    "ca.publication_url must be a plain http:// URL (S/MIME BR 7.1.2.3: CRL and CA \
                     certificate are fetched without TLS), got {url:?}"
                )));
            }
        }
        if let Some(c) = &self.country {
            if c.len() != 2 || !c.bytes().all(|b| b.is_ascii_uppercase()) {
                return Err(ConfigError(format!(
                    "ca.country must be a two-letter ISO 3166 code in capitals such as \"DE\", got {c:?}"
                )));
            }
        }
        Ok(())
    }
}

/// S/MIME BR §7.1.4.2.2(d): a 3-letter scheme (NTR, VAT, PSD, LEI, GOV, INT), a 2-letter
/// country (XG for global schemes), an optional `+` and state code, then `-` and the reference
/// (which GOV and INT leave out). Only the shape is checked here; pkilint knows the schemes.
fn is_organization_identifier(id: &str) -> bool {
    let (prefix, reference) = id.split_once('-').unwrap_or((id, "x"));
    let (head, state) = match prefix.split_once('+') {
        Some((head, state)) => (head, Some(state)),
        None => (prefix, None),
    };
    head.len() == 5
        && head.bytes().all(|b| b.is_ascii_uppercase())
        && state.is_none_or(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric()))
        && !reference.is_empty()
        && reference
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b" '()+,-./:=?".contains(&b))
}

/// Expiry reminders (R23): how many days before a certificate's end its holder is mailed.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RemindersConfig {
    /// The steps, in days before expiry (default 30, 14, 7, 1); empty: no reminders.
    pub days: Vec<u32>,
}

impl Default for RemindersConfig {
    fn default() -> Self {
        RemindersConfig {
            days: vec![30, 14, 7, 1],
        }
    }
}

impl RemindersConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        // A step beyond the longest validity (R13) could never be reached; 0 would be after expiry.
        if let Some(d) = self.days.iter().find(|d| !(1..=825).contains(*d)) {
            return Err(ConfigError(format!(
                "reminders.days must lie between 1 and 825, got {d}"
            )));
        }
        Ok(())
    }
}

/// The NAPs' digest (R23): how often, and who counts as a NAP of a domain.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DigestConfig {
    /// Days between two digests of a domain (default 7, weekly); 0 turns the digest off.
    pub interval_days: u32,
    /// A person who logged in with a domain's contact group within this many days gets its
    /// digest (default 90); local accounts in the group always do.
    pub nap_login_within_days: u32,
}

impl Default for DigestConfig {
    fn default() -> Self {
        DigestConfig {
            interval_days: 7,
            nap_login_within_days: 90,
        }
    }
}

impl DigestConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        if self.interval_days > 366 || self.nap_login_within_days == 0 {
            return Err(ConfigError(
                "digest.interval_days must be at most 366 and digest.nap_login_within_days at \
                 least 1"
                    .into(),
            ));
        }
        Ok(())
    }
}

/// IdM deprovisioning (R22): when one sync deprovisions unusually many users, the circuit breaker
/// holds the revocations and deactivations for an operator (sessions end all the same).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DeprovisioningConfig {
    /// The window the breaker counts deprovisionings in, in minutes (default 60).
    pub window_minutes: u32,
    /// It trips when more users than this are deprovisioned within the window (default 20) …
    pub max_per_window: u32,
    /// … or more than this percentage of the users linked to any address (default 5) …
    pub max_percent: u32,
    /// … though the percentage never trips it at this many or fewer (default 5).
    pub percent_floor: u32,
    /// A sync run ends when no deprovisioning came for this many minutes (default 5); then its
    /// NAPs get one mail per domain listing what happened.
    pub quiet_minutes: u32,
    /// A sync that never pauses is reported all the same once its oldest news is this many
    /// minutes old (default 60).
    pub max_run_minutes: u32,
}

impl Default for DeprovisioningConfig {
    fn default() -> Self {
        DeprovisioningConfig {
            window_minutes: 60,
            max_per_window: 20,
            max_percent: 5,
            percent_floor: 5,
            quiet_minutes: 5,
            max_run_minutes: 60,
        }
    }
}

impl DeprovisioningConfig {
    /// The limits as the domain crate's rule takes them.
    pub fn limits(&self) -> domain::deprovisioning::BreakerLimits {
        domain::deprovisioning::BreakerLimits {
            max_per_window: self.max_per_window,
            max_percent: self.max_percent,
            percent_floor: self.percent_floor,
        }
    }

    fn validate(&self) -> Result<(), ConfigError> {
        if self.window_minutes == 0 || self.window_minutes > 7 * 24 * 60 {
            return Err(ConfigError(
                "deprovisioning.window_minutes must lie between 1 and 10080 (a week)".into(),
            ));
        }
        if self.max_percent > 100 {
            return Err(ConfigError(
                "deprovisioning.max_percent must be at most 100".into(),
            ));
        }
        if self.quiet_minutes == 0 || self.quiet_minutes > 24 * 60 {
            return Err(ConfigError(
                "deprovisioning.quiet_minutes must lie between 1 and 1440 (a day)".into(),
            ));
        }
        if self.max_run_minutes < self.quiet_minutes || self.max_run_minutes > 7 * 24 * 60 {
            return Err(ConfigError(
                "deprovisioning.max_run_minutes must lie between quiet_minutes and 10080 (a week)"
                    .into(),
            ));
        }
        Ok(())
    }
}

/// The SCIM 2.0 endpoint (R22).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ScimConfig {
    /// Which attribute of the IdM's User is the user ID people log in with (the OIDC `sub`):
    /// `"userName"` (the default) or `"externalId"`.
    pub user_id_attribute: UserIdAttribute,
}

/// The REST API at `/api/v1` (R21).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ApiConfig {
    /// Requests one person may make per minute on average, all the API tokens they made together
    /// (per token, making more tokens would multiply it); past that the API answers 429 with
    /// `Retry-After` (a token bucket, refilled evenly). 0 turns the limit off.
    pub rate_limit_per_minute: u32,
    /// Requests one person's tokens together may make at once above the average (the bucket's
    /// size, at least 1).
    pub rate_limit_burst: u32,
}

impl Default for ApiConfig {
    fn default() -> Self {
        // 10 requests a second sustained is far more than an IdM sync needs (bulk goes in one
        // request) and keeps one runaway script from taking the portal's two cores.
        ApiConfig {
            rate_limit_per_minute: 600,
            rate_limit_burst: 60,
        }
    }
}

/// The SCIM attribute that carries the portal's user ID.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
pub enum UserIdAttribute {
    /// `userName` (what Entra ID, Okta and Keycloak send by default; map it to the `sub`).
    #[default]
    #[serde(rename = "userName", alias = "username", alias = "user_name")]
    UserName,
    /// `externalId`.
    #[serde(rename = "externalId", alias = "externalid", alias = "external_id")]
    ExternalId,
}

/// Why the configuration could not be read.
#[derive(Debug, thiserror::Error)]
#[error("invalid configuration: {0}")]
pub struct ConfigError(String);

/// The `database` setting as written: a SQLite file's path or a PostgreSQL URL. A URL may hold a
/// password (Q6), so its Debug (and so the configuration's) shows the scheme, host and database
/// but no user information.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct DatabaseSetting(PathBuf);

impl std::ops::Deref for DatabaseSetting {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl<T: Into<PathBuf>> From<T> for DatabaseSetting {
    fn from(path_or_url: T) -> Self {
        DatabaseSetting(path_or_url.into())
    }
}

impl std::fmt::Debug for DatabaseSetting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let text = self.0.to_string_lossy();
        match text.split_once("://") {
            Some((scheme, rest)) => {
                let host = rest.rsplit_once('@').map_or(rest, |(_, host)| host);
                write!(f, "\"{scheme}://…@{host}\"")
            }
            None => write!(f, "{:?}", self.0),
        }
    }
}

/// The database engine and where it is, from `database`.
#[derive(Clone, PartialEq, Eq)]
pub enum Database {
    /// A SQLite file (the embedded default).
    Sqlite(PathBuf),
    /// A PostgreSQL connection URL (may hold a password: its Debug shows none).
    Postgres(String),
}

impl std::fmt::Debug for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Database::Sqlite(path) => f.debug_tuple("Sqlite").field(path).finish(),
            Database::Postgres(url) => f
                .debug_tuple("Postgres")
                .field(&DatabaseSetting::from(url.as_str()))
                .finish(),
        }
    }
}

impl Config {
    /// Reads defaults, then `file` (if given; it must exist), then the environment.
    pub fn load(file: Option<&Path>) -> Result<Config, ConfigError> {
        let mut figment = Figment::new();
        if let Some(file) = file {
            if !file.exists() {
                return Err(ConfigError(format!(
                    "the configuration file {} does not exist",
                    file.display()
                )));
            }
            figment = figment.merge(Toml::file(file));
        }
        let config: Config = figment
            // RA_PORTAL_CONFIG names the file (read by the command line), it is not a setting.
            .merge(Env::prefixed(ENV_PREFIX).ignore(&["config"]).split("__"))
            .extract()
            .map_err(|e| ConfigError(e.to_string()))?;
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let base = self.base_url.trim_end_matches('/');
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(ConfigError(format!(
                "base_url must start with http:// or https://, got {:?}",
                self.base_url
            )));
        }
        if self.challenge_lifetime_hours == 0 {
            return Err(ConfigError(
                "challenge_lifetime_hours must be at least 1".into(),
            ));
        }
        if self.session.idle_minutes == 0 || self.session.absolute_hours == 0 {
            return Err(ConfigError(
                "session timeouts must be at least 1 minute / 1 hour".into(),
            ));
        }
        // A URL here would otherwise become a file of that name: say what works instead.
        if let Some(database) = self.database.as_deref().and_then(Path::to_str) {
            if let Some((scheme, _)) = database.split_once("://") {
                if !matches!(scheme, "postgres" | "postgresql") {
                    // Only the scheme is repeated: the URL may hold a password.
                    return Err(ConfigError(format!(
                        "database must be a SQLite file or a postgres:// URL, not a {scheme}:// URL"
                    )));
                }
            }
        }
        self.ca.validate()?;
        self.reminders.validate()?;
        self.digest.validate()?;
        self.deprovisioning.validate()?;
        Ok(())
    }

    /// The base URL without a trailing slash, to append paths to.
    pub fn base_url(&self) -> &str {
        self.base_url.trim_end_matches('/')
    }

    /// Whether the portal is reached over HTTPS (then cookies are `Secure`).
    pub fn is_https(&self) -> bool {
        self.base_url.starts_with("https://")
    }

    /// The database the portal runs on.
    pub fn database(&self) -> Database {
        match self.database.as_deref().and_then(Path::to_str) {
            Some(url) if url.contains("://") => Database::Postgres(url.to_owned()),
            _ => Database::Sqlite(self.database_path()),
        }
    }

    /// The SQLite database file (when the portal runs on SQLite).
    pub fn database_path(&self) -> PathBuf {
        self.database
            .as_deref()
            .map_or_else(|| self.data_dir.join("portal.sqlite3"), Path::to_path_buf)
    }

    /// The folder mail is written to when no SMTP relay is configured.
    pub fn mail_folder(&self) -> PathBuf {
        self.mail
            .folder
            .clone()
            .unwrap_or_else(|| self.data_dir.join("mail"))
    }
}

#[cfg(test)]
// figment::Jail's closures must return figment's (large) error type; that is not ours to shrink.
#[allow(clippy::result_large_err)]
mod tests {
    use super::*;
    use crate::secret::ExposeSecret;

    #[test]
    fn defaults_are_the_embedded_default() {
        let c = Config::default();
        assert_eq!(c.base_url(), "http://127.0.0.1:3000");
        assert!(c.oidc.is_none(), "no IdP: local accounts");
        assert!(c.mail.smtp.is_none(), "no relay: mail into a folder");
        assert_eq!(c.database_path(), PathBuf::from("data/portal.sqlite3"));
        assert_eq!(c.challenge_lifetime_hours, 168);
    }

    #[test]
    fn file_then_environment_layers_and_secrets_do_not_print() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "portal.toml",
                r#"
                base_url = "https://ra.example.org/"
                [mail.smtp]
                host = "smtp.example.org"
                password = "hunter2"
                "#,
            )?;
            jail.set_env("RA_PORTAL_MAIL__SMTP__PORT", "2525");
            jail.set_env("RA_PORTAL_OPERATOR_GROUP", "pki-ops");
            let c = Config::load(Some(Path::new("portal.toml"))).expect("loads");
            assert_eq!(c.base_url(), "https://ra.example.org");
            assert!(c.is_https());
            assert_eq!(c.operator_group, "pki-ops");
            let smtp = c.mail.smtp.clone().expect("smtp");
            assert_eq!(smtp.port, Some(2525));
            assert_eq!(smtp.security, SmtpSecurity::Starttls);
            assert_eq!(smtp.password.as_ref().unwrap().expose_secret(), "hunter2");
            let printed = format!("{c:?}");
            assert!(
                !printed.contains("hunter2"),
                "secret leaked into Debug: {printed}"
            );
            Ok(())
        });
    }

    #[test]
    fn q6_a_database_url_of_another_engine_is_refused_without_repeating_it() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("RA_PORTAL_DATABASE", "mysql://portal:s3cret@db/ra");
            let err = Config::load(None)
                .expect_err("not a SQLite file")
                .to_string();
            assert!(err.contains("not a mysql:// URL"), "{err}");
            assert!(
                !err.contains("s3cret"),
                "the password is not repeated: {err}"
            );
            Ok(())
        });
    }

    #[test]
    fn q6_a_postgres_url_selects_postgresql_and_its_password_never_prints() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("RA_PORTAL_DATABASE", "postgres://portal@db/ra");
            let c = Config::load(None).expect("loads");
            assert!(
                matches!(c.database(), Database::Postgres(url) if url == "postgres://portal@db/ra")
            );
            Ok(())
        });
    }

    #[test]
    fn q6_a_database_url_never_prints_its_user_information() {
        let config = Config {
            database: Some("postgres://portal:s3cret@db.example.org/ra".into()),
            ..Config::default()
        };
        let printed = format!("{config:?} {:?}", config.database());
        assert!(
            !printed.contains("s3cret") && !printed.contains("portal:"),
            "{printed}"
        );
        assert!(
            printed.contains("postgres://…@db.example.org/ra"),
            "{printed}"
        );
    }

    #[test]
    fn the_config_file_variable_is_not_taken_for_a_setting() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("portal.toml", "operator_group = \"pki-ops\"")?;
            jail.set_env("RA_PORTAL_CONFIG", "portal.toml");
            let c = Config::load(Some(Path::new("portal.toml"))).expect("loads");
            assert_eq!(c.operator_group, "pki-ops");
            Ok(())
        });
    }

    #[test]
    fn r13_ca_settings_default_and_come_from_file_and_environment() {
        let c = Config::default();
        assert_eq!(c.ca.validity().days(), 365);
        assert_eq!(c.ca.renewal_window().days(), 28);
        assert_eq!(c.ca.common_name, "RA Portal S/MIME CA");
        assert!(c.ca.certificate_file.is_none() && c.ca.organization.is_none());
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "portal.toml",
                r#"
                [ca]
                organization = "Example e.V."
                organization_identifier = "NTRDE-DEF1103R.VR12345"
                country = "DE"
                "#,
            )?;
            jail.set_env("RA_PORTAL_CA__VALIDITY_DAYS", "730");
            jail.set_env("RA_PORTAL_CA__RENEWAL_WINDOW_DAYS", "14");
            let c = Config::load(Some(Path::new("portal.toml"))).expect("loads");
            assert_eq!(c.ca.validity().days(), 730);
            assert_eq!(c.ca.renewal_window().days(), 14);
            assert_eq!(
                c.ca.publication_url("https://ra.example.org/"),
                "http://ra.example.org",
                "CRL and CA certificate URLs are plain HTTP"
            );
            assert_eq!(c.ca.organization.as_deref(), Some("Example e.V."));
            assert_eq!(c.ca.country.as_deref(), Some("DE"));
            assert_eq!(
                c.ca.organization_identifier.as_deref(),
                Some("NTRDE-DEF1103R.VR12345")
            );
            Ok(())
        });
    }

    #[test]
    fn r13_ca_settings_outside_the_rules_are_refused_with_a_message() {
        figment::Jail::expect_with(|jail| {
            for (toml, expected) in [
                ("[ca]\nvalidity_days = 826", "825 days"),
                ("[ca]\nvalidity_days = 0", "at least 1 day"),
                ("[ca]\ncountry = \"Germany\"", "two-letter"),
                ("[ca]\ncertificate_file = \"ca.pem\"", "go together"),
                ("[ca]\nkey_file = \"ca.key\"", "go together"),
                ("[ca]\norganization = \" \"", "ca.organization"),
                ("[ca]\norganization = \"Example\"", "go together"),
                ("[ca]\norganization_identifier = \"VATDE-1\"", "go together"),
                (
                    "[ca]\norganization = \"Example\"\norganization_identifier = \"HRB 123\"",
                    "scheme, country",
                ),
                ("[ca]\nvalidity = 10", "validity"),
                (
                    "[ca]\npublication_url = \"https://pki.example.org\"",
                    "plain http://",
                ),
            ] {
                jail.create_file("portal.toml", toml)?;
                let e = Config::load(Some(Path::new("portal.toml"))).unwrap_err();
                assert!(e.to_string().contains(expected), "{toml}: {e}");
            }
            Ok(())
        });
    }

    #[test]
    fn unknown_keys_and_bad_urls_are_refused_with_a_message() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("a.toml", "base_urll = \"http://x\"")?;
            let e = Config::load(Some(Path::new("a.toml"))).unwrap_err();
            assert!(e.to_string().contains("base_urll"), "{e}");
            jail.create_file("b.toml", "base_url = \"ra.example.org\"")?;
            let e = Config::load(Some(Path::new("b.toml"))).unwrap_err();
            assert!(e.to_string().contains("base_url must start with"), "{e}");
            Ok(())
        });
        let e = Config::load(Some(Path::new("/nonexistent/portal.toml"))).unwrap_err();
        assert!(e.to_string().contains("does not exist"), "{e}");
    }

    #[test]
    fn r22_scim_user_id_attribute_defaults_to_user_name_and_is_set_by_file_or_environment() {
        assert_eq!(
            Config::default().scim.user_id_attribute,
            UserIdAttribute::UserName
        );
        figment::Jail::expect_with(|jail| {
            jail.create_file("a.toml", "[scim]\nuser_id_attribute = \"externalId\"")?;
            let c = Config::load(Some(Path::new("a.toml"))).expect("loads");
            assert_eq!(c.scim.user_id_attribute, UserIdAttribute::ExternalId);
            jail.set_env("RA_PORTAL_SCIM__USER_ID_ATTRIBUTE", "userName");
            let c = Config::load(Some(Path::new("a.toml"))).expect("loads");
            assert_eq!(c.scim.user_id_attribute, UserIdAttribute::UserName);
            jail.create_file("b.toml", "[scim]\nuser_id_attribute = \"mail\"")?;
            jail.clear_env();
            let e = Config::load(Some(Path::new("b.toml"))).unwrap_err();
            assert!(e.to_string().contains("user_id_attribute"), "{e}");
            Ok(())
        });
    }
}

/// How sign-in is throttled (`[sign_in]` in the configuration).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SignInConfig {
    /// Failures from one client address that cost no wait.
    pub client_free_failures: u32,
    /// Longest wait a client address is given.
    pub client_max_delay_secs: u64,
    /// Failures on one account that cost no wait.
    pub account_free_failures: u32,
    /// Longest wait an account is given (for clients that never signed in to it).
    pub account_max_delay_secs: u64,
    /// The first wait; it doubles with every further failure.
    pub first_delay_secs: u64,
    /// One failure is forgotten per this many seconds without a new one.
    pub forget_failure_secs: u64,
    /// Passwords checked at once (each check takes 19 MiB and a core for ~50 ms); default: the
    /// number of cores.
    pub concurrent_hashes: Option<usize>,
    /// How long an attempt waits for a free check before it is refused as busy.
    pub hash_wait_ms: u64,
    /// Sign-in events are kept this long; a client that signed in to an account within this time
    /// is spared the account's throttle.
    pub event_retention_days: u32,
}

impl Default for SignInConfig {
    fn default() -> Self {
        SignInConfig {
            client_free_failures: 10,
            client_max_delay_secs: 300,
            account_free_failures: 5,
            account_max_delay_secs: 60,
            first_delay_secs: 1,
            forget_failure_secs: 300,
            concurrent_hashes: None,
            hash_wait_ms: 2000,
            event_retention_days: 90,
        }
    }
}
