//! Every text the user sees, in English and German, in one place.
//!
//! Texts are fields of a struct, so a text missing in one language is a compile error rather than a
//! blank on the page. The language comes from a `lang` cookie or the browser's Accept-Language on the
//! server, and from the `<html lang>` attribute the server wrote when the browser hydrates, so both
//! sides render the same words.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// A language of the user interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
pub enum Lang {
    /// English.
    #[default]
    En,
    /// German.
    De,
}

impl Lang {
    /// The BCP 47 tag, as in `<html lang>` and the `lang` cookie.
    pub fn tag(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::De => "de",
        }
    }

    /// Reads a tag such as `de`, `de-DE` or `en-GB`; other languages give `None`.
    pub fn from_tag(tag: &str) -> Option<Lang> {
        let primary = tag.trim().split(['-', '_']).next()?.to_ascii_lowercase();
        match primary.as_str() {
            "en" => Some(Lang::En),
            "de" => Some(Lang::De),
            _ => None,
        }
    }

    /// Picks the language from a `lang` cookie value, else an Accept-Language header (first supported
    /// language by q-value), else English.
    pub fn negotiate(cookie: Option<&str>, accept_language: Option<&str>) -> Lang {
        if let Some(lang) = cookie.and_then(Lang::from_tag) {
            return lang;
        }
        let mut best: Option<(f32, Lang)> = None;
        for part in accept_language.unwrap_or_default().split(',') {
            let mut pieces = part.split(';');
            let Some(lang) = pieces.next().and_then(Lang::from_tag) else {
                continue;
            };
            let q = pieces
                .find_map(|p| p.trim().strip_prefix("q="))
                .and_then(|q| q.parse::<f32>().ok())
                .unwrap_or(1.0);
            if best.is_none_or(|(bq, _)| q > bq) {
                best = Some((q, lang));
            }
        }
        best.map(|(_, lang)| lang).unwrap_or_default()
    }

    /// The other language, for the switch button.
    pub fn other(self) -> Lang {
        match self {
            Lang::En => Lang::De,
            Lang::De => Lang::En,
        }
    }

    /// All texts in this language.
    pub fn texts(self) -> &'static Texts {
        match self {
            Lang::En => &EN,
            Lang::De => &DE,
        }
    }
}

