//! An audit record's before/after JSON read as field changes ("Last name: Walk → Neumann"), for
//! the audit trail page (R16). Pure: the server reads the stored JSON with [`read_changes`], turning
//! timestamps into wall times of the viewer's zone; the browser only words the result
//! (`audit_words`). The CSV export keeps the stored JSON as it is.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value as Json};

use crate::dates::WallTime;

/// One value of a change, typed so that each language can word it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Value {
    /// Text as stored: a name, an address, a comment, a user ID.
    Text(String),
    /// Several texts: aliases, certificate addresses, groups.
    List(Vec<String>),
    /// A row's active flag.
    Active(bool),
    /// Any other yes/no.
    Flag(bool),
    /// A moment, in the viewer's zone.
    Time(WallTime),
    /// A count or an id.
    Number(i64),
    /// A stored code word the UI words: a mailbox type, a challenge or certificate state, a
    /// revocation reason, a key source, a role, a cause (`pending`, `keyCompromise`, …).
    Word(String),
    /// The validation evidence of an issued certificate (R20), one entry per address.
    Evidence(Vec<Evidence>),
    /// Null, an empty text or an empty list.
    Nothing,
}

/// How one address of a certificate was shown to be the holder's (R20).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Evidence {
    /// The address.
    pub address: String,
    /// Where the challenge mail went.
    pub recipient: String,
    /// When it was sent.
    pub sent: WallTime,
    /// When it was confirmed.
    pub confirmed: WallTime,
    /// Who confirmed it.
    pub by: String,
}

/// One field of a record: its value before, after, or both when it changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    /// The stored key (`last_name`, `not_after`, …); `audit_words` names it.
    pub field: String,
    /// The value before, when the record has one for this field.
    pub before: Option<Value>,
    /// The value after, when the record has one for this field.
    pub after: Option<Value>,
}

/// Keys whose value is a code word.
const WORD_KEYS: [&str; 9] = [
    "mailbox_type",
    "scope",
    "deprovision_mode",
    "state",
    "reason",
    "key_source",
    "as",
    "by",
    "password",
];

/// Keys that name what the record is about (a row's primary address, an account, a domain): left
/// out when they only repeat the record's subject.
const SUBJECT_KEYS: [&str; 3] = ["primary", "id", "name"];

/// Keys whose number is a Unix time.
const TIME_KEYS: [&str; 7] = [
    "sent_at",
    "expires_at",
    "linked_at",
    "confirmed_at",
    "not_before",
    "not_after",
    "at",
];

/// The order fields are shown in: what a row is, then what happened, then details. Keys not
/// listed (written by newer code) follow in alphabetical order.
const ORDER: [&str; 49] = [
    "primary",
    "first_name",
    "last_name",
    "aliases",
    "mailbox_type",
    "applicant",
    "comment",
    "active",
    "name",
    "contact_group",
    "id",
    "given_name",
    "family_name",
    "email",
    "groups",
    "password",
    "state",
    "reason",
    "by",
    "as",
    "revoked_by",
    "replaced_by",
    "user_id",
    "confirmed_by",
    "recipient",
    "sent_at",
    "expires_at",
    "suspends_link_of",
    "linked_at",
    "challenge",
    "challenge_id",
    "subject",
    "addresses",
    "key_source",
    "not_before",
    "not_after",
    "evidence",
    "ip",
    "user_agent",
    "lines",
    "created",
    "changed",
    "unchanged",
    "deactivated",
    "reactivated",
    "superseded_challenges",
    "dropped_links",
    "fingerprint",
    "at",
];

/// The changes an audit record describes. `subject` is the record's subject (shown on its own, so
/// a row's primary address, an account id or a domain name that only repeats it is left out);
/// `wall` turns Unix times into wall times.
///
/// Fields equal before and after are left out; fields that differ show both values; a field on
/// one side only shows that value (a new row's fields, a deleted row's, the recipient of a
/// superseded challenge) unless it is empty or zero. A record that is not a JSON object shows as one text, never a panic.
pub fn read_changes(
    subject: Option<&str>,
    before: Option<&str>,
    after: Option<&str>,
    wall: &dyn Fn(i64) -> WallTime,
) -> Vec<Change> {
    let before = before.map(object_of);
    let after = after.map(object_of);
    let empty = Map::new();
    let (b, a) = (
        before.as_ref().unwrap_or(&empty),
        after.as_ref().unwrap_or(&empty),
    );
    let mut keys: Vec<&String> = b.keys().chain(a.keys()).collect();
    keys.sort_by_key(|k| (ORDER.iter().position(|o| o == k).unwrap_or(ORDER.len()), *k));
    keys.dedup();

    let mut changes = Vec::new();
    for key in keys {
        let (old, new) = (b.get(key.as_str()), a.get(key.as_str()));
        if old.is_some() && old == new {
            continue;
        }
        let old = old.map(|v| value_of(key, v, wall));
        let new = new.map(|v| value_of(key, v, wall));
        let one_sided = old.is_none() || new.is_none();
        let only = old.as_ref().or(new.as_ref());
        let names_subject = SUBJECT_KEYS.contains(&key.as_str())
            && matches!((only, subject), (Some(Value::Text(t)), Some(s)) if t == s);
        // A count of nothing (a CSV upload that deactivated no row) is noise on one side only.
        let empty = matches!(only, Some(Value::Nothing | Value::Number(0)));
        if one_sided && (empty || names_subject) {
            continue;
        }
        changes.push(Change {
            field: key.clone(),
            before: old,
            after: new,
        });
    }
    changes
}

