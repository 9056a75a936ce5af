//! A crate's modules and the file-to-file edges between them.
//!
//! From each root (`src/lib.rs`, `src/main.rs`, `src/bin/*.rs`: each is a
//! crate of its own) the `mod` declarations are followed to their files
//! (inline modules stay in their file). Every path that starts with
//! `crate`, `super` or `self` — in `use` trees, in code, in macro bodies —
//! is resolved to the longest module it names; the file holding that module
//! is the edge's target.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use anyhow::Context;
use proc_macro2::{TokenStream, TokenTree};
use syn::spanned::Spanned;
use syn::visit::Visit;

type ModPath = Vec<String>;

#[derive(Debug, Default)]
pub struct ModuleGraph {
    /// Module path (prefixed by its root's file name) → the file holding it
    /// (relative to the crate's folder).
    modules: BTreeMap<ModPath, String>,
    /// (module where the path was written, the absolute module path it names).
    references: Vec<(ModPath, ModPath)>,
    non_test_lines: usize,
}

impl ModuleGraph {
    /// Reads the crate in `dir` (its `src/` roots).
    pub fn read(dir: &Path) -> anyhow::Result<Self> {
        let mut graph = Self::default();
        let src = dir.join("src");
        let mut roots = Vec::new();
        for name in ["lib.rs", "main.rs"] {
            if src.join(name).is_file() {
                roots.push(src.join(name));
            }
        }
        if let Ok(entries) = std::fs::read_dir(src.join("bin")) {
            let mut bins: Vec<PathBuf> = entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "rs"))
                .collect();
            bins.sort();
            roots.extend(bins);
        }
        for root in roots {
            let prefix = root
                .strip_prefix(dir)
                .unwrap_or(&root)
                .to_string_lossy()
                .into_owned();
            graph.walk_file(dir, &root, vec![prefix], false)?;
        }
        Ok(graph)
    }

    /// Non-test lines: every line of every file reached, less the items
    /// under `#[cfg(test)]` and the files only test modules declare.
    pub fn non_test_lines(&self) -> usize {
        self.non_test_lines
    }

    /// File → files it takes names from, containment left out (see the
    /// crate's overview).
    pub fn file_edges(&self) -> BTreeMap<String, BTreeSet<String>> {
        let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for (from, target) in &self.references {
            let Some(target) = self.longest_module(target) else {
                continue;
            };
            if is_prefix(&target, from) || is_prefix(from, &target) {
                continue;
            }
            let (Some(a), Some(b)) = (self.file_of(from), self.modules.get(&target)) else {
                continue;
            };
            if a != b {
                edges.entry(a.clone()).or_default().insert(b.clone());
            }
        }
        edges
    }

    fn file_of(&self, module: &ModPath) -> Option<&String> {
        self.longest_module(module)
            .and_then(|m| self.modules.get(&m))
    }

    fn longest_module(&self, path: &ModPath) -> Option<ModPath> {
        (1..=path.len())
            .rev()
            .map(|n| path[..n].to_vec())
            .find(|p| self.modules.contains_key(p))
    }

    fn walk_file(
        &mut self,
        crate_dir: &Path,
        file: &Path,
        module: ModPath,
        test_only: bool,
    ) -> anyhow::Result<()> {
        let text = std::fs::read_to_string(file)
            .with_context(|| format!("cannot read {}", file.display()))?;
        let parsed =
            syn::parse_file(&text).with_context(|| format!("cannot parse {}", file.display()))?;
        let rel = file
            .strip_prefix(crate_dir)
            .unwrap_or(file)
            .to_string_lossy()
            .into_owned();
        self.modules.insert(module.clone(), rel);
        if !test_only {
            let test_lines: usize = parsed
                .items
                .iter()
                .filter(|i| is_cfg_test(item_attrs(i)))
                .map(|i| {
                    let span = i.span();
                    span.end().line + 1 - span.start().line
                })
                .sum();
            self.non_test_lines += text.lines().count().saturating_sub(test_lines);
        }
        let child_dir = child_dir(file);
        self.walk_items(crate_dir, &parsed.items, &module, &child_dir, test_only)
    }

    fn walk_items(
        &mut self,
        crate_dir: &Path,
        items: &[syn::Item],
        module: &ModPath,
        dir: &Path,
        test_only: bool,
    ) -> anyhow::Result<()> {
        let mut collector = Collector {
            module: module.clone(),
            found: Vec::new(),
        };
        for item in items {
            match item {
                syn::Item::Mod(m) => {
                    let name = m.ident.to_string();
                    let mut child = module.clone();
                    child.push(name.clone());
                    let test = test_only || is_cfg_test(&m.attrs);
                    match &m.content {
                        Some((_, inner)) => {
                            let file = self.modules[module].clone();
                            self.modules.insert(child.clone(), file);
                            self.walk_items(crate_dir, inner, &child, &dir.join(&name), test)?;
                        }
                        None => {
                            let candidates = [
                                dir.join(format!("{name}.rs")),
                                dir.join(&name).join("mod.rs"),
                            ];
                            let Some(path) = candidates.iter().find(|p| p.is_file()) else {
                                anyhow::bail!(
                                    "module {} is declared but neither {} nor {} exists",
                                    child.join("::"),
                                    candidates[0].display(),
                                    candidates[1].display()
                                );
                            };
                            self.walk_file(crate_dir, path, child, test)?;
                        }
                    }
                }
                other => collector.visit_item(other),
            }
        }
        self.references.extend(collector.found);
        Ok(())
    }
}

