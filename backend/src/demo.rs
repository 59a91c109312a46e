//! Demo data for trying the portal out (`ra-portal serve --demo`): one domain and four local
//! accounts with **publicly known passwords** (`demo-<id>-password`). Never use it on a portal that
//! real people use.

use std::fmt;

use crate::storage::Db;

use crate::accounts::{create_account, find_account, NewAccount};
use crate::config::Config;
use crate::domains::{find_domain, register_domain};
use crate::error::ServiceError;
use crate::secret::SecretString;

/// The demo's email domain.
pub const DEMO_DOMAIN: &str = "example.org";
/// Its contact group: members are its NAPs.
pub const DEMO_CONTACT_GROUP: &str = "nap-example";
/// Who the demo data is written by, in the audit trail.
const DEMO_ACTOR: &str = "system:demo";

/// One demo account, to tell people how to log in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoAccount {
    /// Login name.
    pub id: String,
    /// Its publicly known demo password.
    pub password: String,
    /// Who they are in the demo ("operator", "NAP of example.org", "user").
    pub role: String,
}

/// What [`seed_demo`] did and how to log in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoSummary {
    /// False when the demo data was there already and nothing was written.
    pub created: bool,
    /// The login page.
    pub login_url: String,
    /// The demo accounts.
    pub accounts: Vec<DemoAccount>,
}

impl fmt::Display for DemoSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.created {
            writeln!(
                f,
                "demo data created: domain {DEMO_DOMAIN} and local accounts"
            )?;
        } else {
            writeln!(
                f,
                "demo data present: domain {DEMO_DOMAIN} and local accounts"
            )?;
        }
        writeln!(
            f,
            "log in at {} as (demo passwords, never for real use):",
            self.login_url
        )?;
        for a in &self.accounts {
            writeln!(f, "  {:<5} / {:<20}  {}", a.id, a.password, a.role)?;
        }
        Ok(())
    }
}

struct Person {
    id: &'static str,
    given: &'static str,
    family: &'static str,
    operator: bool,
    nap: bool,
}

const PEOPLE: [Person; 4] = [
    Person {
        id: "olga",
        given: "Olga",
        family: "Operator",
        operator: true,
        nap: false,
    },
    Person {
        id: "nora",
        given: "Nora",
        family: "Nap",
        operator: false,
        nap: true,
    },
    Person {
        id: "anna",
        given: "Anna",
        family: "Schmidt",
        operator: false,
        nap: false,
    },
    Person {
        id: "ben",
        given: "Ben",
        family: "Weber",
        operator: false,
        nap: false,
    },
];

fn demo_password(id: &str) -> String {
    format!("demo-{id}-password")
}

/// A few rows in the demo domain, so the table has something to show: personal rows with and
/// without aliases, a functional mailbox, and a deactivated row.
const DEMO_ROWS: [(&str, &str, &str, &str, &str, &str); 4] = [
    // primary, first, last, aliases, type, applicant
    (
        "anna.schmidt@example.org",
        "Anna",
        "Schmidt",
        "a.schmidt@example.org",
        "personal",
        "",
    ),
    ("ben.weber@example.org", "Ben", "Weber", "", "personal", ""),
    (
        "sekretariat@example.org",
        "",
        "Sekretariat",
        "office@example.org",
        "functional",
        "anna.schmidt@example.org",
    ),
    (
        "former.staff@example.org",
        "Frieda",
        "Früher",
        "",
        "personal",
        "",
    ),
];

async fn seed_demo_rows(pool: &Db, config: &Config) -> Result<(), ServiceError> {
    // The rows are created through the same service a NAP uses, acting as the demo itself.
    let seeder = crate::sessions::SessionUser {
        user_id: DEMO_ACTOR.to_owned(),
        given_name: String::new(),
        family_name: String::new(),
        email: None,
        groups: vec![DEMO_CONTACT_GROUP.to_owned()],
        session_started_at: 0,
    };
    let viewer = crate::roles::Viewer::load(pool, seeder, config).await?;
    let internal = |e: ServiceError| match e {
        e @ ServiceError::Internal(_) => e,
        e => ServiceError::Internal(Box::new(e)),
    };
    for (primary, first, last, aliases, kind, applicant) in DEMO_ROWS {
        let input = crate::rows::RowInput {
            first_name: first.to_owned(),
            last_name: last.to_owned(),
            aliases: aliases.to_owned(),
            mailbox_type: kind.to_owned(),
            applicant: applicant.to_owned(),
            comment: String::new(),
        };
        let row = crate::rows::create_row(pool, &viewer, DEMO_DOMAIN, primary, &input)
            .await
            .map_err(internal)?;
        if primary.starts_with("former.") {
            crate::rows::set_active(pool, &viewer, &[(row.id, row.version)], false)
                .await
                .map_err(internal)?;
        }
    }
    Ok(())
}

/// Writes the demo data unless the demo domain exists already (then it does nothing), and says
/// how to log in. Accounts that exist (from an earlier, interrupted run) are left as they are.
pub async fn seed_demo(pool: &Db, config: &Config) -> Result<DemoSummary, ServiceError> {
    let created = find_domain(pool, DEMO_DOMAIN).await?.is_none();
    let mut accounts = Vec::new();
    for p in &PEOPLE {
        let mut groups = Vec::new();
        if p.operator {
            groups.push(config.operator_group.clone());
        }
        if p.nap {
            groups.push(DEMO_CONTACT_GROUP.to_owned());
        }
        if created && find_account(pool, p.id).await?.is_none() {
            create_account(
                pool,
                NewAccount {
                    id: p.id.to_owned(),
                    given_name: p.given.to_owned(),
                    family_name: p.family.to_owned(),
                    email: Some(format!("{}@{DEMO_DOMAIN}", p.id)),
                    groups,
                    password: SecretString::from(demo_password(p.id)),
                },
                DEMO_ACTOR,
            )
            .await?;
        }
        let role = match (p.operator, p.nap) {
            (true, _) => "operator".to_owned(),
            (_, true) => format!("NAP of {DEMO_DOMAIN}"),
            _ => "user".to_owned(),
        };
        accounts.push(DemoAccount {
            id: p.id.to_owned(),
            password: demo_password(p.id),
            role,
        });
    }
    // The domain last: its presence is what marks the demo as complete.
    if created {
        register_domain(pool, DEMO_ACTOR, DEMO_DOMAIN, DEMO_CONTACT_GROUP).await?;
        seed_demo_rows(pool, config).await?;
    }
    Ok(DemoSummary {
        created,
        login_url: format!("{}/login", config.base_url()),
        accounts,
    })
}