/// The stored JSON as an object, nested objects flattened into it (`"breaker": {"tripped": …}`
/// shows as its own fields); anything else (never written, but records are forever) as one
/// `value` field holding the text.
fn object_of(text: &str) -> Map<String, Json> {
    match serde_json::from_str::<Json>(text) {
        Ok(Json::Object(map)) => {
            let mut flat = Map::new();
            for (key, value) in map {
                match value {
                    Json::Object(inner) => {
                        for (k, v) in inner {
                            flat.entry(k).or_insert(v);
                        }
                    }
                    other => {
                        flat.insert(key, other);
                    }
                }
            }
            flat
        }
        Ok(Json::Null) => Map::new(),
        _ => Map::from_iter([("value".to_owned(), Json::String(text.to_owned()))]),
    }
}

/// One stored value, typed by its key.
fn value_of(key: &str, json: &Json, wall: &dyn Fn(i64) -> WallTime) -> Value {
    match json {
        Json::Null => Value::Nothing,
        Json::String(s) if s.is_empty() => Value::Nothing,
        Json::String(s) if WORD_KEYS.contains(&key) => Value::Word(s.clone()),
        Json::String(s) => Value::Text(s.clone()),
        Json::Bool(b) if key == "active" => Value::Active(*b),
        Json::Bool(b) => Value::Flag(*b),
        Json::Number(n) => match n.as_i64() {
            Some(secs) if TIME_KEYS.contains(&key) || key.ends_with("_at") => {
                Value::Time(wall(secs))
            }
            Some(n) => Value::Number(n),
            None => Value::Text(n.to_string()),
        },
        Json::Array(items) if items.is_empty() => Value::Nothing,
        Json::Array(items) if key == "evidence" => evidence_of(items, wall)
            .map(Value::Evidence)
            .unwrap_or_else(|| Value::List(items.iter().map(plain).collect())),
        Json::Array(items) => Value::List(items.iter().map(plain).collect()),
        Json::Object(_) => Value::Text(plain(json)),
    }
}

/// Certificate evidence entries (`domain::handover::ValidationEvidence`), if they all read as such.
fn evidence_of(items: &[Json], wall: &dyn Fn(i64) -> WallTime) -> Option<Vec<Evidence>> {
    items
        .iter()
        .map(|item| {
            let e: domain::handover::ValidationEvidence =
                serde_json::from_value(item.clone()).ok()?;
            Some(Evidence {
                address: e.address,
                recipient: e.recipient,
                sent: wall(e.sent_at),
                confirmed: wall(e.confirmed_at),
                by: e.confirmed_by,
            })
        })
        .collect()
}