/// Where `mod x;` in `file` looks for `x`.
fn child_dir(file: &Path) -> PathBuf {
    let parent = file.parent().unwrap_or(Path::new("")).to_path_buf();
    match file.file_name().and_then(|n| n.to_str()) {
        Some("lib.rs" | "main.rs" | "mod.rs") => parent,
        _ if parent.ends_with("bin") => parent,
        _ => parent.join(file.file_stem().unwrap_or_default()),
    }
}

fn is_prefix(a: &ModPath, b: &ModPath) -> bool {
    a.len() <= b.len() && b[..a.len()] == a[..]
}

fn item_attrs(item: &syn::Item) -> &[syn::Attribute] {
    use syn::Item::*;
    match item {
        Const(i) => &i.attrs,
        Enum(i) => &i.attrs,
        ExternCrate(i) => &i.attrs,
        Fn(i) => &i.attrs,
        ForeignMod(i) => &i.attrs,
        Impl(i) => &i.attrs,
        Macro(i) => &i.attrs,
        Mod(i) => &i.attrs,
        Static(i) => &i.attrs,
        Struct(i) => &i.attrs,
        Trait(i) => &i.attrs,
        TraitAlias(i) => &i.attrs,
        Type(i) => &i.attrs,
        Union(i) => &i.attrs,
        Use(i) => &i.attrs,
        _ => &[],
    }
}

/// `#[cfg(test)]`, or a `cfg` whose condition names `test` (`all(test, …)`).
fn is_cfg_test(attrs: &[syn::Attribute]) -> bool {
    attrs.iter().any(|a| {
        a.path().is_ident("cfg")
            && a.meta
                .require_list()
                .is_ok_and(|l| names_ident(&l.tokens, "test"))
    })
}

fn names_ident(tokens: &TokenStream, name: &str) -> bool {
    tokens.clone().into_iter().any(|t| match t {
        TokenTree::Ident(i) => i == name,
        TokenTree::Group(g) => names_ident(&g.stream(), name),
        _ => false,
    })
}

/// Collects the relative paths of one module's items (not of the modules
/// it declares: those are walked with their own module path).
struct Collector {
    module: ModPath,
    found: Vec<(ModPath, ModPath)>,
}

