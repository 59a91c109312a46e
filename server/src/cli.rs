//! The command line: `ra-portal serve`, `migrate`, and the verbs that manage local accounts and
//! email domains on the configured database.
//!
//! Passwords never come from an argument (it would show in `ps` and the shell history): they are
//! read from standard input with `--password-stdin`, or asked for twice on a terminal.

use std::io::{BufRead, IsTerminal};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context};
use backend::accounts::{self, Account, NewAccount};
use backend::config::Config;
use backend::demo::seed_demo;
use backend::domains;
use backend::secret::SecretString;
use backend::Portal;
use clap::{Args, Parser, Subcommand};

use crate::startup::Application;

/// RA portal "My email domains": who may get an S/MIME certificate for which address.
#[derive(Debug, Parser)]
#[command(name = "ra-portal", version)]
pub struct Cli {
    /// TOML configuration file (settings can also come from RA_PORTAL_* environment variables).
    #[arg(long, global = true, env = "RA_PORTAL_CONFIG")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

/// What to do.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Start the portal's web server.
    Serve {
        /// Create a demo domain and demo accounts with publicly known passwords first (never on a
        /// portal that real people use), and print how to log in.
        #[arg(long)]
        demo: bool,
    },
    /// Create the database (or bring its schema up to date) and exit.
    Migrate,
    /// Write a consistent copy of the database to FILE while the portal may keep running
    /// (SQLite `VACUUM INTO`; a plain file copy of a live database is not a backup). Back up the
    /// CA folder `<data_dir>/ca` as well, once: it holds the CA's private key.
    Backup {
        /// The new backup file; it must not exist yet.
        file: PathBuf,
    },
    /// Copy this portal's database into an empty PostgreSQL database (15 or newer): every table,
    /// the audit trail with its numbers, checked row counts. Stop the portal first. The CA stays
    /// in `<data_dir>/ca`. Give a password by ~/.pgpass or PGPASSWORD, not in the URL (`ps` shows
    /// command lines).
    #[command(name = "copy-to")]
    CopyTo {
        /// The target database, e.g. postgres://ra_portal@db.example.org/ra_portal; its role
        /// creates the tables.
        url: String,
    },
    /// Manage local accounts (the embedded default IdM).
    #[command(subcommand)]
    User(UserCommand),
    /// Manage email domains and their contact groups (what an operator does).
    #[command(subcommand)]
    Domain(DomainCommand),
    /// Manage the bearer tokens the IdM uses for the SCIM endpoint `/scim/v2` (R22).
    #[command(subcommand, name = "scim-token")]
    ScimToken(ScimTokenCommand),
    /// Manage the NAPs' API tokens for `/api/v1` (R21): make one for a NAP (scripts, tests),
    /// list, revoke.
    #[command(subcommand, name = "api-token")]
    ApiToken(ApiTokenCommand),
    /// The IdM deprovisionings the circuit breaker held for an operator (R22): list them, then
    /// confirm (apply to the rows as they are now) or discard them.
    #[command(subcommand)]
    Deprovisionings(DeprovisioningsCommand),
    /// List recent sign-in attempts with local accounts, newest first (SPEC Q7): time, outcome,
    /// account tried, client address, and the wait a throttled client was given.
    SignIns {
        /// Only the attempts on this account.
        #[arg(long)]
        user: Option<String>,
        /// How many to list.
        #[arg(long, default_value_t = 50)]
        limit: i64,
    },
}

/// SCIM token verbs.
#[derive(Debug, Subcommand)]
pub enum ScimTokenCommand {
    /// Make a token for an IdM connection and print it once (only its hash is kept).
    Create {
        /// A name for the connection, e.g. entra or okta-prod (a-z 0-9 . _ -); the audit trail
        /// names the IdM's changes scim:<name>.
        #[arg(long)]
        name: String,
    },
    /// List the tokens with when they were made and last used, and whether revoked.
    List,
    /// Revoke a token: the IdM using it is refused from its next request.
    Revoke {
        /// The token's name.
        #[arg(long)]
        name: String,
    },
}

