//! One module per page.

pub mod api_tokens;
pub mod audit;
pub mod certificates;
pub mod confirm;
pub mod deprovision_holds;
pub mod deprovision_setting;
pub mod digest_toggle;
pub mod domain_table;
pub mod home;
pub mod login;
pub mod my_domains;
pub mod operator;
pub mod scim_tokens;
