//! The command line: `ra-portal serve`, and (later) the account and domain verbs.

use std::path::PathBuf;
use std::process::ExitCode;

use backend::config::Config;
use backend::Portal;
use clap::{Parser, Subcommand};

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
    Serve,
    /// Create the database (or bring its schema up to date) and exit.
    Migrate,
}

/// Parses the command line, runs it, and turns errors into a message and exit code 1.
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

async fn run(cli: Cli) -> anyhow::Result<()> {
    let config = Config::load(cli.config.as_deref())?;
    match cli.command {
        Command::Serve => {
            let portal = Portal::open(config).await?;
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
    }
}
