// `sqlx::migrate!` embeds the migration files at compile time; without this, a migration added to a
// folder would not make cargo build the crate again, and the binary would lack it.
fn main() {
    println!("cargo:rerun-if-changed=../migrations");
    println!("cargo:rerun-if-changed=../migrations/postgres");
}
