use super::PluginState;
use super::latest::anton::plugin::llm::{Completion, CompletionRequest, Host, LlmError};

impl Host for PluginState {
    fn complete(&mut self, _request: CompletionRequest) -> Result<Completion, LlmError> {
        if !self.grants.llm {
            return Err(LlmError::Denied(self.denial("llm")));
        }
        Err(LlmError::NotConfigured(
            "this build of anton has no model client yet; completions are unavailable".into(),
        ))
    }
}
