//! Pass: `allOf` cycles. A component whose `allOf` leads back to itself through `allOf` and
//! `$ref`s alone (`A: allOf [X, $ref A]`, or `A → B → A`) describes no finite type, and typify
//! merges `allOf` members without a cycle check: it recursed until the stack overflowed, which
//! aborts the process (found by `tests/properties.rs`). The member that closes the cycle is
//! dropped and the loss noted; the rest of the `allOf` stays. Recursion through properties,
//! items or `oneOf`/`anyOf` (a tree, a list of itself) is a finite type and is not touched.

use std::collections::{BTreeSet, HashMap, HashSet};

use serde_json::{Map, Value};

use super::{Note, note};

const PREFIX: &str = "#/components/schemas/";

pub(super) fn allof_cycles(root: &mut Map<String, Value>) -> Vec<Note> {
    allof_cycles_counted(root).0
}

/// [`allof_cycles`], and the nodes its graph steps looked at ([`Graph::steps`]).
fn allof_cycles_counted(root: &mut Map<String, Value>) -> (Vec<Note>, usize) {
    let mut notes = Vec::new();
    let Some(schemas) = root
        .get_mut("components")
        .and_then(|c| c.get_mut("schemas"))
        .and_then(Value::as_object_mut)
    else {
        return (notes, 0);
    };
    let names: Vec<String> = schemas.keys().cloned().collect();
    // Read once; a component's edges depend on its own schema only, so dropping members of
    // one changes only its entry (reading the whole graph again for every component made
    // this pass quadratic: 23× the time for 4× the operations, bench scenario 8).
    let mut graph = Graph::new(&names, schemas);
    for (at, name) in names.iter().enumerate() {
        let Some(schema) = schemas.get_mut(name) else {
            continue;
        };
        let mut dropped = Vec::new();
        break_cycles_in(schema, at, &mut graph, &mut dropped);
        if !dropped.is_empty() {
            let targets = graph.targets_of(&allof_targets(schema));
            graph.set_edges(at, targets);
        }
        for member in dropped {
            notes.push(note(
                &format!("schema {name}"),
                format!(
                    "allOf member {member} dropped: it leads back to {name} through allOf \
                     (no finite type; the generator would not end), its constraints are lost"
                ),
            ));
        }
    }
    (notes, graph.steps)
}

/// The components and the `allOf` edges between them, with their strongly connected
/// components: a member that merges `t` into component `c` leads back to `c` exactly when `t`
/// reaches `c`; for a `t` that `c`'s own edges name (every member of `c`'s `allOf`), that is
/// when `t` and `c` are in one strongly connected component, an O(1) question. Asking it by a
/// search from every member (as this pass did) was quadratic in the length of an `allOf`
/// chain: 3.2 s for a chain of 4,000 components, 4.4× for 2× (release build).
///
/// Every step's work is proportional to what it looks at, never to the whole graph: a
/// dropped member recomputes only the component it split, with buffers kept from run to run.
struct Graph<'a> {
    index: HashMap<&'a str, usize>,
    /// Each component's edges (sorted, no duplicates).
    edges: Vec<Vec<usize>>,
    /// Each component's strongly connected component (an index into `members`).
    scc: Vec<usize>,
    /// The components of each strongly connected component.
    members: Vec<Vec<usize>>,
    /// Tarjan's buffers, one entry per component, reset after each run.
    tarjan: Tarjan,
    /// Nodes looked at by the searches and the strongly-connected-component runs (the linear
    /// bound is tested on this count, not on time).
    steps: usize,
}

#[derive(Default)]
struct Tarjan {
    inside: Vec<bool>,
    order: Vec<Option<usize>>,
    low: Vec<usize>,
    on_stack: Vec<bool>,
}

impl<'a> Graph<'a> {
    fn new(names: &'a [String], schemas: &Map<String, Value>) -> Self {
        let n = names.len();
        let index: HashMap<&str, usize> = names
            .iter()
            .enumerate()
            .map(|(i, name)| (name.as_str(), i))
            .collect();
        let mut graph = Graph {
            index,
            edges: Vec::with_capacity(n),
            scc: vec![0; n],
            members: Vec::new(),
            tarjan: Tarjan {
                inside: vec![false; n],
                order: vec![None; n],
                low: vec![0; n],
                on_stack: vec![false; n],
            },
            steps: 0,
        };
        for name in names {
            let targets = schemas
                .get(name)
                .map(|schema| graph.targets_of(&allof_targets(schema)))
                .unwrap_or_default();
            graph.edges.push(targets);
        }
        let all: Vec<usize> = (0..n).collect();
        graph.assign_sccs(&all);
        graph
    }

