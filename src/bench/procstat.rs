//! Server CPU and memory from `/proc`: utime+stime of a process and all its descendants
//! (`/proc/PID/stat` already covers a process's threads), VmHWM and VmRSS from
//! `/proc/PID/status`, machine load from `/proc/loadavg` and `/proc/stat`.
//!
//! Owns: parsing those files. Does not own: when samples are taken (`load`).

use std::collections::HashMap;

/// USER_HZ: the unit of utime/stime. 100 on every Linux architecture sluice runs on
/// (reading it with `sysconf` would need `unsafe`).
pub const CLK_TCK: f64 = 100.0;

/// The fields of `/proc/PID/stat` we use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stat {
    pub pid: u32,
    pub ppid: u32,
    /// utime + stime, in clock ticks.
    pub cpu_ticks: u64,
}

/// Parses one `/proc/PID/stat` line. The command name is in parentheses and may itself hold
/// spaces and parentheses, so fields are counted from the last `)`.
pub fn parse_stat(text: &str) -> Option<Stat> {
    let pid = text.split_whitespace().next()?.parse().ok()?;
    let rest = &text[text.rfind(')')? + 1..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    // rest starts at field 3 (state): ppid is field 4, utime 14, stime 15.
    let ppid = f.get(1)?.parse().ok()?;
    let utime: u64 = f.get(11)?.parse().ok()?;
    let stime: u64 = f.get(12)?.parse().ok()?;
    Some(Stat {
        pid,
        ppid,
        cpu_ticks: utime + stime,
    })
}

/// `VmHWM` and `VmRSS` of `/proc/PID/status`, in KiB.
pub fn parse_status_mem(text: &str) -> (Option<u64>, Option<u64>) {
    let kib = |key: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
    };
    (kib("VmHWM:"), kib("VmRSS:"))
}

/// A reading of one process tree.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct TreeSample {
    /// CPU seconds of the root and its live descendants.
    pub cpu_s: f64,
    /// Sum of VmHWM over the tree, in KiB (each since its own start).
    pub hwm_kib: u64,
    /// Sum of VmRSS over the tree, in KiB.
    pub rss_kib: u64,
    /// Processes counted.
    pub procs: usize,
}

/// Reads the tree rooted at `root` (None if `root` is gone).
pub fn sample_tree(root: u32) -> Option<TreeSample> {
    let root_stat = read_stat(root)?;
    let mut by_parent: HashMap<u32, Vec<Stat>> = HashMap::new();
    if let Ok(dir) = std::fs::read_dir("/proc") {
        for e in dir.flatten() {
            let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
                continue;
            };
            if let Some(st) = read_stat(pid) {
                by_parent.entry(st.ppid).or_default().push(st);
            }
        }
    }
    let mut out = TreeSample::default();
    let mut todo = vec![root_stat];
    while let Some(st) = todo.pop() {
        out.cpu_s += st.cpu_ticks as f64 / CLK_TCK;
        out.procs += 1;
        if let Ok(text) = std::fs::read_to_string(format!("/proc/{}/status", st.pid)) {
            let (hwm, rss) = parse_status_mem(&text);
            out.hwm_kib += hwm.unwrap_or(0);
            out.rss_kib += rss.unwrap_or(0);
        }
        if let Some(kids) = by_parent.remove(&st.pid) {
            todo.extend(kids);
        }
    }
    Some(out)
}

fn read_stat(pid: u32) -> Option<Stat> {
    parse_stat(&std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
}

/// CPU seconds (utime+stime) of this process.
pub fn self_cpu_s() -> f64 {
    std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|t| parse_stat(&t))
        .map_or(0.0, |s| s.cpu_ticks as f64 / CLK_TCK)
}

/// The 1-minute load average.
pub fn loadavg_1m() -> Option<f64> {
    std::fs::read_to_string("/proc/loadavg")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// (busy, total) jiffies of the `cpu` line of `/proc/stat`; idle = idle + iowait.
pub fn parse_cpu_line(text: &str) -> Option<(u64, u64)> {
    let line = text.lines().find(|l| l.starts_with("cpu "))?;
    let v: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|x| x.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal (guest fields are inside user/nice).
    let total: u64 = v.iter().take(8).sum();
    let idle = v.get(3)? + v.get(4).unwrap_or(&0);
    Some((total - idle, total))
}

/// Machine-wide busy fraction (0..=1, all cores) over `window`.
pub async fn busy_fraction(window: std::time::Duration) -> Option<f64> {
    let read = || {
        std::fs::read_to_string("/proc/stat")
            .ok()
            .and_then(|t| parse_cpu_line(&t))
    };
    let (b0, t0) = read()?;
    tokio::time::sleep(window).await;
    let (b1, t1) = read()?;
    let dt = t1.checked_sub(t0).filter(|d| *d > 0)?;
    Some((b1.saturating_sub(b0)) as f64 / dt as f64)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn parses_stat_with_tricky_command_name() {
        let line = "4242 (a b) (c)) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 75 0 0 20 0 3 0 1 2 3";
        let s = parse_stat(line).unwrap();
        assert_eq!((s.pid, s.ppid, s.cpu_ticks), (4242, 1, 325));
    }

    #[test]
    fn our_own_cpu_grows_when_we_spin_and_the_tree_includes_us() {
        let before = sample_tree(std::process::id()).unwrap();
        let t0 = self_cpu_s();
        let start = std::time::Instant::now();
        let mut x = 0u64;
        while start.elapsed() < std::time::Duration::from_millis(150) {
            x = x.wrapping_mul(31).wrapping_add(1);
        }
        std::hint::black_box(x);
        let after = sample_tree(std::process::id()).unwrap();
        assert!(self_cpu_s() - t0 >= 0.05, "cpu did not grow");
        assert!(after.cpu_s >= before.cpu_s + 0.05);
        assert!(after.hwm_kib > 0 && after.rss_kib > 0 && after.procs >= 1);
        assert!(sample_tree(u32::MAX).is_none());
    }

    #[test]
    fn parses_status_and_cpu_lines() {
        let st = "Name:\tx\nVmHWM:\t  12345 kB\nVmRSS:\t   999 kB\n";
        assert_eq!(parse_status_mem(st), (Some(12345), Some(999)));
        let cpu = "cpu  100 0 50 800 50 0 0 0 0 0\ncpu0 1 2 3\n";
        assert_eq!(parse_cpu_line(cpu), Some((150, 1000)));
        assert!(loadavg_1m().is_some());
    }
}
