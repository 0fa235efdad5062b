//! Completions from the user's model. Needs the `llm` capability.

use crate::bindings::anton::plugin0_1_0::llm as host;

pub use host::{ChatMessage, Completion, CompletionRequest, LlmError, ModelRole};

pub fn complete(request: &CompletionRequest) -> Result<Completion, LlmError> {
    host::complete(request)
}

impl LlmError {
    /// The error as a line for the user.
    pub fn message(&self) -> String {
        let (kind, message) = match self {
            LlmError::Denied(m) => ("denied", m),
            LlmError::NotConfigured(m) => ("not configured", m),
            LlmError::Auth(m) => ("authentication failed", m),
            LlmError::RateLimited(m) => ("rate limited", m),
            LlmError::Unavailable(m) => ("unavailable", m),
            LlmError::Timeout(m) => ("timed out", m),
            LlmError::InvalidRequest(m) => ("invalid request", m),
        };
        format!("model {kind}: {message}")
    }
}
