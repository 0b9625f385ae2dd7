//! The built-in templates (`templates/email/`), embedded in the binary, and the names an
//! override directory may use: the shared ones here, each kind's three from
//! [`EmailKind::builtin_templates`], so a new kind does not compile until its templates exist.

use super::EmailKind;

macro_rules! builtin {
    ($name:expr) => {
        (
            $name,
            include_str!(concat!("../../../templates/email/", $name)),
        )
    };
}

/// The shared templates every kind's templates may include.
const SHARED: [(&str, &str); 3] = [
    builtin!("layout.html"),
    builtin!("_facts.html"),
    builtin!("_facts.txt"),
];

const BUILTIN_COUNT: usize = SHARED.len() + 3 * EmailKind::ALL.len();

/// Every template name (built-in and overridable), with its built-in source.
pub(super) const BUILTINS: [(&str, &str); BUILTIN_COUNT] = {
    let mut all = [("", ""); BUILTIN_COUNT];
    let mut i = 0;
    while i < SHARED.len() {
        all[i] = SHARED[i];
        i += 1;
    }
    let mut k = 0;
    while k < EmailKind::ALL.len() {
        let parts = EmailKind::ALL[k].builtin_templates();
        let mut p = 0;
        while p < parts.len() {
            all[SHARED.len() + 3 * k + p] = parts[p];
            p += 1;
        }
        k += 1;
    }
    all
};

/// The file names an override directory may contain (anything else there is ignored).
pub const TEMPLATE_NAMES: [&str; BUILTIN_COUNT] = {
    let mut names = [""; BUILTIN_COUNT];
    let mut i = 0;
    while i < BUILTINS.len() {
        names[i] = BUILTINS[i].0;
        i += 1;
    }
    names
};
