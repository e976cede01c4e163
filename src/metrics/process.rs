//! Process metrics read from `/proc/self` at scrape time (Linux; nothing elsewhere).
//!
//! Owns: parsing `/proc/self/stat` (CPU), `/proc/self/status` (RSS) and counting
//! `/proc/self/fd`. CPU ticks are converted at 100 per second (`USER_HZ`, which Linux
//! fixes at 100 for user space on every mainstream architecture).

use std::path::Path;

/// `USER_HZ`: the unit of `utime`/`stime` in `/proc/<pid>/stat`.
const TICKS_PER_SEC: f64 = 100.0;

/// A reading of the process's resources.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ProcessStats {
    /// User plus system CPU time.
    pub cpu_seconds: f64,
    pub resident_bytes: u64,
    pub open_fds: u64,
}

/// Reads `/proc/self`; `None` where it does not exist.
pub fn read() -> Option<ProcessStats> {
    let proc = Path::new("/proc/self");
    let stat = std::fs::read_to_string(proc.join("stat")).ok()?;
    let status = std::fs::read_to_string(proc.join("status")).ok()?;
    let open_fds = std::fs::read_dir(proc.join("fd")).ok()?.count() as u64;
    Some(ProcessStats {
        cpu_seconds: cpu_seconds(&stat)?,
        resident_bytes: resident_bytes(&status)?,
        open_fds,
    })
}

/// `utime + stime` of a `/proc/<pid>/stat` line, in seconds. The command name (field 2)
/// may hold spaces and parentheses, so fields are counted after its last `)`.
pub fn cpu_seconds(stat: &str) -> Option<f64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_ascii_whitespace();
    // `rest` starts at field 3 (state); utime and stime are fields 14 and 15.
    let utime: u64 = fields.nth(11)?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some((utime + stime) as f64 / TICKS_PER_SEC)
}

/// `VmRSS` of a `/proc/<pid>/status`, in bytes.
pub fn resident_bytes(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let mut parts = line["VmRSS:".len()..].split_ascii_whitespace();
    let n: u64 = parts.next()?.parse().ok()?;
    match parts.next() {
        Some("kB") | None => Some(n * 1024),
        Some(_) => None,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn parses_stat_with_odd_command_names() {
        let stat = "4242 (my (odd) cmd) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 150 0 0 20 0 9 0 1234 5678 90 18446744073709551615";
        assert_eq!(cpu_seconds(stat), Some(4.0));
        assert_eq!(cpu_seconds("garbage"), None);
    }

    #[test]
    fn parses_status_rss() {
        let status = "Name:\tsluice\nVmPeak:\t  9000 kB\nVmRSS:\t    2048 kB\nThreads:\t9\n";
        assert_eq!(resident_bytes(status), Some(2048 * 1024));
        assert_eq!(resident_bytes("Name: x\n"), None);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn reads_this_process() {
        let s = read().unwrap();
        assert!(s.resident_bytes > 1 << 20, "{s:?}");
        assert!(s.open_fds >= 3, "{s:?}");
        assert!(s.cpu_seconds >= 0.0);
    }
}
