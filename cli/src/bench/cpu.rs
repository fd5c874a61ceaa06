//! CPU time of whole processes, this one or another on the machine: what a
//! benchmark's work cost, beside how long it took. On a shared, noisy
//! machine the wall time of a run moves with the neighbours' load; the CPU
//! a process spent per operation moves far less, and says on which side of
//! a connection the time goes.

use std::time::Duration;

use anyhow::Context;
use nix::time::{ClockId, clock_getcpuclockid, clock_gettime};
use nix::unistd::Pid;

/// User and system CPU time of process `pid` (this process when `None`),
/// every thread it has run, the finished ones included, to the nanosecond.
pub fn process_cpu_time(pid: Option<u32>) -> anyhow::Result<Duration> {
    let clock = match pid {
        None => ClockId::CLOCK_PROCESS_CPUTIME_ID,
        Some(pid) => {
            let raw = i32::try_from(pid).with_context(|| format!("{pid} is not a process id"))?;
            clock_getcpuclockid(Pid::from_raw(raw))
                .with_context(|| format!("cannot find the CPU clock of process {pid}"))?
        }
    };
    let time = clock_gettime(clock).with_context(|| match pid {
        Some(pid) => format!("cannot read the CPU clock of process {pid}"),
        None => "cannot read the CPU clock of this process".to_string(),
    })?;
    Ok(Duration::from(time))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_process_clock_counts_the_work_done() {
        let before = process_cpu_time(None).unwrap();
        let mut x = 0u64;
        for i in 0..20_000_000u64 {
            x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(i));
        }
        let after = process_cpu_time(None).unwrap();
        assert!(after > before, "{before:?} then {after:?}");
        // The same clock, read through the process id.
        let by_pid = process_cpu_time(Some(std::process::id())).unwrap();
        assert!(by_pid >= after, "{after:?} then {by_pid:?}");
    }

    #[test]
    fn a_process_that_is_not_there_is_named() {
        // A child that has exited and been reaped.
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        child.wait().unwrap();
        let error = process_cpu_time(Some(pid)).unwrap_err();
        assert!(format!("{error:#}").contains(&pid.to_string()), "{error:#}");
    }
}
