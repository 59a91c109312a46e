//! Challenges (SPEC §3, R9–R11): a NAP sends them, the mail carries a one-time link, the person
//! who controls the address opens it, logs in and confirms, and is then linked to the address.
//!
//! Tokens are 256 bits from the operating system's random generator, URL-safe; only their SHA-256
//! hash is stored, and they are never logged nor put into an error message (Q6). The token lives
//! in the outbox mail's body until it is delivered, then the body is cleared.
//!
//! The rules themselves are the domain crate's ([`challenge_round`], [`Challenge::confirm`],
//! [`LinkChange`]); this module stores their outcome, one transaction per use case, with the
//! audit records (R16) and the outbox mails in the same transaction.

use domain::message::Message;
use std::collections::{HashMap, HashSet};
use std::fmt;

use crate::secret::storage_key;
use crate::storage::Db;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use domain::address::EmailAddress;
use domain::challenge::{
    challenge_round, Challenge, ChallengeLifetime, ChallengeState, ConfirmRefusal, SendRefusal,
};
use domain::handover::ConfirmingClient;
use domain::link::LinkChange;
use domain::mailbox::MailboxType;
use domain::row::RowFields;
use domain::text::{Comment, PersonName};
use serde_json::json;
use tokio::sync::Notify;

use crate::clock;
use crate::config::Config;
use crate::error::ServiceError;
use crate::idm_bar::check_not_barred;
use crate::mail::message_id::message_id_domain;
use crate::mail::templates::{challenge_mail, confirmation_link, ChallengeMail};
use crate::roles::{Refusal, Viewer};
use crate::storage::audit::{insert_audit_record, AuditKind, NewAuditRecord};
use crate::storage::challenge_rounds::{
    self as rounds, insert_audit_records, NewChallenge, RoundRow,
};
use crate::storage::confirmations as store;
use crate::storage::outbox::{insert_outbox_mails, NewOutboxMail};
use crate::storage::Conn;

/// Which state a challenge's mail is in (queued, sent, failed with the reason), for the table.
pub use crate::storage::outbox::{delivery_of_challenges, Delivery};

/// Random bytes in a token: 256 bits, far beyond guessing (SPEC: at least 128).
const TOKEN_BYTES: usize = 32;
/// Length of a token in the link: 32 bytes in unpadded base64url.
const TOKEN_CHARS: usize = 43;
/// Random bytes in the unique part of a Message-ID.
const MESSAGE_ID_BYTES: usize = 16;

pub use domain::challenge::SendReport;

/// The configured challenge lifetime (whole hours; the configuration refuses 0).
fn lifetime_of(config: &Config) -> ChallengeLifetime {
    ChallengeLifetime::from_secs(i64::from(config.challenge_lifetime_hours.max(1)) * 3600)
        .unwrap_or_default()
}

/// Whether a token from a link can be one of ours at all; anything else is unknown at once.
fn well_formed(token: &str) -> bool {
    token.len() == TOKEN_CHARS
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A row parsed into the domain's types, ready for [`challenge_round`].
struct ParsedRow {
    record: RoundRow,
    primary: EmailAddress,
    fields: RowFields,
}

/// Turns a stored row (and its aliases) into the domain's types. Stored values were parsed when
/// written; one that no longer parses is a corrupt row, an internal error.
fn parse_row(record: RoundRow, aliases: &[String]) -> Result<ParsedRow, ServiceError> {
    let corrupt = |what: &str| {
        ServiceError::Internal(format!("row {} has an invalid stored {what}", record.id).into())
    };
    let primary = EmailAddress::parse(&record.primary_address).map_err(|_| corrupt("address"))?;
    let aliases = aliases
        .iter()
        .map(|a| EmailAddress::parse(a))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| corrupt("alias"))?;
    let applicant = record
        .applicant_address
        .as_deref()
        .map(EmailAddress::parse)
        .transpose()
        .map_err(|_| corrupt("applicant address"))?;
    let mailbox_type =
        MailboxType::parse(&record.mailbox_type).map_err(|_| corrupt("mailbox type"))?;
    let fields = RowFields {
        first_name: PersonName::parse(&record.first_name).map_err(|_| corrupt("first name"))?,
        last_name: PersonName::parse(&record.last_name).map_err(|_| corrupt("last name"))?,
        aliases,
        mailbox_type,
        applicant,
        // A round does not look at the comment; it is not read for one.
        comment: Comment::empty(),
        active: record.active,
    };
    Ok(ParsedRow {
        record,
        primary,
        fields,
    })
}

