//! Fakes of Azure's Entra token endpoint and Resource Manager, served over HTTPS with a test CA so
//! the real azure_core / azure_identity clients talk to them unchanged.

pub mod arm;
pub mod entra;
pub mod github;
pub mod tls;
