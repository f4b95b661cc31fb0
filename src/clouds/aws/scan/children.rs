//! Listing a type that needs properties: once per `ResourceModel` built from each of its parent's
//! listed resources, or once per allowed value of its one enum property, and summing up how that
//! went (a refusal of every model means the fan-out does not fit the type: skipped; a failure of
//! some means resources may be missing: incomplete).

use std::sync::atomic::Ordering;

use futures::stream::{self, StreamExt};
use serde_json::Value;

use super::{Final, Run};
use crate::clouds::aws::errors::Class;
use crate::clouds::aws::fanout::{Plan, ValuesPlan};
use crate::clouds::aws::list::Listed;

impl Run {
    /// Lists `child` once per resource of its parent type.
    pub(super) async fn fan_out(&self, child: &str, token: &str, plan: &Plan, keep: bool) -> Final {
        let parents: Vec<Listed> = self
            .store
            .lock()
            .expect("store lock")
            .get(&plan.parent)
            .cloned()
            .unwrap_or_default();
        let models = parents
            .iter()
            .map(|parent| {
                let props: Option<Value> = parent
                    .properties
                    .as_deref()
                    .and_then(|s| serde_json::from_str(s).ok());
                (
                    format!("{} {}", plan.parent, parent.identifier),
                    plan.model_for(&parent.identifier, props.as_ref()),
                )
            })
            .collect();
        self.list_models(child, token, models, keep, false, &plan.parent)
            .await
    }

    /// Lists `child` once per allowed value of its one required property. A value the region does
    /// not accept (WAFv2's `CLOUDFRONT` scope outside us-east-1) is passed over.
    pub(super) async fn fan_out_values(
        &self,
        child: &str,
        token: &str,
        plan: &ValuesPlan,
        keep: bool,
    ) -> Final {
        let models = plan
            .values
            .iter()
            .zip(plan.models())
            .map(|(v, m)| (format!("{}={v}", plan.property), Ok(m)))
            .collect();
        let source = format!("the values of {}", plan.property);
        self.list_models(child, token, models, keep, true, &source)
            .await
    }

    /// Lists `child` once per `ResourceModel` and sums up how that went.
    async fn list_models(
        &self,
        child: &str,
        token: &str,
        models: Vec<(String, Result<String, String>)>,
        keep: bool,
        pass_over_rejected: bool,
        source: &str,
    ) -> Final {
        let total = models.len();
        let outcomes: Vec<Result<(), (Class, String)>> = stream::iter(models)
            .map(|(label, model)| async move {
                let model = model.map_err(|r| (Class::InvalidRequest, r))?;
                match self.list_into(child, token, Some(model), keep).await {
                    Ok(()) => Ok(()),
                    // The parent went away between its listing and this one.
                    Err(f) if f.error.class == Class::NotFound && f.pages == 0 => Ok(()),
                    Err(f) => Err((f.error.class, format!("{label}: {}", f.error))),
                }
            })
            .buffer_unordered(self.cfg.list_concurrency)
            .collect()
            .await;
        let failures: Vec<&(Class, String)> =
            outcomes.iter().filter_map(|o| o.as_ref().err()).collect();
        if let Some((class, reason)) = failures
            .iter()
            .find(|(c, _)| matches!(c, Class::Unsupported | Class::AccessDenied))
        {
            if *class == Class::AccessDenied {
                self.access_denied.fetch_add(1, Ordering::SeqCst);
                return Final::Denied(format!("access denied (ListResources): {reason}"));
            }
            return Final::Skipped(format!("not supported by Cloud Control here: {reason}"));
        }
        let rejected: Vec<&&(Class, String)> = failures
            .iter()
            .filter(|(c, _)| *c == Class::InvalidRequest)
            .collect();
        if let Some((_, other)) = failures.iter().find(|(c, _)| *c != Class::InvalidRequest) {
            return Final::Incomplete(format!(
                "listing failed for {} of {total} ResourceModels from {source}; first: {other}",
                failures.len()
            ));
        }
        match rejected.first() {
            None => Final::Listed,
            // Every model was refused: the fan-out is wrong for this type, not a passing fault.
            Some((_, first)) if rejected.len() == total => Final::Skipped(format!(
                "Cloud Control refused every ResourceModel built from {source}: {first}"
            )),
            Some(_) if pass_over_rejected => Final::Listed,
            Some((_, first)) => Final::Incomplete(format!(
                "{} of {total} ResourceModels from {source} were refused; first: {first}",
                rejected.len()
            )),
        }
    }
}
