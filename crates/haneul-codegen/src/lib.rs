//! # haneul-codegen: typed structs from botocore models
//!
//! A service crate lists the operations it serves in `codegen.txt` (first line: the model's
//! file name under `models/`, then one operation per line). `cargo run -p haneul-codegen --
//! crates/<crate>` writes `src/generated.rs` with one serde struct per structure shape the
//! operations' inputs and outputs reach. The file is checked in; a test keeps it in sync.
//!
//! Mapping: string/enum → `String`, integer/long → `i64`, float/double → `f64`, boolean →
//! `bool`, timestamp → `f64` (epoch seconds), blob → `String` (base64), list → `Vec<T>`,
//! map → `BTreeMap<String, T>`. Required members are plain fields, others `Option`/empty `Vec`.
//! Field names are snake_case, each renamed to the model's member name for serde.

use std::collections::BTreeSet;
use std::fmt::Write;
use std::path::Path;

use anyhow::{bail, Context};
use haneul_wire::model::{ServiceModel, Shape, ShapeType};

const KEYWORDS: &[&str] = &[
    "as", "break", "const", "continue", "crate", "else", "enum", "extern", "false", "fn", "for", "if", "impl", "in",
    "let", "loop", "match", "mod", "move", "mut", "pub", "ref", "return", "self", "static", "struct", "super", "trait",
    "true", "type", "unsafe", "use", "where", "while", "async", "await", "dyn", "abstract", "become", "box", "do",
    "final", "macro", "override", "priv", "typeof", "unsized", "virtual", "yield", "try",
];
/// Prelude names a generated struct must not shadow.
const RESERVED_TYPES: &[&str] = &[
    "Option", "Result", "Vec", "String", "Box", "Default", "Some", "None", "Ok", "Err",
];

/// `vpc_id` from `VpcId`, `ip_address` from `IPAddress`, `ipv6_cidr_block` from `Ipv6CidrBlock`.
pub fn snake_case(name: &str) -> String {
    let chars: Vec<char> = name.chars().collect();
    let mut out = String::new();
    for (i, c) in chars.iter().enumerate() {
        if c.is_uppercase() {
            let prev_lower = i > 0 && (chars[i - 1].is_lowercase() || chars[i - 1].is_ascii_digit());
            let next_lower = chars.get(i + 1).is_some_and(|n| n.is_lowercase());
            let prev_upper = i > 0 && chars[i - 1].is_uppercase();
            if i > 0 && (prev_lower || (prev_upper && next_lower)) && !out.ends_with('_') {
                out.push('_');
            }
            out.extend(c.to_lowercase());
        } else if *c == '-' || *c == '.' {
            out.push('_');
        } else {
            out.push(*c);
        }
    }
    if KEYWORDS.contains(&out.as_str()) {
        format!("r#{out}")
    } else {
        out
    }
}

fn type_name(shape_name: &str) -> String {
    let mut name: String = shape_name
        .chars()
        .filter(|c| c.is_alphanumeric() || *c == '_')
        .collect();
    if let Some(first) = name.get(..1) {
        name.replace_range(..1, &first.to_uppercase());
    }
    if RESERVED_TYPES.contains(&name.as_str()) {
        name.push_str("Shape");
    }
    name
}

fn rust_type(model: &ServiceModel, shape_name: &str) -> String {
    let shape = model.shape(shape_name);
    match shape.shape_type {
        ShapeType::Structure => type_name(shape_name),
        ShapeType::List => match &shape.member {
            Some(m) => format!("Vec<{}>", rust_type(model, &m.shape)),
            None => "Vec<serde_json::Value>".into(),
        },
        ShapeType::Map => match &shape.value {
            Some(v) => format!("std::collections::BTreeMap<String, {}>", rust_type(model, &v.shape)),
            None => "std::collections::BTreeMap<String, serde_json::Value>".into(),
        },
        ShapeType::String | ShapeType::Blob => "String".into(),
        ShapeType::Integer | ShapeType::Long => "i64".into(),
        ShapeType::Float | ShapeType::Double | ShapeType::Timestamp => "f64".into(),
        ShapeType::Boolean => "bool".into(),
    }
}

fn reach(model: &ServiceModel, name: &str, seen: &mut BTreeSet<String>) {
    if !seen.insert(name.to_string()) {
        return;
    }
    let shape = model.shape(name);
    let nested = shape.members.values().map(|m| m.shape.clone()).chain(
        [&shape.member, &shape.key, &shape.value]
            .into_iter()
            .flatten()
            .map(|m| m.shape.clone()),
    );
    for n in nested.collect::<Vec<_>>() {
        reach(model, &n, seen);
    }
}

