//! Text that others chose, made safe and honest to print on a terminal.

use std::fmt::Write;

use protocol::is_invisible_format;

/// Whether `c`, in text others chose, must not reach a terminal as itself:
/// control characters (C0, DEL, C1: they move the cursor, retitle the window,
/// start escape sequences) and invisible format characters (they reorder or
/// hide text: `invoice\u{202E}gnp.exe` would show as "invoiceexe.png"). The
/// same rule as `protocol::safe_file_name`'s.
pub fn must_escape(c: char) -> bool {
    c.is_control() || is_invisible_format(c)
}

/// Shows text that others chose so that what the reader sees is what was
/// sent: every character [`must_escape`] names becomes a visible `<U+202E>`
/// (an escape sequence's ESC included, so its remains stay readable but
/// inert); newlines, tabs and carriage returns become spaces so one event
/// stays one line.
pub fn show_controls(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\n' | '\t' | '\r' => out.push(' '),
            c if must_escape(c) => {
                let _ = write!(out, "<U+{:04X}>", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_and_format_characters_are_shown() {
        let check = |input: &str, expected: &str| {
            assert_eq!(show_controls(input), expected, "showing {input:?}");
        };
        check("plain text", "plain text");
        check("\u{1b}[31mred\u{1b}[0m", "<U+001B>[31mred<U+001B>[0m");
        check("\u{1b}]0;title\u{7}after", "<U+001B>]0;title<U+0007>after");
        check("bell\u{7}s\u{8}", "bell<U+0007>s<U+0008>");
        check("two\nlines\r\n\tend", "two lines   end");
        check("c1\u{9b}31m\u{85}", "c1<U+009B>31m<U+0085>");
        check("del\u{7f}", "del<U+007F>");
        check("invoice\u{202E}gnp.exe", "invoice<U+202E>gnp.exe");
        check(
            "\u{2066}\u{2069}\u{200E}\u{200F}\u{061C}\u{FEFF}",
            "<U+2066><U+2069><U+200E><U+200F><U+061C><U+FEFF>",
        );
        // Joiners build emoji and shape scripts; they stay.
        check("👩\u{200D}💻 ünï 猫", "👩\u{200D}💻 ünï 猫");
    }
}
