//! The dependency DAG between a member's tasks (docs/contract/task.md#dependencies).
//!
//! An edge `from → to` means "`from` must be completed before `to`": `from` is a *prerequisite*
//! (predecessor) of `to`. The graph has set semantics — an edge is there or not — so adding an edge
//! that exists and removing one that does not are no-ops (the reference failed with a 500 on the
//! first and let inbound counts drift on the second, docs/contract/task.md#dependency-graph). Every change is checked for cycles
//! before it is applied; `inbound_dependency_count` is derived from the effective change.
//!
//! Request shapes: on **create**, each pair has `0` on exactly one side standing for the new task
//! ([`CreateDependencies`]); on **update**, `0` is forbidden and every pair must touch the updated
//! task ([`UpdateDependencies`]). Whether the referenced tasks exist and belong to the member is
//! for the app layer to check ([`CreateDependencies::referenced_tasks`],
//! [`UpdateDependencies::referenced_tasks`]); a foreign or missing id is a 404 there.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use super::TaskId;
use super::error::DependencyError;

/// A `{fromId, toId}` item as it arrives in a request (`0` is the create placeholder).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DependencyPair {
    pub from_id: i64,
    pub to_id: i64,
}

impl DependencyPair {
    pub const fn new(from_id: i64, to_id: i64) -> Self {
        Self { from_id, to_id }
    }
}

/// An edge `from → to` between two different tasks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Edge {
    from: TaskId,
    to: TaskId,
}

impl Edge {
    /// Refuses a self-edge (`"fromId와 toId는 동일할 수 없습니다."`, 400).
    pub fn new(from: TaskId, to: TaskId) -> Result<Self, DependencyError> {
        if from == to {
            Err(DependencyError::SelfLoop(from))
        } else {
            Ok(Self { from, to })
        }
    }

    /// The prerequisite.
    pub const fn from(&self) -> TaskId {
        self.from
    }

    /// The task that waits for [`Edge::from`].
    pub const fn to(&self) -> TaskId {
        self.to
    }

    pub fn touches(&self, task: TaskId) -> bool {
        self.from == task || self.to == task
    }
}

/// The `addDependencies` of a create request, checked before the task exists.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CreateDependencies(Vec<DependencyPair>);

impl CreateDependencies {
    /// Every pair must have `fromId == 0` or `toId == 0` (400,
    /// `"작업 생성 시 의존 관계에는 fromId 또는 toId 중 하나가 0이어야 합니다."`); `{0, 0}` would make
    /// the new task depend on itself (400, `"fromId와 toId는 동일할 수 없습니다."`). The placeholder rule
    /// is checked over all pairs first, as the reference's DTO validation runs before resolution.
    pub fn parse(pairs: &[DependencyPair]) -> Result<Self, DependencyError> {
        if let Some(p) = pairs.iter().find(|p| p.from_id != 0 && p.to_id != 0) {
            return Err(DependencyError::CreatePlaceholder {
                from_id: p.from_id,
                to_id: p.to_id,
            });
        }
        if pairs.iter().any(|p| p.from_id == 0 && p.to_id == 0) {
            return Err(DependencyError::SelfLoop(TaskId(0)));
        }
        Ok(Self(pairs.to_vec()))
    }

    /// The other tasks the request names (they must exist and be the member's).
    pub fn referenced_tasks(&self) -> BTreeSet<TaskId> {
        self.0
            .iter()
            .map(|p| TaskId(if p.from_id == 0 { p.to_id } else { p.from_id }))
            .collect()
    }

    /// The edges once the new task has its id. Pairs naming the new task's own id on the other side
    /// become self-edges and are refused.
    pub fn resolve(&self, new_task: TaskId) -> Result<Vec<Edge>, DependencyError> {
        let id = |raw: i64| if raw == 0 { new_task } else { TaskId(raw) };
        self.0
            .iter()
            .map(|p| Edge::new(id(p.from_id), id(p.to_id)))
            .collect()
    }
}

/// The `removeDependencies` / `addDependencies` of an update request for `task`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpdateDependencies {
    pub task: TaskId,
    pub remove: Vec<Edge>,
    pub add: Vec<Edge>,
}

