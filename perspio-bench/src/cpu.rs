//! CPU time of the whole process, from `/proc/self/task/*/schedstat` (the first field: time
//! on a CPU, in nanoseconds, per thread): precise where `getrusage`'s ticks are not, and safe
//! code. Linux only; elsewhere (or without schedstat) it reads 0 and the rows are left out.

/// Nanoseconds every live thread of this process has run.
pub(crate) fn process_ns() -> u64 {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return 0;
    };
    tasks
        .flatten()
        .filter_map(|task| std::fs::read_to_string(task.path().join("schedstat")).ok())
        .filter_map(|stat| stat.split_whitespace().next()?.parse::<u64>().ok())
        .sum()
}

/// CPU seconds `(user, system)` of this process's children that have been waited for, and of
/// their own waited-for children (a `cargo build`'s rustc and build scripts): `cutime` and
/// `cstime` of `/proc/self/stat`, in the kernel's fixed 100 ticks per second. `None` where
/// `/proc` cannot be read.
pub(crate) fn children_cpu() -> Option<(f64, f64)> {
    children_cpu_of(&std::fs::read_to_string("/proc/self/stat").ok()?)
}

/// [`children_cpu`] from the text of a `/proc/<pid>/stat`.
fn children_cpu_of(stat: &str) -> Option<(f64, f64)> {
    // The fields after the command name (which may itself hold spaces and parentheses):
    // field 3 (state) is the first; cutime and cstime are fields 16 and 17.
    let fields: Vec<&str> = stat
        .get(stat.rfind(')')? + 1..)?
        .split_whitespace()
        .collect();
    let ticks = |field: usize| fields.get(field - 3)?.parse::<f64>().ok();
    Some((ticks(16)? / 100.0, ticks(17)? / 100.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_children_times_are_read_after_a_command_name_with_parentheses() {
        // pid (comm) state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt
        // utime stime cutime cstime …
        let stat = "4242 (a) b (c)) S 1 4242 4242 0 -1 4194560 10 20 0 0 7 3 12345 678 20 0 1 0";
        assert_eq!(children_cpu_of(stat), Some((123.45, 6.78)));
        assert_eq!(children_cpu_of("4242 (cut short) S 1 2"), None);
    }

    #[test]
    fn this_process_can_read_its_own() {
        if cfg!(target_os = "linux") {
            assert!(children_cpu().is_some());
        }
    }
}
