//! How long parsing a provider schema of azure-native's size takes. The issue asks for "tens of MB
//! in well under a second"; this builds a synthetic schema of that size (thousands of resources with
//! long descriptions, many properties and aliases, plus a large `types` section that the parser skips)
//! and reports the parse time of `Schema::parse`.
//!
//! Run with `cargo bench --bench schema`.

use std::time::Instant;

use cloud_import::schema::Schema;

fn synthetic_schema(resources: usize) -> String {
    let description = "Manages a resource. ".repeat(200);
    let mut res = serde_json::Map::new();
    let mut types = serde_json::Map::new();
    for i in 0..resources {
        let token = format!("azure-native:module{}:Resource{i}", i % 300);
        let mut props = serde_json::Map::new();
        for p in 0..40 {
            props.insert(
                format!("property{p}"),
                serde_json::json!({"type": "string", "description": description[..200].to_string()}),
            );
        }
        let aliases: Vec<_> = (0..12)
            .map(|v| serde_json::json!({"type": format!("azure-native:module{}/v2020{v:02}01:Resource{i}", i % 300)}))
            .collect();
        res.insert(
            token.clone(),
            serde_json::json!({
                "description": description,
                "inputProperties": props,
                "properties": props,
                "requiredInputs": ["property0", "property1"],
                "aliases": aliases,
            }),
        );
        types.insert(
            format!("{token}Properties"),
            serde_json::json!({"type": "object", "properties": props, "description": description}),
        );
    }
    serde_json::json!({
        "name": "azure-native",
        "version": "3.29.0",
        "resources": res,
        "types": types,
        "language": {"csharp": {"namespaces": {}}},
    })
    .to_string()
}

fn main() {
    let text = synthetic_schema(1000);
    let mb = text.len() as f64 / 1e6;
    let mut best = f64::MAX;
    for _ in 0..5 {
        let start = Instant::now();
        let schema = Schema::parse(text.as_bytes()).expect("synthetic schema parses");
        let secs = start.elapsed().as_secs_f64();
        assert_eq!(schema.resources.len(), 1000);
        best = best.min(secs);
    }
    println!(
        "schema parse: {mb:.1} MB in {:.0} ms (best of 5), {:.0} MB/s",
        best * 1e3,
        mb / best
    );
}
