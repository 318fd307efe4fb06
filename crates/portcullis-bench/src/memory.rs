//! A process's resident memory and CPU time, from /proc (Linux). `proc` is `/proc/self` or
//! `/proc/<pid>` of a server running beside the bench.

/// A field of the process's status in KiB (`VmRSS:`, `VmHWM:`).
pub(crate) fn kib(proc: &str, field: &str) -> Option<u64> {
    std::fs::read_to_string(format!("{proc}/status"))
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// Resets the peak (VmHWM) to the current RSS, so a later peak belongs to what ran after.
pub(crate) fn reset_peak(proc: &str) {
    let _ = std::fs::write(format!("{proc}/clear_refs"), "5");
}

/// CPU time (user + system) used so far by the process, and by every process named
/// `postgres` on the machine (the database server, when it runs here), in milliseconds.
pub(crate) fn cpu_ms(proc: &str) -> (f64, f64) {
    // Clock ticks per second: 100 on every Linux this runs on (USER_HZ).
    const TICK_MS: f64 = 10.0;
    let ticks = |stat: &str| -> f64 {
        // Fields after the command name (which is in parentheses and may hold spaces).
        let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
        let f: Vec<&str> = rest.split_whitespace().collect();
        let n = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
        n(11) + n(12)
    };
    let own = std::fs::read_to_string(format!("{proc}/stat")).map_or(0.0, |s| ticks(&s)) * TICK_MS;
    let mut pg = 0.0;
    if let Ok(dir) = std::fs::read_dir("/proc") {
        for entry in dir.flatten() {
            let path = entry.path();
            let is_pg =
                std::fs::read_to_string(path.join("comm")).is_ok_and(|c| c.trim() == "postgres");
            if is_pg {
                pg +=
                    std::fs::read_to_string(path.join("stat")).map_or(0.0, |s| ticks(&s)) * TICK_MS;
            }
        }
    }
    (own, pg)
}
