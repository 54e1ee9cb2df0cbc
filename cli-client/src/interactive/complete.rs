//! Tab completion: command names at the start of a line, user names after a
//! command that takes one (plus `all` for files), and user names in text.

use reedline::{Completer, Span, Suggestion};

use crate::{command::COMMANDS, view::ViewHandle};

/// Tab completion: command names at the start of a line, user names after a
/// command that takes one (plus `all` for files), and user names in text.
pub(super) struct ChatCompleter {
    pub(super) view: ViewHandle,
}

impl Completer for ChatCompleter {
    fn complete(&mut self, line: &str, pos: usize) -> reedline::CompletionResult {
        let users = self.view.get().users;
        let suggestions = completions(line, pos, &users);
        reedline::CompletionResult::fresh(suggestions)
    }
}

/// The completion logic, pure so it can be tested.
fn completions(line: &str, pos: usize, users: &[String]) -> Vec<Suggestion> {
    let pos = pos.min(line.len());
    let before = &line[..pos];
    let word_start = before
        .rfind(char::is_whitespace)
        .map(|i| i + before[i..].chars().next().map_or(1, char::len_utf8))
        .unwrap_or(0);
    let word = &before[word_start..];
    let span = Span::new(word_start, pos);
    let suggest = |value: &str| Suggestion {
        value: value.to_string(),
        span,
        append_whitespace: true,
        ..Suggestion::default()
    };
    let words_before: Vec<&str> = before[..word_start].split_whitespace().collect();
    if words_before.is_empty() && word.starts_with('/') {
        return COMMANDS
            .iter()
            .map(|(name, _, _)| *name)
            .filter(|name| name.starts_with(&word.to_ascii_lowercase()))
            .map(suggest)
            .collect();
    }
    let first = words_before.first().map(|w| w.to_ascii_lowercase());
    let mut candidates: Vec<&str> = match first.as_deref() {
        Some("/private" | "/msg" | "/w") if words_before.len() == 1 => {
            users.iter().map(String::as_str).collect()
        }
        Some("/sendfile" | "/sendimage") if words_before.len() == 1 => std::iter::once("all")
            .chain(users.iter().map(String::as_str))
            .collect(),
        Some(cmd) if cmd.starts_with('/') => Vec::new(),
        _ if !word.is_empty() => users.iter().map(String::as_str).collect(),
        _ => Vec::new(),
    };
    let lower = word.to_ascii_lowercase();
    candidates.retain(|c| c.to_ascii_lowercase().starts_with(&lower));
    candidates.into_iter().map(suggest).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn completion() {
        let users = vec!["bob".to_string(), "Bea".to_string(), "carol".to_string()];
        let check = |line: &str, expected: &[&str]| {
            let got: Vec<String> = completions(line, line.len(), &users)
                .into_iter()
                .map(|s| s.value)
                .collect();
            assert_eq!(got, expected, "completing {line:?}");
        };
        check("/pr", &["/private"]);
        check("/s", &["/sendfile", "/sendimage"]);
        check(
            "/",
            &COMMANDS.iter().map(|(n, _, _)| *n).collect::<Vec<_>>(),
        );
        check("/msg b", &["bob", "Bea"]);
        check("/w ", &["bob", "Bea", "carol"]);
        check("/sendfile a", &["all"]);
        check("/sendimage c", &["carol"]);
        check("/private bob hello c", &[]);
        check("/sendfile bob some/pa", &[]);
        check("hello ca", &["carol"]);
        check("hello ", &[]);
        let s = &completions("hi b", 4, &users)[0];
        assert_eq!((s.span.start, s.span.end), (3, 4));
    }
}
