//! Folders and files that only the portal's own user may read (SPEC Q8: folders 0700, files 0600).
//!
//! Modes are set explicitly rather than through the process's umask: the server, the command
//! line and the tests all create the same folders, and a umask is process-wide state that a
//! library should not change under its host. SQLite gives its `-wal` and `-shm` files the mode of
//! the database file, so a database file created 0600 is enough for those.

use std::fs;
use std::io;
use std::path::Path;

/// Mode of every folder the portal creates or owns.
pub const PRIVATE_DIR_MODE: u32 = 0o700;
/// Mode of every file the portal writes into its folders.
pub const PRIVATE_FILE_MODE: u32 = 0o600;

/// Creates `dir` (and any missing parent) with mode 0700, or takes group and other permissions
/// off an existing one, so that a data folder made by an older version becomes private too.
pub fn ensure_private_dir(dir: &Path) -> io::Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, PRIVATE_DIR_MODE);
    builder.create(dir)?;
    tighten(dir)
}

/// Takes group and other permissions off `path` if it exists (a missing file is no error: it
/// will be created private).
pub fn tighten(path: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let meta = match fs::metadata(path) {
            Ok(meta) => meta,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e),
        };
        let mode = meta.permissions().mode() & 0o7777;
        if mode & 0o077 != 0 {
            fs::set_permissions(path, fs::Permissions::from_mode(mode & 0o700))?;
            tracing::info!(path = %path.display(), from = format!("{mode:o}"), to = format!("{:o}", mode & 0o700),
                "took group and other permissions off (Q8)");
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

/// Creates `path` empty with mode 0600 if it does not exist yet (an existing file is tightened).
pub fn create_private_file(path: &Path) -> io::Result<()> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create(true).truncate(false);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, PRIVATE_FILE_MODE);
    options.open(path)?;
    tighten(path)
}

/// Waits for the exclusive lock on the private file `path` (made if missing) and holds it until
/// the returned file is dropped: processes starting on one data folder take turns with it.
pub fn lock_exclusively(path: &Path) -> io::Result<fs::File> {
    create_private_file(path)?;
    let file = fs::OpenOptions::new().write(true).open(path)?;
    file.lock()?;
    Ok(file)
}
