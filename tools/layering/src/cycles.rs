//! Cycles in a directed graph: Tarjan's strongly connected components,
//! each reported as one cycle through all of its members.

use std::collections::{BTreeMap, BTreeSet};

/// Every strongly connected component of more than one node (or a node
/// with an edge to itself), as a closed walk of names (first = last),
/// sorted so that reports do not change from run to run.
pub fn cycles(edges: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    let mut nodes: BTreeSet<&String> = edges.keys().collect();
    for targets in edges.values() {
        nodes.extend(targets);
    }
    let nodes: Vec<&String> = nodes.into_iter().collect();
    let id: BTreeMap<&String, usize> = nodes.iter().enumerate().map(|(i, n)| (*n, i)).collect();
    let adj: Vec<Vec<usize>> = nodes
        .iter()
        .map(|n| {
            edges
                .get(*n)
                .map(|t| t.iter().map(|x| id[x]).collect())
                .unwrap_or_default()
        })
        .collect();
    let mut tarjan = Tarjan::new(adj.len());
    for v in 0..adj.len() {
        if tarjan.index[v].is_none() {
            tarjan.visit(v, &adj);
        }
    }
    let mut out = Vec::new();
    for comp in tarjan.components {
        let self_loop = comp.len() == 1 && adj[comp[0]].contains(&comp[0]);
        if comp.len() < 2 && !self_loop {
            continue;
        }
        let members: BTreeSet<usize> = comp.iter().copied().collect();
        let walk = walk_through(&members, &adj);
        out.push(walk.into_iter().map(|i| nodes[i].clone()).collect());
    }
    out.sort();
    out
}

/// A closed walk from the smallest member that visits every member of a
/// strongly connected component (shortest paths from member to member).
fn walk_through(members: &BTreeSet<usize>, adj: &[Vec<usize>]) -> Vec<usize> {
    let order: Vec<usize> = members.iter().copied().collect();
    let mut walk = vec![order[0]];
    for next in order.iter().skip(1).chain(std::iter::once(&order[0])) {
        let from = *walk.last().expect("walk starts non-empty");
        let path = shortest_path(from, *next, members, adj);
        walk.extend(path.into_iter().skip(1));
    }
    walk
}

fn shortest_path(
    from: usize,
    to: usize,
    within: &BTreeSet<usize>,
    adj: &[Vec<usize>],
) -> Vec<usize> {
    let mut prev: BTreeMap<usize, usize> = BTreeMap::new();
    let mut queue = std::collections::VecDeque::from([from]);
    let mut seen = BTreeSet::from([from]);
    while let Some(v) = queue.pop_front() {
        for &w in &adj[v] {
            if w == to {
                let mut path = vec![to, v];
                let mut cur = v;
                while cur != from {
                    cur = prev[&cur];
                    path.push(cur);
                }
                path.reverse();
                return path;
            }
            if within.contains(&w) && seen.insert(w) {
                prev.insert(w, v);
                queue.push_back(w);
            }
        }
    }
    vec![from, to]
}

struct Tarjan {
    next: usize,
    index: Vec<Option<usize>>,
    low: Vec<usize>,
    on_stack: Vec<bool>,
    stack: Vec<usize>,
    components: Vec<Vec<usize>>,
}

impl Tarjan {
    fn new(n: usize) -> Self {
        Self {
            next: 0,
            index: vec![None; n],
            low: vec![0; n],
            on_stack: vec![false; n],
            stack: Vec::new(),
            components: Vec::new(),
        }
    }

    // Recursive: module graphs are a few hundred files deep at most.
    fn visit(&mut self, v: usize, adj: &[Vec<usize>]) {
        self.index[v] = Some(self.next);
        self.low[v] = self.next;
        self.next += 1;
        self.stack.push(v);
        self.on_stack[v] = true;
        for &w in &adj[v] {
            match self.index[w] {
                None => {
                    self.visit(w, adj);
                    self.low[v] = self.low[v].min(self.low[w]);
                }
                Some(iw) if self.on_stack[w] => self.low[v] = self.low[v].min(iw),
                Some(_) => {}
            }
        }
        if Some(self.low[v]) == self.index[v] {
            let mut comp = Vec::new();
            loop {
                let w = self.stack.pop().expect("v is on the stack");
                self.on_stack[w] = false;
                comp.push(w);
                if w == v {
                    break;
                }
            }
            self.components.push(comp);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn graph(edges: &[(&str, &str)]) -> BTreeMap<String, BTreeSet<String>> {
        let mut g: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for (a, b) in edges {
            g.entry(a.to_string()).or_default().insert(b.to_string());
        }
        g
    }

    #[test]
    fn a_chain_has_no_cycle_and_a_loop_is_reported_once_through_all_its_files() {
        assert!(cycles(&graph(&[("a", "b"), ("b", "c"), ("a", "c")])).is_empty());
        let found = cycles(&graph(&[("a", "b"), ("b", "c"), ("c", "a"), ("c", "d")]));
        assert_eq!(found, vec![vec!["a", "b", "c", "a"]]);
        let two = cycles(&graph(&[("x", "y"), ("y", "x"), ("p", "q"), ("q", "p")]));
        assert_eq!(two.len(), 2);
        assert_eq!(cycles(&graph(&[("s", "s")])), vec![vec!["s", "s"]]);
    }
}