fn write_struct(out: &mut String, model: &ServiceModel, name: &str, shape: &Shape) -> std::fmt::Result {
    writeln!(
        out,
        "#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]"
    )?;
    writeln!(out, "#[serde(default)]")?;
    writeln!(out, "pub struct {} {{", type_name(name))?;
    for (member_name, member) in &shape.members {
        let ty = rust_type(model, &member.shape);
        let field = snake_case(member_name);
        let required = shape.required.contains(member_name);
        let member_type = model.shape(&member.shape).shape_type;
        let is_collection = matches!(member_type, ShapeType::List | ShapeType::Map);
        let recursive = member_type == ShapeType::Structure && member.shape == name;
        let (ty, skip) = match (required, is_collection, recursive) {
            (_, _, true) => (format!("Option<Box<{ty}>>"), Some("Option::is_none")),
            (true, _, _) => (ty, None),
            (false, true, _) => {
                let skip = if member_type == ShapeType::List {
                    "Vec::is_empty"
                } else {
                    "std::collections::BTreeMap::is_empty"
                };
                (ty, Some(skip))
            }
            (false, false, _) => (format!("Option<{ty}>"), Some("Option::is_none")),
        };
        match skip {
            Some(skip) => writeln!(
                out,
                "    #[serde(rename = \"{member_name}\", skip_serializing_if = \"{skip}\")]"
            )?,
            None => writeln!(out, "    #[serde(rename = \"{member_name}\")]")?,
        }
        writeln!(out, "    pub {field}: {ty},")?;
    }
    writeln!(out, "}}\n")
}

/// The generated module for `operations` of `model`.
pub fn generate(model_file: &str, model: &ServiceModel, operations: &[String]) -> anyhow::Result<String> {
    let mut seen = BTreeSet::new();
    for op_name in operations {
        let Some(op) = model.operations.get(op_name) else {
            bail!("{model_file} has no operation {op_name}");
        };
        for r in [&op.input, &op.output].into_iter().flatten() {
            reach(model, &r.shape, &mut seen);
        }
    }
    let mut out = String::new();
    writeln!(
        out,
        "// @generated by haneul-codegen from models/{model_file} — do not edit."
    )?;
    writeln!(out, "// Operations: {}.", operations.join(", "))?;
    writeln!(
        out,
        "// Regenerate: cargo run -p haneul-codegen -- <this crate's directory>"
    )?;
    writeln!(out, "#![allow(clippy::all)]\n")?;
    for name in &seen {
        let shape = model.shape(name);
        if shape.shape_type == ShapeType::Structure {
            write_struct(&mut out, model, name, shape)?;
        }
    }
    Ok(out)
}

/// Reads `<crate_dir>/codegen.txt` and the model; returns the path to write and its text.
pub fn generate_for_crate(crate_dir: &Path) -> anyhow::Result<(std::path::PathBuf, String)> {
    let spec_path = crate_dir.join("codegen.txt");
    let spec = std::fs::read_to_string(&spec_path).with_context(|| format!("reading {}", spec_path.display()))?;
    let mut lines = spec
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'));
    let model_file = lines.next().context("codegen.txt names no model")?.to_string();
    let operations: Vec<String> = lines.map(str::to_string).collect();
    let models_dir = crate_dir.join("../../models");
    let json = std::fs::read_to_string(models_dir.join(&model_file))
        .with_context(|| format!("reading models/{model_file}"))?;
    let model = ServiceModel::parse(&model_file, &json)?;
    let text = generate(&model_file, &model, &operations)?;
    Ok((crate_dir.join("src/generated.rs"), text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snake_case_names() {
        assert_eq!(snake_case("VpcId"), "vpc_id");
        assert_eq!(snake_case("IPAddress"), "ip_address");
        assert_eq!(snake_case("Ipv6CidrBlock"), "ipv6_cidr_block");
        assert_eq!(snake_case("Type"), "r#type");
        assert_eq!(snake_case("CidrIp"), "cidr_ip");
    }

    /// The checked-in generated files match what the models and codegen.txt give today.
    #[test]
    fn generated_files_are_current() {
        let crates = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        for entry in std::fs::read_dir(&crates).unwrap() {
            let dir = entry.unwrap().path();
            if !dir.join("codegen.txt").exists() {
                continue;
            }
            let (path, text) = generate_for_crate(&dir).unwrap();
            let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
            assert!(
                on_disk == text,
                "{} is stale: run `cargo run -p haneul-codegen -- {}`",
                path.display(),
                dir.display()
            );
        }
    }
}