/// A nested value as plain text without JSON punctuation: `key: value, key: value`.
fn plain(json: &Json) -> String {
    match json {
        Json::Null => String::new(),
        Json::String(s) => s.clone(),
        Json::Bool(b) => b.to_string(),
        Json::Number(n) => n.to_string(),
        Json::Array(items) => items.iter().map(plain).collect::<Vec<_>>().join(", "),
        Json::Object(map) => map
            .iter()
            .map(|(k, v)| format!("{}: {}", k.replace('_', " "), plain(v)))
            .collect::<Vec<_>>()
            .join(", "),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fixed UTC clock for the tests: days since 1970 are enough to tell values apart.
    fn wall(secs: i64) -> WallTime {
        WallTime {
            year: 1970,
            month: 1,
            day: (secs / 86_400 + 1) as u8,
            hour: (secs % 86_400 / 3600) as u8,
            minute: (secs % 3600 / 60) as u8,
        }
    }

    fn row(last: &str, active: bool) -> String {
        format!(
            r#"{{"primary":"anna@example.org","first_name":"Anna","last_name":"{last}","aliases":[],"mailbox_type":"personal","applicant":null,"comment":"","active":{active}}}"#
        )
    }

    fn text(s: &str) -> Option<Value> {
        Some(Value::Text(s.to_owned()))
    }

    #[test]
    fn r16_an_edit_shows_only_the_fields_that_changed() {
        let changes = read_changes(
            Some("anna@example.org"),
            Some(&row("Walk", true)),
            Some(&row("Neumann", true)),
            &wall,
        );
        assert_eq!(
            changes,
            vec![Change {
                field: "last_name".into(),
                before: text("Walk"),
                after: text("Neumann"),
            }]
        );
    }

    #[test]
    fn r16_a_new_row_shows_its_filled_fields_in_table_order_without_repeating_the_subject() {
        let changes = read_changes(
            Some("anna@example.org"),
            None,
            Some(&row("Walk", true)),
            &wall,
        );
        let fields: Vec<&str> = changes.iter().map(|c| c.field.as_str()).collect();
        assert_eq!(
            fields,
            ["first_name", "last_name", "mailbox_type", "active"]
        );
        assert!(changes.iter().all(|c| c.before.is_none()));
        assert_eq!(changes[2].after, Some(Value::Word("personal".into())));
        assert_eq!(changes[3].after, Some(Value::Active(true)));
    }

    #[test]
    fn r16_timestamps_become_wall_times_and_states_words() {
        let changes = read_changes(
            Some("anna@example.org"),
            Some(
                r#"{"challenge":7,"state":"pending","recipient":"anna@example.org","sent_at":90000}"#,
            ),
            Some(r#"{"challenge":7,"state":"superseded","by":"new_round"}"#),
            &wall,
        );
        assert_eq!(
            changes,
            vec![
                Change {
                    field: "state".into(),
                    before: Some(Value::Word("pending".into())),
                    after: Some(Value::Word("superseded".into())),
                },
                Change {
                    field: "by".into(),
                    before: None,
                    after: Some(Value::Word("new_round".into())),
                },
                Change {
                    field: "recipient".into(),
                    before: text("anna@example.org"),
                    after: None,
                },
                Change {
                    field: "sent_at".into(),
                    before: Some(Value::Time(wall(90_000))),
                    after: None,
                },
            ]
        );
    }

    #[test]
    fn r16_a_csv_upload_lists_what_it_did_not_the_zeros() {
        let changes = read_changes(
            Some("example.org"),
            None,
            Some(r#"{"lines":2,"created":2,"changed":0,"deactivated":0,"fingerprint":"ab"}"#),
            &wall,
        );
        let fields: Vec<&str> = changes.iter().map(|c| c.field.as_str()).collect();
        assert_eq!(fields, ["lines", "created", "fingerprint"]);
    }

    #[test]
    fn r20_certificate_evidence_is_read_per_address() {
        let after = r#"{"user_id":"anna","not_after":1000,"addresses":["anna@example.org"],
            "evidence":[{"address":"anna@example.org","challenge_id":3,"recipient":"anna@example.org",
            "sent_at":100,"confirmed_at":200,"confirmed_by":"anna","ip":null,"user_agent":null}]}"#;
        let changes = read_changes(Some("0A1B"), None, Some(after), &wall);
        let evidence = changes.iter().find(|c| c.field == "evidence").unwrap();
        assert_eq!(
            evidence.after,
            Some(Value::Evidence(vec![Evidence {
                address: "anna@example.org".into(),
                recipient: "anna@example.org".into(),
                sent: wall(100),
                confirmed: wall(200),
                by: "anna".into(),
            }]))
        );
        let not_after = changes.iter().find(|c| c.field == "not_after").unwrap();
        assert_eq!(not_after.after, Some(Value::Time(wall(1000))));
    }

    #[test]
    fn r16_unknown_keys_and_broken_records_are_shown_not_dropped() {
        let changes = read_changes(
            None,
            Some("not json"),
            Some(r#"{"scim_id":"u-1","breaker":{"tripped":true},"deprovisioned_at":86400}"#),
            &wall,
        );
        assert_eq!(
            changes,
            vec![
                Change {
                    field: "deprovisioned_at".into(),
                    before: None,
                    after: Some(Value::Time(wall(86_400))),
                },
                Change {
                    field: "scim_id".into(),
                    before: None,
                    after: text("u-1"),
                },
                Change {
                    field: "tripped".into(),
                    before: None,
                    after: Some(Value::Flag(true)),
                },
                Change {
                    field: "value".into(),
                    before: text("not json"),
                    after: None,
                },
            ]
        );
    }
}