impl UpdateDependencies {
    /// `0` is forbidden anywhere (400, `"수정 요청에서는 의존 관계 ID에 0을 사용할 수 없습니다."`), then
    /// self-edges are refused, then every edge must touch `task` (400, new rule —
    /// docs/contract/task.md#dependency-graph).
    pub fn parse(
        task: TaskId,
        remove: &[DependencyPair],
        add: &[DependencyPair],
    ) -> Result<Self, DependencyError> {
        let all = || remove.iter().chain(add);
        if let Some(p) = all().find(|p| p.from_id == 0 || p.to_id == 0) {
            return Err(DependencyError::UpdatePlaceholder {
                from_id: p.from_id,
                to_id: p.to_id,
            });
        }
        let edges = |pairs: &[DependencyPair]| -> Result<Vec<Edge>, DependencyError> {
            pairs
                .iter()
                .map(|p| Edge::new(TaskId(p.from_id), TaskId(p.to_id)))
                .collect()
        };
        let remove = edges(remove)?;
        let add = edges(add)?;
        if let Some(e) = remove.iter().chain(&add).find(|e| !e.touches(task)) {
            return Err(DependencyError::Unrelated {
                task,
                from: e.from,
                to: e.to,
            });
        }
        Ok(Self { task, remove, add })
    }

    /// The tasks other than `task` that the request names.
    pub fn referenced_tasks(&self) -> BTreeSet<TaskId> {
        self.remove
            .iter()
            .chain(&self.add)
            .flat_map(|e| [e.from, e.to])
            .filter(|&t| t != self.task)
            .collect()
    }
}

/// The effective difference a change makes: edges really removed and really added (sorted).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DependencyChange {
    pub removed: Vec<Edge>,
    pub added: Vec<Edge>,
}

impl DependencyChange {
    pub fn is_empty(&self) -> bool {
        self.removed.is_empty() && self.added.is_empty()
    }

    /// The net change of `inbound_dependency_count` per task (tasks with a net zero are left out).
    pub fn inbound_deltas(&self) -> BTreeMap<TaskId, i64> {
        let mut deltas = BTreeMap::new();
        for e in &self.added {
            *deltas.entry(e.to).or_insert(0) += 1;
        }
        for e in &self.removed {
            *deltas.entry(e.to).or_insert(0) -= 1;
        }
        deltas.retain(|_, d| *d != 0);
        deltas
    }
}

/// A member's dependency graph.
///
/// It may be the whole graph or only part of it: checks of a change are exact as long as the graph
/// holds every edge reachable from the targets of the added edges (the whole member graph always
/// does; a recursive query from those targets is enough).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DependencyGraph {
    next: BTreeMap<TaskId, BTreeSet<TaskId>>,
    prev: BTreeMap<TaskId, BTreeSet<TaskId>>,
}

impl DependencyGraph {
    pub fn new(edges: impl IntoIterator<Item = Edge>) -> Self {
        let mut graph = Self::default();
        for e in edges {
            graph.insert(e);
        }
        graph
    }

    fn insert(&mut self, e: Edge) -> bool {
        let added = self.next.entry(e.from).or_default().insert(e.to);
        self.prev.entry(e.to).or_default().insert(e.from);
        added
    }

    fn remove(&mut self, e: Edge) -> bool {
        fn take(map: &mut BTreeMap<TaskId, BTreeSet<TaskId>>, key: TaskId, value: TaskId) -> bool {
            let Some(set) = map.get_mut(&key) else {
                return false;
            };
            let removed = set.remove(&value);
            if set.is_empty() {
                map.remove(&key);
            }
            removed
        }
        take(&mut self.prev, e.to, e.from);
        take(&mut self.next, e.from, e.to)
    }

    pub fn contains(&self, e: Edge) -> bool {
        self.next.get(&e.from).is_some_and(|s| s.contains(&e.to))
    }

