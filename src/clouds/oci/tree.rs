//! A tenancy's compartment tree, built from ListCompartments: which compartments lie below a root,
//! and the name path of each (`dev/app`), used as the scope of what is found there.

use std::collections::HashMap;

use super::search::Compartment;

/// The compartment tree: parent links and names, for subtrees and scope paths.
pub struct Tree {
    tenancy: String,
    by_id: HashMap<String, (String, String)>,
    children: HashMap<String, Vec<String>>,
}

impl Tree {
    pub fn new(tenancy: &str, compartments: &[Compartment]) -> Self {
        let mut by_id = HashMap::new();
        let mut children: HashMap<String, Vec<String>> = HashMap::new();
        for c in compartments {
            by_id.insert(c.id.clone(), (c.name.clone(), c.compartment_id.clone()));
            children
                .entry(c.compartment_id.clone())
                .or_default()
                .push(c.id.clone());
        }
        Tree {
            tenancy: tenancy.to_string(),
            by_id,
            children,
        }
    }

    pub fn knows(&self, id: &str) -> bool {
        id == self.tenancy || self.by_id.contains_key(id)
    }

    /// `root` and every compartment below it, parents first.
    pub fn subtree(&self, root: &str) -> Vec<String> {
        let mut out = vec![root.to_string()];
        let mut i = 0;
        while i < out.len() {
            if let Some(kids) = self.children.get(&out[i]) {
                let mut kids = kids.clone();
                kids.sort();
                out.extend(kids);
            }
            i += 1;
        }
        out
    }

    /// Names from below the tenancy down to `id`, joined by `/`; empty for the tenancy.
    pub fn path(&self, id: &str) -> String {
        let mut names = Vec::new();
        let mut cur = id;
        // Bounded by the tree size, in case of a cycle in bad data.
        for _ in 0..=self.by_id.len() {
            match self.by_id.get(cur) {
                Some((name, parent)) => {
                    names.push(name.as_str());
                    cur = parent;
                }
                None => break,
            }
        }
        names.reverse();
        names.join("/")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(id: &str, name: &str, parent: &str) -> Compartment {
        Compartment {
            id: id.into(),
            name: name.into(),
            compartment_id: parent.into(),
            lifecycle_state: "ACTIVE".into(),
        }
    }

    #[test]
    fn subtrees_and_paths() {
        let t = Tree::new(
            "root",
            &[
                c("b", "app", "a"),
                c("a", "dev", "root"),
                c("x", "ops", "root"),
            ],
        );
        assert_eq!(t.subtree("root"), ["root", "a", "x", "b"]);
        assert_eq!(t.subtree("a"), ["a", "b"]);
        assert_eq!(t.path("b"), "dev/app");
        assert_eq!(t.path("root"), "");
        assert!(t.knows("root") && t.knows("x") && !t.knows("y"));
    }
}
