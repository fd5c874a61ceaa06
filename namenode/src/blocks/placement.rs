//! BlockPlacementPolicyDefault: where the replicas of a block go.
//!
//! First replica on the writer's node when the writer runs on a datanode,
//! second on another rack, third on the second's rack (another node), the
//! rest anywhere. Never a dead, decommissioning or full node, never two
//! replicas on one node; stale nodes only when nothing else is left. Among
//! candidates, load is spread with the "power of two choices": two random
//! candidates, the less loaded wins.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use rand::Rng;
use rand::seq::IndexedRandom;

use crate::datanodes::descriptor::{DatanodeDescriptor, DnIdx};
use crate::datanodes::manager::DatanodeManager;

/// What a placement decision depends on besides the cluster.
pub struct PlacementRequest<'a> {
    /// How many new targets are wanted.
    pub count: usize,
    /// The writer's host, for "first replica on the writer's node".
    pub writer_host: Option<&'a str>,
    /// Nodes already holding the block (re-replication), in order.
    pub chosen: &'a [DnIdx],
    /// Nodes that must not be used (the writer could not reach them, or
    /// they hold a corrupt replica).
    pub excluded: &'a HashSet<DnIdx>,
    pub block_size: u64,
    pub now: Instant,
    pub stale_interval: Duration,
}

/// Picks up to `req.count` new targets, in pipeline order.
pub fn choose_targets(dm: &DatanodeManager, req: &PlacementRequest<'_>) -> Vec<DnIdx> {
    let mut chosen: Vec<DnIdx> = req.chosen.to_vec();
    let mut new = Vec::new();
    let mut rng = rand::rng();
    for avoid_stale in [true, false] {
        while new.len() < req.count {
            let usable = |n: &&DatanodeDescriptor| {
                n.in_service()
                    && !req.excluded.contains(&n.idx)
                    && !chosen.contains(&n.idx)
                    && n.remaining_for_scheduling(req.block_size) >= req.block_size
                    && !(avoid_stale && n.is_stale(req.now, req.stale_interval))
            };
            let candidates: Vec<&DatanodeDescriptor> = dm.iter().filter(usable).collect();
            if candidates.is_empty() {
                break;
            }
            let rack_of = |idx: DnIdx| dm.get(idx).map(|n| n.rack.as_str()).unwrap_or("");
            let pick = match chosen.len() {
                0 => {
                    let local: Vec<&DatanodeDescriptor> = match req.writer_host {
                        Some(host) => candidates
                            .iter()
                            .copied()
                            .filter(|n| n.host == host)
                            .collect(),
                        None => Vec::new(),
                    };
                    if local.is_empty() {
                        two_choices(&candidates, &mut rng)
                    } else {
                        least_loaded(&local)
                    }
                }
                1 => {
                    let first_rack = rack_of(chosen[0]);
                    prefer(&candidates, |n| n.rack != first_rack, &mut rng)
                }
                2 => {
                    let (r0, r1) = (rack_of(chosen[0]), rack_of(chosen[1]));
                    if r0 == r1 {
                        prefer(&candidates, |n| n.rack != r0, &mut rng)
                    } else {
                        prefer(&candidates, |n| n.rack == r1, &mut rng)
                    }
                }
                _ => two_choices(&candidates, &mut rng),
            };
            let Some(idx) = pick else {
                break;
            };
            chosen.push(idx);
            new.push(idx);
        }
        if new.len() >= req.count {
            break;
        }
    }
    new
}

/// A candidate satisfying `want` if any, else any candidate.
fn prefer(
    candidates: &[&DatanodeDescriptor],
    want: impl Fn(&DatanodeDescriptor) -> bool,
    rng: &mut impl Rng,
) -> Option<DnIdx> {
    let matching: Vec<&DatanodeDescriptor> =
        candidates.iter().copied().filter(|n| want(n)).collect();
    if matching.is_empty() {
        two_choices(candidates, rng)
    } else {
        two_choices(&matching, rng)
    }
}

fn better(a: &DatanodeDescriptor, b: &DatanodeDescriptor) -> bool {
    (a.load(), std::cmp::Reverse(a.remaining)) <= (b.load(), std::cmp::Reverse(b.remaining))
}

fn two_choices(candidates: &[&DatanodeDescriptor], rng: &mut impl Rng) -> Option<DnIdx> {
    let a = candidates.choose(rng)?;
    let b = candidates.choose(rng)?;
    Some(if better(a, b) { a.idx } else { b.idx })
}

