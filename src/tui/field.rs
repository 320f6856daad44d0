//! A one-line text field. Its buffer is zeroizing: a masked field holds a
//! share code, which must not linger in freed memory.

use zeroize::Zeroizing;

pub struct TextField {
    text: Zeroizing<String>,
    /// Masked fields show one bullet per character, never the characters.
    pub masked: bool,
    /// Shows a fixed run of bullets whatever was typed: a PIN's length is
    /// a secret too, and the room's camera sees the screen.
    hide_length: bool,
}

impl TextField {
    pub fn new(masked: bool) -> Self {
        TextField {
            text: Zeroizing::new(String::new()),
            masked,
            hide_length: false,
        }
    }

    /// A masked field that does not show how much was typed.
    pub fn secret() -> Self {
        TextField {
            hide_length: true,
            ..TextField::new(true)
        }
    }

    pub fn with_text(text: &str) -> Self {
        let mut field = TextField::new(false);
        field.text.push_str(text);
        field
    }

    pub fn push(&mut self, c: char) {
        if !c.is_control() {
            self.text.push(c);
        }
    }

    /// Pasted text: line breaks become spaces (a share code may be pasted
    /// over two lines); other control characters are dropped.
    pub fn paste(&mut self, text: &str) {
        for c in text.chars() {
            match c {
                '\n' | '\r' | '\t' => self.text.push(' '),
                c => self.push(c),
            }
        }
    }

    pub fn backspace(&mut self) {
        self.text.pop();
    }

    pub fn clear(&mut self) {
        // Zeroizing the old buffer, not just truncating it.
        self.text = Zeroizing::new(String::new());
    }

    pub fn is_empty(&self) -> bool {
        self.text.trim().is_empty()
    }

    /// The text, for submitting. The field keeps it until `take`.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Takes the text out (zeroized when the caller drops it).
    pub fn take(&mut self) -> Zeroizing<String> {
        std::mem::replace(&mut self.text, Zeroizing::new(String::new()))
    }

    /// What the screen shows.
    pub fn display(&self) -> String {
        if self.hide_length {
            // Something typed, or nothing: that is all the screen says.
            if self.text.is_empty() {
                String::new()
            } else {
                "••••••••".into()
            }
        } else if self.masked {
            "•".repeat(self.text.chars().count())
        } else {
            self.text.to_string()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_masked_field_shows_bullets_only() {
        let mut f = TextField::new(true);
        f.paste("kc1 qpzry\n9x8gf");
        assert_eq!(f.display(), "•".repeat(15));
        assert!(!f.display().contains('q'));
        assert_eq!(f.take().as_str(), "kc1 qpzry 9x8gf");
        assert!(f.is_empty());
    }

    #[test]
    fn a_secret_field_does_not_show_its_length() {
        let mut short = TextField::secret();
        let mut long = TextField::secret();
        assert_eq!(short.display(), "");
        short.paste("1234");
        long.paste("crypto-user:a much longer password");
        assert_eq!(short.display(), long.display());
        assert!(!long.display().contains('c'));
        short.backspace();
        short.backspace();
        short.backspace();
        short.backspace();
        assert_eq!(short.display(), "");
    }

    #[test]
    fn control_characters_are_never_typed_in() {
        let mut f = TextField::with_text("abc");
        f.paste("\u{1b}[2Jd");
        assert_eq!(f.text(), "abc[2Jd");
        f.backspace();
        assert_eq!(f.text(), "abc[2J");
    }
}
