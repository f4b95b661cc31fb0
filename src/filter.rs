//! Include/exclude filters on type tokens (`kubernetes:apps/*`, `aws-native:ec2:*`), shared by every
//! cloud. A type is imported when it matches an include glob (or there are none) and no exclude glob.

use globset::{GlobSet, GlobSetBuilder};

use crate::input_error::InputError;

#[derive(Debug, Clone)]
pub struct TypeFilter {
    include: Option<GlobSet>,
    exclude: GlobSet,
}

impl TypeFilter {
    pub fn new(include: &[String], exclude: &[String]) -> Result<Self, InputError> {
        Ok(TypeFilter {
            include: if include.is_empty() {
                None
            } else {
                Some(build("include", include)?)
            },
            exclude: build("exclude", exclude)?,
        })
    }

    /// Everything passes.
    pub fn all() -> Self {
        TypeFilter {
            include: None,
            exclude: GlobSet::empty(),
        }
    }

    pub fn allows(&self, token: &str) -> bool {
        self.include.as_ref().is_none_or(|s| s.is_match(token)) && !self.exclude.is_match(token)
    }
}

fn build(key: &str, globs: &[String]) -> Result<GlobSet, InputError> {
    let mut b = GlobSetBuilder::new();
    for g in globs {
        // Tokens are not paths: `*` must cross `/` (`kubernetes:apps/*` and `kubernetes:*`).
        let glob = globset::GlobBuilder::new(g)
            .literal_separator(false)
            .build()
            .map_err(|e| InputError::new(format!("{key} glob {g:?} is not valid: {}", e.kind())))?;
        b.add(glob);
    }
    b.build()
        .map_err(|e| InputError::new(format!("{key} globs are not valid: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(inc: &[&str], exc: &[&str]) -> TypeFilter {
        let v = |x: &[&str]| x.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        TypeFilter::new(&v(inc), &v(exc)).unwrap()
    }

    #[test]
    fn include_and_exclude() {
        let filter = f(
            &["kubernetes:apps/*", "kubernetes:core/v1:*"],
            &["*:Secret"],
        );
        assert!(filter.allows("kubernetes:apps/v1:Deployment"));
        assert!(filter.allows("kubernetes:core/v1:ConfigMap"));
        assert!(!filter.allows("kubernetes:core/v1:Secret"));
        assert!(!filter.allows("kubernetes:batch/v1:Job"));
        assert!(f(&[], &[]).allows("anything:at:All"));
        assert!(!f(&["kubernetes:*"], &[]).allows("aws-native:s3:Bucket"));
    }

    #[test]
    fn bad_glob_names_itself() {
        let err = TypeFilter::new(&["kubernetes:[".to_string()], &[])
            .unwrap_err()
            .to_string();
        assert!(err.contains("include glob \"kubernetes:[\""), "{err}");
    }
}
