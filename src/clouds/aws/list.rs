//! Cloud Control `ListResources` for one type, page by page: follows `NextToken` to the end whatever
//! the page size (Cloud Control ignores `MaxResults`; handlers return 1 to all items per page), and
//! stops with an error instead of looping when the service hands back a token it already gave.
//! Types whose list handler needs properties are listed with a `ResourceModel` (see `fanout`).

use super::api::Api;
use super::errors::ApiError;
use crate::http::paging::PageTokens;

/// One listed resource: the Cloud Control identifier (the read id; composite identifiers stay
/// `|`-joined) and the properties the list handler returned, as a JSON string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    pub identifier: String,
    pub properties: Option<String>,
}

/// Pages through one `ListResources` listing.
pub struct Pager<'a> {
    api: &'a Api,
    type_name: String,
    model: Option<String>,
    next: Option<String>,
    tokens: PageTokens,
    done: bool,
    /// A repeated token is reported after the page that carried it has been handed out.
    pending: Option<ApiError>,
    /// Pages received so far.
    pub pages: u64,
}

impl<'a> Pager<'a> {
    pub fn new(api: &'a Api, type_name: &str, model: Option<String>) -> Self {
        Pager {
            api,
            type_name: type_name.to_string(),
            model,
            next: None,
            tokens: PageTokens::new(),
            done: false,
            pending: None,
            pages: 0,
        }
    }

    /// The next page, or `None` after the last one.
    pub async fn next_page(&mut self) -> Result<Option<Vec<Listed>>, ApiError> {
        if let Some(err) = self.pending.take() {
            return Err(err);
        }
        if self.done {
            return Ok(None);
        }
        let out = self
            .api
            .call(|| {
                let req = self
                    .api
                    .cloudcontrol
                    .list_resources()
                    .type_name(&self.type_name)
                    .max_results(100)
                    .set_next_token(self.next.clone())
                    .set_resource_model(self.model.clone());
                async move { req.send().await.map_err(|e| ApiError::from_sdk(&e)) }
            })
            .await?;
        self.pages += 1;
        let items = out
            .resource_descriptions()
            .iter()
            .filter_map(|d| {
                d.identifier().map(|id| Listed {
                    identifier: id.to_string(),
                    properties: d.properties().map(str::to_string),
                })
            })
            .collect();
        match self.tokens.next(out.next_token()) {
            Ok(None) => self.done = true,
            Ok(Some(token)) => self.next = Some(token.to_string()),
            Err(_) => {
                self.done = true;
                self.pending = Some(ApiError::local(format!(
                    "Cloud Control returned the same NextToken twice after {} pages; stopped paging",
                    self.pages
                )));
            }
        }
        Ok(Some(items))
    }
}