/// API token verbs (R21).
#[derive(Debug, Subcommand)]
pub enum ApiTokenCommand {
    /// Make a token for a NAP and print it once on stdout (only its hash is kept).
    Create {
        /// User ID of the NAP it acts for: a local account (its groups count), or an OIDC user
        /// (the groups of their latest login count). They must administer every --domain now.
        #[arg(long)]
        creator: String,
        /// A domain it reaches (repeat for more).
        #[arg(long = "domain", required = true)]
        domains: Vec<String>,
        /// read or read-write.
        #[arg(long, value_parser = ["read", "read-write"])]
        scope: String,
        /// Lifetime in days, 1 to 365.
        #[arg(long, default_value_t = i64::from(domain::api_token::DEFAULT_DAYS))]
        days: i64,
        /// A name for it, e.g. idm-sync (a-z 0-9 . _ -); the audit trail names its changes
        /// api:<name>#<id>@<creator>.
        #[arg(long)]
        name: String,
    },
    /// List every token: id, name, creator, scope, domains, made, expires, last used, state.
    List,
    /// Revoke a token: scripts using it are refused from their next request.
    Revoke {
        /// The token's id (the first column of `list`).
        #[arg(long)]
        id: i64,
    },
}

/// Verbs for the circuit breaker's held deprovisionings (R22).
#[derive(Debug, Subcommand)]
pub enum DeprovisioningsCommand {
    /// List the held deprovisionings: id, leaver, when and by which token, and their rows.
    List,
    /// Apply held deprovisionings to the rows as they are now (deactivate, revoke, drop links).
    Confirm(HoldSelection),
    /// Drop held deprovisionings: nothing of them happens (the sessions ended already).
    Discard(HoldSelection),
}

/// Which held deprovisionings.
#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
pub struct HoldSelection {
    /// The ids `list` shows; several at once are all or nothing.
    #[arg(value_name = "ID")]
    pub ids: Vec<i64>,
    /// Every deprovisioning held now.
    #[arg(long)]
    pub all: bool,
}

/// Local account verbs.
#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a local account.
    Add {
        /// Login name and user ID: 1-64 characters of a-z 0-9 . _ -
        #[arg(long)]
        id: String,
        /// Given name (part of a personal certificate's name).
        #[arg(long)]
        given: String,
        /// Family name (part of a personal certificate's name).
        #[arg(long)]
        family: String,
        /// Email address (information only).
        #[arg(long)]
        email: Option<String>,
        /// An IdM group to put the account in; repeat for several.
        #[arg(long = "group", value_name = "GROUP")]
        groups: Vec<String>,
        #[command(flatten)]
        password: PasswordInput,
    },
    /// Set a local account's password (ends its sessions).
    Passwd {
        /// The account.
        #[arg(long)]
        id: String,
        #[command(flatten)]
        password: PasswordInput,
    },
    /// List local accounts with their groups.
    List,
    /// Replace a local account's groups (no --group: no groups). Takes effect at the next login.
    SetGroups {
        /// The account.
        #[arg(long)]
        id: String,
        /// A group; repeat for several.
        #[arg(long = "group", value_name = "GROUP")]
        groups: Vec<String>,
    },
}

/// How a password is given.
#[derive(Debug, Args)]
pub struct PasswordInput {
    /// Read the password from the first line of standard input (for scripts); otherwise it is
    /// asked for twice on the terminal.
    #[arg(long)]
    pub password_stdin: bool,
}

/// Domain verbs.
#[derive(Debug, Subcommand)]
pub enum DomainCommand {
    /// Register an email domain.
    Add {
        /// The domain, e.g. example.org (internationalised names are stored in punycode).
        name: String,
        /// The IdM group whose members are the domain's NAPs.
        #[arg(long)]
        contact_group: String,
    },
    /// List registered domains with their contact groups.
    List,
    /// Change a domain's contact group.
    SetGroup {
        /// The domain.
        name: String,
        /// The new contact group.
        #[arg(long)]
        contact_group: String,
    },
}