    /// All edges, ordered by (from, to).
    pub fn edges(&self) -> impl Iterator<Item = Edge> + '_ {
        self.next
            .iter()
            .flat_map(|(&from, tos)| tos.iter().map(move |&to| Edge { from, to }))
    }

    /// `nextTaskIds`: the tasks that wait for `task`, ascending (an unknown task has none).
    pub fn successors(&self, task: TaskId) -> Vec<TaskId> {
        self.next
            .get(&task)
            .map(|s| s.iter().copied().collect())
            .unwrap_or_default()
    }

    /// `previousTaskIds`: the prerequisites of `task`, ascending.
    pub fn predecessors(&self, task: TaskId) -> Vec<TaskId> {
        self.prev
            .get(&task)
            .map(|s| s.iter().copied().collect())
            .unwrap_or_default()
    }

    /// `inboundDependencyCount`: the number of prerequisites of `task`.
    pub fn inbound_count(&self, task: TaskId) -> usize {
        self.prev.get(&task).map_or(0, BTreeSet::len)
    }

    /// The prerequisites of `task` with their completion, as [`Prerequisites`] for the checks.
    pub fn prerequisites(
        &self,
        task: TaskId,
        is_completed: impl Fn(TaskId) -> bool,
    ) -> Prerequisites {
        Prerequisites::of(
            task,
            self.predecessors(task)
                .into_iter()
                .map(|p| (p, is_completed(p))),
        )
    }

    /// Kahn's algorithm over the whole graph, as the reference's cycle checker.
    pub fn is_acyclic(&self) -> bool {
        let nodes: BTreeSet<TaskId> = self.next.keys().chain(self.prev.keys()).copied().collect();
        let mut indegree: BTreeMap<TaskId, usize> =
            nodes.iter().map(|&n| (n, self.inbound_count(n))).collect();
        let mut queue: VecDeque<TaskId> = indegree
            .iter()
            .filter(|&(_, &d)| d == 0)
            .map(|(&n, _)| n)
            .collect();
        let mut seen = 0;
        while let Some(n) = queue.pop_front() {
            seen += 1;
            for m in self.successors(n) {
                if let Some(d) = indegree.get_mut(&m) {
                    *d -= 1;
                    if *d == 0 {
                        queue.push_back(m);
                    }
                }
            }
        }
        seen == nodes.len()
    }

    /// A shortest path `from → … → to` (both ends included), if any.
    fn path(&self, from: TaskId, to: TaskId) -> Option<Vec<TaskId>> {
        let mut parent: BTreeMap<TaskId, TaskId> = BTreeMap::new();
        let mut queue = VecDeque::from([from]);
        let mut visited = BTreeSet::from([from]);
        while let Some(n) = queue.pop_front() {
            if n == to {
                let mut path = vec![to];
                let mut cur = to;
                while let Some(&p) = parent.get(&cur) {
                    path.push(p);
                    cur = p;
                }
                path.reverse();
                return Some(path);
            }
            for m in self.successors(n) {
                if visited.insert(m) {
                    parent.insert(m, n);
                    queue.push_back(m);
                }
            }
        }
        None
    }

    /// Plans removing then adding edges: returns the effective change, or
    /// [`DependencyError::Cycle`] (409, `"의존 관계에 사이클이 존재합니다."`) when the resulting graph
    /// would have a cycle. Removing an absent edge and adding a present one are no-ops; an edge both
    /// removed and added stays and is not part of the change. `self` is not modified.
    pub fn plan(&self, remove: &[Edge], add: &[Edge]) -> Result<DependencyChange, DependencyError> {
        let mut after = self.clone();
        let removed: BTreeSet<Edge> = remove
            .iter()
            .copied()
            .filter(|&e| after.remove(e))
            .collect();
        let added: BTreeSet<Edge> = add.iter().copied().filter(|&e| after.insert(e)).collect();
        // A new cycle must use an added edge `u → v`, closing a path `v → … → u`.
        for e in &added {
            if let Some(mut path) = after.path(e.to, e.from) {
                path.insert(0, e.from);
                return Err(DependencyError::Cycle { path });
            }
        }
        Ok(DependencyChange {
            removed: removed.difference(&added).copied().collect(),
            added: added.difference(&removed).copied().collect(),
        })
    }

    /// Applies a planned change.
    pub fn apply(&mut self, change: &DependencyChange) {
        for &e in &change.removed {
            self.remove(e);
        }
        for &e in &change.added {
            self.insert(e);
        }
    }

    /// The change that deleting `task` makes: every edge touching it goes (successors lose one
    /// inbound dependency each).
    pub fn removal_of(&self, task: TaskId) -> DependencyChange {
        let mut removed: Vec<Edge> = self
            .successors(task)
            .into_iter()
            .map(|to| Edge { from: task, to })
            .chain(
                self.predecessors(task)
                    .into_iter()
                    .map(|from| Edge { from, to: task }),
            )
            .collect();
        removed.sort();
        DependencyChange {
            removed,
            added: Vec::new(),
        }
    }
}