fn least_loaded(candidates: &[&DatanodeDescriptor]) -> Option<DnIdx> {
    candidates
        .iter()
        .min_by_key(|n| (n.load(), std::cmp::Reverse(n.remaining), n.idx))
        .map(|n| n.idx)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::NamenodeConfig;
    use cairn_proto::pb;

    fn cluster(nodes: &[(&str, &str, u32)]) -> (DatanodeManager, Instant) {
        let mut config = NamenodeConfig::default();
        let now = Instant::now();
        let mut dm = DatanodeManager::default();
        for (i, (host, rack, port)) in nodes.iter().enumerate() {
            config
                .racks
                .insert(format!("{host}:{port}"), rack.to_string());
            let reg = pb::DatanodeRegistration {
                datanode_uuid: format!("dn{i}"),
                host: host.to_string(),
                xfer_port: *port,
                ..Default::default()
            };
            dm.register(&reg, &config, now);
            dm.heartbeat(
                &pb::HeartbeatRequest {
                    datanode_uuid: format!("dn{i}"),
                    capacity: 1 << 40,
                    remaining: 1 << 40,
                    ..Default::default()
                },
                now,
            )
            .unwrap();
        }
        (dm, now)
    }

    fn request<'a>(
        count: usize,
        host: Option<&'a str>,
        excluded: &'a HashSet<DnIdx>,
        now: Instant,
    ) -> PlacementRequest<'a> {
        PlacementRequest {
            count,
            writer_host: host,
            chosen: &[],
            excluded,
            block_size: 1 << 20,
            now,
            stale_interval: Duration::from_secs(30),
        }
    }

    #[test]
    fn never_two_replicas_on_one_node() {
        let (dm, now) = cluster(&[("h1", "/r1", 1), ("h2", "/r1", 2), ("h3", "/r2", 3)]);
        let none = HashSet::new();
        for _ in 0..200 {
            let targets = choose_targets(&dm, &request(5, Some("h2"), &none, now));
            assert_eq!(targets.len(), 3, "only three nodes exist");
            let unique: HashSet<_> = targets.iter().collect();
            assert_eq!(unique.len(), 3);
            assert_eq!(targets[0], 1, "first replica on the writer's node");
        }
    }

    #[test]
    fn respects_racks() {
        let (dm, now) = cluster(&[
            ("a1", "/ra", 1),
            ("a2", "/ra", 2),
            ("a3", "/ra", 3),
            ("b1", "/rb", 4),
            ("b2", "/rb", 5),
            ("b3", "/rb", 6),
        ]);
        let none = HashSet::new();
        for _ in 0..200 {
            let t = choose_targets(&dm, &request(3, Some("a1"), &none, now));
            assert_eq!(t.len(), 3);
            let rack = |i: DnIdx| dm.get(i).unwrap().rack.clone();
            assert_eq!(t[0], 0);
            assert_eq!(rack(t[0]), "/ra");
            assert_eq!(rack(t[1]), "/rb", "second replica on another rack");
            assert_eq!(rack(t[2]), "/rb", "third on the second's rack");
            assert_ne!(t[1], t[2]);
        }
    }

    #[test]
    fn skips_excluded_full_and_dead_nodes() {
        let (mut dm, now) = cluster(&[("h", "/r", 1), ("h", "/r", 2), ("h", "/r", 3)]);
        dm.get_mut(1).unwrap().remaining = 0;
        dm.get_mut(2).unwrap().alive = false;
        let excluded: HashSet<DnIdx> = HashSet::new();
        assert_eq!(
            choose_targets(&dm, &request(3, Some("h"), &excluded, now)),
            vec![0]
        );
        let excluded: HashSet<DnIdx> = [0].into_iter().collect();
        assert!(choose_targets(&dm, &request(3, Some("h"), &excluded, now)).is_empty());
    }

    #[test]
    fn local_choice_takes_the_least_loaded() {
        let (mut dm, now) = cluster(&[("h", "/r", 1), ("h", "/r", 2), ("h", "/r", 3)]);
        dm.get_mut(0).unwrap().xceiver_count = 5;
        dm.get_mut(1).unwrap().xceiver_count = 1;
        dm.get_mut(2).unwrap().xceiver_count = 3;
        let none = HashSet::new();
        assert_eq!(
            choose_targets(&dm, &request(1, Some("h"), &none, now)),
            vec![1]
        );
    }
}
