//! The public API of a crate as sorted text lines, one per item, from rustdoc's JSON output
//! (`cargo +nightly rustdoc -- -Z unstable-options --output-format json`), so that a change of
//! the API shows as a diff of a committed file (`scripts/api.sh`).
//!
//! Every item reachable from the crate root is listed under the path users name it by, with its
//! signature: modules, re-exports of other crates, structs with their public fields, enums with
//! their variants, functions, traits with their items, constants, statics, type aliases,
//! macros, the inherent methods of types, and the traits implemented for them (auto traits
//! included: losing `Send` breaks users too; blanket implementations are left out).
//! `#[non_exhaustive]` is shown. Written for rustdoc JSON format version 57 (the pinned
//! nightly of `scripts/setup.sh`); another version is refused rather than misread.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::process::ExitCode;

use serde_json::Value;

const FORMAT_VERSION: u64 = 57;

fn main() -> ExitCode {
    let Some(file) = std::env::args().nth(1) else {
        eprintln!("usage: api-listing <crate.json>");
        return ExitCode::FAILURE;
    };
    let text = match std::fs::read_to_string(&file) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("{file}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let doc: Value = match serde_json::from_str(&text) {
        Ok(v) => v,
        Err(e) => {
            eprintln!("{file}: {e}");
            return ExitCode::FAILURE;
        }
    };
    match listing(&doc) {
        Ok(lines) => {
            let mut out = std::io::stdout().lock();
            for l in lines {
                if writeln!(out, "{l}").is_err() {
                    return ExitCode::FAILURE;
                }
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{file}: {e}");
            ExitCode::FAILURE
        }
    }
}

struct Doc<'a> {
    index: &'a serde_json::Map<String, Value>,
    paths: &'a serde_json::Map<String, Value>,
    out: BTreeSet<String>,
    /// Items already listed under a path, against cycles of re-exports.
    seen: BTreeSet<(String, String)>,
    /// The shortest public path of each item of the crate, for naming it in signatures.
    public: BTreeMap<String, String>,
    /// The first pass only collects `public`.
    collecting: bool,
}

fn listing(doc: &Value) -> Result<BTreeSet<String>, String> {
    let version = doc["format_version"].as_u64().unwrap_or(0);
    if version != FORMAT_VERSION {
        return Err(format!(
            "rustdoc JSON format {version}, this tool reads {FORMAT_VERSION}: use the pinned nightly"
        ));
    }
    let (Some(index), Some(paths)) = (doc["index"].as_object(), doc["paths"].as_object()) else {
        return Err("no index".into());
    };
    let root = id_key(&doc["root"]);
    let mut d = Doc {
        index,
        paths,
        out: BTreeSet::new(),
        seen: BTreeSet::new(),
        public: BTreeMap::new(),
        collecting: true,
    };
    let name = index
        .get(&root)
        .and_then(|r| r["name"].as_str())
        .unwrap_or("crate")
        .to_string();
    d.module(&root, &name);
    d.out.clear();
    d.seen.clear();
    d.collecting = false;
    d.module(&root, &name);
    Ok(d.out)
}

fn id_key(v: &Value) -> String {
    match v {
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.clone(),
        _ => String::new(),
    }
}

fn inner_kind(item: &Value) -> (&str, &Value) {
    item["inner"]
        .as_object()
        .and_then(|o| o.iter().next())
        .map_or(("", &Value::Null), |(k, v)| (k.as_str(), v))
}

fn attrs(item: &Value) -> String {
    let mut s = String::new();
    for a in item["attrs"].as_array().into_iter().flatten() {
        if a.as_str() == Some("non_exhaustive") {
            s.push_str("#[non_exhaustive] ");
        }
    }
    s
}

