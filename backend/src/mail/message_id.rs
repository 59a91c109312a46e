//! Message-IDs of the portal's mails (RFC 5322 `<random@domain>`), at the configured sender's
//! domain: for every mail the use cases queue (challenges, revocations, reminders, digests).

use crate::error::ServiceError;

/// The domain part of the configured sender, for Message-IDs (`<random@domain>`).
pub(crate) fn message_id_domain(from: &str) -> String {
    let domain = from
        .rsplit('@')
        .next()
        .unwrap_or_default()
        .trim()
        .trim_end_matches('>')
        .trim();
    let fine = !domain.is_empty()
        && domain
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-');
    if fine && from.contains('@') {
        domain.to_ascii_lowercase()
    } else {
        "ra-portal.invalid".to_owned()
    }
}

/// A fresh Message-ID at the sender's domain.
pub(crate) fn message_id(from: &str) -> Result<String, ServiceError> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes)?;
    let unique: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    Ok(format!("<{unique}@{}>", message_id_domain(from)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_ids_use_the_sender_domain() {
        assert_eq!(
            message_id_domain("RA Portal <ra-portal@Example.ORG>"),
            "example.org"
        );
        assert_eq!(message_id_domain("nobody"), "ra-portal.invalid");
        assert_eq!(message_id_domain("x@bad domain"), "ra-portal.invalid");
    }
}