/// R9: sends a challenge round for each of the given rows (the NAP's selection), in one
/// transaction: each row's pending challenges are superseded, then one challenge per address
/// (primary and aliases) is stored with its outbox mail to the address itself (personal) or to
/// the applicant (functional), the row is marked as challenged (R3), and every step is audited.
///
/// Inactive rows (R7) are refused one by one with the reason; the others are sent. A row that is
/// unknown or lies in a domain the NAP does not administer (R1, Q1) is refused like an unknown
/// one, so the answer tells nothing about other domains. After the commit the outbox worker is
/// woken through `outbox`.
pub async fn send_challenges(
    pool: &Db,
    viewer: &Viewer,
    row_ids: &[i64],
    config: &Config,
    outbox: &Notify,
) -> Result<SendReport, ServiceError> {
    if !viewer.is_nap() {
        return Err(Refusal::NotNapOfDomain.into());
    }
    let mut seen = HashSet::with_capacity(row_ids.len());
    let row_ids: Vec<i64> = row_ids
        .iter()
        .copied()
        .filter(|id| seen.insert(*id))
        .collect();
    let now = clock::now();
    let mut tx = pool.begin_write().await?;
    let report = send_rounds(&mut tx, viewer, &row_ids, config, now).await?;
    tx.commit().await?;
    if report.challenges > 0 {
        outbox.notify_one();
    }
    Ok(report)
}

/// Sends a challenge round (R9) for every active row of a domain that has an address linked to
/// nobody yet — the "send to every unconfirmed address" button. Each such row gets a whole round
/// (R9: a round covers every address of the row and supersedes the pending ones). Only the
/// domain's NAPs may (R1).
pub async fn send_to_all_unconfirmed(
    pool: &Db,
    viewer: &Viewer,
    domain_id: i64,
    config: &Config,
    outbox: &Notify,
) -> Result<SendReport, ServiceError> {
    viewer.require_nap_of(domain_id)?;
    let now = clock::now();
    let mut tx = pool.begin_write().await?;
    let row_ids = rounds::list_unconfirmed_row_ids_of_domain(&mut tx, domain_id).await?;
    let report = send_rounds(&mut tx, viewer, &row_ids, config, now).await?;
    tx.commit().await?;
    if report.challenges > 0 {
        outbox.notify_one();
    }
    Ok(report)
}

/// One challenge of the round being stored, with its secret token.
struct Outgoing {
    row: usize,
    address: String,
    recipient: String,
    token: String,
    token_hash: [u8; 32],
    message_id: String,
}