    /// The components among `names` (a `$ref` to no component leads nowhere).
    fn targets_of(&self, names: &BTreeSet<String>) -> Vec<usize> {
        let mut targets: Vec<usize> = names
            .iter()
            .filter_map(|name| self.index.get(name.as_str()).copied())
            .collect();
        targets.sort_unstable();
        targets.dedup();
        targets
    }

    /// Whether merging `target` (a component name) into component `at` leads back to `at`.
    fn leads_back(&mut self, target: &str, at: usize) -> bool {
        let Some(&t) = self.index.get(target) else {
            return false;
        };
        if t == at || self.scc[t] == self.scc[at] {
            return true;
        }
        if self.edges[at].binary_search(&t).is_ok() {
            // An edge `at → t`: `t` reaches `at` only inside their strongly connected component.
            return false;
        }
        // A member outside `at`'s own `allOf` (under its top-level `oneOf`/`anyOf`): a search.
        self.reaches(t, at)
    }

    /// Whether `goal` is reachable from `start` along the edges.
    fn reaches(&mut self, start: usize, goal: usize) -> bool {
        let mut seen = HashSet::new();
        let mut stack = vec![start];
        while let Some(at) = stack.pop() {
            self.steps += 1;
            if at == goal {
                return true;
            }
            if seen.insert(at) {
                stack.extend(self.edges[at].iter().copied());
            }
        }
        false
    }

    /// Replaces the edges of `at` (members were dropped: edges only go away). Only the
    /// strongly connected component that held `at` can split; it alone is computed again.
    fn set_edges(&mut self, at: usize, targets: Vec<usize>) {
        self.edges[at] = targets;
        let old = std::mem::take(&mut self.members[self.scc[at]]);
        if old.len() > 1 {
            self.assign_sccs(&old);
        } else {
            self.members[self.scc[at]] = old;
        }
    }

    /// Tarjan's algorithm over `nodes` and the edges between them, without recursion (a chain
    /// of thousands of components would overflow the stack): fresh ids in `scc`.
    fn assign_sccs(&mut self, nodes: &[usize]) {
        let Tarjan {
            inside,
            order,
            low,
            on_stack,
        } = &mut self.tarjan;
        for &node in nodes {
            inside[node] = true;
        }
        let mut stack = Vec::new();
        let mut counter = 0;
        // (node, the index of its next edge to look at)
        let mut work: Vec<(usize, usize)> = Vec::new();
        for &root in nodes {
            if order[root].is_some() {
                continue;
            }
            work.push((root, 0));
            while let Some(&mut (node, ref mut next)) = work.last_mut() {
                if order[node].is_none() {
                    self.steps += 1;
                    order[node] = Some(counter);
                    low[node] = counter;
                    counter += 1;
                    stack.push(node);
                    on_stack[node] = true;
                }
                if let Some(&target) = self.edges[node].get(*next) {
                    *next += 1;
                    if !inside[target] {
                        continue;
                    }
                    match order[target] {
                        None => work.push((target, 0)),
                        Some(seen) if on_stack[target] => low[node] = low[node].min(seen),
                        Some(_) => {}
                    }
                    continue;
                }
                work.pop();
                if let Some(&(parent, _)) = work.last() {
                    low[parent] = low[parent].min(low[node]);
                }
                if Some(low[node]) == order[node] {
                    let id = self.members.len();
                    let mut component = Vec::new();
                    while let Some(member) = stack.pop() {
                        on_stack[member] = false;
                        self.scc[member] = id;
                        component.push(member);
                        if member == node {
                            break;
                        }
                    }
                    self.members.push(component);
                }
            }
        }
        for &node in nodes {
            inside[node] = false;
            order[node] = None;
        }
    }
}

