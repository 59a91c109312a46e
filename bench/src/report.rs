//! The figures measured, printed as a table next to the targets and appended to
//! `bench/results.md` with the date and the machine.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::PathBuf;
use std::process::Command;

/// One measured figure.
#[derive(Debug, Clone)]
pub struct Figure {
    /// The target it belongs to (`P2`, …) or a label for side figures (`seed`, `all`).
    pub target_id: &'static str,
    /// What was measured.
    pub name: String,
    /// The measured value with its unit, or why it was not measured.
    pub value: String,
    /// The target, as SPEC §9 words it; empty for side figures.
    pub target: String,
    /// Whether the target is met; `None` for side figures and figures not measured.
    pub ok: Option<bool>,
}

impl Figure {
    /// A figure with a target.
    pub fn checked(
        target_id: &'static str,
        name: impl Into<String>,
        value: impl Into<String>,
        target: impl Into<String>,
        ok: bool,
    ) -> Figure {
        Figure {
            target_id,
            name: name.into(),
            value: value.into(),
            target: target.into(),
            ok: Some(ok),
        }
    }

    /// A side figure (for comparison or diagnosis), without a target of its own.
    pub fn info(
        target_id: &'static str,
        name: impl Into<String>,
        value: impl Into<String>,
    ) -> Figure {
        Figure {
            target_id,
            name: name.into(),
            value: value.into(),
            target: String::new(),
            ok: None,
        }
    }

    /// A figure with a target that could not be measured (e.g. its tool is missing).
    pub fn not_measured(
        target_id: &'static str,
        name: impl Into<String>,
        why: impl Into<String>,
        target: impl Into<String>,
    ) -> Figure {
        Figure {
            target_id,
            name: name.into(),
            value: format!("not measured: {}", why.into()),
            target: target.into(),
            ok: None,
        }
    }

    fn verdict(&self) -> &'static str {
        match (self.ok, self.target.is_empty()) {
            (Some(true), _) => "ok",
            (Some(false), _) => "MISSED",
            (None, true) => "",
            (None, false) => "?",
        }
    }
}

/// Every figure of one run.
#[derive(Debug, Default)]
pub struct Report {
    figures: Vec<Figure>,
    /// The engine named in the figures pushed now (`None`: SQLite, the default, unnamed).
    engine: Option<&'static str>,
}

impl Report {
    pub fn new() -> Report {
        Report::default()
    }

    /// Names `engine` in the figures pushed from now on ("on PostgreSQL: …"); `None` again for
    /// SQLite's.
    pub fn set_engine(&mut self, engine: Option<&'static str>) {
        self.engine = engine;
    }

    /// Adds a figure and prints it at once (a long run shows progress).
    pub fn push(&mut self, mut figure: Figure) {
        if let Some(engine) = self.engine {
            figure.name = format!("on {engine}: {}", figure.name);
        }
        println!(
            "  [{}] {}: {}{}",
            figure.target_id,
            figure.name,
            figure.value,
            if figure.target.is_empty() {
                String::new()
            } else {
                format!("  (target {}: {})", figure.target, figure.verdict())
            }
        );
        self.figures.push(figure);
    }

    /// The figures as a Markdown table.
    pub fn table(&self) -> String {
        let mut out =
            String::from("| | figure | measured | target | ok? |\n|---|---|---|---|---|\n");
        for f in &self.figures {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} |",
                f.target_id,
                f.name,
                f.value,
                f.target,
                f.verdict()
            );
        }
        out
    }

    /// Prints the table with a heading naming the machine.
    pub fn print(&self) {
        println!("\n{}\n\n{}", machine_line(), self.table());
    }

    /// Appends the table, under a heading with the date and the machine, to `bench/results.md`.
    pub fn append_to_results(&self) -> anyhow::Result<PathBuf> {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("results.md");
        let new = !path.exists();
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)?;
        if new {
            writeln!(
                file,
                "# Benchmark results\n\nAppended by `scripts/bench.sh` (the `ra-bench` binary of this \
                 crate), one section per run; the targets are SPEC §9's.\n"
            )?;
        }
        writeln!(file, "## {}\n\n{}", machine_line(), self.table())?;
        Ok(path)
    }
}

/// `2025-01-01T12:00:00Z, x86_64, 2 cores, commit abc1234 (with local changes)`.
fn machine_line() -> String {
    let date = command_output("date", &["-u", "+%Y-%m-%dT%H:%M:%SZ"]).unwrap_or_default();
    let arch = command_output("uname", &["-m"]).unwrap_or_else(|| std::env::consts::ARCH.into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let dir = env!("CARGO_MANIFEST_DIR");
    let commit = command_output("git", &["-C", dir, "rev-parse", "--short", "HEAD"]);
    let dirty =
        command_output("git", &["-C", dir, "status", "--porcelain"]).is_some_and(|s| !s.is_empty());
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, name)| name.trim().to_owned())
        })
        .unwrap_or_default();
    let mut line = format!("{date}, {arch}, {cores} cores");
    if !cpu.is_empty() {
        let _ = write!(line, " ({cpu})");
    }
    if let Some(commit) = commit {
        let _ = write!(
            line,
            ", commit {commit}{}",
            if dirty { " with local changes" } else { "" }
        );
    }
    line
}

fn command_output(program: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(program).args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// The process's peak resident set size in KiB (`VmHWM`), on Linux.
pub fn peak_rss_kib() -> Option<u64> {
    proc_status_field("VmHWM:")
}

/// The process's resident set now in KiB, split as `/proc/self/status` does: private memory
/// (`RssAnon`) and mapped files (`RssFile`: the database file that SQLite maps for reads, counted
/// once per connection that maps it although the pages are the kernel's shared file cache).
pub fn rss_anon_and_file_kib() -> Option<(u64, u64)> {
    Some((
        proc_status_field("RssAnon:")?,
        proc_status_field("RssFile:")?,
    ))
}

/// A `kB` field of `/proc/self/status`.
fn proc_status_field(name: &str) -> Option<u64> {
    status_field(&std::fs::read_to_string("/proc/self/status").ok()?, name)
}

/// A `kB` field (`VmRSS:` …) of the text of a `/proc/<pid>/status` file.
pub fn status_field(status: &str, name: &str) -> Option<u64> {
    status
        .lines()
        .find(|l| l.starts_with(name))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// Whether the process runs as root (effective uid 0), on Linux.
pub fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2).map(|uid| uid == "0"))
        })
        .unwrap_or(false)
}

/// Milliseconds with a precision that suits them.
pub fn ms(value: f64) -> String {
    if value < 10.0 {
        format!("{value:.2} ms")
    } else {
        format!("{value:.1} ms")
    }
}

/// CPU time used so far by this process, all threads, user and system (`/proc/self/stat`,
/// in clock ticks of 10 ms).
pub fn process_cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name, which is in parentheses and may hold spaces: state is the
    // 3rd field of the line, utime the 14th and stime the 15th.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / 100.0)
}