/// The body of both send use cases, inside the caller's transaction: a fixed number of
/// statements per 500 rows, whatever their number (SPEC P3).
pub(crate) async fn send_rounds(
    conn: &mut Conn,
    viewer: &Viewer,
    row_ids: &[i64],
    config: &Config,
    now: i64,
) -> Result<SendReport, ServiceError> {
    let actor = viewer.user.user_id.as_str();
    let mut report = SendReport::default();

    let records = rounds::list_rows_for_round(conn, row_ids).await?;
    let mut found: HashSet<i64> = HashSet::with_capacity(records.len());
    let mut mine = Vec::with_capacity(records.len());
    for record in records {
        found.insert(record.id);
        if viewer.administers(record.domain_id) {
            mine.push(record);
        } else {
            report
                .refused
                .push((format!("#{}", record.id), SendRefusal::UnknownRow));
        }
    }
    for id in row_ids.iter().filter(|id| !found.contains(id)) {
        report
            .refused
            .push((format!("#{id}"), SendRefusal::UnknownRow));
    }

    let mine_ids: Vec<i64> = mine.iter().map(|r| r.id).collect();
    let mut aliases: HashMap<i64, Vec<String>> = HashMap::new();
    for (row_id, alias) in rounds::list_aliases_of_rows(conn, &mine_ids).await? {
        aliases.entry(row_id).or_default().push(alias);
    }

    // The rule decides per row; refused rows are reported and left alone.
    let mut rows = Vec::with_capacity(mine.len());
    let mut planned = Vec::new();
    for record in mine {
        let own_aliases = aliases.remove(&record.id).unwrap_or_default();
        let parsed = parse_row(record, &own_aliases)?;
        match challenge_round(&parsed.primary, &parsed.fields) {
            Ok(round) => {
                let index = rows.len();
                planned.extend(round.into_iter().map(|p| (index, p)));
                rows.push(parsed);
            }
            Err(refusal) => report
                .refused
                .push((parsed.record.primary_address.clone(), refusal)),
        }
    }
    if rows.is_empty() {
        return Ok(report);
    }

    // A new round replaces the old one (R9).
    let sent_ids: Vec<i64> = rows.iter().map(|r| r.record.id).collect();
    let superseded = rounds::supersede_pending_challenges_of_rows(conn, &sent_ids, now).await?;
    let domain_of: HashMap<i64, i64> = rows
        .iter()
        .map(|r| (r.record.id, r.record.domain_id))
        .collect();
    let superseded_audit: Vec<NewAuditRecord<'_>> = superseded
        .iter()
        .map(|c| NewAuditRecord {
            actor,
            kind: AuditKind::ChallengeSuperseded,
            domain_id: domain_of.get(&c.row_id).copied(),
            row_id: Some(c.row_id),
            subject: Some(&c.address),
            before: Some(json!({
                "state": "pending", "recipient": c.recipient, "sent_at": c.created_at
            })),
            after: Some(json!({ "state": "superseded", "by": "new_round" })),
        })
        .collect();
    insert_audit_records(conn, &superseded_audit, now).await?;

    // Fresh tokens and Message-IDs, from one read of the OS generator.
    let mut random = vec![0u8; planned.len() * (TOKEN_BYTES + MESSAGE_ID_BYTES)];
    getrandom::fill(&mut random)?;
    let id_domain = message_id_domain(&config.mail.from);
    let outgoing: Vec<Outgoing> = planned
        .into_iter()
        .zip(random.chunks_exact(TOKEN_BYTES + MESSAGE_ID_BYTES))
        .map(|((row, p), bytes)| {
            let token = URL_SAFE_NO_PAD.encode(&bytes[..TOKEN_BYTES]);
            let token_hash = storage_key(&token);
            Outgoing {
                row,
                address: p.address.as_str().to_owned(),
                recipient: p.recipient.as_str().to_owned(),
                token,
                token_hash,
                message_id: format!("<{}@{id_domain}>", hex(&bytes[TOKEN_BYTES..])),
            }
        })
        .collect();

    let lifetime = lifetime_of(config);
    let expires_at = now.saturating_add(lifetime.secs());
    let new_challenges: Vec<NewChallenge> = outgoing
        .iter()
        .map(|o| NewChallenge {
            row_id: rows[o.row].record.id,
            address: o.address.clone(),
            recipient: o.recipient.clone(),
            token_hash: o.token_hash,
            expires_at,
        })
        .collect();
    let ids = rounds::insert_challenges(conn, &new_challenges, now).await?;

    let base_url = config.base_url();
    let lifetime_hours = lifetime.secs() / 3600;
    let mails: Vec<NewOutboxMail> = outgoing
        .iter()
        .map(|o| {
            let row = &rows[o.row];
            let link = confirmation_link(base_url, &o.token);
            let rendered = challenge_mail(&ChallengeMail {
                address: &o.address,
                primary: &row.record.primary_address,
                mailbox_type: row.fields.mailbox_type,
                first_name: row.fields.first_name.as_str(),
                last_name: row.fields.last_name.as_str(),
                link: &link,
                lifetime_hours,
                expires_at,
            });
            NewOutboxMail {
                recipient: o.recipient.clone(),
                subject: rendered.subject,
                body_text: rendered.text,
                body_html: rendered.html,
                message_id: o.message_id.clone(),
                challenge_id: ids.get(&o.token_hash).copied(),
            }
        })
        .collect();
    insert_outbox_mails(conn, &mails, now).await?;
    rounds::mark_rows_challenged(conn, &sent_ids).await?;

    // The audit trail names the address and the recipient, never the token (Q6), and whose link
    // the round suspends until it is confirmed (R18).
    let linked: HashMap<String, String> = rounds::list_links_of_rows(conn, &sent_ids)
        .await?
        .into_iter()
        .collect();
    let sent_audit: Vec<NewAuditRecord<'_>> = outgoing
        .iter()
        .map(|o| {
            let row = &rows[o.row].record;
            NewAuditRecord {
                actor,
                kind: AuditKind::ChallengeSent,
                domain_id: Some(row.domain_id),
                row_id: Some(row.id),
                subject: Some(&o.address),
                before: None,
                after: Some(json!({
                    "recipient": o.recipient,
                    "expires_at": expires_at,
                    "suspends_link_of": linked.get(&o.address),
                })),
            }
        })
        .collect();
    insert_audit_records(conn, &sent_audit, now).await?;

    report.rows = rows.len();
    report.challenges = outgoing.len();
    Ok(report)
}

