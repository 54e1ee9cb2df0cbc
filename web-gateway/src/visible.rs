//! Text others wrote, made safe to look at in a page: bidi and other
//! invisible format characters (the set `protocol::safe_file_name` removes:
//! U+200B–U+200F, U+202A–U+202E, U+2066–U+2069, U+FEFF) and control
//! characters other than tab and newline are shown as `<U+202E>`, so
//! `invoice\u{202E}gnp.exe` cannot pass for "invoiceexe.png". The page's
//! JavaScript has the same rule (`visible` in `static/app.js`).

/// Whether `c` is shown by its code point instead of itself.
fn shown_as_code(c: char) -> bool {
    matches!(c,
        '\u{0}'..='\u{8}' | '\u{B}'..='\u{1F}' | '\u{7F}'..='\u{9F}'
        | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{FEFF}')
}

/// `text` with every such character written as `<U+XXXX>`.
pub fn visible(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if shown_as_code(c) {
            out.push_str(&format!("<U+{:04X}>", c as u32));
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::visible;

    #[test]
    fn invisible_characters_are_shown() {
        let check = |raw: &str, shown: &str| assert_eq!(visible(raw), shown, "{raw:?}");
        check("invoice\u{202E}gnp.exe", "invoice<U+202E>gnp.exe");
        check("a\u{200B}b\u{FEFF}c\u{2067}", "a<U+200B>b<U+FEFF>c<U+2067>");
        check(
            "bell\u{7} esc\u{1B} c1\u{85} del\u{7F}",
            "bell<U+0007> esc<U+001B> c1<U+0085> del<U+007F>",
        );
        check("tab\tnew\nline é ✓", "tab\tnew\nline é ✓");
    }
}
