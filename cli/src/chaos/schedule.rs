//! The seeded schedule of faults: the whole plan is drawn from `--seed`
//! before the run starts, so two runs with one seed inflict the same faults
//! at the same moments (only the files they hit depend on the workload).
//!
//! Invariant: at no moment are more than `max_down` datanodes killed or
//! paused at once. Every fault is undone by the end of the plan.

use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// One fault, or its undoing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// SIGKILL datanode i.
    Kill(usize),
    /// Start datanode i again after a kill.
    Restart(usize),
    /// SIGSTOP datanode i.
    Pause(usize),
    /// SIGCONT datanode i.
    Resume(usize),
    /// Flip a byte in a finalized block file on datanode i's disk.
    Corrupt(usize),
    /// SIGKILL the namenode.
    KillNamenode,
    /// Start the namenode again.
    RestartNamenode,
}

/// What the plan may do.
#[derive(Debug, Clone, Copy)]
pub struct ScheduleOptions {
    pub seed: u64,
    pub duration: Duration,
    /// Mean time between two faults.
    pub interval: Duration,
    pub datanodes: usize,
    pub max_down: usize,
    /// SIGSTOP/SIGCONT is possible (the processes are ours).
    pub pauses: bool,
    /// Block files can be reached on disk.
    pub corruption: bool,
    pub kill_namenode: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum NodeState {
    Up,
    Killed,
    Paused,
}

/// Draws the plan: (time since start, action), in time order.
pub fn plan(options: &ScheduleOptions) -> Vec<(Duration, Action)> {
    let mut rng = StdRng::seed_from_u64(options.seed);
    let mut nodes = vec![NodeState::Up; options.datanodes];
    let mut out = Vec::new();
    let mut namenode_back_at: Option<Duration> = None;
    let mut next_namenode_kill = options.duration / 3;
    let mean = options.interval.as_secs_f64().max(0.01);
    let mut now = Duration::ZERO;
    loop {
        now += Duration::from_secs_f64(mean * rng.random_range(0.5..1.5));
        if now >= options.duration {
            break;
        }
        if let Some(at) = namenode_back_at
            && at <= now
        {
            out.push((at, Action::RestartNamenode));
            namenode_back_at = None;
        }
        if options.kill_namenode && namenode_back_at.is_none() && now >= next_namenode_kill {
            out.push((now, Action::KillNamenode));
            namenode_back_at = Some(now + Duration::from_secs_f64(rng.random_range(1.0..3.0)));
            next_namenode_kill = now + options.duration / 3;
            continue;
        }
        if let Some(action) = choose(&mut rng, &nodes, options) {
            apply(&mut nodes, action);
            out.push((now, action));
        }
    }
    if namenode_back_at.is_some() {
        out.push((options.duration, Action::RestartNamenode));
    }
    for (i, state) in nodes.iter().enumerate() {
        match state {
            NodeState::Killed => out.push((options.duration, Action::Restart(i))),
            NodeState::Paused => out.push((options.duration, Action::Resume(i))),
            NodeState::Up => {}
        }
    }
    out
}

fn apply(nodes: &mut [NodeState], action: Action) {
    let (i, state) = match action {
        Action::Kill(i) => (i, NodeState::Killed),
        Action::Pause(i) => (i, NodeState::Paused),
        Action::Restart(i) | Action::Resume(i) => (i, NodeState::Up),
        _ => return,
    };
    if let Some(node) = nodes.get_mut(i) {
        *node = state;
    }
}

/// Picks the next datanode fault by weight among those allowed now.
fn choose(rng: &mut StdRng, nodes: &[NodeState], options: &ScheduleOptions) -> Option<Action> {
    let down = nodes.iter().filter(|s| **s != NodeState::Up).count();
    let mut candidates: Vec<(Action, u32)> = Vec::new();
    for (i, state) in nodes.iter().enumerate() {
        match state {
            NodeState::Up => {
                if down < options.max_down {
                    candidates.push((Action::Kill(i), 6));
                    if options.pauses {
                        candidates.push((Action::Pause(i), 1));
                    }
                }
                if options.corruption {
                    candidates.push((Action::Corrupt(i), 1));
                }
            }
            NodeState::Killed => candidates.push((Action::Restart(i), 5)),
            NodeState::Paused => candidates.push((Action::Resume(i), 6)),
        }
    }
    let total: u32 = candidates.iter().map(|(_, w)| w).sum();
    if total == 0 {
        return None;
    }
    let mut pick = rng.random_range(0..total);
    for (action, weight) in candidates {
        if pick < weight {
            return Some(action);
        }
        pick -= weight;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(seed: u64) -> ScheduleOptions {
        ScheduleOptions {
            seed,
            duration: Duration::from_secs(60),
            interval: Duration::from_millis(800),
            datanodes: 5,
            max_down: 2,
            pauses: true,
            corruption: true,
            kill_namenode: true,
        }
    }

    #[test]
    fn same_seed_same_plan_and_never_too_many_down() {
        for seed in 0..20 {
            let plan_a = plan(&options(seed));
            assert_eq!(plan_a, plan(&options(seed)));
            let mut nodes = vec![NodeState::Up; 5];
            let mut namenode_up = true;
            let mut last = Duration::ZERO;
            for &(at, action) in &plan_a {
                assert!(at >= last, "out of order: {plan_a:?}");
                last = at;
                match action {
                    Action::KillNamenode => {
                        assert!(namenode_up);
                        namenode_up = false;
                    }
                    Action::RestartNamenode => {
                        assert!(!namenode_up);
                        namenode_up = true;
                    }
                    Action::Restart(i) => assert_eq!(nodes[i], NodeState::Killed),
                    Action::Resume(i) => assert_eq!(nodes[i], NodeState::Paused),
                    Action::Kill(i) | Action::Pause(i) | Action::Corrupt(i) => {
                        assert_eq!(nodes[i], NodeState::Up)
                    }
                }
                apply(&mut nodes, action);
                assert!(nodes.iter().filter(|s| **s != NodeState::Up).count() <= 2);
            }
            assert!(namenode_up, "the namenode is restarted by the end");
            assert!(nodes.iter().all(|s| *s == NodeState::Up), "all undone");
            let kills = plan_a
                .iter()
                .filter(|(_, a)| matches!(a, Action::Kill(_)))
                .count();
            assert!(kills >= 20, "seed {seed}: only {kills} kills");
            assert!(plan_a.iter().any(|(_, a)| *a == Action::KillNamenode));
        }
        assert_ne!(plan(&options(1)), plan(&options(2)));
    }

    #[test]
    fn no_pauses_or_corruption_when_not_possible() {
        let plan = plan(&ScheduleOptions {
            pauses: false,
            corruption: false,
            kill_namenode: false,
            ..options(3)
        });
        assert!(
            plan.iter()
                .all(|(_, a)| matches!(a, Action::Kill(_) | Action::Restart(_)))
        );
    }
}
