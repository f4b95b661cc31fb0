//! The EKS clusters of one account-region, through Cloud Control: `ListResources` of
//! `AWS::EKS::Cluster` (every page), then `GetResource` for a cluster whose listed model lacks the
//! endpoint or the CA (the list handler returns little more than the name). Both are reads.

use anyhow::{anyhow, Result};
use aws_config::{Region, SdkConfig};
use serde_json::Value;

use super::clusters::{Found, Kind};
use crate::clouds::aws::errors::ApiError;

const TYPE_NAME: &str = "AWS::EKS::Cluster";

pub async fn clusters(sdk: &SdkConfig, region: &str) -> Result<Vec<Found>> {
    let sdk = sdk
        .to_builder()
        .region(Region::new(region.to_string()))
        .build();
    let client = aws_sdk_cloudcontrol::Client::new(&sdk);
    let mut listed = Vec::new();
    let mut pages = client
        .list_resources()
        .type_name(TYPE_NAME)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| {
            anyhow!(
                "Cloud Control ListResources {TYPE_NAME}: {}",
                ApiError::from_sdk(&e)
            )
        })?;
        for d in page.resource_descriptions() {
            let Some(id) = d.identifier() else { continue };
            let model: Value = d
                .properties()
                .and_then(|p| serde_json::from_str(p).ok())
                .unwrap_or(Value::Null);
            listed.push((id.to_string(), model));
        }
    }
    let mut out = Vec::new();
    for (name, mut model) in listed {
        if model.get("Endpoint").and_then(Value::as_str).is_none() {
            let got = client
                .get_resource()
                .type_name(TYPE_NAME)
                .identifier(&name)
                .send()
                .await
                .map_err(|e| {
                    anyhow!(
                        "Cloud Control GetResource {TYPE_NAME} {name}: {}",
                        ApiError::from_sdk(&e)
                    )
                })?;
            model = got
                .resource_description()
                .and_then(|d| d.properties())
                .and_then(|p| serde_json::from_str(p).ok())
                .unwrap_or(Value::Null);
        }
        let Some(server) = model.get("Endpoint").and_then(Value::as_str) else {
            // A cluster still being created has no endpoint yet: nothing to scan.
            continue;
        };
        out.push(Found {
            name: name.clone(),
            server: server.to_string(),
            ca_data: model
                .get("CertificateAuthorityData")
                .and_then(Value::as_str)
                .map(str::to_string),
            kind: Kind::Eks {
                region: region.to_string(),
            },
        });
    }
    Ok(out)
}