/// Parses the command line, runs it, and turns errors into one line and exit code 1.
pub fn main() -> ExitCode {
    crate::telemetry::init();
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Who the audit trail names for what is done on the command line: `cli:<os user>`.
fn cli_actor() -> String {
    let user = std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .ok()
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| "root".into());
    format!("cli:{user}")
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let config = Config::load(cli.config.as_deref())?;
    match cli.command {
        Command::Serve { demo } => {
            let portal = Portal::open(config).await?;
            if demo {
                let summary = seed_demo(&portal.pool, &portal.config).await?;
                print!("{summary}");
            }
            let app = Application::build(portal.clone()).await?;
            tracing::info!(
                "RA portal listening on http://{} (public URL {}), database {}",
                app.local_addr(),
                portal.config.base_url(),
                portal.config.database_path().display()
            );
            app.run_until_stopped().await
        }
        Command::Migrate => {
            let portal = Portal::open(config).await?;
            println!(
                "database {} is up to date",
                portal.config.database_path().display()
            );
            Ok(())
        }
        Command::Backup { file } => {
            let portal = Portal::open(config).await?;
            let report = backend::backup::backup_database(&portal.pool, &file).await?;
            println!(
                "backed up {} to {} ({} bytes)",
                portal.config.database_path().display(),
                file.display(),
                report.bytes
            );
            Ok(())
        }
        Command::CopyTo { url } => {
            let portal = Portal::open(config).await?;
            let report = backend::copy_to_postgres::copy_to_postgres(&portal.pool, &url).await?;
            let rows: u64 = report.tables.iter().map(|(_, n)| n).sum();
            for (table, n) in &report.tables {
                println!("{table:<24} {n:>10} rows");
            }
            println!(
                "copied {rows} rows of {} tables in {:.1} s, each table checked; the audit trail ends at record {} on both",
                report.tables.len(),
                report.millis as f64 / 1000.0,
                report.last_audit_id
            );
            Ok(())
        }
        Command::User(command) => run_user(Portal::open(config).await?, command).await,
        Command::Domain(command) => run_domain(Portal::open(config).await?, command).await,
        Command::ScimToken(command) => run_scim_token(Portal::open(config).await?, command).await,
        Command::ApiToken(command) => run_api_token(Portal::open(config).await?, command).await,
        Command::Deprovisionings(command) => {
            run_deprovisionings(Portal::open(config).await?, command).await
        }
        Command::SignIns { user, limit } => {
            let portal = Portal::open(config).await?;
            let user = user.map(|u| u.trim().to_ascii_lowercase());
            let events =
                backend::sign_in::recent_sign_in_events(&portal.pool, user.as_deref(), limit)
                    .await?;
            if events.is_empty() {
                println!("no sign-in attempts recorded");
            }
            for e in &events {
                let wait = e
                    .retry_after_secs
                    .map(|s| format!("  (told to wait {s} s)"))
                    .unwrap_or_default();
                let in_day = e.at.rem_euclid(86_400);
                println!(
                    "{} {:02}:{:02}:{:02} UTC  {:<12}  {:<20}  {}{wait}",
                    domain::time::utc_date(e.at),
                    in_day / 3600,
                    in_day % 3600 / 60,
                    in_day % 60,
                    e.outcome,
                    e.user_id,
                    e.client
                );
            }
            Ok(())
        }
    }
}

async fn run_user(portal: Portal, command: UserCommand) -> anyhow::Result<()> {
    let actor = cli_actor();
    match command {
        UserCommand::Add {
            id,
            given,
            family,
            email,
            groups,
            password,
        } => {
            // Check the id first, so that nobody types a password twice for a refused id.
            accounts::check_account_id(&id)?;
            let password = read_password(&password)?;
            let account = accounts::create_account(
                &portal.pool,
                NewAccount {
                    id,
                    given_name: given,
                    family_name: family,
                    email,
                    groups,
                    password,
                },
                &actor,
            )
            .await?;
            println!("created account {}", describe(&account));
        }
        UserCommand::Passwd { id, password } => {
            accounts::check_account_id(&id)?;
            if accounts::find_account(&portal.pool, &id).await?.is_none() {
                bail!("there is no account {id}");
            }
            let password = read_password(&password)?;
            accounts::set_password(&portal.pool, &id, password, &actor).await?;
            println!("password of {id} changed; its sessions have ended");
        }
        UserCommand::List => {
            let accounts = accounts::list_accounts(&portal.pool).await?;
            if accounts.is_empty() {
                println!("no local accounts yet (add one with `ra-portal user add`)");
            }
            for account in &accounts {
                println!("{}", describe(account));
            }
        }
        UserCommand::SetGroups { id, groups } => {
            let account = accounts::set_groups(&portal.pool, &id, &groups, &actor).await?;
            println!("groups of {}", describe(&account));
        }
    }
    Ok(())
}

/// One line about an account: id, name, email, groups. Never anything secret.
fn describe(account: &Account) -> String {
    let groups = if account.groups.is_empty() {
        "(no groups)".to_owned()
    } else {
        account.groups.join(", ")
    };
    format!(
        "{}\t{} {}\t{}\t{}",
        account.id,
        account.given_name,
        account.family_name,
        account.email.as_deref().unwrap_or("-"),
        groups
    )
}

