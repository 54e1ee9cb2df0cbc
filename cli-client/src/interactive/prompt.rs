//! The prompt: any progress bars, then `name> ` (or what is going on); and
//! the in-memory terminal indicatif draws the bars into.

use std::{borrow::Cow, io, sync::Arc};

use indicatif::{InMemoryTerm, TermLike};
use reedline::{Prompt, PromptEditMode, PromptHistorySearch, PromptHistorySearchStatus};

use crate::view::ViewHandle;

/// The prompt: any progress bars, then `name> ` (or what is going on).
pub(super) struct ChatPrompt {
    pub(super) view: ViewHandle,
    pub(super) bars: InMemoryTerm,
}

impl Prompt for ChatPrompt {
    fn render_prompt_left(&self) -> Cow<'_, str> {
        let view = self.view.get();
        let state = match (&view.name, view.connected) {
            _ if view.leaving => "leaving (waiting for transfers)".to_string(),
            (None, _) => "your name".to_string(),
            (Some(name), true) => name.clone(),
            (Some(name), false) => format!("{name} (reconnecting)"),
        };
        // One line only: reedline clears a single prompt line when it prints
        // above it, so a taller prompt would leave stale bars behind.
        let bars: Vec<String> = self
            .bars
            .contents()
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_string)
            .collect();
        if bars.is_empty() {
            return Cow::Owned(state);
        }
        let width = usize::from(self.bars.width());
        let room = width.saturating_sub(state.chars().count() + 24).max(10);
        let mut line: String = bars.join(" | ").chars().take(room).collect();
        line.push(' ');
        line.push_str(&state);
        Cow::Owned(line)
    }

    fn render_prompt_right(&self) -> Cow<'_, str> {
        Cow::Borrowed("")
    }

    fn render_prompt_indicator(&self, _mode: PromptEditMode) -> Cow<'_, str> {
        Cow::Borrowed("> ")
    }

    fn render_prompt_multiline_indicator(&self) -> Cow<'_, str> {
        Cow::Borrowed("… ")
    }

    fn render_prompt_history_search_indicator(&self, search: PromptHistorySearch) -> Cow<'_, str> {
        let prefix = match search.status {
            PromptHistorySearchStatus::Passing => "",
            PromptHistorySearchStatus::Failing => "failing ",
        };
        Cow::Owned(format!("({prefix}search: {}) ", search.term))
    }
}

/// Asks the line editor to repaint the prompt in place.
pub(super) type Repaint = Arc<dyn Fn() + Send + Sync>;

/// Draws progress bars into memory and asks the editor to repaint the prompt
/// (which shows them) whenever a frame is complete.
pub(super) struct BarTerm {
    pub(super) term: InMemoryTerm,
    pub(super) repaint: Repaint,
}

impl std::fmt::Debug for BarTerm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BarTerm").field("term", &self.term).finish()
    }
}

impl TermLike for BarTerm {
    fn width(&self) -> u16 {
        self.term.width()
    }
    fn height(&self) -> u16 {
        self.term.height()
    }
    fn move_cursor_up(&self, n: usize) -> io::Result<()> {
        self.term.move_cursor_up(n)
    }
    fn move_cursor_down(&self, n: usize) -> io::Result<()> {
        self.term.move_cursor_down(n)
    }
    fn move_cursor_right(&self, n: usize) -> io::Result<()> {
        self.term.move_cursor_right(n)
    }
    fn move_cursor_left(&self, n: usize) -> io::Result<()> {
        self.term.move_cursor_left(n)
    }
    fn write_line(&self, s: &str) -> io::Result<()> {
        self.term.write_line(s)
    }
    fn write_str(&self, s: &str) -> io::Result<()> {
        self.term.write_str(s)
    }
    fn clear_line(&self) -> io::Result<()> {
        self.term.clear_line()
    }
    fn flush(&self) -> io::Result<()> {
        self.term.flush()?;
        (self.repaint)();
        Ok(())
    }
}