impl Doc<'_> {
    fn item(&self, id: &str) -> Option<&Value> {
        self.index.get(id)
    }

    fn module(&mut self, id: &str, path: &str) {
        let Some(m) = self.item(id) else { return };
        let items: Vec<String> = m["inner"]["module"]["items"]
            .as_array()
            .into_iter()
            .flatten()
            .map(id_key)
            .collect();
        for child in items {
            self.child(&child, path);
        }
    }

    /// An item of a module, named in it.
    fn child(&mut self, id: &str, parent: &str) {
        let Some(item) = self.item(id).cloned() else {
            return;
        };
        if item["visibility"].as_str() != Some("public") {
            return;
        }
        let (kind, inner) = inner_kind(&item);
        if kind == "use" {
            let name = inner["name"].as_str().unwrap_or("_");
            let target = id_key(&inner["id"]);
            let glob = inner["is_glob"].as_bool().unwrap_or(false);
            match self.item(&target) {
                Some(t) if t["crate_id"].as_u64() == Some(0) => {
                    if glob {
                        self.module(&target, parent);
                    } else {
                        let t = t.clone();
                        self.named(&target, &t, &format!("{parent}::{name}"));
                    }
                }
                _ => {
                    let source = inner["source"].as_str().unwrap_or("?");
                    let what = if glob { "::*" } else { "" };
                    self.out
                        .insert(format!("pub use {parent}::{name}{what} = {source}"));
                }
            }
            return;
        }
        let name = item["name"].as_str().unwrap_or("_").to_string();
        self.named(id, &item, &format!("{parent}::{name}"));
    }

    fn named(&mut self, id: &str, item: &Value, path: &str) {
        if !self.seen.insert((id.to_string(), path.to_string())) {
            return;
        }
        if self.collecting {
            let shorter = match self.public.get(id) {
                Some(p) => (path.len(), path) < (p.len(), p.as_str()),
                None => true,
            };
            if shorter {
                self.public.insert(id.to_string(), path.to_string());
            }
        }
        let (kind, inner) = inner_kind(item);
        let at = attrs(item);
        match kind {
            "module" => {
                self.out.insert(format!("pub mod {path}"));
                self.module(id, path);
            }
            "struct" => {
                let g = self.generics(&inner["generics"]);
                let w = self.where_clause(&inner["generics"]);
                let k = &inner["kind"];
                let shape = if k.as_str() == Some("unit") {
                    ";".to_string()
                } else if let Some(fields) = k["tuple"].as_array() {
                    let f: Vec<String> = fields
                        .iter()
                        .map(|f| match self.item(&id_key(f)) {
                            Some(fi) if fi["visibility"].as_str() == Some("public") => {
                                format!("pub {}", self.ty(&fi["inner"]["struct_field"]))
                            }
                            _ => "_".to_string(),
                        })
                        .collect();
                    format!("({}){w};", f.join(", "))
                } else {
                    let fields: Vec<String> = k["plain"]["fields"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .map(id_key)
                        .collect();
                    for f in fields {
                        if let Some(fi) = self.item(&f) {
                            let fname = fi["name"].as_str().unwrap_or("_");
                            let t = self.ty(&fi["inner"]["struct_field"]);
                            self.out.insert(format!("pub field {path}::{fname}: {t}"));
                        }
                    }
                    let stripped = k["plain"]["has_stripped_fields"].as_bool() == Some(true);
                    format!(
                        "{w} {{ {}}}",
                        if stripped {
                            "/* private fields */ "
                        } else {
                            ".. "
                        }
                    )
                };
                self.out.insert(format!("{at}pub struct {path}{g}{shape}"));
                self.impls(inner, path);
            }
            "enum" => {
                let g = self.generics(&inner["generics"]);
                let w = self.where_clause(&inner["generics"]);
                self.out.insert(format!("{at}pub enum {path}{g}{w}"));
                let variants: Vec<String> = inner["variants"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(id_key)
                    .collect();
                for v in variants {
                    let Some(vi) = self.item(&v).cloned() else {
                        continue;
                    };
                    let vname = vi["name"].as_str().unwrap_or("_");
                    let vat = attrs(&vi);
                    let vk = &vi["inner"]["variant"]["kind"];
                    let shape = if let Some(fields) = vk["tuple"].as_array() {
                        let f: Vec<String> = fields
                            .iter()
                            .map(|f| match self.item(&id_key(f)) {
                                Some(fi) => self.ty(&fi["inner"]["struct_field"]),
                                None => "_".to_string(),
                            })
                            .collect();
                        format!("({})", f.join(", "))
                    } else if let Some(fields) = vk["struct"]["fields"].as_array() {
                        let f: Vec<String> = fields
                            .iter()
                            .filter_map(|f| self.item(&id_key(f)))
                            .map(|fi| {
                                format!(
                                    "{}: {}",
                                    fi["name"].as_str().unwrap_or("_"),
                                    self.ty(&fi["inner"]["struct_field"])
                                )
                            })
                            .collect();
                        format!(" {{ {} }}", f.join(", "))
                    } else {
                        String::new()
                    };
                    self.out
                        .insert(format!("{vat}pub variant {path}::{vname}{shape}"));
                }
                self.impls(inner, path);
            }
            "union" => {
                self.out.insert(format!("{at}pub union {path}"));
                self.impls(inner, path);
            }
            "function" => {
                let f = self.function(inner, path);
                self.out.insert(format!("pub {f}"));
            }
            "trait" => {
                let g = self.generics(&inner["generics"]);
                let bounds = self.bounds(&inner["bounds"]);
                let sup = if bounds.is_empty() {
                    String::new()
                } else {
                    format!(": {bounds}")
                };
                let unsafe_ = if inner["is_unsafe"].as_bool() == Some(true) {
                    "unsafe "
                } else {
                    ""
                };
                self.out
                    .insert(format!("pub {unsafe_}trait {path}{g}{sup}"));
                let items: Vec<String> = inner["items"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(id_key)
                    .collect();
                for i in items {
                    if let Some(ti) = self.item(&i).cloned() {
                        let n = ti["name"].as_str().unwrap_or("_");
                        let line = self.assoc(&ti, &format!("{path}::{n}"));
                        self.out.insert(format!("trait item {line}"));
                    }
                }
            }
            "type_alias" => {
                let g = self.generics(&inner["generics"]);
                let t = self.ty(&inner["type"]);
                self.out.insert(format!("pub type {path}{g} = {t}"));
            }
            "constant" => {
                let t = self.ty(&inner["type"]);
                self.out.insert(format!("pub const {path}: {t}"));
            }
            "static" => {
                let t = self.ty(&inner["type"]);
                let m = if inner["is_mutable"].as_bool() == Some(true) {
                    "mut "
                } else {
                    ""
                };
                self.out.insert(format!("pub static {m}{path}: {t}"));
            }
            "macro" | "proc_macro" => {
                let name = path.rsplit("::").next().unwrap_or(path);
                let crate_name = path.split("::").next().unwrap_or(path);
                self.out.insert(format!("pub macro {crate_name}::{name}!"));
            }
            "extern_crate" => {
                self.out.insert(format!("pub extern crate {path}"));
            }
            "trait_alias" => {
                self.out.insert(format!("pub trait alias {path}"));
            }
            other => {
                self.out.insert(format!("pub {other} {path}"));
            }
        }
    }

    /// Inherent items and implemented traits of a type.
    fn impls(&mut self, inner: &Value, path: &str) {
        let impls: Vec<String> = inner["impls"]
            .as_array()
            .into_iter()
            .flatten()
            .map(id_key)
            .collect();
        for i in impls {
            let Some(im) = self.item(&i).cloned() else {
                continue;
            };
            let imp = &im["inner"]["impl"];
            if !imp["blanket_impl"].is_null() {
                continue;
            }
            let g = self.generics(&imp["generics"]);
            let w = self.where_clause(&imp["generics"]);
            let for_ = self.ty(&imp["for"]);
            if imp["trait"].is_null() {
                let items: Vec<String> = imp["items"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(id_key)
                    .collect();
                for it in items {
                    let Some(ii) = self.item(&it).cloned() else {
                        continue;
                    };
                    if ii["visibility"].as_str() != Some("public") {
                        continue;
                    }
                    let n = ii["name"].as_str().unwrap_or("_");
                    let line = self.assoc(&ii, &format!("{path}::{n}"));
                    self.out.insert(format!("pub {line} (impl{g} {for_}{w})"));
                }
            } else {
                let neg = if imp["is_negative"].as_bool() == Some(true) {
                    "!"
                } else {
                    ""
                };
                let t = self.path(&imp["trait"]);
                let unsafe_ = if imp["is_unsafe"].as_bool() == Some(true) {
                    "unsafe "
                } else {
                    ""
                };
                self.out
                    .insert(format!("{unsafe_}impl{g} {neg}{t} for {for_}{w}"));
            }
        }
    }

    /// A function, associated constant or associated type.
    fn assoc(&self, item: &Value, path: &str) -> String {
        let (kind, inner) = inner_kind(item);
        match kind {
            "function" => self.function(inner, path),
            "assoc_const" => {
                let t = self.ty(&inner["type"]);
                format!("const {path}: {t}")
            }
            "assoc_type" => {
                let b = self.bounds(&inner["bounds"]);
                let b = if b.is_empty() {
                    String::new()
                } else {
                    format!(": {b}")
                };
                let d = if inner["type"].is_null() {
                    String::new()
                } else {
                    format!(" = {}", self.ty(&inner["type"]))
                };
                format!("type {path}{b}{d}")
            }
            other => format!("{other} {path}"),
        }
    }

    fn function(&self, f: &Value, path: &str) -> String {
        let h = &f["header"];
        let mut q = String::new();
        if h["is_const"].as_bool() == Some(true) {
            q.push_str("const ");
        }
        if h["is_async"].as_bool() == Some(true) {
            q.push_str("async ");
        }
        if h["is_unsafe"].as_bool() == Some(true) {
            q.push_str("unsafe ");
        }
        let g = self.generics(&f["generics"]);
        let w = self.where_clause(&f["generics"]);
        let sig = &f["sig"];
        let args: Vec<String> = sig["inputs"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|a| {
                let name = a[0].as_str().unwrap_or("_");
                let t = &a[1];
                if name == "self" {
                    match t.get("borrowed_ref") {
                        Some(r) if r["type"]["generic"].as_str() == Some("Self") => {
                            let lt = r["lifetime"]
                                .as_str()
                                .map_or(String::new(), |l| format!("{l} "));
                            let m = if r["is_mutable"].as_bool() == Some(true) {
                                "mut "
                            } else {
                                ""
                            };
                            format!("&{lt}{m}self")
                        }
                        _ if t["generic"].as_str() == Some("Self") => "self".to_string(),
                        _ => format!("self: {}", self.ty(t)),
                    }
                } else {
                    format!("{name}: {}", self.ty(t))
                }
            })
            .collect();
        let out = if sig["output"].is_null() {
            String::new()
        } else {
            format!(" -> {}", self.ty(&sig["output"]))
        };
        format!("{q}fn {path}{g}({}){out}{w}", args.join(", "))
    }

    fn generics(&self, g: &Value) -> String {
        let params: Vec<String> = g["params"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|p| {
                let name = p["name"].as_str().unwrap_or("_");
                let k = &p["kind"];
                if let Some(l) = k.get("lifetime") {
                    let o = outlives(l);
                    Some(if o.is_empty() {
                        name.to_string()
                    } else {
                        format!("{name}: {}", o.join(" + "))
                    })
                } else if let Some(t) = k.get("type") {
                    if t["is_synthetic"].as_bool() == Some(true) {
                        return None;
                    }
                    let b = self.bounds(&t["bounds"]);
                    let mut s = name.to_string();
                    if !b.is_empty() {
                        s.push_str(&format!(": {b}"));
                    }
                    if !t["default"].is_null() {
                        s.push_str(&format!(" = {}", self.ty(&t["default"])));
                    }
                    Some(s)
                } else if let Some(c) = k.get("const") {
                    let mut s = format!("const {name}: {}", self.ty(&c["type"]));
                    if let Some(d) = c["default"].as_str() {
                        s.push_str(&format!(" = {d}"));
                    }
                    Some(s)
                } else {
                    Some(name.to_string())
                }
            })
            .collect();
        if params.is_empty() {
            String::new()
        } else {
            format!("<{}>", params.join(", "))
        }
    }

    fn where_clause(&self, g: &Value) -> String {
        let preds: Vec<String> = g["where_predicates"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|p| {
                if let Some(b) = p.get("bound_predicate") {
                    format!("{}: {}", self.ty(&b["type"]), self.bounds(&b["bounds"]))
                } else if let Some(l) = p.get("lifetime_predicate") {
                    let o = outlives(l);
                    format!(
                        "{}: {}",
                        l["lifetime"].as_str().unwrap_or("'_"),
                        o.join(" + ")
                    )
                } else if let Some(e) = p.get("eq_predicate") {
                    format!("{} = {}", self.ty(&e["lhs"]), self.term(&e["rhs"]))
                } else {
                    p.to_string()
                }
            })
            .collect();
        if preds.is_empty() {
            String::new()
        } else {
            format!(" where {}", preds.join(", "))
        }
    }

    fn bounds(&self, b: &Value) -> String {
        let v: Vec<String> = b
            .as_array()
            .into_iter()
            .flatten()
            .map(|b| {
                if let Some(t) = b.get("trait_bound") {
                    let m = match t["modifier"].as_str() {
                        Some("maybe") => "?",
                        Some("maybe_const") => "~const ",
                        _ => "",
                    };
                    format!("{m}{}", self.path(&t["trait"]))
                } else if let Some(l) = b.get("outlives") {
                    l.as_str().unwrap_or("'_").to_string()
                } else {
                    b.to_string()
                }
            })
            .collect();
        v.join(" + ")
    }

    fn term(&self, t: &Value) -> String {
        if let Some(ty) = t.get("type") {
            self.ty(ty)
        } else if let Some(c) = t.get("constant") {
            c["expr"].as_str().unwrap_or("_").to_string()
        } else {
            t.to_string()
        }
    }

    /// A path with its generic arguments, named by its full path where rustdoc knows it.
    fn path(&self, p: &Value) -> String {
        let id = id_key(&p["id"]);
        let name = match self.public.get(&id) {
            Some(public) => public.clone(),
            None => self.external(&id, p),
        };
        format!("{name}{}", self.args(&p["args"]))
    }

    fn external(&self, id: &str, p: &Value) -> String {
        match self.paths.get(id) {
            Some(s) => s["path"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join("::"),
            None => p["path"].as_str().unwrap_or("?").to_string(),
        }
    }

    fn args(&self, a: &Value) -> String {
        if let Some(ab) = a.get("angle_bracketed") {
            let mut v: Vec<String> = ab["args"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|g| {
                    if let Some(l) = g.get("lifetime") {
                        l.as_str().unwrap_or("'_").to_string()
                    } else if let Some(t) = g.get("type") {
                        self.ty(t)
                    } else if let Some(c) = g.get("const") {
                        c["expr"].as_str().unwrap_or("_").to_string()
                    } else {
                        "_".to_string()
                    }
                })
                .collect();
            for c in ab["constraints"].as_array().into_iter().flatten() {
                let n = c["name"].as_str().unwrap_or("_");
                let b = &c["binding"];
                if let Some(e) = b.get("equality") {
                    v.push(format!("{n} = {}", self.term(e)));
                } else if let Some(cb) = b.get("constraint") {
                    v.push(format!("{n}: {}", self.bounds(cb)));
                }
            }
            if v.is_empty() {
                String::new()
            } else {
                format!("<{}>", v.join(", "))
            }
        } else if let Some(pa) = a.get("parenthesized") {
            let i: Vec<String> = pa["inputs"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|t| self.ty(t))
                .collect();
            let o = if pa["output"].is_null() {
                String::new()
            } else {
                format!(" -> {}", self.ty(&pa["output"]))
            };
            format!("({}){o}", i.join(", "))
        } else {
            String::new()
        }
    }

    fn ty(&self, t: &Value) -> String {
        let Some((k, v)) = t.as_object().and_then(|o| o.iter().next()) else {
            return "?".to_string();
        };
        match k.as_str() {
            "resolved_path" => self.path(v),
            "generic" | "primitive" => v.as_str().unwrap_or("?").to_string(),
            "borrowed_ref" => {
                let lt = v["lifetime"]
                    .as_str()
                    .map_or(String::new(), |l| format!("{l} "));
                let m = if v["is_mutable"].as_bool() == Some(true) {
                    "mut "
                } else {
                    ""
                };
                format!("&{lt}{m}{}", self.ty(&v["type"]))
            }
            "raw_pointer" => {
                let m = if v["is_mutable"].as_bool() == Some(true) {
                    "mut"
                } else {
                    "const"
                };
                format!("*{m} {}", self.ty(&v["type"]))
            }
            "slice" => format!("[{}]", self.ty(v)),
            "array" => format!(
                "[{}; {}]",
                self.ty(&v["type"]),
                v["len"].as_str().unwrap_or("_")
            ),
            "tuple" => {
                let e: Vec<String> = v
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|t| self.ty(t))
                    .collect();
                format!("({})", e.join(", "))
            }
            "impl_trait" => format!("impl {}", self.bounds(v)),
            "dyn_trait" => {
                let mut parts: Vec<String> = v["traits"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|p| self.path(&p["trait"]))
                    .collect();
                if let Some(l) = v["lifetime"].as_str() {
                    parts.push(l.to_string());
                }
                format!("dyn {}", parts.join(" + "))
            }
            "function_pointer" => {
                let i: Vec<String> = v["sig"]["inputs"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|a| self.ty(&a[1]))
                    .collect();
                let o = if v["sig"]["output"].is_null() {
                    String::new()
                } else {
                    format!(" -> {}", self.ty(&v["sig"]["output"]))
                };
                format!("fn({}){o}", i.join(", "))
            }
            "qualified_path" => {
                let s = self.ty(&v["self_type"]);
                let n = v["name"].as_str().unwrap_or("_");
                if v["trait"].is_null() {
                    format!("{s}::{n}")
                } else {
                    format!("<{s} as {}>::{n}", self.path(&v["trait"]))
                }
            }
            "infer" => "_".to_string(),
            "pat" => self.ty(&v["type"]),
            other => format!("?{other}"),
        }
    }
}

/// The lifetimes a generic lifetime or a lifetime predicate outlives.
fn outlives(l: &Value) -> Vec<&str> {
    l["outlives"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// A crate `k` with `pub mod m { pub struct S { pub a: u8, b: u8 } impl S { pub fn get(&self)
    /// -> u8 } }`, `pub use m::S;` and `pub use core::fmt;`, as rustdoc writes it.
    fn doc() -> Value {
        serde_json::json!({
            "format_version": FORMAT_VERSION,
            "root": 0,
            "paths": {"9": {"crate_id": 1, "path": ["core", "fmt"], "kind": "module"}},
            "index": {
                "0": {"id": 0, "crate_id": 0, "name": "k", "visibility": "public", "attrs": [],
                      "inner": {"module": {"is_crate": true, "items": [1, 5, 8]}}},
                "1": {"id": 1, "crate_id": 0, "name": "m", "visibility": "public", "attrs": [],
                      "inner": {"module": {"is_crate": false, "items": [2]}}},
                "2": {"id": 2, "crate_id": 0, "name": "S", "visibility": "public",
                      "attrs": ["non_exhaustive"],
                      "inner": {"struct": {"kind": {"plain": {"fields": [3], "has_stripped_fields": true}},
                                "generics": {"params": [], "where_predicates": []},
                                "impls": [6]}}},
                "3": {"id": 3, "crate_id": 0, "name": "a", "visibility": "public", "attrs": [],
                      "inner": {"struct_field": {"primitive": "u8"}}},
                "5": {"id": 5, "crate_id": 0, "name": null, "visibility": "public", "attrs": [],
                      "inner": {"use": {"source": "m::S", "name": "S", "id": 2, "is_glob": false}}},
                "6": {"id": 6, "crate_id": 0, "name": null, "visibility": "default", "attrs": [],
                      "inner": {"impl": {"is_unsafe": false, "trait": null, "is_negative": false,
                                "generics": {"params": [], "where_predicates": []},
                                "for": {"resolved_path": {"path": "S", "id": 2, "args": null}},
                                "items": [7], "is_synthetic": false, "blanket_impl": null}}},
                "7": {"id": 7, "crate_id": 0, "name": "get", "visibility": "public", "attrs": [],
                      "inner": {"function": {
                          "sig": {"inputs": [["self", {"borrowed_ref": {"lifetime": null, "is_mutable": false, "type": {"generic": "Self"}}}]],
                                  "output": {"primitive": "u8"}, "is_c_variadic": false},
                          "generics": {"params": [], "where_predicates": []},
                          "header": {"is_const": false, "is_unsafe": false, "is_async": false, "abi": "Rust"},
                          "has_body": true}}},
                "8": {"id": 8, "crate_id": 0, "name": null, "visibility": "public", "attrs": [],
                      "inner": {"use": {"source": "core::fmt", "name": "fmt", "id": 9, "is_glob": false}}}
            }
        })
    }

    #[test]
    fn every_public_path_with_its_signature() {
        let lines: Vec<String> = listing(&doc()).unwrap().into_iter().collect();
        assert_eq!(
            lines,
            [
                "#[non_exhaustive] pub struct k::S { /* private fields */ }",
                "#[non_exhaustive] pub struct k::m::S { /* private fields */ }",
                "pub field k::S::a: u8",
                "pub field k::m::S::a: u8",
                "pub fn k::S::get(&self) -> u8 (impl k::S)",
                "pub fn k::m::S::get(&self) -> u8 (impl k::S)",
                "pub mod k::m",
                "pub use k::fmt = core::fmt",
            ]
        );
    }

    #[test]
    fn another_format_version_is_refused() {
        let mut d = doc();
        d["format_version"] = Value::from(FORMAT_VERSION + 1);
        assert!(listing(&d).unwrap_err().contains("format"));
    }
}
