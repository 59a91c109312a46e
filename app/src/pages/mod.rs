//! One module per page.

pub mod home;
pub mod login;
pub mod my_certificates;
pub mod my_domains;
pub mod operator;