/// The texts of the user interface.
#[derive(Debug)]
pub struct Texts {
    /// Name of the product, in the title bar and header.
    pub app_name: &'static str,
    /// The language switch button: names the language it switches to.
    pub switch_language: &'static str,
    /// Navigation: the NAP's tab.
    pub nav_my_domains: &'static str,
    /// Navigation: every user's tab.
    pub nav_my_certificates: &'static str,
    /// Home page heading.
    pub home_heading: &'static str,
    /// Home page: what the portal is for.
    pub home_intro: &'static str,
    /// Home page: the NAP's part.
    pub home_for_naps: &'static str,
    /// Home page: the user's part.
    pub home_for_users: &'static str,
    /// 404 page.
    pub not_found: &'static str,
    /// Navigation: log in.
    pub nav_login: &'static str,
    /// Navigation: log out.
    pub nav_logout: &'static str,
    /// Navigation: the operators' page.
    pub nav_operator: &'static str,
    /// Shown instead of a page that needs a login.
    pub please_log_in: &'static str,
    /// Login page heading.
    pub login_heading: &'static str,
    /// Login form: user name.
    pub login_username: &'static str,
    /// Login form: password.
    pub login_password: &'static str,
    /// Login form: submit.
    pub login_button: &'static str,
    /// Login refused.
    pub login_invalid: &'static str,
    /// OIDC login came back too late or from another browser.
    pub login_flow_expired: &'static str,
    /// Login failed for another reason.
    pub login_failed: &'static str,
    /// The IdM deactivated or deleted the person (R22): no sign-in.
    pub login_idm_inactive: &'static str,
    /// Login page with an IdP.
    pub login_oidc_intro: &'static str,
    /// Button to the IdP.
    pub login_oidc_button: &'static str,
    /// Operator page heading.
    pub operator_heading: &'static str,
    /// Column: domain.
    pub operator_domain: &'static str,
    /// Column: contact group.
    pub operator_contact_group: &'static str,
    /// Register form heading.
    pub operator_register_heading: &'static str,
    /// Register button.
    pub operator_register_button: &'static str,
    /// Generic save button.
    pub save: &'static str,
    /// Shown after a save.
    pub saved: &'static str,
    /// A user who is NAP of no domain.
    pub domains_none: &'static str,
    /// Label: user ID.
    pub user_id: &'static str,
    /// Label: the CN of personal certificates.
    pub name_in_certificates: &'static str,
    /// CSV section heading.
    pub csv_heading: &'static str,
    /// Drop zone text.
    pub csv_drop: &'static str,
    /// File input label.
    pub csv_choose: &'static str,
    /// Download link.
    pub csv_download: &'static str,
    /// Second download link: semicolons and German header, as Excel on a German Windows reads.
    pub csv_download_excel_de: &'static str,
    /// Progress label.
    pub csv_uploading: &'static str,
    /// After upload, server checks.
    pub csv_checking: &'static str,
    /// Preview heading.
    pub csv_preview_heading: &'static str,
    /// Count label.
    pub csv_new: &'static str,
    /// Count label.
    pub csv_changed: &'static str,
    /// Count label.
    pub csv_unchanged: &'static str,
    /// Rows not in the file.
    pub csv_missing: &'static str,
    /// Errors heading.
    pub csv_errors: &'static str,
    /// Column: line.
    pub csv_line: &'static str,
    /// Column: column.
    pub csv_column: &'static str,
    /// Column: message.
    pub csv_message: &'static str,
    /// Column: what changes.
    pub csv_what: &'static str,
    /// Apply button.
    pub csv_apply: &'static str,
    /// Discard preview.
    pub csv_discard: &'static str,
    /// After apply.
    pub csv_applied: &'static str,
    /// Confirmation page heading.
    pub confirm_heading: &'static str,
    /// Anonymous visitor of a challenge link.
    pub confirm_login_first: &'static str,
    /// Label: address.
    pub confirm_address: &'static str,
    /// Label: the row's name.
    pub confirm_mailbox: &'static str,
    /// Functional mailbox note.
    pub confirm_functional_for: &'static str,
    /// Label: who is logged in.
    pub confirm_logged_in_as: &'static str,
    /// What confirming does.
    pub confirm_explain: &'static str,
    /// Confirm button.
    pub confirm_button: &'static str,
    /// Hint for the wrong user.
    pub confirm_not_me: &'static str,
    /// After confirming.
    pub confirm_done: &'static str,
    /// Link after confirming.
    pub confirm_go_certificates: &'static str,
    /// Send challenges for a row.
    pub send_challenges: &'static str,
    /// Send challenges for the selection.
    pub send_selected: &'static str,
    /// Send to every unconfirmed address.
    pub send_unconfirmed: &'static str,
    /// Confirm sending.
    pub confirm_send: &'static str,
    /// After sending: prefix.
    pub sent_report: &'static str,
    /// Delivery: queued.
    pub delivery_queued: &'static str,
    /// Delivery: sent.
    pub delivery_sent: &'static str,
    /// Delivery: failed.
    pub delivery_failed: &'static str,
    /// Audit page heading.
    pub audit_heading: &'static str,
    /// Filter: an address of the row.
    pub audit_row: &'static str,
    /// Filter: who.
    pub audit_actor: &'static str,
    /// Filter: what.
    pub audit_kind: &'static str,
    /// Filter: from date.
    pub audit_from: &'static str,
    /// Filter: to date.
    pub audit_to: &'static str,
    /// Column: when.
    pub audit_when: &'static str,
    /// Column: about.
    pub audit_subject: &'static str,
    /// Column: before.
    pub audit_before: &'static str,
    /// Column: after.
    pub audit_after: &'static str,
    /// Filter button.
    pub audit_filter: &'static str,
    /// CSV export link.
    pub audit_export: &'static str,
    /// No records.
    pub audit_empty: &'static str,
    /// Link back to the table.
    pub back_to_table: &'static str,
    /// Table: search box placeholder.
    pub table_search: &'static str,
    /// Filter: no restriction.
    pub table_all: &'static str,
    /// Filter: active rows.
    pub table_active_only: &'static str,
    /// Filter: inactive rows.
    pub table_inactive_only: &'static str,
    /// Filter label: active.
    pub table_filter_active: &'static str,
    /// Filter label: type.
    pub table_filter_type: &'static str,
    /// Filter label: challenge state.
    pub table_filter_state: &'static str,
    /// Mailbox type personal.
    pub type_personal: &'static str,
    /// Mailbox type functional.
    pub type_functional: &'static str,
    /// State filter/badge: confirmed.
    pub state_confirmed: &'static str,
    /// State filter: pending.
    pub state_pending: &'static str,
    /// State: never sent.
    pub state_never_sent: &'static str,
    /// State: superseded.
    pub state_superseded: &'static str,
    /// State: expired.
    pub state_expired: &'static str,
    /// Badge prefix: pending since.
    pub state_pending_since: &'static str,
    /// Badge prefix: confirmed by.
    pub state_confirmed_by: &'static str,
    /// Column: primary address.
    pub col_primary: &'static str,
    /// Column: name.
    pub col_name: &'static str,
    /// Field: first name.
    pub col_first_name: &'static str,
    /// Field: last name.
    pub col_last_name: &'static str,
    /// Column: aliases.
    pub col_aliases: &'static str,
    /// Column: type.
    pub col_type: &'static str,
    /// Column: applicant.
    pub col_applicant: &'static str,
    /// Column: comment.
    pub col_comment: &'static str,
    /// Column: active.
    pub col_active: &'static str,
    /// Column: actions.
    pub col_actions: &'static str,
    /// Yes.
    pub yes: &'static str,
    /// No.
    pub no: &'static str,
    /// Add-row form heading.
    pub add_row_heading: &'static str,
    /// Add-row submit.
    pub add_row_button: &'static str,
    /// After adding.
    pub row_added: &'static str,
    /// After saving.
    pub row_saved: &'static str,
    /// Tooltip on editable cells.
    pub edit_hint: &'static str,
    /// Chip editor input.
    pub alias_add_placeholder: &'static str,
    /// Chip remove button label.
    pub alias_remove: &'static str,
    /// Confirm consequences.
    pub save_anyway: &'static str,
    /// Cancel.
    pub cancel: &'static str,
    /// Heading over consequences.
    pub consequences_heading: &'static str,
    /// Deactivate button.
    pub deactivate: &'static str,
    /// Reactivate button.
    pub reactivate: &'static str,
    /// Delete button.
    pub delete: &'static str,
    /// Edit whole row button.
    pub edit_row: &'static str,
    /// Why delete is disabled.
    pub delete_refused_hint: &'static str,
    /// Confirm deactivation.
    pub confirm_deactivate: &'static str,
    /// Confirm reactivation.
    pub confirm_reactivate: &'static str,
    /// Confirm delete.
    pub confirm_delete: &'static str,
    /// Confirm button.
    pub confirm: &'static str,
    /// Bulk bar: count prefix.
    pub selected_rows: &'static str,
    /// Bulk deactivate.
    pub deactivate_selected: &'static str,
    /// Bulk reactivate.
    pub reactivate_selected: &'static str,
    /// Bulk clear.
    pub clear_selection: &'static str,
    /// Pager: 'rows a–b of n'.
    pub rows_of: &'static str,
    /// Pager: previous.
    pub previous: &'static str,
    /// Pager: next.
    pub next: &'static str,
    /// Empty table.
    pub no_rows: &'static str,
    /// Badge on inactive rows.
    pub inactive_badge: &'static str,
    /// My certificates: the mailboxes linked to you.
    pub certs_mailboxes_heading: &'static str,
    /// No mailbox linked to you: explains how a link comes about.
    pub certs_no_links: &'static str,
    /// My certificates: the list heading.
    pub certs_list_heading: &'static str,
    /// No certificate requested yet.
    pub certs_none_yet: &'static str,
    /// Mailbox card: the addresses linked to the user.
    pub certs_linked_addresses: &'static str,
    /// Mailbox card: the subject a certificate will have.
    pub certs_subject: &'static str,
    /// Opens the request form.
    pub certs_request_button: &'static str,
    /// A server-made key can be saved only now.
    pub certs_p12_warning: &'static str,
    /// Link that saves the PKCS#12 file.
    pub certs_p12_download: &'static str,
    /// How to use the PKCS#12 file.
    pub certs_p12_import_hint: &'static str,
    /// A certificate was issued.
    pub certs_issued: &'static str,
    /// PKCS#12 password too short (browser check; the server checks too).
    pub certs_password_short: &'static str,
    /// The two passwords differ.
    pub certs_password_mismatch: &'static str,
    /// CSR mode without a CSR.
    pub certs_csr_missing: &'static str,
    /// No address chosen.
    pub certs_choose_address: &'static str,
    /// Request form: the addresses.
    pub certs_addresses_legend: &'static str,
    /// Request form: the key.
    pub certs_key_legend: &'static str,
    /// Key choice: server-made.
    pub certs_key_server: &'static str,
    /// Key choice: own CSR.
    pub certs_key_csr: &'static str,
    /// What a server-made key means.
    pub certs_server_key_explain: &'static str,
    /// PKCS#12 password.
    pub certs_password: &'static str,
    /// PKCS#12 password again.
    pub certs_password_repeat: &'static str,
    /// While issuing.
    pub certs_issuing: &'static str,
    /// Submit the request.
    pub certs_issue_button: &'static str,
    /// What a CSR is used for.
    pub certs_csr_explain: &'static str,
    /// Paste the CSR.
    pub certs_csr_paste: &'static str,
    /// Or a file.
    pub certs_csr_file: &'static str,
    /// The chosen CSR file.
    pub certs_csr_chosen: &'static str,
    /// Column: serial.
    pub certs_col_serial: &'static str,
    /// Column: who requested it.
    pub certs_col_holder: &'static str,
    /// Column: addresses and subject.
    pub certs_col_addresses: &'static str,
    /// Column: validity.
    pub certs_col_validity: &'static str,
    /// Column: state.
    pub certs_col_status: &'static str,
    /// State: valid.
    pub certs_status_valid: &'static str,
    /// State: expired.
    pub certs_status_expired: &'static str,
    /// R23: a valid certificate that ends within 30 days.
    pub certs_expires_soon: &'static str,
    /// State: revoked.
    pub certs_status_revoked: &'static str,
    /// Download with the CA chain.
    pub certs_download_chain: &'static str,
    /// Revoke button.
    pub certs_revoke: &'static str,
    /// NAP may revoke only inactive rows (R15).
    pub certs_nap_deactivate_first: &'static str,
    /// Owner revokes.
    pub certs_confirm_revoke_own: &'static str,
    /// NAP revokes one.
    pub certs_confirm_revoke_nap: &'static str,
    /// Revocation reason label.
    pub certs_reason: &'static str,
    /// A row without certificates.
    pub certs_row_none: &'static str,
    /// Bulk: revoke the selection's certificates.
    pub certs_revoke_selected: &'static str,
    /// Bulk revocation question.
    pub certs_confirm_revoke_rows: &'static str,
    /// After a bulk revocation.
    pub certs_revoked_count: &'static str,
    /// Row action: show its certificates.
    pub certs_of_row: &'static str,
    /// RFC 5280 revocation reasons, in the order of `RevocationReason::ALL`.
    pub revocation_reasons: [&'static str; 6],
    /// Link to the audit trail.
    pub audit_link: &'static str,
    /// Link to a domain table.
    pub open_table: &'static str,
}

static EN: Texts = Texts {
    app_name: "RA Portal",
    switch_language: "Deutsch",
    nav_my_domains: "My email domains",
    nav_my_certificates: "My client certificates",
    home_heading: "S/MIME certificates for your organisation",
    home_intro: "This portal decides who may get an S/MIME certificate for which email address.",
    home_for_naps: "Network contact persons (NAPs) keep the table of mailboxes of their email domains and send challenge emails that prove who reads each mailbox.",
    home_for_users: "Everyone who confirmed a challenge can request and revoke certificates for their addresses under “My client certificates”.",
    not_found: "This page does not exist.",
    nav_login: "Log in",
    nav_logout: "Log out",
    nav_operator: "Domains (operator)",
    please_log_in: "Please log in to see this page.",
    login_heading: "Log in",
    login_username: "User name",
    login_password: "Password",
    login_button: "Log in",
    login_invalid: "Unknown user name or wrong password.",
    login_flow_expired: "The login took too long or was started elsewhere. Please try again.",
    login_failed: "The login did not work. Please try again; if it persists, tell the portal's operators.",
    login_idm_inactive: "Your account was deactivated by your organisation's identity management, so you cannot log in to the portal. If this is a mistake, contact the network contact (NAP) of your domain.",
    login_oidc_intro: "Log in with the account of your organisation.",
    login_oidc_button: "Log in with your organisation's account",
    operator_heading: "Email domains of the portal",
    operator_domain: "Email domain",
    operator_contact_group: "Contact group (NAPs)",
    operator_register_heading: "Register an email domain",
    operator_register_button: "Register",
    save: "Save",
    saved: "Saved.",
    domains_none: "You are not a contact person (NAP) of any email domain.",
    user_id: "Your user ID",
    name_in_certificates: "Name in your certificates",
    csv_heading: "Upload or download a CSV file",
    csv_drop: "Drop a CSV file here, or choose one",
    csv_choose: "Choose a CSV file",
    csv_download: "Download the table as CSV",
    csv_download_excel_de: "Download for Excel (German: semicolons, German column names)",
    csv_uploading: "Uploading",
    csv_checking: "Checking the file…",
    csv_preview_heading: "Preview: nothing is saved yet",
    csv_new: "new",
    csv_changed: "changed",
    csv_unchanged: "unchanged",
    csv_missing: "rows of the domain are not in the file and stay as they are",
    csv_errors: "Errors — fix the file and upload it again; nothing was saved",
    csv_line: "Line",
    csv_column: "Column",
    csv_message: "Problem",
    csv_what: "What changes",
    csv_apply: "Apply all changes",
    csv_discard: "Discard",
    csv_applied: "Applied:",
    confirm_heading: "Confirm your email address",
    confirm_login_first: "To confirm that you read this mailbox, please log in first. You will come back here.",
    confirm_address: "Email address",
    confirm_mailbox: "Mailbox",
    confirm_functional_for: "This is a functional mailbox; you confirm as its applicant.",
    confirm_logged_in_as: "You are logged in as",
    confirm_explain: "Confirming links this address to your user ID. You can then request S/MIME certificates for it. Someone linked before you loses the link.",
    confirm_button: "Confirm: this is my mailbox",
    confirm_not_me: "Not you? Log out and log in with your own account.",
    confirm_done: "Confirmed. The address is now linked to your user ID.",
    confirm_go_certificates: "Go to My client certificates",
    send_challenges: "Send challenge",
    send_selected: "Send challenges to selected",
    send_unconfirmed: "Send to all unconfirmed",
    confirm_send: "Send challenge emails now? Pending challenges of these rows are superseded.",
    sent_report: "Challenge emails queued:",
    delivery_queued: "mail queued",
    delivery_sent: "mail sent",
    delivery_failed: "mail failed",
    audit_heading: "Audit trail",
    audit_row: "Row (address)",
    audit_actor: "Who",
    audit_kind: "What",
    audit_from: "From",
    audit_to: "To",
    audit_when: "When",
    audit_subject: "About",
    audit_before: "Before",
    audit_after: "After",
    audit_filter: "Filter",
    audit_export: "Download as CSV",
    audit_empty: "No records match.",
    back_to_table: "Back to the table",
    table_search: "Search addresses and names",
    table_all: "all",
    table_active_only: "active",
    table_inactive_only: "inactive",
    table_filter_active: "Status",
    table_filter_type: "Type",
    table_filter_state: "Challenge",
    type_personal: "personal",
    type_functional: "functional",
    state_confirmed: "confirmed",
    state_pending: "pending",
    state_never_sent: "never sent",
    state_superseded: "superseded",
    state_expired: "expired",
    state_pending_since: "pending since",
    state_confirmed_by: "confirmed by",
    col_primary: "Primary address",
    col_name: "Name",
    col_first_name: "First name",
    col_last_name: "Last name",
    col_aliases: "Aliases",
    col_type: "Type",
    col_applicant: "Applicant",
    col_comment: "Comment",
    col_active: "Active",
    col_actions: "Actions",
    yes: "yes",
    no: "no",
    add_row_heading: "Add a mailbox",
    add_row_button: "Add row",
    row_added: "Row added.",
    row_saved: "Saved.",
    edit_hint: "Click to edit; Enter saves, Escape cancels",
    alias_add_placeholder: "add alias, Enter",
    alias_remove: "Remove alias",
    save_anyway: "Save anyway",
    cancel: "Cancel",
    consequences_heading: "Saving this change will:",
    deactivate: "Deactivate",
    reactivate: "Reactivate",
    delete: "Delete",
    edit_row: "Edit",
    delete_refused_hint: "Challenges were sent for this row, so it can only be deactivated (R3).",
    confirm_deactivate: "Deactivate this row? Nobody can request certificates for its addresses while it is inactive; links stay.",
    confirm_reactivate: "Reactivate this row?",
    confirm_delete: "Delete this row for good?",
    confirm: "Confirm",
    selected_rows: "selected",
    deactivate_selected: "Deactivate selected",
    reactivate_selected: "Reactivate selected",
    clear_selection: "Clear selection",
    rows_of: "of",
    previous: "Previous",
    next: "Next",
    no_rows: "No rows match.",
    inactive_badge: "inactive",
    audit_link: "Audit trail",
    open_table: "Open the address table",
    certs_mailboxes_heading: "Your mailboxes",
    certs_no_links: "No mailbox is linked to you yet. Your domain's contact person (NAP) sends a challenge mail to the address; open its link, log in and confirm — then the address appears here.",
    certs_list_heading: "Your certificates",
    certs_none_yet: "You have not requested a certificate yet.",
    certs_linked_addresses: "Linked to you",
    certs_subject: "Subject",
    certs_request_button: "Request a certificate",
    certs_p12_warning: "Save your key file now: the portal does not keep your private key, so this file cannot be downloaded again.",
    certs_p12_download: "Save key and certificate (PKCS#12)",
    certs_p12_import_hint: "Import the file into your mail program (Thunderbird, Outlook, Apple Mail) with the password you chose.",
    certs_issued: "Your certificate has been issued. Serial number:",
    certs_password_short: "The password must have at least 10 characters.",
    certs_password_mismatch: "The two passwords are not the same.",
    certs_csr_missing: "Paste a certificate request (PEM) or choose its file.",
    certs_choose_address: "Choose at least one address for the certificate.",
    certs_addresses_legend: "Addresses in the certificate",
    certs_key_legend: "Key",
    certs_key_server: "Create a key for me (PKCS#12 file with a password)",
    certs_key_csr: "Use my own key (certificate request, PKCS#10)",
    certs_server_key_explain: "The portal creates an RSA key and hands it to you once, together with the certificate, in a file protected by the password you choose here. The key is not stored.",
    certs_password: "Password for the file (at least 10 characters)",
    certs_password_repeat: "Password again",
    certs_issuing: "Issuing …",
    certs_issue_button: "Issue certificate",
    certs_csr_explain: "Only the public key of your request is used; name and addresses come from the portal.",
    certs_csr_paste: "Certificate request (PEM)",
    certs_csr_file: "or its file",
    certs_csr_chosen: "Chosen file:",
    certs_col_serial: "Serial number",
    certs_col_holder: "Requested by",
    certs_col_addresses: "Addresses",
    certs_col_validity: "Valid",
    certs_col_status: "State",
    certs_status_valid: "valid",
    certs_status_expired: "expired",
    certs_expires_soon: "expires soon",
    certs_status_revoked: "revoked",
    certs_download_chain: "with chain",
    certs_revoke: "Revoke",
    certs_nap_deactivate_first: "Deactivate the row to revoke.",
    certs_confirm_revoke_own: "Revoke this certificate? It stops being valid at once and cannot be used again; you get a confirmation mail.",
    certs_confirm_revoke_nap: "Revoke this certificate of a deactivated row? Its holder gets a mail.",
    certs_reason: "Reason",
    certs_row_none: "No certificate has been issued for this row.",
    certs_revoke_selected: "Revoke certificates of selection",
    certs_confirm_revoke_rows: "Revoke every valid certificate of the selected rows? All of them must be deactivated.",
    certs_revoked_count: "Certificates revoked:",
    certs_of_row: "Certificates",
    revocation_reasons: ["no reason given", "key compromise", "affiliation changed", "superseded", "cessation of operation", "privilege withdrawn"],
};

static DE: Texts = Texts {
    app_name: "RA-Portal",
    switch_language: "English",
    nav_my_domains: "Meine E-Mail-Domains",
    nav_my_certificates: "Meine Client-Zertifikate",
    home_heading: "S/MIME-Zertifikate für Ihre Einrichtung",
    home_intro: "Dieses Portal legt fest, wer für welche E-Mail-Adresse ein S/MIME-Zertifikat erhalten darf.",
    home_for_naps: "Netzwerk-Ansprechpartner (NAPs) pflegen die Postfachtabelle ihrer E-Mail-Domains und versenden Challenge-Mails, die zeigen, wer ein Postfach liest.",
    home_for_users: "Wer eine Challenge bestätigt hat, kann unter „Meine Client-Zertifikate“ Zertifikate für seine Adressen beantragen und sperren.",
    not_found: "Diese Seite gibt es nicht.",
    nav_login: "Anmelden",
    nav_logout: "Abmelden",
    nav_operator: "Domains (Betrieb)",
    please_log_in: "Bitte melden Sie sich an, um diese Seite zu sehen.",
    login_heading: "Anmelden",
    login_username: "Benutzername",
    login_password: "Passwort",
    login_button: "Anmelden",
    login_invalid: "Unbekannter Benutzername oder falsches Passwort.",
    login_flow_expired: "Die Anmeldung hat zu lange gedauert oder wurde woanders begonnen. Bitte versuchen Sie es erneut.",
    login_failed: "Die Anmeldung hat nicht funktioniert. Bitte versuchen Sie es erneut; wenn es so bleibt, wenden Sie sich an den Betrieb des Portals.",
    login_idm_inactive: "Ihr Konto wurde vom Identitätsmanagement Ihrer Einrichtung deaktiviert, daher können Sie sich nicht am Portal anmelden. Falls das ein Irrtum ist, wenden Sie sich an die Kontaktperson (NAP) Ihrer Domain.",
    login_oidc_intro: "Melden Sie sich mit dem Konto Ihrer Einrichtung an.",
    login_oidc_button: "Mit dem Konto Ihrer Einrichtung anmelden",
    operator_heading: "E-Mail-Domains des Portals",
    operator_domain: "E-Mail-Domain",
    operator_contact_group: "Kontaktgruppe (NAPs)",
    operator_register_heading: "E-Mail-Domain registrieren",
    operator_register_button: "Registrieren",
    save: "Speichern",
    saved: "Gespeichert.",
    domains_none: "Sie sind für keine E-Mail-Domain Ansprechpartner (NAP).",
    user_id: "Ihre Benutzerkennung",
    name_in_certificates: "Name in Ihren Zertifikaten",
    csv_heading: "CSV-Datei hoch- oder herunterladen",
    csv_drop: "CSV-Datei hier ablegen oder auswählen",
    csv_choose: "CSV-Datei auswählen",
    csv_download: "Tabelle als CSV herunterladen",
    csv_download_excel_de: "Für Excel (deutsch) herunterladen: Semikolons, deutsche Spaltennamen",
    csv_uploading: "Hochladen",
    csv_checking: "Datei wird geprüft…",
    csv_preview_heading: "Vorschau: noch ist nichts gespeichert",
    csv_new: "neu",
    csv_changed: "geändert",
    csv_unchanged: "unverändert",
    csv_missing: "Zeilen der Domain fehlen in der Datei und bleiben unverändert",
    csv_errors: "Fehler — korrigieren Sie die Datei und laden Sie sie erneut hoch; nichts wurde gespeichert",
    csv_line: "Zeile",
    csv_column: "Spalte",
    csv_message: "Problem",
    csv_what: "Was sich ändert",
    csv_apply: "Alle Änderungen übernehmen",
    csv_discard: "Verwerfen",
    csv_applied: "Übernommen:",
    confirm_heading: "E-Mail-Adresse bestätigen",
    confirm_login_first: "Um zu bestätigen, dass Sie dieses Postfach lesen, melden Sie sich bitte zuerst an. Danach kommen Sie hierher zurück.",
    confirm_address: "E-Mail-Adresse",
    confirm_mailbox: "Postfach",
    confirm_functional_for: "Dies ist ein Funktionspostfach; Sie bestätigen als dessen Antragsteller.",
    confirm_logged_in_as: "Sie sind angemeldet als",
    confirm_explain: "Mit der Bestätigung wird diese Adresse mit Ihrer Benutzerkennung verknüpft. Danach können Sie S/MIME-Zertifikate dafür beantragen. Eine frühere Verknüpfung mit einer anderen Person endet.",
    confirm_button: "Bestätigen: Das ist mein Postfach",
    confirm_not_me: "Nicht Sie? Melden Sie sich ab und mit Ihrem eigenen Konto an.",
    confirm_done: "Bestätigt. Die Adresse ist jetzt mit Ihrer Benutzerkennung verknüpft.",
    confirm_go_certificates: "Zu Meine Client-Zertifikate",
    send_challenges: "Challenge senden",
    send_selected: "Challenges an Auswahl senden",
    send_unconfirmed: "An alle Unbestätigten senden",
    confirm_send: "Challenge-Mails jetzt senden? Ausstehende Challenges dieser Zeilen werden ersetzt.",
    sent_report: "Challenge-Mails eingereiht:",
    delivery_queued: "Mail in Warteschlange",
    delivery_sent: "Mail versendet",
    delivery_failed: "Mail fehlgeschlagen",
    audit_heading: "Änderungsprotokoll",
    audit_row: "Zeile (Adresse)",
    audit_actor: "Wer",
    audit_kind: "Was",
    audit_from: "Von",
    audit_to: "Bis",
    audit_when: "Wann",
    audit_subject: "Betrifft",
    audit_before: "Vorher",
    audit_after: "Nachher",
    audit_filter: "Filtern",
    audit_export: "Als CSV herunterladen",
    audit_empty: "Keine passenden Einträge.",
    back_to_table: "Zurück zur Tabelle",
    table_search: "Adressen und Namen suchen",
    table_all: "alle",
    table_active_only: "aktiv",
    table_inactive_only: "inaktiv",
    table_filter_active: "Status",
    table_filter_type: "Typ",
    table_filter_state: "Challenge",
    type_personal: "persönlich",
    type_functional: "funktional",
    state_confirmed: "bestätigt",
    state_pending: "ausstehend",
    state_never_sent: "nie gesendet",
    state_superseded: "ersetzt",
    state_expired: "abgelaufen",
    state_pending_since: "ausstehend seit",
    state_confirmed_by: "bestätigt von",
    col_primary: "Absenderadresse",
    col_name: "Name",
    col_first_name: "Vorname",
    col_last_name: "Nachname",
    col_aliases: "Aliase",
    col_type: "Typ",
    col_applicant: "Antragsteller",
    col_comment: "Kommentar",
    col_active: "Aktiv",
    col_actions: "Aktionen",
    yes: "ja",
    no: "nein",
    add_row_heading: "Postfach hinzufügen",
    add_row_button: "Zeile hinzufügen",
    row_added: "Zeile hinzugefügt.",
    row_saved: "Gespeichert.",
    edit_hint: "Klicken zum Bearbeiten; Enter speichert, Escape bricht ab",
    alias_add_placeholder: "Alias hinzufügen, Enter",
    alias_remove: "Alias entfernen",
    save_anyway: "Trotzdem speichern",
    cancel: "Abbrechen",
    consequences_heading: "Das Speichern dieser Änderung wird:",
    deactivate: "Deaktivieren",
    reactivate: "Reaktivieren",
    delete: "Löschen",
    edit_row: "Bearbeiten",
    delete_refused_hint: "Für diese Zeile wurden Challenges versendet; sie kann nur deaktiviert werden (R3).",
    confirm_deactivate: "Diese Zeile deaktivieren? Solange sie inaktiv ist, kann niemand Zertifikate für ihre Adressen beantragen; Verknüpfungen bleiben erhalten.",
    confirm_reactivate: "Diese Zeile reaktivieren?",
    confirm_delete: "Diese Zeile endgültig löschen?",
    confirm: "Bestätigen",
    selected_rows: "ausgewählt",
    deactivate_selected: "Auswahl deaktivieren",
    reactivate_selected: "Auswahl reaktivieren",
    clear_selection: "Auswahl aufheben",
    rows_of: "von",
    previous: "Zurück",
    next: "Weiter",
    no_rows: "Keine passenden Zeilen.",
    inactive_badge: "inaktiv",
    audit_link: "Änderungsprotokoll",
    open_table: "Adresstabelle öffnen",
    certs_mailboxes_heading: "Ihre Postfächer",
    certs_no_links: "Noch ist kein Postfach mit Ihnen verknüpft. Die Kontaktperson (NAP) Ihrer Domain schickt eine Challenge-Mail an die Adresse; öffnen Sie den Link, melden Sie sich an und bestätigen Sie — dann erscheint die Adresse hier.",
    certs_list_heading: "Ihre Zertifikate",
    certs_none_yet: "Sie haben noch kein Zertifikat beantragt.",
    certs_linked_addresses: "Mit Ihnen verknüpft",
    certs_subject: "Inhaber (Subject)",
    certs_request_button: "Zertifikat beantragen",
    certs_p12_warning: "Speichern Sie Ihre Schlüsseldatei jetzt: Das Portal bewahrt Ihren privaten Schlüssel nicht auf, die Datei kann nicht erneut heruntergeladen werden.",
    certs_p12_download: "Schlüssel und Zertifikat speichern (PKCS#12)",
    certs_p12_import_hint: "Importieren Sie die Datei mit dem gewählten Passwort in Ihr Mailprogramm (Thunderbird, Outlook, Apple Mail).",
    certs_issued: "Ihr Zertifikat wurde ausgestellt. Seriennummer:",
    certs_password_short: "Das Passwort muss mindestens 10 Zeichen haben.",
    certs_password_mismatch: "Die beiden Passwörter stimmen nicht überein.",
    certs_csr_missing: "Fügen Sie einen Zertifikatsantrag (PEM) ein oder wählen Sie seine Datei.",
    certs_choose_address: "Wählen Sie mindestens eine Adresse für das Zertifikat.",
    certs_addresses_legend: "Adressen im Zertifikat",
    certs_key_legend: "Schlüssel",
    certs_key_server: "Schlüssel für mich erzeugen (PKCS#12-Datei mit Passwort)",
    certs_key_csr: "Eigenen Schlüssel verwenden (Zertifikatsantrag, PKCS#10)",
    certs_server_key_explain: "Das Portal erzeugt einen RSA-Schlüssel und übergibt ihn Ihnen einmalig zusammen mit dem Zertifikat in einer Datei, die mit dem hier gewählten Passwort geschützt ist. Der Schlüssel wird nicht gespeichert.",
    certs_password: "Passwort für die Datei (mindestens 10 Zeichen)",
    certs_password_repeat: "Passwort wiederholen",
    certs_issuing: "Wird ausgestellt …",
    certs_issue_button: "Zertifikat ausstellen",
    certs_csr_explain: "Aus Ihrem Antrag wird nur der öffentliche Schlüssel übernommen; Name und Adressen kommen aus dem Portal.",
    certs_csr_paste: "Zertifikatsantrag (PEM)",
    certs_csr_file: "oder die Datei",
    certs_csr_chosen: "Gewählte Datei:",
    certs_col_serial: "Seriennummer",
    certs_col_holder: "Beantragt von",
    certs_col_addresses: "Adressen",
    certs_col_validity: "Gültig",
    certs_col_status: "Status",
    certs_status_valid: "gültig",
    certs_status_expired: "abgelaufen",
    certs_expires_soon: "läuft bald ab",
    certs_status_revoked: "gesperrt",
    certs_download_chain: "mit Kette",
    certs_revoke: "Sperren",
    certs_nap_deactivate_first: "Zum Sperren die Zeile deaktivieren.",
    certs_confirm_revoke_own: "Dieses Zertifikat sperren? Es ist sofort ungültig und kann nicht wieder verwendet werden; Sie erhalten eine Bestätigungsmail.",
    certs_confirm_revoke_nap: "Dieses Zertifikat einer deaktivierten Zeile sperren? Der Inhaber erhält eine Mail.",
    certs_reason: "Grund",
    certs_row_none: "Für diese Zeile wurde kein Zertifikat ausgestellt.",
    certs_revoke_selected: "Zertifikate der Auswahl sperren",
    certs_confirm_revoke_rows: "Alle gültigen Zertifikate der ausgewählten Zeilen sperren? Alle müssen deaktiviert sein.",
    certs_revoked_count: "Gesperrte Zertifikate:",
    certs_of_row: "Zertifikate",
    revocation_reasons: ["ohne Angabe", "Schlüssel kompromittiert", "Zugehörigkeit geändert", "ersetzt", "Betrieb eingestellt", "Berechtigung entzogen"],
};

/// The current language, shared by every component through context.
#[derive(Debug, Clone, Copy)]
pub struct CurrentLang(pub RwSignal<Lang>);

/// Puts the language into context; call once at the root.
pub fn provide_lang(initial: Lang) -> CurrentLang {
    let lang = CurrentLang(RwSignal::new(initial));
    provide_context(lang);
    lang
}

/// The current language, reactive (for what is worded in code, such as [`crate::messages`]).
pub fn use_lang() -> Signal<Lang> {
    let CurrentLang(lang) = expect_context::<CurrentLang>();
    lang.into()
}

/// The texts of the current language, reactive.
pub fn use_texts() -> Signal<&'static Texts> {
    let CurrentLang(lang) = expect_context::<CurrentLang>();
    Signal::derive(move || lang.get().texts())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookie_wins_over_accept_language() {
        assert_eq!(
            Lang::negotiate(Some("de"), Some("en-US,en;q=0.9")),
            Lang::De
        );
    }

    #[test]
    fn accept_language_is_read_by_q_value() {
        assert_eq!(
            Lang::negotiate(None, Some("fr;q=1.0, en;q=0.5, de-DE;q=0.8")),
            Lang::De
        );
        assert_eq!(Lang::negotiate(None, Some("de-AT")), Lang::De);
        assert_eq!(Lang::negotiate(None, Some("fr, it")), Lang::En);
        assert_eq!(Lang::negotiate(Some("xx"), None), Lang::En);
    }
}
