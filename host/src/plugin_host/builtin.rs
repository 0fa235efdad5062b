//! The plugins compiled into the anton binary by `build.rs`.

pub struct BuiltinPlugin {
    pub id: &'static str,
    /// `anton-plugin.toml`, as JSON.
    pub manifest_json: &'static str,
    pub wasm: &'static [u8],
    /// Of `wasm`, computed by the build.
    pub sha256: &'static str,
}

include!(concat!(env!("OUT_DIR"), "/builtin_plugins.rs"));
