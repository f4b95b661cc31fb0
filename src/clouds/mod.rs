//! The clouds we scan, and the factory that builds a cloud's [`Scanner`] from settings. What each
//! cloud is (its name, provider package, pinned plugin version) is the leaf module `cloud`.

pub use crate::cloud::Cloud;
use crate::discover::Scanner;
use crate::settings::{InputError, Settings};

pub mod aws;
pub mod azure;
pub mod bearer;
pub mod kubernetes;
pub mod oci;

/// Each cloud's typed options, built once from the settings before any cloud or engine call
/// (ripgrep's `HiArgs::from_low_args`): every check of a cloud's keys happens here, and the scanners
/// take these, never raw settings.
#[derive(Debug, Clone)]
pub enum CloudOptions {
    Aws(aws::AwsOptions),
    Azure(azure::AzureOptions),
    Kubernetes(kubernetes::KubernetesOptions),
    Oci(oci::OciOptions),
}

impl CloudOptions {
    pub fn from_settings(settings: &Settings) -> Result<Self, InputError> {
        Ok(match settings.cloud {
            Cloud::Aws => CloudOptions::Aws(aws::AwsOptions::from_settings(settings)?),
            Cloud::Azure => CloudOptions::Azure(azure::AzureOptions::from_settings(settings)?),
            Cloud::Kubernetes => {
                CloudOptions::Kubernetes(kubernetes::KubernetesOptions::from_settings(settings)?)
            }
            Cloud::Oci => CloudOptions::Oci(oci::OciOptions::from_settings(settings)?),
        })
    }
}

/// A scanner ready to run, and warnings to show once the run's reporter exists.
pub struct Built {
    pub scanner: Box<dyn Scanner>,
    pub warnings: Vec<String>,
}

/// Builds the scanner for the configured cloud. Configuration problems (no credentials, unreadable
/// kubeconfig) come back as [`InputError`]s before any listing starts.
pub async fn scanner(settings: &Settings, options: &CloudOptions) -> Result<Built, InputError> {
    crate::install_crypto_provider();
    let mut warnings = Vec::new();
    let scanner: Box<dyn Scanner> = match options {
        CloudOptions::Kubernetes(o) => {
            let scanner = kubernetes::KubernetesScanner::new(o).await?;
            warnings.extend(scanner.note.clone());
            Box::new(scanner)
        }
        CloudOptions::Aws(o) => {
            let scanner = aws::AwsScanner::new(o.clone()).await?;
            // Tokens the installed aws-native does not know are skipped with a reason.
            match provider_schema(settings, Cloud::Aws).await? {
                Ok(schema) => {
                    Box::new(scanner.with_known_tokens(schema.resources.keys().cloned().collect()))
                }
                Err(why) => {
                    warnings.push(why);
                    Box::new(scanner)
                }
            }
        }
        CloudOptions::Azure(o) => {
            let scanner = azure::AzureScanner::new(o).await?;
            match provider_schema(settings, Cloud::Azure).await? {
                Ok(schema) => {
                    let pairs = schema.resources.iter().filter_map(|(token, r)| {
                        azure::mapping::import_sample_id(&r.description)
                            .map(|id| (token.as_str(), id))
                    });
                    Box::new(scanner.with_type_map(azure::mapping::TypeMap::from_import_ids(pairs)))
                }
                Err(why) => {
                    warnings.push(why);
                    warnings.push(azure::HOW_TO_GET_EXACT_MAPPING.to_string());
                    Box::new(scanner)
                }
            }
        }
        CloudOptions::Oci(o) => {
            let scanner = oci::OciScanner::new(o).await?;
            match provider_schema(settings, Cloud::Oci).await? {
                Ok(schema) => {
                    let formats: Vec<(String, String)> = schema
                        .resources
                        .iter()
                        .filter_map(|(t, r)| {
                            oci::read_id::import_format(t, &r.description).map(|f| (t.clone(), f))
                        })
                        .collect();
                    Box::new(
                        scanner
                            .with_schema_tokens(schema.resources.keys())
                            .with_import_formats(formats),
                    )
                }
                Err(why) => {
                    warnings.push(why);
                    warnings.push(format!(
                        "mapping OCI search types with a built-in list of {} common pulumi-oci types; other types are skipped",
                        oci::builtin::TOKENS.len()
                    ));
                    Box::new(scanner.with_schema_tokens(oci::builtin::TOKENS))
                }
            }
        }
    };
    Ok(Built { scanner, warnings })
}

/// The installed provider's schema for this run's plugin version, or the warning saying how to
/// provide one. A schema file the user named must be usable: anything else is bad input.
async fn provider_schema(
    settings: &Settings,
    cloud: Cloud,
) -> Result<Result<std::sync::Arc<crate::schema::Schema>, String>, InputError> {
    let version = settings.provider_version.clone();
    let sources = crate::schema::SchemaSources::from_settings(settings, |k| std::env::var(k).ok());
    if let Some(path) = &sources.file {
        let bad = |why: String| {
            InputError::new(format!(
                "{} ({}): {why}",
                settings.describe(crate::schema::SCHEMA_FILE_KEY),
                path.display()
            ))
        };
        let schema = crate::schema::file::load(path).await.map_err(bad)?;
        schema
            .check_identity(cloud.package(), &version)
            .map_err(bad)?;
        return Ok(Ok(std::sync::Arc::new(schema)));
    }
    let store = crate::schema::SchemaStore::new(sources);
    Ok(store
        .get(cloud.package(), &version)
        .await
        .map_err(|e| e.to_string()))
}