/// What the confirmation page shows about a challenge (opening it changes nothing, R11).
#[derive(Clone, PartialEq, Eq)]
pub struct ChallengeView {
    /// The address that confirming links.
    pub address: String,
    /// Who received the mail.
    pub recipient: String,
    /// The row's primary address.
    pub row_primary: String,
    /// The row's name: first and last name (a functional mailbox's name).
    pub row_name: String,
    /// Personal or functional.
    pub mailbox_type: MailboxType,
    /// The state as of now: a pending challenge past its lifetime reads as expired.
    pub state: ChallengeState,
    /// When the link stops working.
    pub expires_at: i64,
    /// Whether the row is active (R7).
    pub row_active: bool,
    /// What confirming now would answer, if it would be refused.
    pub refusal: Option<ConfirmRefusal>,
}

impl fmt::Debug for ChallengeView {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChallengeView")
            .field("address", &self.address)
            .field("row_primary", &self.row_primary)
            .field("state", &self.state)
            .field("row_active", &self.row_active)
            .finish_non_exhaustive()
    }
}

/// The domain's view of a stored challenge: its lifetime is the one it was sent with.
fn challenge_of(record: &store::ChallengeRecord) -> Result<Challenge, ServiceError> {
    let state = ChallengeState::parse(&record.state).map_err(ServiceError::internal)?;
    let lifetime = ChallengeLifetime::from_secs(record.expires_at - record.created_at)
        .map_err(ServiceError::internal)?;
    Ok(Challenge {
        state,
        created_at: record.created_at,
        lifetime,
    })
}

async fn find_by_token(
    conn: &mut Conn,
    token: &str,
) -> Result<store::ChallengeRecord, ServiceError> {
    if !well_formed(token) {
        return Err(ServiceError::Invalid(Message::UnknownLink));
    }
    store::find_challenge_by_token_hash(conn, &storage_key(token))
        .await?
        .ok_or(ServiceError::Invalid(Message::UnknownLink))
}

/// What a challenge link is about, for the page its GET shows; changes nothing (R11: mail
/// scanners open links on their own).
pub async fn challenge_for_token(
    pool: &Db,
    token: &str,
    now: i64,
) -> Result<ChallengeView, ServiceError> {
    let mut conn = pool.acquire().await?;
    let record = find_by_token(&mut conn, token).await?;
    let challenge = challenge_of(&record)?;
    let mailbox_type = MailboxType::parse(&record.mailbox_type).map_err(ServiceError::internal)?;
    Ok(ChallengeView {
        row_name: format!("{} {}", record.first_name, record.last_name)
            .trim()
            .to_owned(),
        mailbox_type,
        state: challenge.effective_state(now),
        expires_at: record.expires_at,
        row_active: record.active,
        refusal: challenge.confirm(now, record.active).err(),
        address: record.address,
        recipient: record.recipient,
        row_primary: record.primary_address,
    })
}

/// The outcome of a confirmation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Confirmation {
    /// The row's primary address.
    pub row_primary: String,
    /// The link made, and whose link it replaced.
    pub link: LinkChange,
}

