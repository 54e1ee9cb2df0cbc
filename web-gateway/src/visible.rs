//! Text others wrote, made safe to look at in a page: bidi and other
//! invisible format characters (`protocol::is_invisible_format`, the one rule
//! the terminal client and `safe_file_name` use too) and control characters
//! other than tab and newline are shown as `<U+202E>`, so
//! `invoice\u{202E}gnp.exe` cannot pass for "invoiceexe.png". The page's
//! JavaScript has the same rule (`INVISIBLE` in `static/app.js`; a test below
//! checks the two agree on every character).

/// Whether `c` is shown by its code point instead of itself.
fn shown_as_code(c: char) -> bool {
    (c.is_control() && c != '\t' && c != '\n') || protocol::is_invisible_format(c)
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
        // Joiners shape Persian, Indic scripts and emoji: they stay.
        check("\u{200C}\u{200D}", "\u{200C}\u{200D}");
    }

    /// The page's `INVISIBLE` character class (static/app.js) and
    /// `shown_as_code` agree on every character of the Basic Multilingual
    /// Plane (where all the characters in question live).
    #[test]
    fn the_page_has_the_same_rule() {
        let app = include_str!("../../static/app.js");
        let class = app
            .lines()
            .find_map(|l| l.trim().strip_prefix("const INVISIBLE = /["))
            .and_then(|rest| rest.split_once("]/g;"))
            .map(|(class, _)| class)
            .expect("static/app.js defines INVISIBLE = /[...]/g;");
        let code =
            |s: &str| u32::from_str_radix(s.strip_prefix("\\u").expect("\\uXXXX"), 16).unwrap();
        let mut ranges = Vec::new();
        let mut rest = class;
        while !rest.is_empty() {
            let (lo, after) = rest.split_at(6);
            if let Some(r) = after.strip_prefix('-') {
                let (hi, after) = r.split_at(6);
                ranges.push((code(lo), code(hi)));
                rest = after;
            } else {
                ranges.push((code(lo), code(lo)));
                rest = after;
            }
        }
        for c in (0..=0xFFFFu32).filter_map(char::from_u32) {
            let in_page = ranges
                .iter()
                .any(|&(lo, hi)| (lo..=hi).contains(&(c as u32)));
            assert_eq!(in_page, super::shown_as_code(c), "U+{:04X}", c as u32);
        }
    }
}