/// Reads a new password: the first line of stdin with `--password-stdin`, else twice from the
/// terminal without echo.
fn read_password(input: &PasswordInput) -> anyhow::Result<SecretString> {
    if input.password_stdin {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .context("cannot read the password from standard input")?;
        let password = line.strip_suffix('\n').unwrap_or(&line);
        let password = password.strip_suffix('\r').unwrap_or(password);
        let password = SecretString::from(password);
        accounts::check_password(&password)?;
        return Ok(password);
    }
    if !std::io::stdin().is_terminal() {
        bail!("no password given: pipe it in with --password-stdin, or run this on a terminal");
    }
    let first = SecretString::from(rpassword::prompt_password("New password: ")?);
    accounts::check_password(&first)?;
    let second = SecretString::from(rpassword::prompt_password("Repeat the password: ")?);
    use backend::secret::ExposeSecret;
    if first.expose_secret() != second.expose_secret() {
        bail!("the two passwords differ; nothing was changed");
    }
    Ok(first)
}

async fn run_domain(portal: Portal, command: DomainCommand) -> anyhow::Result<()> {
    let actor = cli_actor();
    match command {
        DomainCommand::Add {
            name,
            contact_group,
        } => {
            let d = domains::register_domain(&portal.pool, &actor, &name, &contact_group).await?;
            println!(
                "registered {} with contact group {}",
                d.name, d.contact_group
            );
        }
        DomainCommand::List => {
            let list = domains::list_domains(&portal.pool).await?;
            if list.is_empty() {
                println!("no domains registered yet (add one with `ra-portal domain add`)");
            }
            for d in &list {
                println!("{}\t{}", d.name, d.contact_group);
            }
        }
        DomainCommand::SetGroup {
            name,
            contact_group,
        } => {
            let d = domains::set_contact_group(&portal.pool, &actor, &name, &contact_group).await?;
            println!("{} now has contact group {}", d.name, d.contact_group);
        }
    }
    Ok(())
}

async fn run_scim_token(portal: Portal, command: ScimTokenCommand) -> anyhow::Result<()> {
    use backend::scim::tokens;
    let actor = cli_actor();
    let now = backend::clock::now();
    match command {
        ScimTokenCommand::Create { name } => {
            let token = tokens::create_token(&portal, &name, &actor, now).await?;
            // The token alone on stdout, so a script can take it; the advice on stderr.
            println!("{}", token.expose());
            eprintln!(
                "made the SCIM token {}: enter it as the IdM's secret token (Bearer) for {}/scim/v2; \
                 it is shown only this once",
                token.name,
                portal.config.base_url()
            );
        }
        ScimTokenCommand::List => {
            let list = tokens::list_tokens(&portal).await?;
            if list.is_empty() {
                println!(
                    "no SCIM tokens yet (make one with `ra-portal scim-token create --name …`)"
                );
            }
            let when =
                |t: Option<i64>| t.map_or_else(|| "never".to_owned(), domain::time::utc_date_time);
            for t in &list {
                let state = match (&t.revoked_at, &t.revoked_by) {
                    (Some(at), by) => format!(
                        "revoked {} by {}",
                        domain::time::utc_date_time(*at),
                        by.as_deref().unwrap_or("-")
                    ),
                    (None, _) => "in force".to_owned(),
                };
                println!(
                    "{}\tmade {} by {}\tlast used {}\t{state}",
                    t.name,
                    domain::time::utc_date_time(t.created_at),
                    t.created_by,
                    when(t.last_used_at)
                );
            }
        }
        ScimTokenCommand::Revoke { name } => {
            let t = tokens::revoke_token(&portal, &name, &actor, now).await?;
            println!(
                "revoked the SCIM token {}; the IdM using it is refused from now on",
                t.name
            );
        }
    }
    Ok(())
}

