use super::latest::chat::{Host, Table, TimeStyle};
use super::{HostError, PluginState};
use crate::terminal;

impl Host for PluginState {
    fn current_session(&mut self) -> Option<String> {
        self.services.current_session.lock().ok()?.clone()
    }

    fn workspace_dir(&mut self) -> String {
        self.services.paths.workspace.display().to_string()
    }

    fn user_name(&mut self) -> String {
        ["LOGNAME", "USER", "USERNAME"]
            .iter()
            .find_map(|k| std::env::var(k).ok().filter(|v| !v.is_empty()))
            .unwrap_or_else(|| "unknown".into())
    }

    fn print(&mut self, text: String) {
        if self.sealed {
            return;
        }
        println!("{}", self.shown(&text));
    }

    fn print_error(&mut self, text: String) {
        if self.sealed {
            return;
        }
        eprintln!("{}", self.shown(&text));
    }

    fn print_markdown(&mut self, text: String) {
        if self.sealed {
            return;
        }
        println!(
            "{}",
            crate::markdown::render(&self.shown(&text), terminal::width(), terminal::color())
        );
    }

    fn print_table(&mut self, table: Table) {
        if self.sealed {
            return;
        }
        let columns: Vec<terminal::Column> = table
            .columns
            .into_iter()
            .map(|c| terminal::Column {
                header: self.shown_line(&c.header),
                shrinkable: c.shrinkable,
            })
            .collect();
        let rows: Vec<Vec<String>> = table
            .rows
            .iter()
            .map(|row| row.iter().map(|cell| self.shown_line(cell)).collect())
            .collect();
        print!("{}", terminal::render_table(&columns, &rows, terminal::width()));
    }

    fn format_time(&mut self, at: i64, style: TimeStyle) -> String {
        match style {
            TimeStyle::Relative => terminal::format_time(at, true),
            TimeStyle::Absolute => terminal::format_time(at, false),
            TimeStyle::Iso => terminal::format_iso(at),
        }
    }

    fn terminal_width(&mut self) -> u32 {
        terminal::width() as u32
    }

    fn interactive(&mut self) -> bool {
        !self.sealed && terminal::stdin_is_terminal()
    }

    fn pick(&mut self, prompt: String, items: Vec<String>) -> Result<Option<u32>, HostError> {
        if items.is_empty() {
            return Err(HostError::Invalid("pick needs at least one item".into()));
        }
        if self.sealed {
            return Ok(None);
        }
        let prompt = terminal::sanitize_line(&prompt);
        let items: Vec<String> = items.iter().map(|i| self.shown_line(i)).collect();
        Ok(self
            .waiting_on_user(|| terminal::pick(&prompt, &items))
            .map(|i| i as u32))
    }

    fn confirm(&mut self, question: String, default_yes: bool) -> Result<bool, HostError> {
        if self.sealed {
            return Ok(false);
        }
        let question = terminal::sanitize(&question);
        Ok(self.waiting_on_user(|| terminal::confirm(&question, default_yes)))
    }

    fn ask(&mut self, prompt: String) -> Result<Option<String>, HostError> {
        if self.sealed {
            return Ok(None);
        }
        let prompt = terminal::sanitize(&prompt);
        Ok(self.waiting_on_user(|| terminal::prompt(&format!("{prompt} "))))
    }

    fn ask_secret(&mut self, prompt: String) -> Result<Option<String>, HostError> {
        if self.sealed {
            return Ok(None);
        }
        let prompt = terminal::sanitize(&prompt);
        Ok(self.waiting_on_user(|| terminal::prompt_secret(&format!("{prompt} "))))
    }
}