/// The prerequisites of one task and which of them are not completed yet.
///
/// A schedule without a task has [`Prerequisites::none`]. Starting or completing a linked schedule,
/// and completing a task, require [`Prerequisites::all_completed`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Prerequisites {
    task: Option<TaskId>,
    all: BTreeSet<TaskId>,
    incomplete: BTreeSet<TaskId>,
}

impl Prerequisites {
    /// For a schedule that is not linked to a task.
    pub fn none() -> Self {
        Self::default()
    }

    /// The prerequisites of `task` with their completion flags.
    pub fn of(task: TaskId, statuses: impl IntoIterator<Item = (TaskId, bool)>) -> Self {
        let mut all = BTreeSet::new();
        let mut incomplete = BTreeSet::new();
        for (id, completed) in statuses {
            all.insert(id);
            if !completed {
                incomplete.insert(id);
            }
        }
        Self {
            task: Some(task),
            all,
            incomplete,
        }
    }

    /// The task these are the prerequisites of (`None` for [`Prerequisites::none`]).
    pub fn task(&self) -> Option<TaskId> {
        self.task
    }

    pub fn all_completed(&self) -> bool {
        self.incomplete.is_empty()
    }

    /// The prerequisites not completed yet, ascending.
    pub fn incomplete(&self) -> Vec<TaskId> {
        self.incomplete.iter().copied().collect()
    }

    pub fn count(&self) -> usize {
        self.all.len()
    }
}