async fn run_api_token(portal: Portal, command: ApiTokenCommand) -> anyhow::Result<()> {
    use backend::api_tokens::{self as tokens, TokenRequest};
    use domain::api_token::ApiScope;
    let actor = cli_actor();
    let now = backend::clock::now();
    match command {
        ApiTokenCommand::Create {
            creator,
            domains,
            scope,
            days,
            name,
        } => {
            let Some(viewer) = tokens::creator_viewer(&portal, &creator, now).await? else {
                bail!(
                    "the portal knows no groups of {creator}: a local account needs its groups, \
                     an OIDC user must have logged in within the last {} days",
                    tokens::CREATOR_LOGIN_MAX_AGE_DAYS
                );
            };
            let mut ids = Vec::with_capacity(domains.len());
            for name in &domains {
                let parsed = domain::DomainName::parse(name)
                    .map_err(|e| anyhow::anyhow!("--domain {name}: {e}"))?;
                match viewer.nap_domains.iter().find(|d| d.name == parsed.as_str()) {
                    Some(d) => ids.push(d.id),
                    None => bail!(
                        "{creator} is not a contact person (NAP) of {parsed} (or it is not registered)"
                    ),
                }
            }
            let scope = if scope == "read" {
                ApiScope::Read
            } else {
                ApiScope::ReadWrite
            };
            let request = TokenRequest {
                name: &name,
                domain_ids: &ids,
                scope,
                days,
            };
            let token = tokens::create_token(&portal, &viewer, &request, &actor, now).await?;
            // The token alone on stdout, so a script can take it; the advice on stderr.
            println!("{}", token.expose());
            eprintln!(
                "made the API token {} (#{}) for {creator}: send it as `Authorization: Bearer …` \
                 to {}/api/v1; it is shown only this once",
                token.name,
                token.id,
                portal.config.base_url()
            );
        }
        ApiTokenCommand::List => {
            let list = tokens::list_every_token(&portal).await?;
            if list.is_empty() {
                println!("no API tokens yet (make one with `ra-portal api-token create …`)");
            }
            let when =
                |t: Option<i64>| t.map_or_else(|| "never".to_owned(), domain::time::utc_date_time);
            for v in &list {
                let t = &v.token;
                let state = match (&t.revoked_at, &t.revoke_reason) {
                    (Some(at), reason) => format!(
                        "stopped {} by {} ({})",
                        domain::time::utc_date_time(*at),
                        t.revoked_by.as_deref().unwrap_or("-"),
                        reason.as_deref().unwrap_or("-")
                    ),
                    (None, _) if !v.in_force(now) => "expired".to_owned(),
                    (None, _) => "in force".to_owned(),
                };
                println!(
                    "{}\t{}\t{}\t{}\t{}\tmade {}\texpires {}\tlast used {}\t{state}",
                    t.id,
                    t.name,
                    t.creator_id,
                    v.scope.as_str(),
                    v.domains.join(","),
                    domain::time::utc_date_time(t.created_at),
                    domain::time::utc_date_time(t.expires_at),
                    when(t.last_used_at)
                );
            }
        }
        ApiTokenCommand::Revoke { id } => {
            let t = tokens::revoke_token_by_cli(&portal, id, &actor, now).await?;
            println!(
                "revoked the API token {} (#{}) of {}; scripts using it are refused from now on",
                t.name, t.id, t.creator_id
            );
        }
    }
    Ok(())
}

async fn run_deprovisionings(
    portal: Portal,
    command: DeprovisioningsCommand,
) -> anyhow::Result<()> {
    use backend::deprovisioning::{confirm_holds, discard_holds, held_deprovisionings};
    let held = held_deprovisionings(&portal).await?;
    let selected = |selection: HoldSelection| -> Vec<i64> {
        if selection.all {
            held.iter().map(|h| h.id).collect()
        } else {
            selection.ids
        }
    };
    let now = backend::clock::now();
    match command {
        DeprovisioningsCommand::List => {
            if held.is_empty() {
                println!("no deprovisioning is held");
            }
            for h in &held {
                println!(
                    "#{}  {} ({})  {}  by {}",
                    h.id,
                    h.user_name,
                    h.user_id,
                    domain::time::utc_date_time(h.at),
                    h.actor
                );
                for r in &h.rows {
                    println!("    {}  {}  {}", r.domain, r.primary, r.kind.as_str());
                }
            }
        }
        DeprovisioningsCommand::Confirm(selection) => {
            let ids = selected(selection);
            if ids.is_empty() {
                println!("no deprovisioning is held");
                return Ok(());
            }
            let done = confirm_holds(&portal, &cli_actor(), &ids, now).await?;
            println!(
                "confirmed {}: {} row(s) deactivated, {} proposed, {} link(s) dropped, {} certificate(s) revoked",
                done.deprovisionings,
                done.applied.rows_deactivated,
                done.applied.proposed,
                done.applied.links_dropped,
                done.applied.certificates_revoked
            );
        }
        DeprovisioningsCommand::Discard(selection) => {
            let ids = selected(selection);
            if ids.is_empty() {
                println!("no deprovisioning is held");
                return Ok(());
            }
            let done = discard_holds(&portal, &cli_actor(), &ids, now).await?;
            println!("discarded {}", done.deprovisionings);
        }
    }
    Ok(())
}