impl Collector {
    fn relative(&mut self, segments: &[String]) {
        let Some(first) = segments.first() else {
            return;
        };
        let mut base = match first.as_str() {
            "crate" => vec![self.module[0].clone()],
            "self" | "super" => self.module.clone(),
            _ => return,
        };
        let mut rest = &segments[1..];
        if first == "super" {
            base.pop();
        }
        while let Some(s) = rest.first() {
            match s.as_str() {
                "super" => {
                    base.pop();
                }
                "self" => {}
                _ => break,
            }
            rest = &rest[1..];
        }
        if base.is_empty() {
            return; // `super` past the root: not a path of this crate
        }
        base.extend(rest.iter().cloned());
        self.found.push((self.module.clone(), base));
    }

    fn use_tree(&mut self, prefix: &mut Vec<String>, tree: &syn::UseTree) {
        match tree {
            syn::UseTree::Path(p) => {
                prefix.push(p.ident.to_string());
                self.use_tree(prefix, &p.tree);
                prefix.pop();
            }
            syn::UseTree::Name(n) => {
                let mut full = prefix.clone();
                if n.ident != "self" {
                    full.push(n.ident.to_string());
                }
                self.relative(&full);
            }
            syn::UseTree::Rename(r) => {
                let mut full = prefix.clone();
                if r.ident != "self" {
                    full.push(r.ident.to_string());
                }
                self.relative(&full);
            }
            syn::UseTree::Glob(_) => {
                let full = prefix.clone();
                self.relative(&full);
            }
            syn::UseTree::Group(g) => {
                for t in &g.items {
                    self.use_tree(prefix, t);
                }
            }
        }
    }

    /// `crate::a::b` written inside a macro call (`format!`, `assert!`…),
    /// which syn leaves as tokens.
    fn tokens(&mut self, tokens: TokenStream) {
        let trees: Vec<TokenTree> = tokens.into_iter().collect();
        let mut i = 0;
        while i < trees.len() {
            match &trees[i] {
                TokenTree::Group(g) => self.tokens(g.stream()),
                TokenTree::Ident(id)
                    if (id == "crate" || id == "super" || id == "self")
                        && !matches!(i.checked_sub(1).map(|p| &trees[p]), Some(TokenTree::Punct(p)) if p.as_char() == '$' || p.as_char() == ':') =>
                {
                    let mut segments = vec![id.to_string()];
                    let mut j = i + 1;
                    while j + 2 < trees.len() && is_colon(&trees[j]) && is_colon(&trees[j + 1]) {
                        match &trees[j + 2] {
                            TokenTree::Ident(next) => {
                                segments.push(next.to_string());
                                j += 3;
                            }
                            _ => break,
                        }
                    }
                    if segments.len() > 1 {
                        self.relative(&segments);
                    }
                    i = j;
                    continue;
                }
                _ => {}
            }
            i += 1;
        }
    }
}

fn is_colon(t: &TokenTree) -> bool {
    matches!(t, TokenTree::Punct(p) if p.as_char() == ':')
}

impl<'ast> Visit<'ast> for Collector {
    fn visit_item_use(&mut self, u: &'ast syn::ItemUse) {
        if u.leading_colon.is_none() {
            self.use_tree(&mut Vec::new(), &u.tree);
        }
    }

    fn visit_path(&mut self, p: &'ast syn::Path) {
        if p.leading_colon.is_none() {
            let segments: Vec<String> = p.segments.iter().map(|s| s.ident.to_string()).collect();
            self.relative(&segments);
        }
        syn::visit::visit_path(self, p);
    }

    fn visit_macro(&mut self, m: &'ast syn::Macro) {
        self.visit_path(&m.path);
        self.tokens(m.tokens.clone());
    }

    fn visit_item_mod(&mut self, _: &'ast syn::ItemMod) {
        // Walked by `ModuleGraph::walk_items` with the module's own path.
    }
}
