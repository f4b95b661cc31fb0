//! The end-of-fleet table, one row per child: read, failed, skipped, duration, exit code and why.

use std::fmt::Write;
use std::time::Duration;

use serde_json::{json, Value};

/// How one child's run ended.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub name: String,
    pub stack: String,
    pub read: Option<u64>,
    pub failed: Option<u64>,
    pub skipped: Option<u64>,
    pub duration: Duration,
    /// `None` when the run never started or was killed by a signal.
    pub exit_code: Option<i32>,
    /// Empty on success; otherwise the error line that explains the failure.
    pub why: String,
}

impl Outcome {
    pub fn ok(&self) -> bool {
        self.exit_code == Some(0)
    }
}

/// The same rows as JSON, for monitoring: one object per child.
pub fn to_json(rows: &[Outcome]) -> Value {
    Value::Array(
        rows.iter()
            .map(|o| {
                json!({
                    "child": o.name,
                    "stack": o.stack,
                    "ok": o.ok(),
                    "read": o.read,
                    "failed": o.failed,
                    "skipped": o.skipped,
                    "durationSeconds": (o.duration.as_secs_f64() * 10.0).round() / 10.0,
                    "exitCode": o.exit_code,
                    "why": o.why,
                })
            })
            .collect(),
    )
}

fn count(n: Option<u64>) -> String {
    n.map(|n| n.to_string()).unwrap_or_else(|| "-".into())
}

/// A plain-text table (fixed-width columns; `why` last, unpadded).
pub fn render(rows: &[Outcome]) -> String {
    let header = [
        "CHILD", "STACK", "READ", "FAILED", "SKIPPED", "DURATION", "EXIT", "WHY",
    ];
    let cells: Vec<[String; 8]> = rows
        .iter()
        .map(|o| {
            [
                o.name.clone(),
                o.stack.clone(),
                count(o.read),
                count(o.failed),
                count(o.skipped),
                format!("{:.1}s", o.duration.as_secs_f64()),
                o.exit_code
                    .map(|c| c.to_string())
                    .unwrap_or_else(|| "-".into()),
                if o.ok() { String::new() } else { o.why.clone() },
            ]
        })
        .collect();
    let mut widths = header.map(str::len);
    for row in &cells {
        for (w, c) in widths.iter_mut().zip(row.iter()) {
            *w = (*w).max(c.chars().count());
        }
    }
    let mut out = String::new();
    let line = |out: &mut String, row: &[String]| {
        let mut text = String::new();
        for (i, c) in row.iter().enumerate() {
            if i == row.len() - 1 {
                text.push_str(c);
            } else if (2..=6).contains(&i) {
                let _ = write!(text, "{c:>w$}  ", w = widths[i]);
            } else {
                let _ = write!(text, "{c:<w$}  ", w = widths[i]);
            }
        }
        out.push_str(text.trim_end());
        out.push('\n');
    };
    line(&mut out, &header.map(String::from));
    for row in &cells {
        line(&mut out, row);
    }
    let failed = rows.iter().filter(|o| !o.ok()).count();
    let _ = writeln!(
        out,
        "{} children: {} succeeded, {failed} failed",
        rows.len(),
        rows.len() - failed
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_line_up_and_failures_say_why() {
        let rows = vec![
            Outcome {
                name: "acme/us-east-1".into(),
                stack: "acme.us-east-1".into(),
                read: Some(12),
                failed: Some(0),
                skipped: Some(3),
                duration: Duration::from_millis(4200),
                exit_code: Some(0),
                why: String::new(),
            },
            Outcome {
                name: "acme/eu-west-1".into(),
                stack: "acme.eu-west-1".into(),
                read: None,
                failed: None,
                skipped: None,
                duration: Duration::from_secs(1),
                exit_code: Some(32),
                why: "discovery was incomplete".into(),
            },
        ];
        let t = render(&rows);
        let lines: Vec<&str> = t.lines().collect();
        assert!(lines[0].starts_with("CHILD"), "{t}");
        assert!(lines[1].contains("   12"), "{t}");
        assert!(lines[2].ends_with("32  discovery was incomplete"), "{t}");
        assert_eq!(lines[3], "2 children: 1 succeeded, 1 failed");
        assert_eq!(
            lines[0].find("STACK"),
            lines[1].find("acme.us-east-1"),
            "{t}"
        );
    }
}
