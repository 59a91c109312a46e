//! The delivery journal: each instance notes the id of every mail the relay accepted in a file
//! of its own, the moment the relay said so, before it records that in the database.
//!
//! A process killed between the relay's "250 OK" and the database record would leave the mail
//! queued, and the instance that takes it over would send it again. One `write` to a file in the
//! page cache survives the kill (it takes microseconds; the record waits for the database's write
//! lock, milliseconds under load), so the instance that takes a mail over from a silent one reads
//! the journals first and only records what was sent. Instances on one machine share the journal
//! folder; a machine that is lost takes its journal with it, and its mail in flight is sent again
//! (at-least-once, as without the journal). What no journal can know: a relay that accepts a mail
//! whose sender died after the final `.` but before the relay's answer (the relay finishes writing
//! its queue file regardless); that mail is sent again too.

use std::collections::HashSet;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

/// Journals of instances gone longer than this are removed at start (their mail was taken over
/// within minutes).
const KEEP_GONE_JOURNALS: Duration = Duration::from_secs(7 * 24 * 3600);

/// One instance's journal, open for appending.
#[derive(Debug)]
pub struct DeliveryJournal {
    folder: PathBuf,
    path: PathBuf,
    file: Mutex<File>,
}

impl DeliveryJournal {
    /// Opens (creating) the journal of `instance` in `folder` (made private if missing), and removes
    /// journals there that nobody wrote to for a week.
    pub fn open(folder: &Path, instance: &str) -> io::Result<DeliveryJournal> {
        crate::private_files::ensure_private_dir(folder)?;
        remove_old_journals(folder);
        let path = journal_path(folder, instance);
        crate::private_files::create_private_file(&path)?;
        let file = OpenOptions::new().append(true).open(&path)?;
        // Held while the process lives: the kernel lets go of it when the process dies, however
        // it dies, which tells the other instances here that it is gone (see `gone_instances`).
        file.lock()?;
        Ok(DeliveryJournal {
            folder: folder.to_owned(),
            path,
            file: Mutex::new(file),
        })
    }

    /// Notes that the relay accepted mail `id`: one `write`, no sync (a killed process's writes
    /// are in the page cache; a power loss also loses the database's last commits).
    pub fn note_sent(&self, id: i64) -> io::Result<()> {
        let mut file = self.file.lock().unwrap_or_else(|e| e.into_inner());
        file.write_all(format!("{id}\n").as_bytes())
    }

    /// Removes the journal (the instance stops with every outcome recorded).
    pub fn remove(&self) -> io::Result<()> {
        fs::remove_file(&self.path)
    }

    /// The instances on this machine whose process has ended: their journal is here, but nobody
    /// holds its lock any more. A killed instance is known to be gone at once, not only after its
    /// timeout, so the instance started after it sends its mail without waiting.
    pub fn gone_instances(&self) -> io::Result<Vec<String>> {
        let mut gone = Vec::new();
        for entry in fs::read_dir(&self.folder)? {
            let path = entry?.path();
            if path == self.path || path.extension().is_none_or(|e| e != "sent") {
                continue;
            }
            let Ok(file) = File::open(&path) else {
                continue; // removed meanwhile: stopped cleanly
            };
            if file.try_lock().is_ok() {
                if let Some(id) = path.file_stem().and_then(|s| s.to_str()) {
                    gone.push(id.to_owned());
                }
            }
        }
        Ok(gone)
    }

    /// The ids of the mails that any journal in this one's folder names as accepted by the relay:
    /// those of every instance on this machine, the gone ones' included (a mail may have passed
    /// through several that were killed in turn). An unreadable journal is an error.
    pub fn all_sent(&self) -> io::Result<HashSet<i64>> {
        let mut sent = HashSet::new();
        for entry in fs::read_dir(&self.folder)? {
            let path = entry?.path();
            if path.extension().is_some_and(|e| e == "sent") {
                match fs::read_to_string(&path) {
                    Ok(text) => sent.extend(ids_in(&text)),
                    // Removed meanwhile: its instance stopped with every outcome recorded.
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(sent)
    }
}

/// The whole lines of a journal; a line cut off by a kill is not a whole id and is left out.
fn ids_in(text: &str) -> impl Iterator<Item = i64> + '_ {
    text.split_inclusive('\n')
        .filter_map(|line| line.strip_suffix('\n')?.parse().ok())
}

/// The journal's file: the instance id is 32 hex digits, anything else is not a file name here.
fn journal_path(folder: &Path, instance: &str) -> PathBuf {
    let safe: String = instance
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    folder.join(format!("{safe}.sent"))
}

fn remove_old_journals(folder: &Path) {
    let Ok(entries) = fs::read_dir(folder) else {
        return;
    };
    for entry in entries.flatten() {
        let old = entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|modified| SystemTime::now().duration_since(modified).ok())
            .is_some_and(|age| age > KEEP_GONE_JOURNALS);
        if old {
            let _ = fs::remove_file(entry.path());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn r09_a_journal_names_what_was_noted_and_skips_a_cut_off_line() {
        let dir = tempfile::tempdir().unwrap();
        let journal = DeliveryJournal::open(dir.path(), "abc").unwrap();
        journal.note_sent(7).unwrap();
        journal.note_sent(12).unwrap();
        fs::OpenOptions::new()
            .append(true)
            .open(dir.path().join("abc.sent"))
            .unwrap()
            .write_all(b"13")
            .unwrap();

        let other = DeliveryJournal::open(dir.path(), "other").unwrap();
        other.note_sent(40).unwrap();
        assert!(
            other.gone_instances().unwrap().is_empty(),
            "abc's lock is held"
        );

        assert_eq!(journal.all_sent().unwrap(), HashSet::from([7, 12, 40]));
        drop(journal); // the process of "abc" ends: its lock goes, its journal stays
        assert_eq!(other.gone_instances().unwrap(), ["abc"]);
        assert_eq!(other.all_sent().unwrap(), HashSet::from([7, 12, 40]));
        other.remove().unwrap();
        assert!(!dir.path().join("other.sent").exists());
    }

    #[test]
    fn r09_an_instance_id_cannot_name_a_file_elsewhere() {
        let path = journal_path(Path::new("/data/journal"), "../../etc/x");
        assert_eq!(path, Path::new("/data/journal/______etc_x.sent"));
    }
}