/// R10, R11: the logged-in user `user_id` confirms the challenge of `token` at `now`.
///
/// In one transaction: the challenge must be pending, unexpired and of an active row
/// ([`Challenge::confirm`]); it is confirmed with a conditional update so that of two racing
/// confirmations exactly one succeeds; the address is linked to the user, replacing an earlier
/// link (audited as `link_dropped` of the old user and `link_made` of the new one); and the
/// confirmation is audited. Refusals say what to do next and never repeat the token.
pub async fn confirm_challenge(
    pool: &Db,
    token: &str,
    user_id: &str,
    now: i64,
) -> Result<Confirmation, ServiceError> {
    confirm_challenge_from(pool, token, user_id, &ConfirmingClient::default(), now).await
}

/// [`confirm_challenge`] from a client whose IP address and user agent are kept with the
/// confirmation as validation evidence (R20): what the confirmation page's button does.
pub async fn confirm_challenge_from(
    pool: &Db,
    token: &str,
    user_id: &str,
    client: &ConfirmingClient,
    now: i64,
) -> Result<Confirmation, ServiceError> {
    let mut tx = pool.begin_write().await?;
    let record = find_by_token(&mut tx, token).await?;
    // R22: someone the IdM deactivated links no address to themselves, whatever session they hold.
    check_not_barred::<ServiceError>(&mut tx, user_id).await?;
    let challenge = challenge_of(&record)?;
    challenge.confirm(now, record.active)?;
    if !store::confirm_pending_challenge(&mut tx, record.id, user_id, client, now).await? {
        // Someone else's transaction got there first; say what it did.
        let again = find_by_token(&mut tx, token).await?;
        let refusal = challenge_of(&again)?
            .confirm(now, again.active)
            .err()
            .unwrap_or(ConfirmRefusal::AlreadyConfirmed);
        return Err(refusal.into());
    }
    let address = EmailAddress::parse(&record.address).map_err(ServiceError::internal)?;
    let current = store::find_link_user(&mut tx, &record.address).await?;
    let change = LinkChange::on_confirm(address, current.as_deref(), user_id);

    let audit = |kind, before, after| NewAuditRecord {
        actor: user_id,
        kind,
        domain_id: Some(record.domain_id),
        row_id: Some(record.row_id),
        subject: Some(&record.address),
        before,
        after,
    };
    insert_audit_record(
        &mut tx,
        &audit(
            AuditKind::ChallengeConfirmed,
            Some(json!({ "state": "pending", "recipient": record.recipient })),
            Some(json!({
                "state": "confirmed",
                "confirmed_by": user_id,
                "challenge": record.id,
                "ip": client.ip,
                "user_agent": client.user_agent,
            })),
        ),
        now,
    )
    .await?;
    if let (true, Some(previous)) = (change.takes_over(), &change.previous_user) {
        insert_audit_record(
            &mut tx,
            &audit(
                AuditKind::LinkDropped,
                Some(json!({ "user_id": previous })),
                Some(json!({ "replaced_by": user_id })),
            ),
            now,
        )
        .await?;
    }
    store::put_link(
        &mut tx,
        &record.address,
        record.row_id,
        user_id,
        record.id,
        now,
    )
    .await?;
    insert_audit_record(
        &mut tx,
        &audit(
            AuditKind::LinkMade,
            change
                .previous_user
                .as_ref()
                .map(|previous| json!({ "user_id": previous })),
            Some(json!({ "user_id": user_id, "challenge_id": record.id })),
        ),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(Confirmation {
        row_primary: record.primary_address,
        link: change,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn q6_tokens_are_256_bit_base64url_and_checked_before_any_query() {
        assert!(well_formed(&"A".repeat(43)));
        assert!(!well_formed(&"A".repeat(42)));
        assert!(!well_formed(&format!("{}=", "A".repeat(42))));
        assert!(!well_formed(&format!("{}/", "A".repeat(42))));
        assert_eq!(
            URL_SAFE_NO_PAD.encode([0u8; TOKEN_BYTES]).len(),
            TOKEN_CHARS
        );
    }
}
