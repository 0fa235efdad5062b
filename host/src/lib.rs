//! anton: a minimal host (chat, storage, LLM) whose commands are WebAssembly
//! component plugins speaking the `anton:plugin` WIT contract in `wit/`.

pub mod app;
pub mod capabilities;
pub mod chat;
pub mod cli;
pub mod config;
pub mod episodes;
pub mod files;
pub mod interfaces;
pub mod llm;
pub mod markdown;
pub mod memory;
pub mod memory_review;
pub mod plugin_host;
pub mod plugins_command;
pub mod remote;
pub mod scaffold;
pub mod scratchpad;
pub mod scrub;
pub mod services;
pub mod settings;
pub mod store;
pub mod terminal;
pub mod threads;
pub mod vault;
pub mod workspace;
pub mod workspace_trust;
