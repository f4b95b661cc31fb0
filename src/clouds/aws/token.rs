//! CloudFormation type name -> aws-native type token, by the naming rule the aws-native generator
//! uses: `AWS::EC2::VPC` -> `aws-native:ec2:Vpc`, `AWS::RDS::DBInstance` -> `aws-native:rds:DbInstance`.
//!
//! The rule: the module is the lower-cased service (`AWS::Config::*` lives in `configuration`, because
//! `config` is taken by the SDKs' provider configuration); in the resource name every capital that
//! follows a capital and does not start a new word (is not followed by a lower-case letter) is
//! lowered, so runs of capitals read as one word; a name ending in `Output` gets `Resource` appended
//! (the SDKs reserve `*Output` for function results), except `AWS::MediaConnect::FlowOutput`, which
//! the generator keeps as is.

/// The aws-native token for a CloudFormation resource type, or `None` when the name is not of the
/// `AWS::<Service>::<Resource>` form.
pub fn token_for(type_name: &str) -> Option<String> {
    let mut parts = type_name.split("::");
    let (Some("AWS"), Some(service), Some(resource), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return None;
    };
    if service.is_empty() || resource.is_empty() {
        return None;
    }
    let module = if service == "Config" {
        "configuration".to_string()
    } else {
        service.to_ascii_lowercase()
    };
    let mut name = lower_capital_runs(resource);
    if name.ends_with("Output") && type_name != "AWS::MediaConnect::FlowOutput" {
        name.push_str("Resource");
    }
    Some(format!("aws-native:{module}:{name}"))
}

/// `DBInstance` -> `DbInstance`, `VPC` -> `Vpc`, `EC2Fleet` -> `Ec2Fleet`.
fn lower_capital_runs(name: &str) -> String {
    let chars: Vec<char> = name.chars().collect();
    chars
        .iter()
        .enumerate()
        .map(|(i, &c)| {
            let after_capital = i > 0 && chars[i - 1].is_ascii_uppercase();
            let starts_word = chars.get(i + 1).is_some_and(|n| n.is_ascii_lowercase());
            if c.is_ascii_uppercase() && after_capital && !starts_word {
                c.to_ascii_lowercase()
            } else {
                c
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tricky_names() {
        for (cf, token) in [
            ("AWS::EC2::VPC", "aws-native:ec2:Vpc"),
            ("AWS::RDS::DBInstance", "aws-native:rds:DbInstance"),
            ("AWS::EC2::EC2Fleet", "aws-native:ec2:Ec2Fleet"),
            (
                "AWS::Config::ConfigRule",
                "aws-native:configuration:ConfigRule",
            ),
            ("AWS::IoT::CACertificate", "aws-native:iot:CaCertificate"),
            (
                "AWS::MediaLive::Output",
                "aws-native:medialive:OutputResource",
            ),
            (
                "AWS::MediaConnect::FlowOutput",
                "aws-native:mediaconnect:FlowOutput",
            ),
            ("AWS::EKS::Nodegroup", "aws-native:eks:Nodegroup"),
        ] {
            assert_eq!(token_for(cf).as_deref(), Some(token), "{cf}");
        }
        for bad in [
            "AWS::EC2",
            "Custom::Thing::X",
            "AWS::EC2::VPC::Extra",
            "AWS::::X",
        ] {
            assert_eq!(token_for(bad), None, "{bad}");
        }
    }

    /// Checks the rule against every row of the shared type map (CloudFormation type -> aws-native
    /// token as generated). Skips when the reference data is not on this machine.
    #[test]
    fn matches_every_row_of_the_type_map() {
        let Some(text) = crate::testdata::type_map("aws.tsv") else {
            return;
        };
        let mut rows = 0;
        let mut wrong = Vec::new();
        for line in text.lines() {
            if line.starts_with('#') || line.starts_with("cloudformation_type\t") {
                continue;
            }
            let mut cols = line.split('\t');
            let (Some(cf), Some(token)) = (cols.next(), cols.next()) else {
                continue;
            };
            rows += 1;
            if token_for(cf).as_deref() != Some(token) {
                wrong.push(format!("{cf}: want {token}, got {:?}", token_for(cf)));
            }
        }
        eprintln!(
            "token rule checked against {rows} rows, {} mismatches",
            wrong.len()
        );
        assert!(rows > 0, "no rows read from aws.tsv");
        assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    }
}