/// In `schema` (a part of component `at`) and the inline `allOf`/`oneOf`/`anyOf` members
/// under it (`A: oneOf [allOf [$ref A, …], …]`), drops the `allOf` members that lead back to
/// `at`. Properties and items are not entered: recursion there is a finite type.
fn break_cycles_in(
    schema: &mut Value,
    at: usize,
    graph: &mut Graph<'_>,
    dropped: &mut Vec<String>,
) {
    let Some(object) = schema.as_object_mut() else {
        return;
    };
    if let Some(all_of) = object.get_mut("allOf").and_then(Value::as_array_mut) {
        all_of.retain(|member| {
            let closes = member_targets(member)
                .iter()
                .any(|target| graph.leads_back(target, at));
            if closes {
                dropped.push(member_label(member));
            }
            !closes
        });
    }
    for key in ["allOf", "oneOf", "anyOf"] {
        if let Some(members) = object.get_mut(key).and_then(Value::as_array_mut) {
            for member in members {
                break_cycles_in(member, at, graph, dropped);
            }
        }
    }
}

/// The components the `allOf` members of `schema` (one component) name (directly, or through
/// the `allOf` of an inline member).
fn allof_targets(schema: &Value) -> BTreeSet<String> {
    let mut targets = BTreeSet::new();
    if let Some(members) = schema.get("allOf").and_then(Value::as_array) {
        for member in members {
            targets.extend(member_targets(member));
        }
    }
    targets
}

/// The components an `allOf` member merges: its `$ref`, or those of the `allOf`, `oneOf` and
/// `anyOf` members under it.
fn member_targets(member: &Value) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut stack = vec![member];
    while let Some(schema) = stack.pop() {
        if let Some(target) = schema
            .get("$ref")
            .and_then(Value::as_str)
            .and_then(|r| r.strip_prefix(PREFIX))
        {
            out.insert(target.to_owned());
        }
        // typify merges into every alternative of an `anyOf`/`oneOf` it meets in a member.
        for key in ["allOf", "oneOf", "anyOf"] {
            if let Some(members) = schema.get(key).and_then(Value::as_array) {
                stack.extend(members);
            }
        }
    }
    out
}