/// "Ready" (`readyOnly=true`): not completed, and every prerequisite completed.
///
/// The reference's query is `inbound_dependency_count = 0 AND completed = false`, which never lists a
/// task whose prerequisites are all done; the reference client's notes call ready "no unfinished
/// prerequisites", which is what starting its schedule requires, so that is the rule here (a task
/// without prerequisites is ready in both readings).
pub fn is_ready(task_completed: bool, prerequisites: &Prerequisites) -> bool {
    !task_completed && prerequisites.all_completed()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(from: i64, to: i64) -> Edge {
        Edge::new(TaskId(from), TaskId(to)).unwrap()
    }

    fn ids(v: &[i64]) -> Vec<TaskId> {
        v.iter().copied().map(TaskId).collect()
    }

    fn sample() -> DependencyGraph {
        // CycleCheckerTest / GraphTest sample: 1→3, 2→3, 3→4, 3→5.
        DependencyGraph::new([e(1, 3), e(2, 3), e(3, 4), e(3, 5)])
    }

    #[test]
    fn self_edge_is_refused() {
        let err = Edge::new(TaskId(7), TaskId(7)).unwrap_err();
        assert_eq!(err, DependencyError::SelfLoop(TaskId(7)));
        assert_eq!(err.to_string(), "fromId와 toId는 동일할 수 없습니다.");
        assert_eq!(err.class().status(), 400);
    }

    #[test]
    fn sample_dag_has_no_cycle_and_knows_neighbours() {
        let g = sample();
        assert!(g.is_acyclic());
        assert_eq!(g.successors(TaskId(3)), ids(&[4, 5]));
        assert_eq!(g.predecessors(TaskId(3)), ids(&[1, 2]));
        assert_eq!(g.inbound_count(TaskId(3)), 2);
        assert_eq!(g.successors(TaskId(99)), ids(&[]), "unknown node → empty");
        assert_eq!(g.edges().count(), 4);
    }

    #[test]
    fn chain_closed_back_is_a_cycle() {
        let g = DependencyGraph::new([e(1, 2), e(2, 3), e(3, 1)]);
        assert!(!g.is_acyclic());
    }

    #[test]
    fn adding_an_edge_that_closes_a_cycle_is_refused_with_the_path() {
        let g = DependencyGraph::new([e(1, 2), e(2, 3)]);
        let err = g.plan(&[], &[e(3, 1)]).unwrap_err();
        assert_eq!(
            err,
            DependencyError::Cycle {
                path: ids(&[3, 1, 2, 3])
            }
        );
        assert_eq!(err.to_string(), "의존 관계에 사이클이 존재합니다.");
        assert_eq!(err.class().status(), 409);
        assert_eq!(
            g,
            DependencyGraph::new([e(1, 2), e(2, 3)]),
            "graph untouched"
        );
    }

    #[test]
    fn two_edge_cycle_and_cycle_through_several_added_edges() {
        let g = DependencyGraph::default();
        assert!(matches!(
            g.plan(&[], &[e(4, 9), e(9, 4)]),
            Err(DependencyError::Cycle { .. })
        ));
        assert!(matches!(
            g.plan(&[], &[e(1, 2), e(2, 3), e(3, 1)]),
            Err(DependencyError::Cycle { .. })
        ));
    }

    #[test]
    fn acyclic_addition_is_planned_with_inbound_deltas() {
        let g = sample();
        let change = g.plan(&[], &[e(1, 4), e(2, 5)]).unwrap();
        assert_eq!(change.added, vec![e(1, 4), e(2, 5)]);
        assert!(change.removed.is_empty());
        assert_eq!(
            change.inbound_deltas(),
            BTreeMap::from([(TaskId(4), 1), (TaskId(5), 1)])
        );
        // Diamond shapes are fine.
        assert!(g.plan(&[], &[e(1, 2)]).is_ok());
    }

    #[test]
    fn removing_the_closing_edge_in_the_same_change_allows_the_reverse() {
        let g = DependencyGraph::new([e(1, 2), e(2, 3)]);
        let change = g.plan(&[e(2, 3)], &[e(3, 1)]).unwrap();
        assert_eq!(change.removed, vec![e(2, 3)]);
        assert_eq!(change.added, vec![e(3, 1)]);
        let mut after = g.clone();
        after.apply(&change);
        assert!(after.is_acyclic());
        assert_eq!(after, DependencyGraph::new([e(1, 2), e(3, 1)]));
    }

    #[test]
    fn removals_and_additions_are_set_operations() {
        let g = sample();
        // Removing an absent edge and re-adding a present one change nothing: no count drift.
        let change = g.plan(&[e(4, 5)], &[e(1, 3), e(1, 3)]).unwrap();
        assert!(change.is_empty());
        assert!(change.inbound_deltas().is_empty());
        // Removing and adding the same edge leaves it.
        let change = g.plan(&[e(1, 3)], &[e(1, 3)]).unwrap();
        assert!(change.is_empty());
        // Removing two edges into the same task: -2.
        let change = g.plan(&[e(1, 3), e(2, 3), e(2, 3)], &[]).unwrap();
        assert_eq!(change.inbound_deltas(), BTreeMap::from([(TaskId(3), -2)]));
    }

    #[test]
    fn deleting_a_task_removes_every_touching_edge() {
        let g = sample();
        let change = g.removal_of(TaskId(3));
        assert_eq!(change.removed, vec![e(1, 3), e(2, 3), e(3, 4), e(3, 5)]);
        assert_eq!(
            change.inbound_deltas(),
            BTreeMap::from([(TaskId(3), -2), (TaskId(4), -1), (TaskId(5), -1)])
        );
        assert!(g.removal_of(TaskId(42)).is_empty());
    }

    #[test]
    fn create_pairs_need_exactly_one_placeholder() {
        let ok = CreateDependencies::parse(&[DependencyPair::new(0, 5), DependencyPair::new(4, 0)])
            .unwrap();
        assert_eq!(
            ok.referenced_tasks(),
            BTreeSet::from([TaskId(4), TaskId(5)])
        );
        assert_eq!(ok.resolve(TaskId(10)).unwrap(), vec![e(10, 5), e(4, 10)]);

        let err =
            CreateDependencies::parse(&[DependencyPair::new(0, 5), DependencyPair::new(4, 5)])
                .unwrap_err();
        assert_eq!(
            err,
            DependencyError::CreatePlaceholder {
                from_id: 4,
                to_id: 5
            }
        );
        assert_eq!(
            err.to_string(),
            "작업 생성 시 의존 관계에는 fromId 또는 toId 중 하나가 0이어야 합니다."
        );
        assert_eq!(err.class().status(), 400);

        let err = CreateDependencies::parse(&[DependencyPair::new(0, 0)]).unwrap_err();
        assert_eq!(err.to_string(), "fromId와 toId는 동일할 수 없습니다.");
        assert!(
            CreateDependencies::parse(&[])
                .unwrap()
                .resolve(TaskId(1))
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn create_pairs_naming_the_new_id_become_self_edges() {
        let deps = CreateDependencies::parse(&[DependencyPair::new(0, 10)]).unwrap();
        assert_eq!(
            deps.resolve(TaskId(10)),
            Err(DependencyError::SelfLoop(TaskId(10)))
        );
    }

    #[test]
    fn create_with_both_directions_to_one_task_is_a_cycle() {
        let deps =
            CreateDependencies::parse(&[DependencyPair::new(4, 0), DependencyPair::new(0, 4)])
                .unwrap();
        let edges = deps.resolve(TaskId(10)).unwrap();
        let err = DependencyGraph::default().plan(&[], &edges).unwrap_err();
        assert!(matches!(err, DependencyError::Cycle { .. }));
    }

    #[test]
    fn update_pairs_forbid_placeholders_self_edges_and_unrelated_edges() {
        let t = TaskId(7);
        let err = UpdateDependencies::parse(t, &[], &[DependencyPair::new(0, 7)]).unwrap_err();
        assert_eq!(
            err,
            DependencyError::UpdatePlaceholder {
                from_id: 0,
                to_id: 7
            }
        );
        assert_eq!(
            err.to_string(),
            "수정 요청에서는 의존 관계 ID에 0을 사용할 수 없습니다."
        );
        let err = UpdateDependencies::parse(t, &[DependencyPair::new(7, 0)], &[]).unwrap_err();
        assert!(matches!(err, DependencyError::UpdatePlaceholder { .. }));

        let err = UpdateDependencies::parse(t, &[], &[DependencyPair::new(7, 7)]).unwrap_err();
        assert_eq!(err, DependencyError::SelfLoop(t));

        let err = UpdateDependencies::parse(t, &[], &[DependencyPair::new(1, 2)]).unwrap_err();
        assert_eq!(
            err,
            DependencyError::Unrelated {
                task: t,
                from: TaskId(1),
                to: TaskId(2)
            }
        );
        assert_eq!(err.class().status(), 400);

        let ok = UpdateDependencies::parse(
            t,
            &[DependencyPair::new(3, 7)],
            &[DependencyPair::new(7, 8), DependencyPair::new(2, 7)],
        )
        .unwrap();
        assert_eq!(ok.remove, vec![e(3, 7)]);
        assert_eq!(ok.add, vec![e(7, 8), e(2, 7)]);
        assert_eq!(
            ok.referenced_tasks(),
            BTreeSet::from([TaskId(2), TaskId(3), TaskId(8)])
        );
    }

    #[test]
    fn prerequisites_and_readiness() {
        let g = sample();
        let done = |t: TaskId| t == TaskId(1);
        let p = g.prerequisites(TaskId(3), done);
        assert_eq!(p.task(), Some(TaskId(3)));
        assert_eq!(p.count(), 2);
        assert!(!p.all_completed());
        assert_eq!(p.incomplete(), ids(&[2]));
        assert!(!is_ready(false, &p));

        let all_done = g.prerequisites(TaskId(3), |_| true);
        assert!(
            is_ready(false, &all_done),
            "prerequisites done → ready despite inbound > 0"
        );
        assert!(!is_ready(true, &all_done), "a completed task is not ready");

        let roots = g.prerequisites(TaskId(1), |_| false);
        assert!(is_ready(false, &roots), "no prerequisites → ready");
        assert!(is_ready(false, &Prerequisites::none()));
    }
}
