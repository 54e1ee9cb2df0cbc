//! Text that others chose, made safe to print on a terminal.

/// Removes terminal control sequences and control characters from text that
/// others chose, so it cannot move the cursor, retitle the window, hide text
/// or ring bells. Escape sequences (CSI `ESC [ … final`, OSC `ESC ] … BEL`
/// or `ESC \`) are dropped whole; other control characters, C1 included, are
/// dropped; newlines and tabs become spaces so one event stays one line.
pub fn strip_controls(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\u{1b}' => match chars.next() {
                Some('[') => {
                    // Parameters and intermediates, up to the final byte.
                    for c in chars.by_ref() {
                        if ('\u{40}'..='\u{7e}').contains(&c) {
                            break;
                        }
                    }
                }
                Some(']') | Some('P') | Some('_') | Some('^') | Some('X') => {
                    // String sequences end at BEL or ST (ESC \).
                    while let Some(c) = chars.next() {
                        if c == '\u{7}' {
                            break;
                        }
                        if c == '\u{1b}' && chars.peek() == Some(&'\\') {
                            chars.next();
                            break;
                        }
                    }
                }
                _ => {}
            },
            '\n' | '\t' | '\r' => out.push(' '),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_sequences_are_stripped() {
        let check = |input: &str, expected: &str| {
            assert_eq!(strip_controls(input), expected, "stripping {input:?}");
        };
        check("plain text", "plain text");
        check("\u{1b}[31mred\u{1b}[0m", "red");
        check("\u{1b}[2J\u{1b}[Hwiped", "wiped");
        check("\u{1b}]0;new title\u{7}after", "after");
        check("\u{1b}]8;;http://x\u{1b}\\link\u{1b}]8;;\u{1b}\\", "link");
        check("bell\u{7}s\u{8}", "bells");
        check("two\nlines\r\n", "two lines  ");
        check("c1\u{9b}31mcsi", "c131mcsi");
        check("ünï 猫 🐈", "ünï 猫 🐈");
        check("trailing escape\u{1b}", "trailing escape");
    }
}