fn member_label(member: &Value) -> String {
    match member.get("$ref").and_then(Value::as_str) {
        Some(r) => format!("`{r}`"),
        None => "(an inline schema)".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use serde_json::json;

    use super::*;

    fn run(schemas: Value) -> (Value, Vec<Note>) {
        let mut doc = json!({"components": {"schemas": schemas}});
        let notes = allof_cycles(doc.as_object_mut().unwrap());
        (doc["components"]["schemas"].clone(), notes)
    }

    #[test]
    fn an_allof_member_naming_its_own_component_is_dropped_and_noted() {
        let (schemas, notes) = run(json!({"asset": {"allOf": [
            {"type": "string"}, {"$ref": "#/components/schemas/asset"}
        ]}}));
        assert_eq!(schemas["asset"]["allOf"], json!([{"type": "string"}]));
        assert_eq!(notes.len(), 1);
        assert!(
            notes[0]
                .to_string()
                .starts_with("schema asset: allOf member")
        );
    }

    #[test]
    fn a_cycle_through_two_components_and_an_inline_allof_is_broken_once() {
        let (schemas, notes) = run(json!({
            "A": {"allOf": [{"allOf": [{"$ref": "#/components/schemas/B"}]}, {"type": "object"}]},
            "B": {"allOf": [{"$ref": "#/components/schemas/A"}]},
        }));
        assert_eq!(schemas["A"]["allOf"], json!([{"type": "object"}]));
        assert_eq!(
            schemas["B"]["allOf"],
            json!([{"$ref": "#/components/schemas/A"}])
        );
        assert_eq!(notes.len(), 1, "{notes:?}");
    }

    #[test]
    fn an_allof_inside_a_one_of_variant_naming_its_component_is_dropped() {
        let (schemas, notes) = run(json!({"Site": {"oneOf": [
            {"allOf": [{"$ref": "#/components/schemas/Site"}, {"type": "integer"}]}, {}
        ]}}));
        assert_eq!(
            schemas["Site"]["oneOf"],
            json!([{"allOf": [{"type": "integer"}]}, {}])
        );
        assert_eq!(notes.len(), 1);
    }

    #[test]
    fn an_allof_member_whose_any_of_names_its_component_is_dropped() {
        let (schemas, notes) = run(json!({"Site": {"allOf": [
            {"anyOf": [{"type": "integer"}, {"$ref": "#/components/schemas/Site"}]},
            {"type": "array", "items": {"type": "integer"}}
        ]}}));
        assert_eq!(
            schemas["Site"]["allOf"],
            json!([{"type": "array", "items": {"type": "integer"}}])
        );
        assert_eq!(notes.len(), 1);
        assert!(
            notes[0].message.contains("(an inline schema)"),
            "{}",
            notes[0]
        );
    }

    /// The pass as it was written first (a search from every member), kept as the reference
    /// the strongly-connected-component version must agree with.
    mod reference {
        use std::collections::{BTreeMap, BTreeSet};

        use serde_json::{Map, Value};

        use super::super::{allof_targets, member_label, member_targets};

        pub(super) fn allof_cycles(root: &mut Map<String, Value>) -> Vec<(String, String)> {
            let mut out = Vec::new();
            let Some(schemas) = root
                .get_mut("components")
                .and_then(|c| c.get_mut("schemas"))
                .and_then(Value::as_object_mut)
            else {
                return out;
            };
            let names: Vec<String> = schemas.keys().cloned().collect();
            let mut edges: BTreeMap<String, BTreeSet<String>> = schemas
                .iter()
                .map(|(name, schema)| (name.clone(), allof_targets(schema)))
                .collect();
            for name in names {
                let schema = schemas.get_mut(&name).unwrap();
                let mut dropped = Vec::new();
                walk(schema, &name, &edges, &mut dropped);
                if !dropped.is_empty() {
                    edges.insert(name.clone(), allof_targets(schema));
                }
                out.extend(dropped.into_iter().map(|m| (name.clone(), m)));
            }
            out
        }

        fn walk(
            schema: &mut Value,
            name: &str,
            edges: &BTreeMap<String, BTreeSet<String>>,
            dropped: &mut Vec<String>,
        ) {
            let Some(object) = schema.as_object_mut() else {
                return;
            };
            if let Some(all_of) = object.get_mut("allOf").and_then(Value::as_array_mut) {
                all_of.retain(|member| {
                    let closes = member_targets(member)
                        .iter()
                        .any(|target| reaches(edges, target, name));
                    if closes {
                        dropped.push(member_label(member));
                    }
                    !closes
                });
            }
            for key in ["allOf", "oneOf", "anyOf"] {
                if let Some(members) = object.get_mut(key).and_then(Value::as_array_mut) {
                    for member in members {
                        walk(member, name, edges, dropped);
                    }
                }
            }
        }

        fn reaches(edges: &BTreeMap<String, BTreeSet<String>>, start: &str, goal: &str) -> bool {
            let mut seen = BTreeSet::new();
            let mut stack = vec![start.to_owned()];
            while let Some(at) = stack.pop() {
                if at == goal {
                    return true;
                }
                if seen.insert(at.clone())
                    && let Some(next) = edges.get(&at)
                {
                    stack.extend(next.iter().cloned());
                }
            }
            false
        }
    }

    type Rng = rand_xoshiro::Xoshiro256PlusPlus;

    fn pick(rng: &mut Rng, below: u32) -> u32 {
        use rand_xoshiro::rand_core::RngCore as _;
        rng.next_u32() % below
    }

    /// A random schema over components `C0`…`C{n-1}` (and `C{n}`, which does not exist):
    /// `$ref`s under `allOf`, `oneOf`, `anyOf` and properties, nested.
    fn arbitrary_schema(rng: &mut Rng, n: u32, depth: u32) -> Value {
        let mut object = Map::new();
        for key in ["allOf", "oneOf", "anyOf"] {
            if pick(rng, 2) == 0 {
                let members: Vec<Value> = (0..1 + pick(rng, 3))
                    .map(|_| {
                        if depth > 0 && pick(rng, 3) == 0 {
                            arbitrary_schema(rng, n, depth - 1)
                        } else if pick(rng, 4) == 0 {
                            json!({"type": "object"})
                        } else {
                            json!({"$ref": format!("{PREFIX}C{}", pick(rng, n + 1))})
                        }
                    })
                    .collect();
                object.insert(key.to_owned(), Value::Array(members));
            }
        }
        if pick(rng, 4) == 0 {
            let target = format!("{PREFIX}C{}", pick(rng, n + 1));
            object.insert("properties".to_owned(), json!({"p": {"$ref": target}}));
        }
        Value::Object(object)
    }

    #[test]
    fn the_pass_drops_what_a_search_from_every_member_drops() {
        use rand_xoshiro::rand_core::SeedableRng;
        let mut rng = Rng::seed_from_u64(16);
        let mut dropped_any = 0;
        for case in 0..3_000 {
            let n = 1 + pick(&mut rng, 7);
            let schemas: Map<String, Value> = (0..n)
                .map(|i| (format!("C{i}"), arbitrary_schema(&mut rng, n, 2)))
                .collect();
            let mut ours = json!({"components": {"schemas": schemas}});
            let mut theirs = ours.clone();
            let notes = allof_cycles(ours.as_object_mut().unwrap());
            let expected = reference::allof_cycles(theirs.as_object_mut().unwrap());
            assert_eq!(ours, theirs, "case {case}");
            let got: Vec<(String, String)> = notes
                .iter()
                .map(|note| {
                    let name = note.scope.strip_prefix("schema ").unwrap().to_owned();
                    let member = note.message.strip_prefix("allOf member ").unwrap();
                    let member = &member[..member.find(" dropped").unwrap()];
                    (name, member.to_owned())
                })
                .collect();
            assert_eq!(got, expected, "case {case}");
            dropped_any += usize::from(!expected.is_empty());
        }
        assert!(dropped_any > 300, "the cases break cycles: {dropped_any}");
    }

    /// Components `C0`…`C{n-1}`, each an `allOf` of `members(i)` (component indexes).
    fn components(n: usize, members: impl Fn(usize) -> Vec<usize>) -> Value {
        let schemas: Map<String, Value> = (0..n)
            .map(|i| {
                let mut all_of: Vec<Value> = members(i)
                    .into_iter()
                    .map(|m| json!({"$ref": format!("{PREFIX}C{m}")}))
                    .collect();
                all_of.push(json!({"type": "object"}));
                (format!("C{i}"), json!({"allOf": all_of}))
            })
            .collect();
        json!({"components": {"schemas": schemas}})
    }

    #[test]
    fn a_ring_of_twenty_thousand_allof_components_is_broken_in_linear_work() {
        // A search from every member looked at ~n²/2 nodes here (3.2 s for n = 4,000, release).
        let n = 20_000;
        let mut doc = components(n, |i| vec![(i + 1) % n]);
        let (notes, steps) = allof_cycles_counted(doc.as_object_mut().unwrap());
        // The ring is broken once, at the first component that closes it.
        assert_eq!(notes.len(), 1, "{notes:?}");
        assert!(notes[0].to_string().starts_with("schema C0: allOf member"));
        // One run over the graph, one over the ring it split.
        assert!(steps <= 2 * n, "{steps} nodes looked at for {n} components");
    }

    #[test]
    fn ten_thousand_two_component_cycles_are_broken_in_linear_work() {
        let n = 20_000;
        let mut doc = components(n, |i| vec![i ^ 1]);
        let (notes, steps) = allof_cycles_counted(doc.as_object_mut().unwrap());
        assert_eq!(notes.len(), n / 2, "each pair once");
        assert!(steps <= 2 * n, "{steps} nodes looked at for {n} components");
    }

    #[test]
    fn a_chain_of_twenty_thousand_allof_components_is_kept_in_linear_work() {
        let n = 20_000;
        let mut doc = components(n, |i| if i + 1 < n { vec![i + 1] } else { vec![] });
        let before = doc.clone();
        let (notes, steps) = allof_cycles_counted(doc.as_object_mut().unwrap());
        assert!(notes.is_empty());
        assert_eq!(doc, before);
        assert!(steps <= n, "{steps} nodes looked at for {n} components");
    }

    #[test]
    fn recursion_through_properties_and_one_of_is_kept() {
        let tree = json!({
            "Node": {"allOf": [{"$ref": "#/components/schemas/Base"}, {"type": "object",
                "properties": {"children": {"type": "array",
                    "items": {"$ref": "#/components/schemas/Node"}}}}]},
            "Base": {"oneOf": [{"$ref": "#/components/schemas/Node"}, {"type": "string"}]},
        });
        let (schemas, notes) = run(tree.clone());
        assert_eq!(schemas, tree);
        assert!(notes.is_empty());
    }
}
