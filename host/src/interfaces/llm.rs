use super::PluginState;
use super::latest::llm::{Completion, CompletionRequest, Host, LlmError, ModelRole};
use crate::llm::{self, Message, Request};

impl Host for PluginState {
    fn complete(&mut self, request: CompletionRequest) -> Result<Completion, LlmError> {
        if !self.grants.llm {
            return Err(LlmError::Denied(self.denial("llm")));
        }
        let settings = self.services.settings().clone();
        let model = match request.role {
            ModelRole::Planning => settings.planning,
            ModelRole::Coding => settings.coding,
        }
        .map_err(LlmError::NotConfigured)?;
        let mut system = String::new();
        let mut messages = Vec::new();
        // A plugin may send what the store held before a secret was known.
        let secrets = self.services.secrets();
        for mut m in request.messages {
            m.content = secrets.scrubber.scrub(&m.content);
            match m.role.as_str() {
                "system" => system.push_str(&m.content),
                "assistant" => messages.push(Message::Assistant {
                    text: m.content,
                    tool_calls: Vec::new(),
                }),
                _ => messages.push(Message::User(m.content)),
            }
        }
        let request = Request {
            system: &system,
            messages: &messages,
            tools: &[],
            max_tokens: request.max_tokens.unwrap_or(1024),
        };
        let host = self.services.clone();
        let (runtime, client) = host
            .llm()
            .ok_or_else(|| LlmError::Unavailable("cannot start the model client".into()))?;
        // Waiting on the model is the host's time, like waiting on the user.
        let reply = self.waiting_on_user(|| {
            runtime
                .block_on(client.stream(&model, &request, &mut |_| {}))
                .map_err(to_wit)
        })?;
        Ok(Completion {
            text: reply.text,
            provider: model.provider.name().into(),
            model: model.model.clone(),
            input_tokens: reply.input_tokens,
            output_tokens: reply.output_tokens,
        })
    }
}

fn to_wit(error: llm::Error) -> LlmError {
    match error {
        llm::Error::Auth(m) => LlmError::Auth(m),
        llm::Error::ModelNotFound(m) | llm::Error::Invalid(m) => LlmError::InvalidRequest(m),
        llm::Error::RateLimited(m) => LlmError::RateLimited(m),
        llm::Error::Unavailable(m) | llm::Error::CutOff(m) => LlmError::Unavailable(m),
        llm::Error::Timeout(m) => LlmError::Timeout(m),
    }
}
