//! The portal instances working on this database and their signs of life (migration 0015): how
//! one instance tells that the mail another one claimed is orphaned.

use super::Conn;

/// Records that `instance` is alive at `now` (first call: that it started).
pub async fn beat_instance(
    conn: &mut Conn,
    instance: &str,
    host: &str,
    now: i64,
) -> sqlx::Result<()> {
    crate::run!(conn, ex => sqlx::query(
        "INSERT INTO portal_instances (id, started_at, beat_at, host) VALUES ($1, $2, $2, $3)
         ON CONFLICT (id) DO UPDATE SET beat_at = excluded.beat_at
         WHERE excluded.beat_at > portal_instances.beat_at",
    )
    .bind(instance)
    .bind(now)
    .bind(host)
    .execute(ex)
    .await.map(crate::storage::engine::Done::from))?;
    Ok(())
}

/// Removes `instance` (it stops), and the records of instances silent since before `gone_before`.
pub async fn remove_instances(
    conn: &mut Conn,
    instance: &str,
    gone_before: i64,
) -> sqlx::Result<u64> {
    let done = crate::run!(conn, ex => sqlx::query("DELETE FROM portal_instances WHERE id = $1 OR beat_at < $2")
        .bind(instance)
        .bind(gone_before)
        .execute(ex)
        .await.map(crate::storage::engine::Done::from))?;
    Ok(done.rows_affected())
}

/// Forgets `instance` (its process is known to have ended): its claimed mail is free at once.
pub async fn forget_instance(conn: &mut Conn, instance: &str) -> sqlx::Result<()> {
    crate::run!(conn, ex => sqlx::query("DELETE FROM portal_instances WHERE id = $1")
        .bind(instance)
        .execute(ex)
        .await.map(crate::storage::engine::Done::from))?;
    Ok(())
}
